"""``manage.py db_worker`` with faults injected for tests/faults (never used elsewhere).

PARS_FAULT_PAUSE_AFTER_SEND=<seconds>: the registry simulator sleeps after it recorded
a batch, before the worker can mark it sent (the window a kill must hit).
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

call_command("db_worker", "--no-startup-delay", "--no-reload", "--interval", "0.1", verbosity=1)
