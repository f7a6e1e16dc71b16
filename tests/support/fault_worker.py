"""``manage.py db_worker`` with faults injected for tests/faults (never used elsewhere).

PARS_FAULT_PAUSE_AFTER_SEND=<seconds>: the registry simulator sleeps after it recorded
a batch, before the worker can mark it sent (the window a kill must hit).
PARS_FAULT_PAUSE_MID_UPLOAD=<seconds>: an upload job sleeps once it has reported rows
done, inside its transaction (a small file would otherwise finish before the kill).
PARS_FAULT_INTERVAL=<seconds>: the worker's --interval (0.1 unless given).
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pars.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

pause = float(os.environ.get("PARS_FAULT_PAUSE_AFTER_SEND") or 0)
if pause:
    from pars.learners.connectors.simulator import SimulatorConnector

    original = SimulatorConnector.send

    def slow_send(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        receipt = original(self, *args, **kwargs)
        time.sleep(pause)
        return receipt

    SimulatorConnector.send = slow_send  # type: ignore[method-assign]

mid_upload = float(os.environ.get("PARS_FAULT_PAUSE_MID_UPLOAD") or 0)
if mid_upload:
    from pars.intake import process

    original_progress = process.set_progress
    paused: set[int] = set()

    def slow_progress(upload_id: int, done: int, *args, **kwargs):  # type: ignore[no-untyped-def]
        original_progress(upload_id, done, *args, **kwargs)
        if done > 0 and upload_id not in paused:
            paused.add(upload_id)
            time.sleep(mid_upload)

    process.set_progress = slow_progress

# PARS_FAULT_INTERVAL: how long an idle worker waits before it looks again (without a
# notification); the fault tests want a quick look.
interval = os.environ.get("PARS_FAULT_INTERVAL") or "0.1"
call_command("db_worker", "--no-startup-delay", "--no-reload", "--interval", interval, verbosity=1)
