"""The path a user pays for, shared by the upload benchmarks.

A file is timed from the multipart POST to the web service (through Django's test
client, so every middleware and the real view run, though no socket), through the queue
(a real ``manage.py db_worker`` picks the job up as deployed, woken by the queue's
notification), the job and its commit, to the upload's ``finished_at`` (set once the
file's transaction has committed). The tables are as autovacuum leaves them:
``VACUUM (ANALYZE)`` runs before the POST (:func:`vacuum`; the COPY baselines run it too)
and ``ANALYZE`` again when the job has read half the file (from another connection, which
sees none of the file's uncommitted rows, as autovacuum would not). The COPY baselines meet
the same ``ANALYZE`` beside them when PostgreSQL reports half their rows copied
(:func:`analyzed_half_way`): on the 2-core machine it takes 0.1-0.2 s of the CPU the timed
work also needs, a third of a 10,000-row COPY's time, and the upload alone paid for it.

A rejected file's time includes its error report: every page of
``GET /api/v1/uploads/{id}/errors``, as a client fetching it would.

No measurement shares the machine with the workers' leftover work: an applied learner file
queues the delivery of its completions to their recipients (``deliver_task``, then
``collect_results_task``), which is not part of "POST to commit" but would otherwise run
beside the next measurement, at about 3 ms a completion. So once a file is timed
(:func:`time_upload`), untimed: its worker is stopped (a running task is let finish and
none starts after, so nothing deletes rows under a task), the caller's ``clear`` removes
what the file produced that delivery would work on (the learner bench: the file's
completions, their delivery items, events and batches), and the tasks still queued are
run in this process until the queue has drained (:func:`drain`: no task queued or
running, no completion waiting for delivery, no delivery batch in flight); they find
nothing to do. The three steps are printed, never timed. Each COPY baseline and upload
also starts with that check (:func:`settle`), which drains whatever an earlier,
interrupted run left.

The machine's speed wanders (on the 2-core development machine, the same 100,000-row
file took 8 s and 10 s a few minutes apart), so a single timing of a size, set beside a
single COPY a minute earlier, says little: :func:`time_size` times every size
``--repeat`` times (3 by default; sizes up to 20,000 rows ``--repeat-small`` times, 5 by
default: :func:`repeat_for`), COPY and PARS alternating, and reports the median of
each time and, as the ratio to COPY, the median of each run's PARS ÷ its own COPY (the
two measured next to each other).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/pars_bench"
DEFAULT_SIZES = [10_000, 100_000, 500_000]
DEFAULT_REPEAT = 3
# Sizes up to SMALL_ROWS run at least DEFAULT_REPEAT_SMALL times: a 10,000-row COPY takes a
# quarter of a second, and one stray run (the same file's COPY took 0.30 s and 0.55 s a
# minute apart) moved a median of three; five runs of it cost some 20 s more.
SMALL_ROWS = 20_000
DEFAULT_REPEAT_SMALL = 5
# The drain's timeout. After a timed file the drain finds nothing to deliver (its work was
# cleared); the allowance per row covers an interrupted run's leftovers at about 3 ms a
# completion (delivery with its results, on the 2-core development machine).
DRAIN_BASE_SECONDS = 120.0
DRAIN_SECONDS_PER_ROW = 0.01
DRAIN_REPORT_SECONDS = 60.0  # a long drain says what is left this often
# A stopped worker first finishes its running task: a delivery task sends at most 20
# batches of 500 records (about 12 s at 1.2 ms a record), so this leaves room.
WORKER_STOP_SECONDS = 120.0
# Each of these is the median of a size's runs; the worker's peak memory is the highest.
MEDIAN_KEYS = ("seconds", "post_seconds", "pickup_seconds", "job_seconds", "copy_seconds")


def setup_django(database_url: str, media_root: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["PARS_MEDIA_ROOT"] = media_root
    # A cache of the run's own: the worker's progress, read here, and nobody else's.
    os.environ.setdefault("PARS_CACHE_LOCATION", str(Path(media_root) / "cache"))
    os.environ.setdefault("PARS_SECRET_KEY", "bench-only-" + "x" * 40)
    # Connections kept, as docs/deployment.md sets a machine up (a worker opening one per
    # task paid some 20 ms a file for it, and a cold server process).
    os.environ.setdefault("PARS_DB_CONN_MAX_AGE", "60")
    os.environ["DJANGO_SETTINGS_MODULE"] = "pars.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host ("testserver") is allowed


def ensure_database(database_url: str) -> None:
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def sizes(text: str) -> list[int]:
    """``--rows 10000,100000`` (or one size)."""
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def analyze(tables: Iterable[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


# How often the COPY baseline's watcher looks at pg_stat_progress_copy: a 10,000-row COPY
# takes about 0.3 s, and its ANALYZE should come at its middle, as the upload's does.
COPY_PROGRESS_SECONDS = 0.02


@contextmanager
def analyzed_half_way(rows: int, tables: Iterable[str]) -> Iterator[dict[str, bool]]:
    """Around a timed COPY baseline on this thread's connection: the ANALYZE of `tables`
    that time_upload runs beside an upload once the job has read half its rows, run
    here once PostgreSQL's progress report of the COPY (pg_stat_progress_copy) shows half
    of `rows` copied. On the 2-core machine that ANALYZE (0.1-0.2 s of CPU) competes with
    whatever it runs beside: the baseline meets it as the upload does. Yields a dict whose
    "analyzed" says, once the block has ended, whether it ran."""
    from django.db import connection, connections

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    tables = list(tables)
    finished = threading.Event()
    state = {"analyzed": False}

    def watch() -> None:  # on a connection of its own (Django's are per thread)
        try:
            with connections["default"].cursor() as cursor:
                while not finished.is_set():
                    cursor.execute(
                        "SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = %s", [pid]
                    )
                    row = cursor.fetchone()
                    if row is not None and row[0] >= rows // 2:
                        analyze(tables)
                        state["analyzed"] = True
                        return
                    finished.wait(COPY_PROGRESS_SECONDS)
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch, name="copy-half-way-analyze")
    watcher.start()
    try:
        yield state
    finally:
        finished.set()
        watcher.join()


def vacuum(tables: Iterable[str]) -> None:
    """VACUUM (ANALYZE), as autovacuum would: the rows the bench deletes between files
    (COPY baselines, cleared uploads) otherwise stay as dead tuples every later file scans
    where autovacuum is off (the development machine: a 10,000-row learner file took 3.0 s
    instead of 0.5 s after a run's deletes)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")


def reserve_id(table: str, count: int = 1) -> int:
    """The first of `count` primary keys taken from the table's sequence (untimed)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute("SELECT nextval(%s)", [sequence])
        first = int(cursor.fetchone()[0])
        cursor.execute("SELECT setval(%s, %s)", [sequence, first + count])
    return first


class BaselineLinks:
    """What a `COPY` baseline's rows point at, as an upload's rows do: the file's audit
    event and (learner completions) its upload. Their primary keys are reserved when the
    payload is written and the rows made, untimed, before each `COPY` (the bench deletes
    a provider's uploads between files); their foreign keys are checked like the upload's.
    """

    def __init__(self, provider: Any, kind: str) -> None:
        from pars.audit.models import AuditEvent
        from pars.intake.models import Upload

        self.provider, self.kind = provider, kind
        self.event = reserve_id(AuditEvent._meta.db_table)
        self.upload = reserve_id(Upload._meta.db_table)

    def make(self) -> None:
        from pars.audit.models import AuditAction, AuditEvent
        from pars.intake.models import Upload, UploadStatus

        AuditEvent.objects.get_or_create(
            pk=self.event,
            defaults={
                "provider": self.provider,
                "action": (
                    AuditAction.LEARNERS_WRITTEN
                    if self.kind == "learners"
                    else AuditAction.ACTIVITIES_WRITTEN
                ),
                "channel": "tsv",
                "description": "bench COPY baseline",
            },
        )
        Upload.objects.get_or_create(
            pk=self.upload,
            defaults={
                "provider": self.provider,
                "kind": self.kind,
                "file_format": "tsv",
                "original_name": "baseline.txt",
                "size": 0,
                "sha256": "0" * 64,  # no file's: never a duplicate of one
                "status": UploadStatus.FAILED,
            },
        )


def api_auth(provider: Any) -> dict[str, Any]:
    from pars.accounts.services import create_api_key

    secret = create_api_key(provider=provider, name="bench")[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def peak_memory_mb(pid: int) -> float:
    """A live process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def requeue_abandoned() -> int:
    """With no worker of the bench alive: tasks still marked running were abandoned by a
    worker that stopped between claiming one and starting it (django-tasks-db exits at
    once on SIGINT when it is not yet running the task it claimed). Put back in the queue;
    how many."""
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).update(
        status=TaskResultStatus.READY, started_at=None
    )


@contextmanager
def worker() -> Iterator[subprocess.Popen[bytes]]:
    """A real task worker, started (and idle) before the timing, stopped after."""
    requeue_abandoned()  # none of ours runs now
    log = Path(os.environ["PARS_MEDIA_ROOT"]) / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
            ],
            env=os.environ.copy(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        # Started and polling the queue, as a deployed worker is, before the timing.
        deadline = time.monotonic() + 60
        while b"Starting worker" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the task worker did not start: see {log}")
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def add_repeat_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repeat",
        type=int,
        default=DEFAULT_REPEAT,
        help="runs of each size, COPY and PARS alternating; the medians are reported",
    )
    parser.add_argument(
        "--repeat-small",
        type=int,
        default=DEFAULT_REPEAT_SMALL,
        help=f"runs of each size up to {SMALL_ROWS:,} rows (at least --repeat)",
    )


