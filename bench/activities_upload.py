"""Benchmark: activity files through the path a user pays for, next to PostgreSQL COPY.

    make bench                                             # 10k, 100k and 500k rows
    .venv/bin/python bench/activities_upload.py --rows 1000  # a smoke run (CI)

Each size is timed from the multipart POST to ``/api/v1/uploads`` to the upload's
``finished_at`` after its commit: the queue pickup by a real task worker, the job and the
commit included (bench/upload_path.py says how; ``VACUUM (ANALYZE)`` runs before,
``ANALYZE`` half-way).
The report prints the time and per-row cost at each size, the ratio of the per-row cost
at the largest size to the smallest (a linear path gives about 1.0), and the ratio to:

* the COPY baseline: the same rows, validated beforehand (untimed) and in the tables'
  column format, COPYed into the same tables (activities and their commercial
  supporters, every index and constraint in place) in one committed transaction. The
  same rows: each activity points at the file's audit event, as the upload's do (its
  foreign key checked as theirs is). The half-way ``ANALYZE`` runs beside it too.

Every size is timed ``--repeat`` times (3 by default; up to 20,000 rows
``--repeat-small`` times, 5), COPY and PARS alternating, and reported as the medians
(the ratio: the median of each run's ratio to its own COPY);
every COPY and upload starts with the task queue drained (bench/upload_path.py). Then a
rejected file of the smallest size, one row in 7 invalid, is timed the same way plus
fetching its whole error report. The tables hold another provider's activities (the
statistics know none of the bench provider's rows). Timings are reported, never asserted.
The database is ``$BENCH_DATABASE_URL`` (default: a ``pars_bench`` database on the local
PostgreSQL, created if missing). Results also go to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import random
import sys
import tempfile
import time
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
    reserve_id,
    setup_django,
    sizes,
    stamp,
    time_size,
    time_upload,
    vacuum,
)

PROVIDER_ID = "0999999"
ESTABLISHED_ID = "0999997"  # the provider whose activities the statistics know
TABLES = ("activities_activity", "activities_commercialsupport")
BAD_EVERY = 7  # the rejected file: one row in 7 invalid
TARGETS = Targets(copy_ratio=4.0)  # issue 14: at least 0.25 of COPY's speed


TITLES = [
    "Grand Rounds",
    "Cardiology Update",
    "Sepsis Workshop",
    "Opioid Prescribing",
    "Tumor Board",
]
CITIES = [("Chicago", "IL"), ("Portland", "ME"), ("Nashville", "TN"), ("Raleigh", "NC")]


def raw_rows(count: int, seed: int = 7) -> Any:
    """Deterministic activity rows in the current layout's terms (strings, as in a file)."""
    rng = random.Random(seed)
    for number in range(1, count + 1):
        start = datetime.date(2026, 1, 1) + datetime.timedelta(days=rng.randrange(300))
        activity_format = ("Course", "Enduring Material", "Regularly Scheduled Series")[number % 3]
        days = {"Course": 1, "Enduring Material": 200, "Regularly Scheduled Series": 60}
        end = start + datetime.timedelta(days=days[activity_format])
        city, state = rng.choice(CITIES)
        supported = number % 5 == 0
        yield {
            "action": "",
            "status": "Closed",
            "provider_activity_id": f"BENCH-{number:07d}",
            "title": f"{rng.choice(TITLES)} {number}",
            "activity_format": activity_format,
            "delivery_methods": "Online" if activity_format == "Enduring Material" else "In-Person",
            "start_date": start.strftime("%m/%d/%Y"),
            "end_date": end.strftime("%m/%d/%Y"),
            "description": "An update on current practice for physicians and care teams.",
            "city": city,
            "state": state,
            "country": "USA",
            "providership": "Direct",
            "ama_credits": rng.choice(["1", "1.5", "3", "6.25"]),
            "physician_learners": str(rng.randrange(5, 500)),
            "other_learners": str(rng.randrange(0, 100)),
            "outcome_measures": "Learner Competence:Objective",
            "commercial_support_received": "Yes" if supported else "No",
            "listed_on_passport": "No",
            "supporters": (
                [{"source": "Example Pharma", "monetary_amount": str(rng.randrange(1, 50) * 100)}]
                if supported
                else []
            ),
        }


