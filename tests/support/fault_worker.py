"""``manage.py db_worker`` with faults injected for tests/faults (never used elsewhere).

PARS_FAULT_PAUSE_AFTER_SEND=<seconds>: the registry simulator sleeps after it recorded
a batch, before the worker can mark it sent (the window a kill must hit).
PARS_FAULT_PAUSE_MID_UPLOAD=<seconds>: an upload job sleeps once it has reported rows
done, inside its transaction (a small file would otherwise finish before the kill).
PARS_FAULT_PAUSE_MID_WRITE=<seconds>: on SQLite, an upload job sleeps after writing its first
batch, inside the file's write transaction (the checked file is being applied).
PARS_FAULT_PROGRESS_DELAY=<seconds>: an upload job sleeps after each step of progress it
reports while reading a file (a fast machine reads 20,000 rows before a poll sees a step).
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
            print("paused mid-upload", flush=True)
            time.sleep(mid_upload)

    process.set_progress = slow_progress

# PARS_FAULT_INTERVAL: how long an idle worker waits before it looks again (without a
# notification); the fault tests want a quick look.
interval = os.environ.get("PARS_FAULT_INTERVAL") or "0.1"
mid_write = float(os.environ.get("PARS_FAULT_PAUSE_MID_WRITE") or 0)
if mid_write:
    from django.db import connection

    from pars.intake import process as writing

    renew = writing.beat

    def slow_write(upload_id: int, *args, **kwargs):  # type: ignore[no-untyped-def]
        renew(upload_id, *args, **kwargs)
        if connection.in_atomic_block:  # SQLite: a batch is written, the file's is not
            print("paused mid-write", flush=True)
            time.sleep(mid_write)

    writing.beat = slow_write

step_delay = float(os.environ.get("PARS_FAULT_PROGRESS_DELAY") or 0)
if step_delay:
    from pars.intake import process as steps

    reported = steps.set_progress

    def slow_steps(upload_id: int, done: int, total, *args, **kwargs):  # type: ignore[no-untyped-def]
        reported(upload_id, done, total, *args, **kwargs)
        if done and done != total:  # each step of a file being read, so a poll sees it
            time.sleep(step_delay)

    steps.set_progress = slow_steps

call_command("db_worker", "--no-startup-delay", "--no-reload", "--interval", interval, verbosity=1)
