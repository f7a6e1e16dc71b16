"""The upload benchmarks' measuring rules (bench/upload_path.py): once a file is timed, what
it left for delivery is cleared before the queue is drained, each measurement starts once
the workers' earlier work has drained, and the smallest size's runs alternate COPY and
PARS and are reported as medians."""

from __future__ import annotations

import datetime
import time
from typing import Any

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from pars.learners.models import (
    BatchStatus,
    CompletionStatus,
    DeliveryAction,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
)
from pars.providers.models import Provider
from pars.testing import make_activity, make_provider
from tests.support.faults import ROOT, requires_postgresql  # noqa: F401  (ROOT puts bench/ on the path)

pytestmark = pytest.mark.django_db


def _task(status: str, run_after: datetime.datetime | None = None) -> None:
    DBTaskResult.objects.create(
        status=status,
        args_kwargs={"args": ["ABIM"], "kwargs": {}},
        task_path="pars.learners.delivery.deliver_task",
        backend_name="default",
        run_after=run_after or get_date_max(),
    )


def _sent(provider: Provider, status: str, batch_status: str) -> DeliveryBatch:
    """One completion of `provider` in `status`, in a batch to ABIM in `batch_status`."""
    recipient = Recipient.objects.get(code="ABIM")
    activity = make_activity(provider)
    completion = LearnerCompletion.objects.create(
        provider=provider,
        activity=activity,
        recipient=recipient,
        learner_key="id:654321",
        first_name="Ada",
        last_name="Lovelace",
        birth_month=12,
        birth_day=10,
        learner_id="654321",
        completion_date=activity.start_date,
        status=status,
    )
    batch = DeliveryBatch.objects.create(recipient=recipient, status=batch_status)
    DeliveryItem.objects.create(
        provider=provider,
        batch=batch,
        completion=completion,
        version=1,
        action=DeliveryAction.SUBMIT,
        payload={},
    )
    return batch


def test_clear_uploaded_leaves_the_drain_nothing_of_the_file_to_wait_for() -> None:
    import learners_upload
    import upload_path

    bench, other = make_provider(), make_provider()
    _sent(bench, CompletionStatus.SENT, BatchStatus.SENT)
    _sent(bench, CompletionStatus.QUEUED, BatchStatus.SENDING)
    LearnerCompletion.objects.filter(provider=bench).update(batch=None)  # one still waits
    kept = _sent(other, CompletionStatus.SENT, BatchStatus.SENT)
    horizon = timezone.now()
    assert upload_path.pending_work(horizon)["delivery batches in flight"] == 3

    learners_upload.clear_uploaded(bench)

    assert upload_path.pending_work(horizon) == {
        "completions waiting for delivery": 0,
        "delivery batches in flight": 1,  # the other provider's, untouched
        "tasks queued or running": 0,
    }
    assert list(DeliveryBatch.objects.values_list("pk", flat=True)) == [kept.pk]
    assert DeliveryItem.objects.filter(provider=other).count() == 1
    assert not LearnerCompletion.objects.filter(provider=bench).exists()


def test_clear_and_drain_clears_before_it_drains(monkeypatch: pytest.MonkeyPatch) -> None:
    import upload_path

    steps: list[str] = []

    def drain_pending(rows: int) -> float:
        steps.append("drain")
        return 2.0

    monkeypatch.setattr(upload_path, "_drain_pending", drain_pending)

    total = upload_path.clear_and_drain(1000, 1.5, lambda: steps.append("clear"))

    assert steps == ["clear", "drain"]
    assert total == pytest.approx(3.5, abs=0.5)


# The drain's worker runs here and manages its own database connections: real commits.
@pytest.mark.django_db(transaction=True)
def test_clear_and_drain_leaves_nothing_pending_without_starting_a_worker(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    import learners_upload
    import upload_path

    bench = make_provider()
    _sent(bench, CompletionStatus.QUEUED, BatchStatus.SENDING)
    _task(TaskResultStatus.READY)  # the file's delivery task, queued by its commit
    monkeypatch.setattr(upload_path, "worker", None)  # would fail if called
    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}
    monkeypatch.setattr(upload_path, "DRAIN_BASE_SECONDS", 5.0)  # then it gives up
    monkeypatch.setattr(upload_path, "DRAIN_SECONDS_PER_ROW", 0.0)

    upload_path.clear_and_drain(1000, 0.0, lambda: learners_upload.clear_uploaded(bench))

    assert not any(upload_path.pending_work(timezone.now()).values())
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL  # run here