def write_tsv(path: Path, count: int, bad_every: int = 0, seed: int = 7) -> None:
    """The rows as a provider's TSV; with `bad_every`, every such row has no valid format."""
    from pars.activities.parsers.layouts import CURRENT

    names = [column.target for column in CURRENT.columns]
    block = [column.target for column in CURRENT.supporter_block]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, dialect=csv.excel_tab)
        writer.writerow(CURRENT.headers(supporters=1))
        for number, row in enumerate(raw_rows(count, seed), start=1):
            if bad_every and number % bad_every == 0:
                row["activity_format"] = "Not a format"
            supporter = row["supporters"][0] if row["supporters"] else {}
            writer.writerow(
                [row.get(name, "") for name in names] + [supporter.get(name, "") for name in block]
            )


def _copy_cell(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, list | dict):
        return json.dumps(value).replace("\\", "\\\\")
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def write_copy_payload(work: Path, count: int, links: BaselineLinks) -> dict[str, list[str]]:
    """The same rows, validated (untimed) and rendered in COPY text format, one file per
    table: activities with their primary keys and the file's audit event, as the upload
    writes them, supporters pointing at them."""
    from pars.activities.models import Activity, CommercialSupport
    from pars.activities.validation import validate_activity

    today = datetime.date(2026, 11, 27)
    fields = [f for f in Activity._meta.concrete_fields if f.column]
    support_fields = [f for f in CommercialSupport._meta.concrete_fields if f.name != "id"]
    now = datetime.datetime.now(datetime.UTC).isoformat()
    activity_id = reserve_id(Activity._meta.db_table, count)
    provider_pk = links.provider.pk
    supporters = []
    with (work / "activities.copy").open("w", encoding="utf-8") as stream:
        for row in raw_rows(count):
            clean, errors = validate_activity(row, today=today)
            assert clean is not None, errors
            values = {**clean.values, "id": activity_id, "provider": provider_pk}
            values.update(
                last_channel="tsv",
                created_by_event=links.event,
                created_at=now,
                updated_at=now,
            )
            stream.write("\t".join(_copy_cell(values.get(f.name)) for f in fields) + "\n")
            for position, supporter in enumerate(clean.supporters, start=1):
                supporters.append(
                    {
                        **supporter,
                        "provider": provider_pk,
                        "activity": activity_id,
                        "position": position,
                    }
                )
            activity_id += 1
    with (work / "supporters.copy").open("w", encoding="utf-8") as stream:
        for supporter in supporters:
            cells = (_copy_cell(supporter.get(f.name, f.get_default())) for f in support_fields)
            stream.write("\t".join(cells) + "\n")
    return {
        "activities": [str(f.column) for f in fields],
        "supporters": [str(f.column) for f in support_fields],
    }


def copy_baseline(
    work: Path, columns: dict[str, list[str]], rows: int, links: BaselineLinks
) -> float:
    """COPY into the real tables, constraints and all, committed; the rows then removed."""
    from django.db import connection, transaction

    from pars.activities.models import Activity, CommercialSupport

    targets = (
        ("activities", Activity._meta.db_table, work / "activities.copy"),
        ("supporters", CommercialSupport._meta.db_table, work / "supporters.copy"),
    )
    links.make()
    vacuum(table for _, table, _ in targets)  # untimed, as before the upload
    with analyzed_half_way(rows, TABLES):  # as time_upload's upload meets it
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for name, table, payload in targets:
                sql = f"COPY {table} ({', '.join(columns[name])}) FROM STDIN"
                with payload.open("rb") as stream, cursor.cursor.copy(sql) as copy:
                    while chunk := stream.read(1 << 20):
                        copy.write(chunk)
        elapsed = time.perf_counter() - started
    assert Activity.objects.filter(provider=links.provider).count() == rows
    clear_rows(links.provider)
    return elapsed


def clear_rows(provider: Any) -> None:
    from django.db import connection

    from pars.activities.models import Activity, CommercialSupport
    from pars.intake.models import Upload

    with connection.cursor() as cursor:
        for model in (CommercialSupport, Activity):
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE provider_id = %s", [provider.pk]
            )
    Upload.objects.filter(provider=provider).delete()


