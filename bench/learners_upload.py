"""Benchmark: learner files through the path a user pays for, next to PostgreSQL COPY.

    make bench                                            # 10k, 100k and 500k rows
    .venv/bin/python bench/learners_upload.py --rows 1000  # a smoke run (CI)

The file is narrow, like real learner files: about 20,000 distinct learners across 200
activities, each registered for one recipient (ABIM, ABA, ABP, ABS, NC, TN), with the
columns a provider fills in for those (activity, recipient, name, birth month and day,
board or license ID, license state, completion date, CME credits, MOC points and types).

Each size is timed from the multipart POST to ``/api/v1/learner-completions/uploads`` to
the upload's ``finished_at`` after its commit: the queue pickup by a real task worker,
the job and the commit included (bench/upload_path.py says how; ``VACUUM (ANALYZE)`` runs
before, ``ANALYZE`` of the completion table half-way). The report prints the time and
per-row cost at each size, the ratio of the per-row cost at the largest size to the
smallest (linear: about 1.0) and the ratio to the COPY baseline: the same rows, validated
beforehand (untimed) and in the table's column format, COPYed into the same learner
completion table (its indexes, constraints and foreign keys in place) in one committed
transaction; each row points at its upload and the file's audit event, as the upload's
rows do, with the half-way ``ANALYZE`` beside it as the upload has. Every size is timed
``--repeat`` times (3 by default; up to 20,000 rows
``--repeat-small`` times, 5), COPY and PARS alternating, and reported as the medians
(the ratio: the median of each run's ratio to its own COPY). Once a file is timed, its
worker is stopped (its running task let finish), the file's completions with their
delivery items, events and batches are removed, and the queue is drained: the delivery
its commit queued (not part of "POST to commit") finds nothing left to do and never runs
beside the next measurement (untimed, printed; bench/upload_path.py). Then a file of the
smallest size with one row in 7 invalid (learner files apply their valid rows and report
the others) is timed the same way plus fetching its whole error report. Timings are
reported, never asserted. The database is ``$BENCH_DATABASE_URL`` (default: a
``pars_bench`` database on the local PostgreSQL, created if missing).
Results also go to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upload_path import (  # the bench folder is not a package: its path is added above
    DEFAULT_SIZES,
    DEFAULT_URL,
    ROOT,
    WARM_UP_ROWS,
    BaselineLinks,
    Targets,
    add_repeat_argument,
    analyzed_half_way,
    api_auth,
    ensure_database,
    print_table,
    repeat_for,
    setup_django,
    sizes,
    stamp,
    time_size,
    time_upload,
    vacuum,
)

PROVIDER_ID = "0999998"  # not the activity bench's provider
URL = "/api/v1/learner-completions/uploads"
TABLES = ("activities_activity", "learners_activityregistration", "learners_learnercompletion")
# What a learner file writes, analyzed again half-way (it only reads the other two; an
# ANALYZE of the activity table, 20,000 rows and more, costs 70-80 ms of the machine's
# CPU that autovacuum would not spend on a table nothing changed).
WRITTEN = ("learners_learnercompletion",)
BAD_EVERY = 7  # the file with errors: one row in 7 invalid
TARGETS = Targets(copy_ratio=2.5)  # issue 14: at least 0.4 of COPY's speed
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
    count: int, activities: int, learners: int, today: datetime.date, first: int = 0
) -> Iterator[list[str]]:
    """Deterministic learner rows (cells in HEADER order): each (activity, learner) once;
    from the `first`th on."""
    if first + count > activities * learners:
        raise SystemExit(f"--rows may be at most {activities * learners:,} (activities × learners)")
    start, _ = activity_dates(today)
    for number in range(first, first + count):
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


def write_warm_up(work: Path, args: Any, today: datetime.date) -> None:
    """The worker's warm-up file (upload_path._warm_up): the last rows of the (activity,
    learner) pairs, past the timed files' (4 million pairs by default)."""
    path = work / "warm-up.txt"
    first = args.activities * args.learners - WARM_UP_ROWS
    write_tsv(path, raw_rows(WARM_UP_ROWS, args.activities, args.learners, today, first))


def write_tsv(path: Path, rows: Iterator[list[str]], bad_every: int = 0) -> None:
    """The rows as a provider's TSV; with `bad_every`, every such row has no valid date."""
    date = HEADER.index("Completion Date")
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, dialect=csv.excel_tab)
        writer.writerow(HEADER)
        for number, row in enumerate(rows, start=1):
            if bad_every and number % bad_every == 0:
                row[date] = "not a date"
            writer.writerow(row)


# ---------------------------------------------------------------------------
# The provider, its activities and registrations


# What an upload leaves (its completions, their delivery and events, the upload itself).
UPLOADED_TABLES = (
    "learners_completionevent",
    "learners_deliveryitem",
    "learners_learnercompletion",
    "activities_uploaderror",
    "activities_upload",
)


def clear_uploaded(provider: Any, tables: tuple[str, ...] = UPLOADED_TABLES) -> None:
    """The provider's rows in `tables` removed (plain SQL: fast), and the delivery batches
    its items were in, left empty: with them gone no batch is in flight, and queued
    delivery tasks find nothing to do (upload_path.clear_and_drain). Run while no task
    runs (upload_path stops its worker first)."""
    from django.db import connection, transaction
    from django.db.models import Exists, OuterRef

    from pars.learners.models import DeliveryBatch, DeliveryItem

    with transaction.atomic():
        items = DeliveryItem.objects.filter(provider=provider).order_by()
        batches = list(items.values_list("batch_id", flat=True).distinct())
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"DELETE FROM {table} WHERE provider_id = %s", [provider.pk])
        DeliveryBatch.objects.filter(pk__in=batches).exclude(
            Exists(DeliveryItem.objects.filter(batch=OuterRef("pk")))
        ).delete()