@pytest.mark.django_db(transaction=True)
def test_a_task_its_stopped_worker_left_marked_running_is_run_by_the_drain(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """django-tasks-db's worker exits at once on SIGINT between claiming a task and
    running it: the task stays "running" with no worker. Without one of the bench's workers
    alive, the drain puts it back in the queue and runs it (CI hung on one)."""
    import upload_path

    _task(TaskResultStatus.RUNNING)
    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}
    monkeypatch.setattr(upload_path, "DRAIN_BASE_SECONDS", 5.0)
    monkeypatch.setattr(upload_path, "DRAIN_SECONDS_PER_ROW", 0.0)

    upload_path.clear_and_drain(1000, 0.0, None)

    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL


def test_pending_work_counts_due_and_running_tasks_and_batches_in_flight() -> None:
    import upload_path

    now = timezone.now()
    _task(TaskResultStatus.READY)  # queued to run now
    _task(TaskResultStatus.READY, now + datetime.timedelta(seconds=30))  # due before horizon
    _task(TaskResultStatus.READY, now + datetime.timedelta(days=1))  # a far retry: not waited
    _task(TaskResultStatus.RUNNING)
    _task(TaskResultStatus.SUCCESSFUL)
    recipient = Recipient.objects.get(code="ABIM")
    DeliveryBatch.objects.create(recipient=recipient, status=BatchStatus.SENT)
    DeliveryBatch.objects.create(recipient=recipient, status=BatchStatus.DONE)

    pending = upload_path.pending_work(now + datetime.timedelta(minutes=5))

    assert pending == {
        "completions waiting for delivery": 0,
        "delivery batches in flight": 1,
        "tasks queued or running": 3,
    }


def test_settle_starts_no_worker_when_nothing_is_pending(monkeypatch: pytest.MonkeyPatch) -> None:
    import upload_path

    _task(TaskResultStatus.SUCCESSFUL)
    monkeypatch.setattr(upload_path, "worker", None)  # would fail if called

    assert upload_path.settle(1000) == 0.0