def repeat_for(rows: int, args: argparse.Namespace) -> int:
    """How many times a size is timed: --repeat, and at least --repeat-small up to
    SMALL_ROWS rows (short runs, whose ratio one stray run moves most)."""
    repeat: int = args.repeat
    return max(repeat, args.repeat_small) if rows <= SMALL_ROWS else repeat


def pending_work(horizon: datetime.datetime) -> dict[str, int]:
    """What the task workers have still to do: completions waiting for delivery, delivery
    batches in flight (being sent, or sent and awaiting the answer), and tasks running or
    queued (to run before `horizon`: a task deferred past it is not waited for)."""
    from django.db.models import Q
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult, get_date_max

    from pars.learners.models import (
        WAITING_STATUSES,
        BatchStatus,
        DeliveryBatch,
        LearnerCompletion,
    )

    waiting = LearnerCompletion.objects.filter(status__in=WAITING_STATUSES).count()
    in_flight = DeliveryBatch.objects.filter(
        status__in=(BatchStatus.SENDING, BatchStatus.SENT)
    ).count()
    # Counted last: only a running task queues more work, so when none is running or
    # queued after the counts above, nothing more is coming.
    due = Q(run_after=get_date_max()) | Q(run_after__lte=horizon)
    tasks = DBTaskResult.objects.filter(
        Q(status=TaskResultStatus.RUNNING) | (Q(status=TaskResultStatus.READY) & due)
    ).count()
    return {
        "completions waiting for delivery": waiting,
        "delivery batches in flight": in_flight,
        "tasks queued or running": tasks,
    }


