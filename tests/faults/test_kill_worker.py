"""A task worker killed (SIGKILL) mid-upload and mid-delivery: nothing half-written, and
after recovery and a new worker the data is exactly what a clean run gives."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from pars.accounts.access import get_provider_access
from pars.accounts.models import Role
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.progress import get_progress
from pars.intake.store import store_upload
from pars.learners.models import (
    CompletionEvent,
    CompletionEventKind,
    CompletionStatus,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
    SimulatedBatch,
)
from pars.providers.models import Provider
from pars.testing import make_member, make_provider
from tests.support.faults import (
    activity_file,
    kill,
    learner_file,
    manage,
    requires_postgresql,
    start_worker,
    stop,
    wait_for,
)

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

# CI runs smaller files; PARS_FAULT_ROWS=30000 gives the full-size run.
ACTIVITY_ROWS = int(os.environ.get("PARS_FAULT_ROWS") or 8_000)
LEARNER_ROWS = int(os.environ.get("PARS_FAULT_ROWS") or 4_000)


def _store(path: Path, provider: Provider, kind: str) -> Upload:
    from pars.accounts.models import User

    editor = User.objects.filter(email=f"{kind}@fault.example").first() or make_member(
        provider, Role.EDITOR, email=f"{kind}@fault.example"
    )
    access = get_provider_access(editor, provider.provider_id)
    with path.open("rb") as stream:
        uploaded = SimpleUploadedFile(path.name, stream.read())
    return store_upload(access, uploaded, kind=kind)


def _running_with_rows_done(upload: Upload) -> bool:
    upload.refresh_from_db()
    return upload.status == UploadStatus.RUNNING and get_progress(upload.pk)["done"] > 0


def _kill_mid_upload_then_recover(
    upload: Upload, env: dict[str, str], tmp_path: Path, count_rows: Callable[[], int]
) -> Upload:
    log = tmp_path / "worker.log"
    # The first worker pauses half-way, so the kill lands inside the file however fast it is.
    worker = start_worker(env, log, pause_mid_upload="60")
    try:
        wait_for(lambda: _running_with_rows_done(upload), 120, "the upload to be half-way")
        kill(worker)
    finally:
        stop(worker)
    time.sleep(0.5)  # PostgreSQL ends the dead worker's session, rolling back its transaction
    upload.refresh_from_db()
    assert upload.status == UploadStatus.RUNNING  # until its lease (5 minutes) runs out
    assert count_rows() == 0, "a killed worker left rows behind"

    out = manage(env, "recover_jobs", "--stale-seconds", "0")
    assert "Uploads queued again: 1" in out
    upload.refresh_from_db()
    assert upload.status == UploadStatus.QUEUED
    assert upload.attempts == 1
    assert "interrupted" in upload.message

    worker = start_worker(env, log)
    try:
        wait_for(lambda: Upload.objects.get(pk=upload.pk).is_finished, 180, "the rerun")
    finally:
        stop(worker)
    upload.refresh_from_db()
    assert upload.attempts == 2, log.read_text()[-3000:]
    return upload


def test_a_worker_killed_mid_activity_upload_is_resumed_with_the_same_data(
    env: dict[str, str], tmp_path: Path
) -> None:
    provider = make_provider(name="Fault Health", provider_id="0007001")
    rows = activity_file(tmp_path / "activities.txt", ACTIVITY_ROWS)
    upload = _store(tmp_path / "activities.txt", provider, "activities")

    def count() -> int:
        return Activity.objects.filter(provider=provider).count()

    upload = _kill_mid_upload_then_recover(upload, env, tmp_path, count)
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    assert upload.added == ACTIVITY_ROWS
    # Exactly the file's rows, once each: what a clean run gives.
    stored = dict(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", "title")
    )
    assert count() == ACTIVITY_ROWS
    assert stored == {row["provider_activity_id"]: row["title"] for row in rows}


def test_a_worker_killed_mid_learner_upload_is_resumed_with_the_same_data(
    env: dict[str, str], tmp_path: Path
) -> None:
    provider = make_provider(name="Fault Learners", provider_id="0007002")
    learner_file(tmp_path / "learners.txt", provider, LEARNER_ROWS)
    upload = _store(tmp_path / "learners.txt", provider, "learners")

    def count() -> int:
        return LearnerCompletion.objects.filter(provider=provider).count()

    upload = _kill_mid_upload_then_recover(upload, env, tmp_path, count)
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    assert upload.added == LEARNER_ROWS
    assert count() == LEARNER_ROWS
    keys = LearnerCompletion.objects.filter(provider=provider).values_list(
        "activity_id", "recipient_id", "learner_id", "last_name"
    )
    assert len(set(keys)) == LEARNER_ROWS  # no record twice

    # The same file again: recognized, nothing changes (idempotent, as a clean run).
    again = _store(tmp_path / "learners.txt", provider, "learners")
    manage(env, "recover_jobs")  # nothing to recover: a no-op
    from django.core.management import call_command

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    again.refresh_from_db()
    assert again.status == UploadStatus.DUPLICATE
    assert count() == LEARNER_ROWS


def test_a_new_worker_resumes_a_killed_workers_upload_by_itself(
    env: dict[str, str], tmp_path: Path
) -> None:
    """No cron, no recover_jobs: the restarted worker notices the lost lease itself."""
    from django_tasks_db.models import DBTaskResult

    # A short lease and recovery interval, so the test waits seconds, not minutes.
    env = {**env, "PARS_UPLOAD_LEASE_SECONDS": "5", "PARS_RECOVERY_INTERVAL_SECONDS": "1"}
    provider = make_provider(name="Fault Restart", provider_id="0007005")
    rows = activity_file(tmp_path / "activities.txt", ACTIVITY_ROWS)
    upload = _store(tmp_path / "activities.txt", provider, "activities")
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, pause_mid_upload="60")
    try:
        wait_for(lambda: _running_with_rows_done(upload), 120, "the upload to be half-way")
        kill(worker)
    finally:
        stop(worker)
    dead = DBTaskResult.objects.get(status="RUNNING")
    assert Activity.objects.filter(provider=provider).count() == 0

    worker = start_worker(env, log)  # a new worker, and nothing else
    try:
        wait_for(
            lambda: Upload.objects.get(pk=upload.pk).is_finished,
            180,
            "the new worker to resume the upload",
        )
        wait_for(
            lambda: not DBTaskResult.objects.filter(status="RUNNING").exists(),
            60,
            "the dead worker's task row to be marked",
        )
    finally:
        stop(worker)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    assert upload.attempts == 2, log.read_text()[-3000:]
    stored = dict(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", "title")
    )
    assert stored == {row["provider_activity_id"]: row["title"] for row in rows}
    dead.refresh_from_db()
    assert dead.status == "FAILED"
    assert dead.exception_class_path == "pars.jobs.recovery.WorkerLost"
    rerun = DBTaskResult.objects.filter(status="SUCCESSFUL", task_path=dead.task_path)
    assert rerun.count() == 1


def test_recovery_gives_up_after_three_interrupted_runs(
    env: dict[str, str], tmp_path: Path
) -> None:
    provider = make_provider(name="Fault Thrice", provider_id="0007003")
    activity_file(tmp_path / "a.txt", 10)
    upload = _store(tmp_path / "a.txt", provider, "activities")
    from pars.intake.recover import recover_stale_uploads

    for attempt in (1, 2, 3):
        Upload.objects.filter(pk=upload.pk).update(
            status=UploadStatus.RUNNING,
            attempts=attempt,
            heartbeat_at=None,
            started_at=timezone.now() - datetime.timedelta(seconds=1),
        )
        recovery = recover_stale_uploads(0, enqueue=False)
        upload.refresh_from_db()
        if attempt < 3:
            assert recovery.requeued == [upload.pk]
            assert upload.status == UploadStatus.QUEUED
        else:
            assert recovery.failed == [upload.pk]
            assert upload.status == UploadStatus.FAILED
            assert "interrupted 3 times" in upload.message
    # A live run (fresh heartbeat) is never taken away from its worker.
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING, attempts=1)
    Upload.objects.filter(pk=upload.pk).update(heartbeat_at=timezone.now())
    assert recover_stale_uploads(enqueue=False).requeued == []


# ---------------------------------------------------------------------------
# Delivery


DELIVERY_RECORDS = 1_200  # three batches of 500, 500 and 200


def _completions(provider: Provider) -> None:
    from pars.learners.connectors.simulator import add_to_registry
    from pars.learners.services import apply_completions
    from pars.learners.validation import load_recipients
    from pars.testing import learner_row, make_activity, register
    from tests.support.learners import clean_completion

    activity = make_activity(provider, provider_activity_id="DLV-1")
    register(activity, "ABIM")
    learners = [
        {
            "learner_id": f"{200_000 + n}",
            "first_name": "Ada",
            "last_name": f"Learner{n}",
            "birth_month": 12,
            "birth_day": 10,
        }
        for n in range(DELIVERY_RECORDS)
    ]
    add_to_registry("ABIM", learners)
    editor = make_member(provider, Role.EDITOR, email="delivery@fault.example")
    access = get_provider_access(editor, provider.provider_id)
    recipients = load_recipients()
    records = [
        (
            n,
            clean_completion(
                learner_row(activity, learner_id=row["learner_id"], last_name=row["last_name"]),
                recipients=recipients,
            ),
        )
        for n, row in enumerate(learners)
    ]
    apply_completions(access, records, channel="tsv")  # queues deliver_task on commit


def test_a_worker_killed_mid_delivery_loses_and_repeats_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    provider = make_provider(name="Fault Delivery", provider_id="0007004")
    # Short leases, so the batch the dead worker held is resent soon.
    Recipient.objects.filter(code="ABIM").update(connector_config={"lease_seconds": 1})
    _completions(provider)
    log = tmp_path / "worker.log"
    # The simulator records the batch, then the worker is killed before it marks it sent.
    worker = start_worker(env, log, pause_after_send="30")
    try:
        wait_for(SimulatedBatch.objects.exists, 60, "the recipient to receive a batch")
        kill(worker)
    finally:
        stop(worker)
    first = SimulatedBatch.objects.get()
    assert DeliveryBatch.objects.get(key=first.key).status == "sending"  # not marked sent
    assert not LearnerCompletion.objects.filter(status=CompletionStatus.ACCEPTED).exists()

    time.sleep(1.2)  # the dead worker's lease runs out
    worker = start_worker(env, log)
    try:
        manage(env, "deliver_completions")  # the cron safety net resends and goes on

        def all_answered() -> bool:
            manage(env, "deliver_completions")
            return not LearnerCompletion.objects.exclude(status=CompletionStatus.ACCEPTED).exists()

        wait_for(all_answered, 120, "every record to be accepted", interval=0.5)
    finally:
        stop(worker)

    assert LearnerCompletion.objects.filter(status=CompletionStatus.ACCEPTED).count() == (
        DELIVERY_RECORDS
    )
    # Each record in exactly one batch, received by the recipient exactly once per key.
    assert DeliveryItem.objects.count() == DELIVERY_RECORDS
    assert set(DeliveryItem.objects.values_list("completion_id", flat=True)) == set(
        LearnerCompletion.objects.values_list("pk", flat=True)
    )
    refs = [result["ref"] for batch in SimulatedBatch.objects.all() for result in batch.results]
    assert len(refs) == len(set(refs)) == DELIVERY_RECORDS
    first.refresh_from_db()
    assert first.times_received == 2  # resent under the same key, recognized
    assert CompletionEvent.objects.filter(kind=CompletionEventKind.ACCEPTED).count() == (
        DELIVERY_RECORDS
    )