def test_drain_times_out_naming_what_is_pending(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import upload_path

    class Running:
        def poll(self) -> None:
            return None

    _task(TaskResultStatus.READY)
    monkeypatch.setenv("PARS_MEDIA_ROOT", str(tmp_path))
    monkeypatch.setattr(upload_path, "DRAIN_BASE_SECONDS", 0.0)
    monkeypatch.setattr(upload_path, "DRAIN_SECONDS_PER_ROW", 0.0)

    with pytest.raises(SystemExit, match=r"did not drain within 0 s \(1 tasks queued or running\)"):
        upload_path.drain(Running(), 1000)  # type: ignore[arg-type]


def test_time_size_alternates_copy_and_pars_and_reports_medians(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import upload_path

    calls: list[str] = []
    monkeypatch.setattr(upload_path, "settle", lambda rows: calls.append("settle"))
    copies = iter([0.30, 0.10, 0.20])
    paths = iter([0.9, 0.5, 0.7])

    def copy() -> float:
        calls.append("copy")
        return next(copies)

    def upload() -> dict[str, Any]:
        calls.append("upload")
        seconds = next(paths)
        return {
            "rows": 10,
            "seconds": seconds,
            "post_seconds": 0.01,
            "pickup_seconds": 0.02,
            "job_seconds": seconds - 0.1,
            "worker_peak_mb": 100 + seconds * 10,
            "drain_seconds": 1.0,
            "status": "succeeded",
        }

    result = upload_path.time_size(10, 3, copy, upload)

    assert calls == ["settle", "copy", "upload"] * 3
    assert result["repeat"] == 3
    assert result["seconds"] == 0.7
    assert result["copy_seconds"] == 0.2
    assert result["job_seconds"] == pytest.approx(0.6)
    assert result["worker_peak_mb"] == 109.0
    assert [run["seconds"] for run in result["runs"]] == [0.9, 0.5, 0.7]
    assert result["drain_seconds"] == 3.0
    # The ratio pairs each run with its own COPY (3.0, 5.0, 3.5): not 0.7 ÷ 0.2.
    assert result["copy_ratio"] == pytest.approx(3.5)


def test_the_report_says_which_targets_a_run_meets() -> None:
    import upload_path

    results = [
        {"rows": 10, "seconds": 1.0, "copy_seconds": 0.2, "copy_ratio": 5.0, "worker_peak_mb": 150},
        {
            "rows": 100,
            "seconds": 8.0,
            "copy_seconds": 4.0,
            "copy_ratio": 2.0,
            "worker_peak_mb": 210,
        },
    ]
    lines = upload_path.verdicts(results, upload_path.Targets(copy_ratio=4.0))

    assert lines == [
        "10 rows, ÷ COPY: 5.00 (MISSES the target 4)",
        "100 rows, ÷ COPY: 2.00 (meets the target 4)",
        "per-row cost, largest ÷ smallest: 0.80 (meets the target 1.2)",
        "worker peak MB: 210.00 (MISSES the target 200)",
    ]


def test_small_sizes_are_timed_more_often_than_large_ones() -> None:
    import argparse

    import upload_path

    parser = argparse.ArgumentParser()
    upload_path.add_repeat_argument(parser)
    made = parser.parse_args([])
    smoke = parser.parse_args(["--repeat", "2", "--repeat-small", "2"])
    many = parser.parse_args(["--repeat", "7"])

    # make bench: 5 runs of the 10,000-row file (a quarter-second COPY), 3 of the others.
    assert [upload_path.repeat_for(rows, made) for rows in (10_000, 100_000, 500_000)] == [5, 3, 3]
    assert upload_path.repeat_for(1_000, smoke) == 2
    assert upload_path.repeat_for(10_000, many) == 7  # never fewer than --repeat


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_the_copy_baseline_meets_the_half_way_analyze_while_it_runs() -> None:
    """The COPY baseline faces the ANALYZE the upload faces half-way: run beside it once
    PostgreSQL reports half its rows copied, before the COPY has ended."""
    import upload_path
    from django.db import connection, transaction

    rows = 20_000
    line = "{n}\t" + "x" * 40 + "\n"  # psycopg sends a COPY's data by some 32 KiB at a time
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_half_way_probe (n integer, note text)")
    try:
        with (
            upload_path.analyzed_half_way(rows, ["bench_half_way_probe"]) as state,
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy("COPY bench_half_way_probe (n, note) FROM STDIN") as copy,
        ):
            sent = rows * 3 // 4  # past half, whatever psycopg still holds
            copy.write("".join(line.format(n=n) for n in range(sent)))
            deadline = time.monotonic() + 10
            while not state["analyzed"] and time.monotonic() < deadline:
                time.sleep(0.02)
            analyzed_before_the_end = state["analyzed"]
            copy.write("".join(line.format(n=n) for n in range(sent, rows)))
        assert analyzed_before_the_end
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM bench_half_way_probe")
            assert cursor.fetchone() == (rows,)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_half_way_probe")


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_copy_that_never_reaches_half_way_is_not_analyzed_beside_it() -> None:
    import upload_path
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_half_way_probe (n integer, note text)")
    try:
        # Told of 20,000 rows, the COPY sends 4,000 (past psycopg's buffer) and waits.
        with (
            upload_path.analyzed_half_way(20_000, ["bench_half_way_probe"]) as state,
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy("COPY bench_half_way_probe (n, note) FROM STDIN") as copy,
        ):
            copy.write("".join(f"{n}\t{'x' * 40}\n" for n in range(4_000)))
            time.sleep(10 * upload_path.COPY_PROGRESS_SECONDS)
        assert state["analyzed"] is False
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_half_way_probe")
