"""A worker resumes what a dead worker left behind: uploads, delivery batches and the task
rows it left RUNNING; two workers recovering at once queue each piece of work once."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command, get_commands
from django.db.models import Manager
from django.tasks import TaskResultStatus
from django.utils import timezone

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake import recover
from pars.intake.models import Upload, UploadStatus
from pars.intake.recover import recover_stale_uploads
from pars.intake.store import store_upload
from pars.jobs.models import TaskWorker
from pars.jobs.recovery import prune_dead_tasks
from pars.learners.delivery import recover_stale_deliveries
from pars.learners.delivery import recovery as delivery_recovery
from pars.learners.models import BatchStatus, DeliveryBatch, Recipient
from pars.providers.models import Provider

HEADER = ["Action", "Provider Activity ID", "Activity Title", "Activity Format"]
GOOD = "".join(
    "\t".join(cells) + "\r\n"
    for cells in (
        [*HEADER, "Start Date", "End Date"],
        *(
            ["", f"U-{n}", "Cardiology update", "Course", "03/01/2026", "03/02/2026"]
            for n in (1, 2, 3)
        ),
    )
).encode()

MINUTES_AGO = datetime.timedelta(minutes=10)


@pytest.fixture(autouse=True)
def _own_cache(settings: Any, tmp_path: Any) -> None:
    # Heartbeats live in the cache too: a private one, not the file cache other test
    # processes share (their upload #1 is not this test's upload #1).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"jobs-{uuid.uuid4()}",
        }
    }
    settings.MEDIA_ROOT = tmp_path / "media"


def _store(provider: Provider, user: User) -> Upload:
    access = get_provider_access(user, provider.provider_id)
    return store_upload(access, SimpleUploadedFile("file.txt", GOOD))


def _task_row(
    worker_id: str, *, started: datetime.datetime, task_path: str = "", args: Any = ()
) -> Any:
    """A task row as a worker leaves it once it claimed the task."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    return DBTaskResult.objects.create(
        args_kwargs={"args": list(args), "kwargs": {}},
        task_path=task_path or "pars.accounts.tasks.send_password_reset_to_address",
        backend_name="default",
        run_after=get_date_max(),
        status=TaskResultStatus.RUNNING,
        started_at=started,
        worker_ids=[worker_id],
    )


def _status(row: Any) -> str:
    row.refresh_from_db()
    return str(row.status)


def _in_between(
    monkeypatch: pytest.MonkeyPatch, manager: Manager[Any], other: Callable[[], Any]
) -> list[Any]:
    """Run ``other`` (a second worker's recovery) after the first recovery read its
    candidates and before it changes the first of them: the race of two workers."""
    original = manager.filter
    results: list[Any] = []

    def filter(*args: Any, **kwargs: Any) -> Any:
        if "pk" in kwargs and not results:
            results.append(None)
            results[0] = other()
        return original(*args, **kwargs)

    monkeypatch.setattr(manager, "filter", filter)
    return results


# ---------------------------------------------------------------------------
# The worker command


def test_db_worker_is_the_worker_with_recovery() -> None:
    # The README's `manage.py db_worker` (make run, systemd units) is PARS's, not the plain one.
    assert get_commands()["db_worker"] == "pars.jobs"


@pytest.mark.django_db(transaction=True)
def test_a_new_worker_resumes_the_upload_a_killed_worker_left_running(
    provider: Provider, editor: User, settings: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}
    upload = _store(provider, editor)
    # What `kill -9` ten minutes ago left: the task claimed by a worker that is gone,
    # the upload running with the heartbeat of its last batch (its rows rolled back).
    dead = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=dead.pk).update(
        status=TaskResultStatus.RUNNING,
        started_at=timezone.now() - MINUTES_AGO,
        worker_ids=["host-1"],
    )
    Upload.objects.filter(pk=upload.pk).update(
        status=UploadStatus.RUNNING,
        attempts=1,
        started_at=timezone.now() - MINUTES_AGO,
        heartbeat_at=timezone.now() - MINUTES_AGO,
    )

    # A new worker (nothing else runs recover_jobs or queues a task).
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    assert upload.attempts == 2
    assert sorted(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", flat=True)
    ) == ["U-1", "U-2", "U-3"]
    # No row stays RUNNING: the dead worker's says why it failed.
    dead.refresh_from_db()
    assert dead.status == TaskResultStatus.FAILED
    assert dead.exception_class_path == "pars.jobs.recovery.WorkerLost"
    assert "host-1 stopped" in dead.traceback
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).exists()
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 1
    assert not TaskWorker.objects.exists()  # a worker that stops cleanly unregisters


# ---------------------------------------------------------------------------
# Task rows of dead workers