def drain_timeout(rows: int) -> float:
    return DRAIN_BASE_SECONDS + DRAIN_SECONDS_PER_ROW * rows


def run_ready_tasks() -> None:
    """Run every task due now, here, as ``db_worker --batch`` would: after a clear the
    tasks left find nothing to do, and this spares a worker's start (seconds)."""
    from django_tasks_db.management.commands.db_worker import Worker

    # A line per task would drown the report: only warnings and failures show.
    logs = [logging.getLogger(name) for name in ("django.tasks", "django_tasks_db")]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.WARNING)
    try:
        Worker(
            queue_names=["*"],
            interval=0,
            batch=True,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id="bench-drain",
            excluded_queue_names=[],
        ).run()
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)


def drain(process: subprocess.Popen[bytes] | None, rows: int) -> float:
    """Wait, untimed, until all pending work is done (see pending_work) by `process`, or
    without one by this process (run_ready_tasks); returns the seconds waited."""
    from django.utils import timezone

    timeout = drain_timeout(rows)
    started = reported = time.monotonic()
    horizon = timezone.now() + datetime.timedelta(seconds=timeout)
    log = Path(os.environ["PARS_MEDIA_ROOT"]) / "worker.log" if process else "the output above"
    while True:
        if process is None:
            run_ready_tasks()
        if not any((pending := pending_work(horizon)).values()):
            return time.monotonic() - started
        left = ", ".join(f"{count:,} {name}" for name, count in pending.items() if count)
        if process is not None and process.poll() is not None:
            raise SystemExit(f"the task worker stopped with work pending ({left}): see {log}")
        now = time.monotonic()
        if now - started > timeout:
            raise SystemExit(
                f"the workers' delivery work did not drain within {timeout:.0f} s ({left}); "
                f"see {log}, or empty the bench database of an earlier run's leftovers"
            )
        if now - reported > DRAIN_REPORT_SECONDS:
            print(f"  draining, {now - started:.0f} s so far: {left}", flush=True)
            reported = now
        time.sleep(0.1)


