"""Benchmark: a learner TSV through the real upload path, next to PostgreSQL COPY.

    make bench                                              # 500,000 learner rows
    .venv/bin/python bench/learners_upload.py --rows 50000  # a quick run
    .venv/bin/python bench/learners_upload.py --rows 50000 --profile bench/out/learners.prof

The file is narrow, like real learner files: about 20,000 distinct learners across 200
activities, each registered for one recipient (ABIM, ABA, ABP, ABS, NC, TN), with the
columns a provider fills in for those (activity, recipient, name, birth month and day,
board or licence ID, licence state, completion date, CME credits, MOC points and types).
Both measurements use the same rows on the same PostgreSQL database in the same run,
and the report gives their ratio:

* baseline: ``COPY`` of the rows, already validated and in the table's column format,
  into a copy of the learner completion table (same indexes and constraints);
* PARS: the upload path a provider's file takes (store the file, parse it, validate
  every row with the one validator, check the batch against the activities and write it
  with the one writer, COPY on PostgreSQL), run in a child process whose peak resident
  memory is measured. ``--profile`` runs the child under cProfile.

Targets: PARS at least 0.2 times COPY rows/s, peak memory under 300 MB. The database is
``$BENCH_DATABASE_URL`` (default: a ``pars_bench`` database on the local PostgreSQL,
created if missing). Results also go to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The activity benchmark, beside this script.
from activities_upload import (
    DEFAULT_URL,
    ROOT,
    ensure_database,
    peak_memory_mb,
    setup_django,
)

PROVIDER_ID = "0999998"  # not the activity bench's provider
RATIO_TARGET = 0.2
MEMORY_TARGET_MB = 300
# Each activity is registered for one of these, in turn: (code, ID form, credit type).
RECIPIENTS = [
    ("ABIM", "{:06d}", "Medical Knowledge"),
    ("ABS", "", "Accredited CME"),
    ("NC", "NC-{:d}", ""),
    ("ABA", "{:08d}", "Lifelong Learning"),
    ("TN", "TN{:d}", ""),
    ("ABP", "{:06d}", "Lifelong Learning"),
]
HEADER = [
    "Provider Activity ID",
    "Recipient",
    "First Name",
    "Last Name",
    "Birth Month and Day",
    "Learner ID",
    "License State",
    "Completion Date",
    "CME Credits",
    "MOC Points",
    "MOC Credit Types",
]
FIRST_NAMES = ["Ada", "Grace", "Alan", "Mary", "José", "Ngozi", "Wei", "Priya", "Olga", "Sam"]
ACTIVITY_DAYS = 180


def activity_dates(today: datetime.date) -> tuple[datetime.date, datetime.date]:
    end = today - datetime.timedelta(days=1)
    return end - datetime.timedelta(days=ACTIVITY_DAYS - 1), end


def raw_rows(
    count: int, activities: int, learners: int, today: datetime.date
) -> Iterator[list[str]]:
    """Deterministic learner rows (cells in HEADER order): each (activity, learner) once."""
    if count > activities * learners:
        raise SystemExit(f"--rows may be at most {activities * learners:,} (activities × learners)")
    start, _ = activity_dates(today)
    for number in range(count):
        index = number % activities
        learner = (number // activities + index * 97) % learners
        code, id_form, credit_type = RECIPIENTS[index % len(RECIPIENTS)]
        is_board = bool(credit_type)
        completed = start + datetime.timedelta(days=(learner + index) % ACTIVITY_DAYS)
        yield [
            f"LRN-{index:04d}",
            code,
            FIRST_NAMES[learner % len(FIRST_NAMES)],
            f"Learner{learner:05d}",
            f"{learner % 12 + 1:02d}-{learner % 28 + 1:02d}",
            id_form.format(100_000 + learner) if id_form else "",
            code if not is_board else "",
            completed.strftime("%m/%d/%Y") if number % 2 else completed.isoformat(),
            "10",
            "10" if is_board else "",
            credit_type,
        ]


def write_tsv(path: Path, rows: Iterator[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, dialect=csv.excel_tab)
        writer.writerow(HEADER)
        writer.writerows(rows)


# ---------------------------------------------------------------------------
# The provider, its activities and registrations


def clear_provider() -> Any:
    """The bench provider, emptied of everything an earlier run left (plain SQL: fast)."""
    from django.db import connection

    from pars.providers.models import Provider

    provider, _ = Provider.objects.get_or_create(
        provider_id=PROVIDER_ID,
        defaults={"name": "Learner Benchmark Provider", "accreditor_type": "accme"},
    )
    with connection.cursor() as cursor:
        for table in (
            "learners_completionevent",
            "learners_deliveryitem",
            "learners_learnercompletion",
            "learners_activityregistration",
            "activities_uploaderror",
            "activities_upload",
            "activities_activity",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE provider_id = %s", [provider.pk])
    return provider


def set_up_activities(provider: Any, activities: int, today: datetime.date) -> dict[str, int]:
    """The activities, each registered for its recipient; their pks by Provider Activity ID."""
    from decimal import Decimal

    from pars.activities.models import Activity, ActivityFormat
    from pars.learners.models import ActivityRegistration, Recipient

    start, end = activity_dates(today)
    recipients = {row.code: row for row in Recipient.objects.all()}
    created = Activity.objects.bulk_create(
        Activity(
            provider=provider,
            provider_activity_id=f"LRN-{index:04d}",
            title=f"Learner bench activity {index}",
            activity_format=ActivityFormat.COURSE,
            start_date=start,
            end_date=end,
            reporting_year=start.year,
        )
        for index in range(activities)
    )
    registrations = []
    for index, activity in enumerate(created):
        code, _, credit_type = RECIPIENTS[index % len(RECIPIENTS)]
        registrations.append(
            ActivityRegistration(
                provider=provider,
                activity=activity,
                recipient=recipients[code],
                moc_points=Decimal(10) if credit_type else None,
                credit_types=[credit_type] if credit_type else [],
            )
        )
    ActivityRegistration.objects.bulk_create(registrations)
    return {activity.provider_activity_id: activity.pk for activity in created}


# ---------------------------------------------------------------------------
# The COPY baseline


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, list | dict):
        value = json.dumps(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def write_copy_payload(
    path: Path,
    rows: Iterator[list[str]],
    provider: Any,
    activity_pks: dict[str, int],
    today: datetime.date,
) -> tuple[list[str], int]:
    """The same rows validated (untimed) and rendered in COPY text format, every column."""
    from pars.learners.models import LearnerCompletion
    from pars.learners.parsers import map_header
    from pars.learners.validation import load_recipients, validate_completion

    fields = map_header(HEADER)
    recipients = load_recipients()
    concrete = [field for field in LearnerCompletion._meta.concrete_fields if field.name != "id"]
    columns = [field.column for field in concrete if field.column]
    now = datetime.datetime.now(datetime.UTC).isoformat()
    count = 0
    with path.open("w", encoding="utf-8") as stream:
        for cells in rows:
            raw = {name: cell for name, cell in zip(fields, cells, strict=True) if name}
            clean, errors = validate_completion(raw, recipients=recipients, today=today)
            assert clean is not None, errors
            values = {
                **clean.values(),
                "provider_id": provider.pk,
                "activity_id": activity_pks[clean.provider_activity_id],
                "recipient_id": recipients[clean.recipient].pk,
                "status": "queued",
                "status_reason": "",
                "status_code": "",
                "status_changed_at": now,
                "version": 1,
                "batch_id": None,
                "ever_sent": False,
                "last_channel": "tsv",
                "upload_id": None,
                "created_at": now,
                "updated_at": now,
            }
            stream.write("\t".join(_copy_text(values[field.attname]) for field in concrete) + "\n")
            count += 1
    return columns, count


def copy_baseline(payload: Path, columns: list[str], rows: int) -> float:
    from django.db import connection

    from pars.learners.models import LearnerCompletion

    table = LearnerCompletion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_learner_copy")
        cursor.execute(f"CREATE TABLE bench_learner_copy (LIKE {table} INCLUDING ALL)")
        started = time.perf_counter()
        with (
            payload.open("rb") as stream,
            cursor.cursor.copy(
                f"COPY bench_learner_copy ({', '.join(columns)}) FROM STDIN"
            ) as copy,
        ):
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_learner_copy")
        assert cursor.fetchone()[0] == rows
        cursor.execute("DROP TABLE bench_learner_copy")
    return elapsed


def copy_with_foreign_keys(payload: Path, columns: list[str]) -> float:
    """For information: COPY into the real table, foreign keys checked, then rolled back.

    The baseline table has the same indexes but no foreign keys (``LIKE`` does not copy
    them); the real table checks four per row, at commit (Django makes them deferred).
    """
    from django.db import connection, transaction

    from pars.learners.models import LearnerCompletion

    table = LearnerCompletion._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # checked now, not at the commit
        started = time.perf_counter()
        with (
            payload.open("rb") as stream,
            cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return elapsed


# ---------------------------------------------------------------------------
# The real upload path, in a child process


def child(tsv: str, profile: str | None) -> None:
    """Runs in its own process: the real upload path, timed; prints a JSON result."""
    from django.core.files import File

    from pars.accounts.access import get_api_access
    from pars.accounts.services import create_api_key
    from pars.intake.models import Upload
    from pars.intake.process import process_upload
    from pars.intake.store import store_upload
    from pars.providers.models import Provider

    provider = Provider.objects.get(provider_id=PROVIDER_ID)
    access = get_api_access(provider, create_api_key(provider=provider, name="bench")[0])

    def run() -> Any:
        with open(tsv, "rb") as stream:
            upload = store_upload(
                access, File(stream, name="learners.txt"), via_api=True, enqueue=False,
                kind="learners",
            )  # fmt: skip
        process_upload(upload.pk)
        return upload

    started = time.perf_counter()
    cpu_started = time.process_time()
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        upload = profiler.runcall(run)
        profiler.dump_stats(profile)
    else:
        upload = run()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    upload = Upload.objects.get(pk=upload.pk)
    outcome = {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "status": upload.status,
        "added": upload.added,
        "rows": upload.rows_total,
        "errors": upload.error_count,
        "message": upload.message,
        "peak_mb": peak_memory_mb(),
    }
    print(json.dumps(outcome))


def run_child(tsv: Path, profile: str | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(tsv)]
    if profile:
        command += ["--profile", profile]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=os.environ.copy())  # noqa: S603
    assert process.stdout is not None
    output = process.stdout.read()
    if process.wait():
        raise SystemExit(f"the upload run failed (exit {process.returncode})")
    return dict(json.loads(output.decode().strip().splitlines()[-1]))


def analyze() -> None:
    """Statistics as autovacuum leaves them, before the timing (and any plan) starts."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in (
            "activities_activity",
            "learners_activityregistration",
            "learners_learnercompletion",
        ):
            cursor.execute(f"ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--activities", type=int, default=200)
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--profile", help="run the upload under cProfile; stats to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    media = os.environ.get("BENCH_MEDIA_ROOT") or tempfile.mkdtemp(prefix="pars-bench-")
    os.environ["BENCH_MEDIA_ROOT"] = media
    if args.child:
        setup_django(database_url, media)
        child(args.child, args.profile)
        return
    ensure_database(database_url)
    setup_django(database_url, media)
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    results: dict[str, Any] = {
        "rows": args.rows,
        "activities": args.activities,
        "learners": args.learners,
    }
    with tempfile.TemporaryDirectory(prefix="pars-bench-") as tmp:
        work = Path(tmp)
        provider = clear_provider()
        activity_pks = set_up_activities(provider, args.activities, today)
        print(f"Generating {args.rows:,} learner rows...", flush=True)
        write_tsv(work / "learners.txt", raw_rows(args.rows, args.activities, args.learners, today))
        columns, count = write_copy_payload(
            work / "learners.copy",
            raw_rows(args.rows, args.activities, args.learners, today),
            provider,
            activity_pks,
            today,
        )
        assert count == args.rows
        copy_seconds = copy_baseline(work / "learners.copy", columns, args.rows)
        copy_fk_seconds = copy_with_foreign_keys(work / "learners.copy", columns)
        analyze()
        outcome = run_child(work / "learners.txt", args.profile)
        if outcome["status"] != "succeeded" or outcome["added"] != args.rows:
            raise SystemExit(f"the upload did not apply every row: {outcome}")
        copy_rate = args.rows / copy_seconds
        pars_rate = args.rows / outcome["seconds"]
        ratio = pars_rate / copy_rate
        results.update(
            copy_rows_per_second=round(copy_rate),
            copy_with_foreign_keys_rows_per_second=round(args.rows / copy_fk_seconds),
            pars_rows_per_second=round(pars_rate),
            pars_seconds=round(outcome["seconds"], 1),
            # The upload process's own CPU time: the rest of its time is the database's.
            pars_cpu_seconds=round(outcome["cpu_seconds"], 1),
            ratio_to_copy=round(ratio, 4),
            pars_peak_rss_mb=round(outcome["peak_mb"], 1),
            profiled=bool(args.profile),
            ratio_target=RATIO_TARGET,
            memory_target_mb=MEMORY_TARGET_MB,
        )
        print(f"COPY baseline:      {copy_rate:>10,.0f} rows/s")
        print(f"  (into the real table, its foreign keys checked: "
              f"{args.rows / copy_fk_seconds:,.0f} rows/s)")  # fmt: skip
        print(f"PARS upload path:   {pars_rate:>10,.0f} rows/s   "
              f"= {ratio:.3f} × COPY (target ≥ {RATIO_TARGET})"
              + ("  [profiled: slower than usual]" if args.profile else ""))  # fmt: skip
        cpu, seconds = outcome["cpu_seconds"], outcome["seconds"]
        print(f"PARS process CPU:   {cpu:>10,.1f} s of {seconds:,.1f} s (the rest: waiting)")
        print(f"Peak memory (RSS):  {outcome['peak_mb']:>10,.0f} MB for {args.rows:,} rows "
              f"(target < {MEMORY_TARGET_MB} MB)")  # fmt: skip
        clear_provider()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"learners_upload-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
