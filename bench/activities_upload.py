"""Benchmark: an activity TSV through the real upload path, next to PostgreSQL COPY.

    make bench                    # 200,000 rows, plus the 500,000-row memory run
    .venv/bin/python bench/activities_upload.py --rows 20000 --memory-rows 0

Both runs use the same generated rows on the same PostgreSQL database in the same
run, and the report gives ratios, not bare times:

* baseline: ``COPY`` of the rows, already in the table's column format, into a copy
  of the activity table (same indexes);
* PARS: the upload path a provider's file takes (store the file, parse, validate
  every row with the one validator, write in batches in one transaction), run in a
  child process whose peak resident memory is measured.

The PARS run is a new provider's first file with statistics present, as autovacuum
leaves them: another provider's activities are in the table and ``ANALYZE`` runs
before the timing, so the planner knows the bench provider by none of its rows (a plan
that trusts that would take time growing with the square of the file).

The database is ``$BENCH_DATABASE_URL`` (default: a ``pars_bench`` database on the
local PostgreSQL, created if missing). Results also go to ``bench/out/``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/pars_bench"
PROVIDER_ID = "0999999"
ESTABLISHED_ID = "0999997"  # the provider whose activities the statistics know


def setup_django(database_url: str, media_root: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["PARS_MEDIA_ROOT"] = media_root
    os.environ.setdefault("PARS_SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ["DJANGO_SETTINGS_MODULE"] = "pars.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


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


def write_tsv(path: Path, count: int) -> None:
    from pars.activities.parsers.layouts import CURRENT

    names = [column.target for column in CURRENT.columns]
    block = [column.target for column in CURRENT.supporter_block]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, dialect=csv.excel_tab)
        writer.writerow(CURRENT.headers(supporters=1))
        for row in raw_rows(count):
            supporter = row["supporters"][0] if row["supporters"] else {}
            writer.writerow(
                [row.get(name, "") for name in names] + [supporter.get(name, "") for name in block]
            )


def write_copy_payload(path: Path, count: int, provider_pk: int) -> list[str]:
    """The same rows, validated (untimed) and rendered in COPY text format."""
    from pars.activities.models import Activity
    from pars.activities.validation import validate_activity

    today = datetime.date(2026, 11, 27)
    columns = [f.column for f in Activity._meta.concrete_fields if f.name != "id" and f.column]
    now = datetime.datetime.now(datetime.UTC).isoformat()
    fields = {f.column: f for f in Activity._meta.concrete_fields if f.name not in ("id",)}
    with path.open("w", encoding="utf-8") as stream:
        for row in raw_rows(count):
            clean, errors = validate_activity(row, today=today)
            assert clean is not None, errors
            values = {
                **clean.values,
                "provider": provider_pk,
                "last_channel": "tsv",
                "created_at": now,
                "updated_at": now,
            }
            cells = []
            for column in columns:
                field = fields[column]
                name = "provider" if column == "provider_id" else field.name
                value = values.get(name)
                if value is None:
                    cells.append("\\N")
                elif isinstance(value, list | dict):
                    cells.append(json.dumps(value).replace("\\", "\\\\"))
                elif isinstance(value, bool):
                    cells.append("t" if value else "f")
                else:
                    cells.append(str(value).replace("\\", "\\\\").replace("\t", "\\t"))
            stream.write("\t".join(cells) + "\n")
    return columns


def copy_baseline(payload: Path, columns: list[str], rows: int) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_activity_copy")
        cursor.execute("CREATE TABLE bench_activity_copy (LIKE activities_activity INCLUDING ALL)")
        started = time.perf_counter()
        with (
            payload.open("rb") as stream,
            cursor.cursor.copy(
                f"COPY bench_activity_copy ({', '.join(columns)}) FROM STDIN"
            ) as copy,
        ):
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
        elapsed = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_activity_copy")
        assert cursor.fetchone()[0] == rows
        cursor.execute("DROP TABLE bench_activity_copy")
    return elapsed


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


def analyze() -> None:
    """Statistics as autovacuum leaves them: they count none of the bench provider's rows."""
    from django.db import connection

    from pars.activities.models import Activity, CommercialSupport

    with connection.cursor() as cursor:
        for model in (Activity, CommercialSupport):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def child(tsv: str) -> None:
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
    started = time.perf_counter()
    with open(tsv, "rb") as stream:
        upload = store_upload(access, File(stream, name="bench.txt"), via_api=True, enqueue=False)
    process_upload(upload.pk)
    elapsed = time.perf_counter() - started
    upload = Upload.objects.get(pk=upload.pk)
    print(json.dumps({"seconds": elapsed, "status": upload.status, "added": upload.added,
                      "errors": upload.error_count, "message": upload.message,
                      "peak_mb": peak_memory_mb()}))  # fmt: skip