def _drain_pending(rows: int, process: subprocess.Popen[bytes] | None = None) -> float:
    """Nothing pending, or drained (see drain); returns the seconds waited."""
    from django.utils import timezone

    if process is None:
        requeue_abandoned()  # no worker of ours runs: a task still "running" was left

    if not any(pending_work(timezone.now()).values()):
        return 0.0
    return drain(process, rows)


def settle(rows: int, process: subprocess.Popen[bytes] | None = None) -> float:
    """Before a measurement: no earlier work pending, or drained by `process` (without
    one, by this process); returns the seconds waited."""
    seconds = _drain_pending(rows, process)
    if seconds:
        print(f"  earlier delivery work drained in {seconds:.1f} s (untimed)", flush=True)
    return seconds


def clear_and_drain(rows: int, stopped: float, clear: Callable[[], None] | None) -> float:
    """After a timed file, its worker stopped (in `stopped` seconds, its running task
    done): `clear` what the file left for delivery, then drain the queue (the tasks find
    nothing to do). Untimed; returns the seconds of the three steps."""
    started = time.monotonic()
    if clear is not None:
        clear()  # no task runs now: nothing deletes rows under a task, or waits for one
    cleared = time.monotonic() - started
    drained = _drain_pending(rows)
    steps = [f"worker stopped in {stopped:.1f} s"]
    if clear is not None:
        steps.append(f"the file's delivery work cleared in {cleared:.1f} s")
    steps.append(f"the queue drained in {drained:.1f} s")
    print(f"  untimed: {', '.join(steps)}", flush=True)
    return stopped + cleared + drained