def bench_provider() -> Any:
    from pars.activities.models import Activity
    from pars.intake.models import Upload
    from pars.providers.models import Provider

    provider, _ = Provider.objects.get_or_create(
        provider_id=PROVIDER_ID, defaults={"name": "Benchmark Provider", "accreditor_type": "accme"}
    )
    Activity.objects.filter(provider=provider).delete()
    Upload.objects.filter(provider=provider).delete()
    return provider


def established_provider(count: int) -> None:
    """Another provider with `count` activities (kept across runs), already committed."""
    from pars.activities.models import Activity
    from pars.providers.models import Provider

    provider, _ = Provider.objects.get_or_create(
        provider_id=ESTABLISHED_ID,
        defaults={"name": "Established Benchmark Provider", "accreditor_type": "accme"},
    )
    if Activity.objects.filter(provider=provider).count() == count:
        return
    Activity.objects.filter(provider=provider).delete()
    Activity.objects.bulk_create(
        (
            Activity(
                provider=provider,
                provider_activity_id=f"EST-{number:07d}",
                title=f"Grand Rounds {number}",
                activity_format="Course",
                start_date=datetime.date(2025, 3, 1),
                end_date=datetime.date(2025, 3, 2),
                reporting_year=2025,
            )
            for number in range(count)
        ),
        batch_size=5_000,
    )


def one_size(work: Path, rows: int, repeat: int, provider: Any, auth: dict[str, Any]) -> Any:
    """One size, COPY and PARS alternating `repeat` times (upload_path.time_size)."""
    clear_rows(provider)
    write_tsv(work / "activities.txt", rows)
    links = BaselineLinks(provider, "activities")
    columns = write_copy_payload(work, rows, links)

    def copy() -> float:
        return copy_baseline(work, columns, rows, links)

    def upload() -> dict[str, Any]:
        outcome = time_upload(
            "/api/v1/uploads",
            work / "activities.txt",
            auth,
            TABLES,
            rows,
            warm_up=work / "warm-up.txt",
        )
        if outcome["status"] != "succeeded" or outcome["added"] != rows:
            raise SystemExit(f"the upload did not apply every row: {outcome}")
        clear_rows(provider)  # untimed: the next run (its COPY first) starts empty
        return outcome

    return time_size(rows, repeat, copy, upload)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--rows", type=sizes, default=DEFAULT_SIZES, help="sizes, comma-separated (10000,100000)"
    )
    parser.add_argument(
        "--established-rows",
        type=int,
        default=20_000,
        help="another provider's activities, in the table when ANALYZE runs",
    )
    add_repeat_argument(parser)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    media = os.environ.get("BENCH_MEDIA_ROOT") or tempfile.mkdtemp(prefix="pars-bench-")
    ensure_database(database_url)
    setup_django(database_url, media)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    provider = bench_provider()
    established_provider(args.established_rows)
    auth = api_auth(provider)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pars-bench-") as tmp:
        work = Path(tmp)
        write_tsv(work / "warm-up.txt", WARM_UP_ROWS, seed=8)  # other rows of the same kind
        for rows in args.rows:
            print(f"{rows:,} activities...", flush=True)
            results.append(one_size(work, rows, repeat_for(rows, args), provider, auth))
        rows = min(args.rows)
        print(f"{rows:,} activities, one in {BAD_EVERY} invalid...", flush=True)
        clear_rows(provider)
        write_tsv(work / "rejected.txt", rows, bad_every=BAD_EVERY)
        rejected = time_upload(
            "/api/v1/uploads",
            work / "rejected.txt",
            auth,
            TABLES,
            rows,
            error_report=True,
            warm_up=work / "warm-up.txt",
        )
        if rejected["status"] != "rejected" or rejected["added"]:
            raise SystemExit(f"the bad file was not rejected: {rejected}")
        clear_rows(provider)
    print_table("Activity files (POST to commit, including the worker's pickup):", results, TARGETS)
    report = rejected["error_report"]
    print(f"Rejected file ({rows:,} rows, {rejected['errors']:,} errors): "
          f"{rejected['seconds']:.2f} s including the error report "
          f"({report['errors']:,} errors fetched in {report['seconds']:.2f} s)")  # fmt: skip
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    summary = {"established_rows": args.established_rows, "repeat": args.repeat,
               "repeat_small": args.repeat_small, "sizes": results,
               "rejected": rejected}  # fmt: skip
    (out / f"activities_upload-{stamp()}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
