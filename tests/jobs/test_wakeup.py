"""An idle worker starts a queued task at once on PostgreSQL (LISTEN/NOTIFY), not at its
next look at the queue: a file uploaded to an idle system is not left waiting."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import mail
from django_tasks_db.models import DBTaskResult
from pytest_django import Settings

from pars.accounts.models import Role
from pars.accounts.services import invite_user
from pars.providers.models import Provider
from tests.support.faults import child_env, requires_postgresql, start_worker, stop, wait_for

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

# Far longer than the test waits: only a notification can wake the worker in time.
IDLE_INTERVAL = "600"


def test_an_idle_worker_is_woken_by_a_queued_task(
    provider: Provider, settings: Settings, tmp_path: Path
) -> None:
    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}
    (tmp_path / "media").mkdir()
    (tmp_path / "cache").mkdir()
    env = {
        **child_env(tmp_path / "media", tmp_path / "cache"),
        "PARS_FAULT_INTERVAL": IDLE_INTERVAL,
    }
    log = tmp_path / "worker.log"
    worker = start_worker(env, log)
    try:
        # It logs its start once it listens for notifications, before its first look.
        wait_for(lambda: "Starting worker" in log.read_text(), 60, "the worker to start")
        invite_user(provider=provider, email="woken@example.org", role=Role.EDITOR)
        assert mail.outbox == []  # the invitation went to the queue, not out
        task = DBTaskResult.objects.get()
        wait_for(
            lambda: DBTaskResult.objects.filter(pk=task.pk, status="SUCCESSFUL").exists(),
            45,
            "the idle worker to run the queued task",
        )
    finally:
        stop(worker)