def time_size(
    rows: int,
    repeat: int,
    copy: Callable[[], float],
    upload: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """One size: its COPY baseline (`copy`, seconds) and PARS (`upload`, time_upload's
    outcome) `repeat` times, alternating, each once earlier work has drained; the medians."""
    runs = []
    for _ in range(max(repeat, 1)):
        settle(rows)
        copy_seconds = copy()
        runs.append({**upload(), "copy_seconds": copy_seconds})
    return median_run(runs)


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs as one: the median of each time and of each run's ratio to its own COPY,
    the highest worker peak, the rest as the last run had it, and every run's times under
    ``runs``."""
    summary = {**runs[-1], "repeat": len(runs)}
    for key in MEDIAN_KEYS:
        summary[key] = statistics.median(run[key] for run in runs)
    summary["copy_ratio"] = statistics.median(run["seconds"] / run["copy_seconds"] for run in runs)
    summary["worker_peak_mb"] = max(run["worker_peak_mb"] for run in runs)
    summary["drain_seconds"] = round(sum(run["drain_seconds"] for run in runs), 2)
    kept = (*MEDIAN_KEYS, "worker_peak_mb", "drain_seconds")
    summary["runs"] = [{key: run[key] for key in kept} for run in runs]
    return summary


def _fetch_error_report(client: Any, upload_id: int, auth: dict[str, Any]) -> int:
    url: str | None = f"/api/v1/uploads/{upload_id}/errors"
    fetched = 0
    while url:
        response = client.get(url, **auth)
        assert response.status_code == 200, response.content[:500]
        data = response.json()
        fetched += len(data["errors"])
        url = data["next"]
    return fetched


# The rows of a warm-up file (the benches write one of other rows of the same kind).
WARM_UP_ROWS = 500


def _warm_up(client: Any, url: str, rows: Path, auth: dict[str, Any]) -> None:
    """Through the same path and worker first, changing nothing: a dry run of `rows` (a
    file of WARM_UP_ROWS other rows). A deployed worker has run files before: imported
    what they need, and remembered the readings of the values they met (codes, dates, Yes
    and No; pars.activities.field_readers). A worker's first rows cost more (0.1 s of a
    10,000-row activity file's 1.5, in process), which a long-lived one paid for once."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pars.intake.models import Upload

    warm_up = SimpleUploadedFile("warm-up.txt", rows.read_bytes())
    url = f"{url}?dry_run=true"
    response = client.post(url, {"file": warm_up}, **auth)
    assert response.status_code == 202, response.content[:500]
    deadline = time.monotonic() + 60
    while Upload.objects.filter(pk=response.json()["id"], finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit("the task worker did not run the warm-up file")
        time.sleep(0.05)


def time_upload(
    url: str,
    path: Path,
    auth: dict[str, Any],
    tables: Iterable[str],
    rows: int,
    *,
    error_report: bool = False,
    clear: Callable[[], None] | None = None,
    written: Iterable[str] | None = None,
    warm_up: Path,
) -> dict[str, Any]:
    """POST the file, let the worker process it, wait for the commit; times in seconds.
    Then, untimed, `clear` and the drain (clear_and_drain) once the worker has stopped.
    `tables` are vacuumed and analyzed before; the ones the file writes (`written`, by
    default all of them) are analyzed again half-way, as autovacuum would: it analyzes
    a table that changed, not one the file only reads. `warm_up`: a file of other rows the
    worker checks first, as a dry run (_warm_up)."""
    from django.test import Client
    from django.utils import timezone

    from pars.intake.models import Upload
    from pars.intake.progress import get_progress

    tables = list(tables)
    changing = list(written) if written is not None else tables
    with worker() as process:
        client = Client()
        settle(rows, process)
        _warm_up(client, url, warm_up, auth)
        vacuum(tables)
        started = timezone.now()
        with path.open("rb") as stream:
            response = client.post(url, {"file": stream}, **auth)
        assert response.status_code == 202, response.content[:500]
        posted = timezone.now()
        upload_id = response.json()["id"]
        analyzed_again = False
        while not (
            Upload.objects.filter(pk=upload_id, finished_at__isnull=False)
            .exclude(status="running")
            .exists()
        ):
            if not analyzed_again and get_progress(upload_id)["done"] >= rows // 2:
                analyze(changing)  # autovacuum's second look, half-way through the job
                analyzed_again = True
            time.sleep(0.05)
        time.sleep(0.2)  # the finish time, written once the commit is done, is in
        upload = Upload.objects.get(pk=upload_id)
        peak = peak_memory_mb(process.pid)
        assert upload.finished_at is not None
        assert upload.started_at is not None
        seconds = (upload.finished_at - started).total_seconds()
        report = None
        if error_report:
            report_started = time.perf_counter()
            fetched = _fetch_error_report(client, upload_id, auth)
            report = {"seconds": time.perf_counter() - report_started, "errors": fetched}
            seconds += report["seconds"]
        stopping = time.monotonic()  # leaving the block stops the worker
    # The file's delivery, queued by its commit, cleared and drained before the next one.
    drained = clear_and_drain(rows, time.monotonic() - stopping, clear)
    return {
        "rows": rows,
        "seconds": seconds,
        "post_seconds": (posted - started).total_seconds(),
        "pickup_seconds": (upload.started_at - posted).total_seconds(),
        "job_seconds": (upload.finished_at - upload.started_at).total_seconds(),
        "status": upload.status,
        "added": upload.added,
        "errors": upload.error_count,
        "message": upload.message,
        "worker_peak_mb": round(peak, 1),
        "analyzed_half_way": analyzed_again,
        "error_report": report,
        "drain_seconds": round(drained, 2),
    }


def linearity(results: list[dict[str, Any]], key: str) -> float | None:
    """Per-row cost at the largest size over that at the smallest (linear: about 1.0)."""
    timed = sorted((r for r in results if r["rows"]), key=lambda r: r["rows"])
    if len(timed) < 2:
        return None
    small, large = timed[0], timed[-1]
    return (large[key] / large["rows"]) / (small[key] / small["rows"])


@dataclass(frozen=True)
class Targets:
    """Issue 14's targets for a kind of file: its time at most `copy_ratio` times the COPY
    baseline's, a per-row cost at the largest size at most `per_row_growth` times the
    smallest's, the worker's peak memory at most `worker_mb`."""

    copy_ratio: float
    per_row_growth: float = 1.2
    worker_mb: float = 200.0


def verdicts(results: list[dict[str, Any]], targets: Targets) -> list[str]:
    """A line per target: the figure measured, and whether it meets the target."""

    def line(name: str, figure: float, target: float) -> str:
        verdict = "meets" if figure <= target else "MISSES"
        return f"{name}: {figure:.2f} ({verdict} the target {target:g})"

    lines = [
        line(f"{r['rows']:,} rows, ÷ COPY", _copy_ratio(r), targets.copy_ratio)
        for r in results
        if r.get("copy_seconds")
    ]
    growth = linearity(results, "seconds")
    if growth is not None:
        lines.append(line("per-row cost, largest ÷ smallest", growth, targets.per_row_growth))
    peak = max((r["worker_peak_mb"] for r in results), default=None)
    if peak is not None:
        lines.append(line("worker peak MB", peak, targets.worker_mb))
    return lines


def _copy_ratio(result: dict[str, Any]) -> float:
    ratio: float = result.get("copy_ratio") or result["seconds"] / result["copy_seconds"]
    return ratio


def print_table(title: str, results: list[dict[str, Any]], targets: Targets | None = None) -> None:
    print(f"\n{title}")
    print(f"{'rows':>9} {'path s':>8} {'µs/row':>8} {'POST s':>7} {'pickup s':>8} {'job s':>8}"
          f" {'COPY s':>8} {'÷ COPY':>7} {'worker MB':>9}")  # fmt: skip
    for r in results:
        copy = r.get("copy_seconds")
        ratio = f"{_copy_ratio(r):7.1f}" if copy else f"{'-':>7}"
        copy_text = f"{copy:8.2f}" if copy else f"{'-':>8}"
        per_row = r["seconds"] / r["rows"] * 1e6
        print(f"{r['rows']:>9,} {r['seconds']:8.2f} {per_row:8.1f} {r['post_seconds']:7.2f}"
              f" {r['pickup_seconds']:8.2f} {r['job_seconds']:8.2f}"
              f" {copy_text} {ratio} {r['worker_peak_mb']:9.0f}")  # fmt: skip
    for r in results:
        if r.get("repeat", 1) > 1:
            paths = ", ".join(f"{run['seconds']:.2f}" for run in r["runs"])
            copies = ", ".join(f"{run['copy_seconds']:.2f}" for run in r["runs"])
            ratios = ", ".join(f"{run['seconds'] / run['copy_seconds']:.1f}" for run in r["runs"])
            print(f"{r['rows']:,} rows: medians of {r['repeat']} runs, COPY and PARS alternating"
                  f" (path s: {paths}; COPY s: {copies}; ÷ COPY: {ratios})")  # fmt: skip
    for key, name in (("seconds", "whole path"), ("job_seconds", "job alone")):
        growth = linearity(results, key)
        if growth is not None:
            print(f"per-row cost, largest ÷ smallest size ({name}): {growth:.2f} (linear ≈ 1.0)")
    for text in verdicts(results, targets) if targets else ():
        print(text)


def stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