def peak_memory_mb() -> float:
    """This process's peak resident memory (VmHWM: its own, unlike a forked ru_maxrss)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(tsv: Path) -> tuple[dict[str, Any], float]:
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
        [sys.executable, __file__, "--child", str(tsv)],
        stdout=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert process.stdout is not None
    output = process.stdout.read()
    if process.wait():
        raise SystemExit(f"the upload run failed (exit {process.returncode})")
    outcome = json.loads(output.decode().strip().splitlines()[-1])
    return outcome, outcome["peak_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--memory-rows", type=int, default=500_000, help="0 skips the run")
    parser.add_argument(
        "--established-rows",
        type=int,
        default=20_000,
        help="another provider's activities, in the table when ANALYZE runs",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    media = os.environ.get("BENCH_MEDIA_ROOT") or tempfile.mkdtemp(prefix="pars-bench-")
    os.environ["BENCH_MEDIA_ROOT"] = media
    if args.child:
        setup_django(database_url, media)
        child(args.child)
        return
    ensure_database(database_url)
    setup_django(database_url, media)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results: dict[str, Any] = {"rows": args.rows}
    with tempfile.TemporaryDirectory(prefix="pars-bench-") as tmp:
        work = Path(tmp)
        provider = bench_provider()
        print(f"Generating {args.rows:,} activities...", flush=True)
        write_tsv(work / "activities.txt", args.rows)
        columns = write_copy_payload(work / "activities.copy", args.rows, provider.pk)
        copy_seconds = copy_baseline(work / "activities.copy", columns, args.rows)
        established_provider(args.established_rows)
        analyze()
        outcome, peak_mb = run_child(work / "activities.txt")
        if outcome["status"] != "succeeded" or outcome["added"] != args.rows:
            raise SystemExit(f"the upload did not apply every row: {outcome}")
        copy_rate = args.rows / copy_seconds
        pars_rate = args.rows / outcome["seconds"]
        results.update(
            established_rows=args.established_rows,
            copy_rows_per_second=round(copy_rate),
            pars_rows_per_second=round(pars_rate),
            ratio_to_copy=round(pars_rate / copy_rate, 4),
            pars_peak_rss_mb=round(peak_mb, 1),
        )
        print(f"COPY baseline:      {copy_rate:>10,.0f} rows/s")
        print(f"PARS upload path:   {pars_rate:>10,.0f} rows/s   "
              f"= {pars_rate / copy_rate:.3f} × COPY (target ≥ 0.100)")  # fmt: skip
        print(f"Peak memory (RSS):  {peak_mb:>10,.0f} MB for {args.rows:,} rows")
        if args.memory_rows:
            bench_provider()
            analyze()
            print(f"Generating {args.memory_rows:,} activities for the memory run...", flush=True)
            write_tsv(work / "big.txt", args.memory_rows)
            outcome, peak_mb = run_child(work / "big.txt")
            if outcome["status"] != "succeeded":
                raise SystemExit(f"the memory run did not apply every row: {outcome}")
            results.update(memory_rows=args.memory_rows, memory_peak_rss_mb=round(peak_mb, 1))
            print(f"Peak memory (RSS):  {peak_mb:>10,.0f} MB for {args.memory_rows:,} rows "
                  "(target < 300 MB)")  # fmt: skip
        bench_provider()
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"activities_upload-{stamp}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