@pytest.mark.django_db
def test_only_the_rows_of_dead_workers_are_marked_failed(provider: Provider, editor: User) -> None:
    now = timezone.now()
    long_ago = now - MINUTES_AGO
    TaskWorker.objects.create(
        worker_id="alive", hostname="h", pid=1, started_at=long_ago, seen_at=now
    )
    # Restarted under the same id (systemd's %H-%i) after its task started: the
    # process that claimed the task is dead.
    TaskWorker.objects.create(
        worker_id="restarted", hostname="h", pid=2, started_at=now, seen_at=now
    )
    busy = _task_row("alive", started=long_ago + datetime.timedelta(seconds=1))
    gone = _task_row("gone", started=long_ago)
    restarted = _task_row("restarted", started=long_ago)
    young = _task_row("gone", started=now - datetime.timedelta(seconds=5))
    upload = _store(provider, editor)
    Upload.objects.filter(pk=upload.pk).update(
        status=UploadStatus.RUNNING, heartbeat_at=now, started_at=long_ago
    )
    from pars.intake.tasks import process_upload_task

    running_upload = _task_row(
        "gone", started=long_ago, task_path=process_upload_task.module_path, args=[upload.pk]
    )

    pruned = prune_dead_tasks()

    assert sorted(pruned) == sorted([str(gone.pk), str(restarted.pk)])
    assert _status(gone) == _status(restarted) == TaskResultStatus.FAILED
    assert _status(busy) == TaskResultStatus.RUNNING  # its worker is alive
    assert _status(young) == TaskResultStatus.RUNNING  # within the lease
    # Its upload is not yet queued again (its own lease has not run out): kept until it is.
    assert _status(running_upload) == TaskResultStatus.RUNNING
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.QUEUED)
    assert prune_dead_tasks() == [str(running_upload.pk)]
    assert prune_dead_tasks() == []  # once


@pytest.mark.django_db
def test_two_workers_pruning_at_once_mark_a_row_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from django_tasks_db.models import DBTaskResult

    row = _task_row("gone", started=timezone.now() - MINUTES_AGO)
    other = _in_between(monkeypatch, DBTaskResult.objects, prune_dead_tasks)

    assert prune_dead_tasks() == []
    assert other == [[str(row.pk)]]
    assert _status(row) == TaskResultStatus.FAILED


# ---------------------------------------------------------------------------
# Uploads: two recoveries at once


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["running", "queued"])
def test_two_workers_recovering_at_once_queue_an_upload_once(
    provider: Provider, editor: User, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    upload = _store(provider, editor)
    long_ago = timezone.now() - datetime.timedelta(hours=2)
    Upload.objects.filter(pk=upload.pk).update(
        status=UploadStatus.RUNNING if state == "running" else UploadStatus.QUEUED,
        attempts=1 if state == "running" else 0,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )
    queued: list[int] = []
    monkeypatch.setattr(recover, "queue_upload", lambda upload: queued.append(upload.pk))
    other = _in_between(monkeypatch, Upload.objects, recover_stale_uploads)

    first = recover_stale_uploads()

    second = other[0]
    assert queued == [upload.pk]  # one task for it, not two
    assert first.requeued + first.resent == []
    assert second.requeued + second.resent == [upload.pk]
    upload.refresh_from_db()
    assert upload.status == UploadStatus.QUEUED


# ---------------------------------------------------------------------------
# Deliveries


def _batch(**fields: Any) -> DeliveryBatch:
    return DeliveryBatch.objects.create(recipient=Recipient.objects.get(code="ABIM"), **fields)


@pytest.mark.django_db
def test_delivery_batches_a_dead_worker_held_are_queued_again_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = timezone.now()
    past, future = now - MINUTES_AGO, now + MINUTES_AGO
    long_overdue = now - datetime.timedelta(hours=1)
    sending = _batch(status=BatchStatus.SENDING, lease_until=past)  # its sender died
    collecting = _batch(status=BatchStatus.SENT, lease_until=past)  # its collector died
    lost_retry = _batch(status=BatchStatus.SENDING, next_attempt_at=long_overdue)
    leased = _batch(status=BatchStatus.SENDING, lease_until=future)  # being sent
    backing_off = _batch(status=BatchStatus.SENDING, next_attempt_at=future)
    just_due = _batch(status=BatchStatus.SENT, next_attempt_at=now)  # its task runs now
    scheduled: list[str] = []
    monkeypatch.setattr(
        delivery_recovery, "schedule_delivery", lambda codes: scheduled.extend(codes)
    )

    recovery = recover_stale_deliveries(enqueue=False)

    assert sorted(recovery.sending) == sorted([sending.pk, lost_retry.pk])
    assert recovery.collecting == [collecting.pk]
    for batch in (sending, collecting, lost_retry):
        batch.refresh_from_db()
        assert batch.lease_until is None  # due at once: the next run takes it
        assert batch.next_attempt_at is not None
        assert batch.next_attempt_at <= timezone.now()
    for batch in (leased, backing_off, just_due):
        before = (batch.lease_until, batch.next_attempt_at)
        batch.refresh_from_db()
        assert (batch.lease_until, batch.next_attempt_at) == before
    assert recover_stale_deliveries(enqueue=False).sending == []  # once


@pytest.mark.django_db
def test_two_workers_recovering_deliveries_at_once_queue_a_batch_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = _batch(status=BatchStatus.SENDING, lease_until=timezone.now() - MINUTES_AGO)
    scheduled: list[str] = []
    monkeypatch.setattr(
        delivery_recovery, "schedule_delivery", lambda codes: scheduled.extend(codes)
    )
    other = _in_between(monkeypatch, DeliveryBatch.objects, recover_stale_deliveries)

    first = recover_stale_deliveries()

    assert first.sending == []
    assert other[0].sending == [batch.pk]
    assert scheduled == ["ABIM"]