def clear_provider() -> Any:
    """The bench provider, emptied of everything an earlier run left."""
    from pars.providers.models import Provider

    provider, _ = Provider.objects.get_or_create(
        provider_id=PROVIDER_ID,
        defaults={"name": "Learner Benchmark Provider", "accreditor_type": "accme"},
    )
    clear_uploaded(
        provider, (*UPLOADED_TABLES, "learners_activityregistration", "activities_activity")
    )
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
    links: BaselineLinks,
    activity_pks: dict[str, int],
    today: datetime.date,
) -> tuple[list[str], int]:
    """The same rows validated (untimed) and rendered in COPY text format, every column,
    pointing at their upload and its audit event as the upload's rows do."""
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
                "provider_id": links.provider.pk,
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
                "upload_id": links.upload,
                "created_by_event_id": links.event,
                "created_at": now,
                "updated_at": now,
            }
            stream.write("\t".join(_copy_text(values[field.attname]) for field in concrete) + "\n")
            count += 1
    return columns, count


def copy_baseline(payload: Path, columns: list[str], rows: int, links: BaselineLinks) -> float:
    """COPY into the real table, constraints and foreign keys checked, committed; the rows
    are then removed (untimed)."""
    from django.db import connection, transaction

    from pars.learners.models import LearnerCompletion

    table = LearnerCompletion._meta.db_table
    links.make()
    vacuum([table])  # untimed, as before the upload
    with analyzed_half_way(rows, WRITTEN):  # as time_upload's upload meets it
        started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            payload.open("rb") as stream,
            cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE provider_id = %s", [links.provider.pk])
        assert cursor.rowcount == rows
    return elapsed


def one_size(work: Path, rows: int, args: Any, today: datetime.date) -> dict[str, Any]:
    provider = clear_provider()
    activity_pks = set_up_activities(provider, args.activities, today)
    write_tsv(work / "learners.txt", raw_rows(rows, args.activities, args.learners, today))
    links = BaselineLinks(provider, "learners")
    columns, count = write_copy_payload(
        work / "learners.copy",
        raw_rows(rows, args.activities, args.learners, today),
        links,
        activity_pks,
        today,
    )
    assert count == rows
    auth = api_auth(provider)

    def copy() -> float:
        return copy_baseline(work / "learners.copy", columns, rows, links)

    def upload() -> dict[str, Any]:
        # Untimed, once the file is timed: its rows and delivery work cleared, so the
        # next run (its COPY first) starts empty, with nothing left to deliver.
        outcome = time_upload(
            URL,
            work / "learners.txt",
            auth,
            TABLES,
            rows,
            clear=lambda: clear_uploaded(provider),
            written=WRITTEN,
            warm_up=work / "warm-up.txt",
        )
        if outcome["status"] != "succeeded" or outcome["added"] != rows:
            raise SystemExit(f"the upload did not apply every row: {outcome}")
        return outcome

    return time_size(rows, repeat_for(rows, args), copy, upload)


def with_errors(work: Path, rows: int, args: Any, today: datetime.date) -> dict[str, Any]:
    provider = clear_provider()
    set_up_activities(provider, args.activities, today)
    rows_with_errors = raw_rows(rows, args.activities, args.learners, today)
    write_tsv(work / "errors.txt", rows_with_errors, bad_every=BAD_EVERY)
    auth = api_auth(provider)
    outcome = time_upload(
        URL,
        work / "errors.txt",
        auth,
        TABLES,
        rows,
        error_report=True,
        clear=lambda: clear_uploaded(provider),
        written=WRITTEN,
        warm_up=work / "warm-up.txt",
    )
    if outcome["status"] != "partial" or outcome["errors"] != rows // BAD_EVERY:
        raise SystemExit(f"the invalid rows were not reported: {outcome}")
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--rows", type=sizes, default=DEFAULT_SIZES, help="sizes, comma-separated (10000,100000)"
    )
    parser.add_argument("--activities", type=int, default=200)
    parser.add_argument("--learners", type=int, default=20_000)
    add_repeat_argument(parser)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    media = os.environ.get("BENCH_MEDIA_ROOT") or tempfile.mkdtemp(prefix="pars-bench-")
    ensure_database(database_url)
    setup_django(database_url, media)
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pars-bench-") as tmp:
        work = Path(tmp)
        write_warm_up(work, args, today)
        for rows in args.rows:
            print(f"{rows:,} learner rows...", flush=True)
            results.append(one_size(work, rows, args, today))
        rows = min(args.rows)
        print(f"{rows:,} learner rows, one in {BAD_EVERY} invalid...", flush=True)
        partial = with_errors(work, rows, args, today)
        clear_provider()
    print_table("Learner files (POST to commit, including the worker's pickup):", results, TARGETS)
    report = partial["error_report"]
    print(f"File with errors ({rows:,} rows, {partial['errors']:,} reported, the rest applied): "
          f"{partial['seconds']:.2f} s including the error report "
          f"({report['errors']:,} errors fetched in {report['seconds']:.2f} s)")  # fmt: skip
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    summary = {"activities": args.activities, "learners": args.learners,
               "repeat": args.repeat, "repeat_small": args.repeat_small, "sizes": results,
               "with_errors": partial}  # fmt: skip
    (out / f"learners_upload-{stamp()}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
