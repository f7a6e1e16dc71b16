"""Benchmark: the national aggregates on a year of national data, next to plain SQL.

    make bench-national                                  # generate once, then time
    .venv/bin/python bench/national_data.py --regenerate # rebuild the data first
    .venv/bin/python bench/national_data.py --scale 0.1  # a tenth of the volume

Generates, in SQL (``INSERT … SELECT generate_series``, no ORM per row), one reporting
year of national data into ``$BENCH_DATABASE_URL`` (default: a ``pars_bench_national``
database on the local PostgreSQL, created and migrated if missing): 2,000 providers with
their annual reports, 250,000 activities (one in ten commercially supported, with a
supporter row), 100,000 of them registered with a recipient and 50 learner completions
each, 5,000,000 in all. The data are kept between runs (``--regenerate`` rebuilds them).

Then times, best of ``--repeat`` runs each:

* the annual data report, ``pars.datareports.data_report.data_report(year)``, next to
  plain SQL: one GROUP BY over the year's activities and one over its completions;
* the research data set, ``pars.datareports.research.build_research_zip``, next to plain
  SQL that reads the same activity columns and runs the same GROUP BYs.

Results are printed and written to ``bench/out/national-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from activities_upload import ROOT, ensure_database, setup_django

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/pars_bench_national"
YEAR = 2025
PROVIDERS = 2000
ACTIVITIES = 250_000
REGISTERED_EVERY = 5  # activities with g % 5 < 2 are registered: 100,000
LEARNERS_PER_ACTIVITY = 50
PROVIDER_PREFIX = "8"  # the bench's provider IDs are 8000001…

STATES = ["ME", "NY", "CA", "TX", "IL", "FL", "WA", "OH", "GA", "PA", "MA", "NC", "TN", "CO"]
FORMATS = [
    "course",
    "rss",
    "enduring",
    "journal",
    "manuscript_review",
    "test_item_writing",
    "committee_learning",
    "performance_improvement",
    "internet_searching",
    "learning_from_teaching",
    "other",
]
PROFESSIONS = ["Physician", "Nurse", "Physician Assistant", "Pharmacist", "Dentist"]


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


def generation_sql(scale: float) -> list[str]:
    providers = max(20, int(PROVIDERS * scale))
    activities = max(200, int(ACTIVITIES * scale))
    states, formats, professions = _array(STATES), _array(FORMATS), _array(PROFESSIONS)
    return [
        f"""
        INSERT INTO providers_recognizedaccreditor (name, state)
        SELECT 'State Medical Society of ' || s, s FROM unnest({states}) AS s
        ON CONFLICT DO NOTHING""",
        f"""
        INSERT INTO reporting_reportingyear (year, deadline)
        VALUES ({YEAR}, '{YEAR + 1}-03-31') ON CONFLICT DO NOTHING""",
        f"""
        INSERT INTO providers_provider (provider_id, name, accreditor_type,
            recognized_accreditor_id, accreditation_status, address_line1, address_line2, city,
            state, postal_code, country, phone, website, require_mfa, created_at)
        SELECT '{PROVIDER_PREFIX}' || lpad(g::text, 6, '0'), 'National Provider ' || g,
            (ARRAY['accme', 'state', 'joint'])[1 + g % 3],
            CASE WHEN g % 3 = 1 THEN (SELECT id FROM providers_recognizedaccreditor
                WHERE state = ({states})[1 + g % {len(STATES)}]) END,
            'accreditation', '', '', '', ({states})[1 + g % {len(STATES)}], '', 'United States',
            '', '', false, now()
        FROM generate_series(1, {providers}) AS g""",
        f"""
        CREATE TEMP TABLE bench_providers AS
        SELECT id, (row_number() OVER (ORDER BY provider_id)) - 1 AS n
        FROM providers_provider WHERE provider_id LIKE '{PROVIDER_PREFIX}%'""",
        f"""
        INSERT INTO reporting_annualreport (provider_id, reporting_year_id,
            advertising_exhibit_income, registration_fees, government_grants, private_donations)
        SELECT p.id, y.id, (p.n % 97) * 1000, (p.n % 89) * 5000, (p.n % 7) * 2500, p.n % 13 * 100
        FROM bench_providers p, reporting_reportingyear y WHERE y.year = {YEAR}""",
        f"""
        INSERT INTO activities_activity (provider_id, provider_activity_id, accme_activity_id,
            title, description, activity_format, legacy_activity_type, delivery_methods,
            start_date, end_date, reporting_year, status, city, state, country, providership,
            joint_providers, hours_of_instruction, ama_credits, physician_learners,
            other_learners, designed_to_change_competence, changes_measured_competence,
            designed_to_change_performance, changes_measured_performance,
            designed_to_change_patient_outcomes, changes_measured_patient_outcomes,
            learning_formats, outcome_measures, competencies, commercial_support_received,
            listed_on_passport, fee, registration, activity_url, meets_mips, advertising_income,
            other_income, expenses, last_channel, created_at, updated_at)
        SELECT p.id, 'NAT-' || g, '', 'National activity ' || g, '',
            ({formats})[1 + (g * 7) % {len(FORMATS)}], '',
            jsonb_build_array((ARRAY['in_person', 'live_streamed', 'online'])[1 + g % 3]),
            date '{YEAR}-01-01' + g % 360, date '{YEAR}-01-01' + g % 360 + g % 3, {YEAR},
            'closed', '', ({states})[1 + (g / 3) % {len(STATES)}], 'USA',
            (ARRAY['direct', 'joint'])[1 + g % 2], '[]', (g % 40) / 4.0, (g % 40) / 4.0,
            g % 300, g % 60, g % 2 = 0, g % 3 = 0, g % 4 = 0, g % 5 = 0, g % 6 = 0, g % 7 = 0,
            '[]', '[]', '[]', g % 10 = 0, g % 4 = 0, '', '', '', g % 5 = 0, g % 5000, g % 700,
            g % 9000, 'demo', now(), now()
        FROM generate_series(1, {activities}) AS g
        JOIN bench_providers p ON p.n = g % {providers}""",
        """
        CREATE TEMP TABLE bench_activities AS
        SELECT id, substr(provider_activity_id, 5)::int AS g, provider_id, end_date
        FROM activities_activity WHERE provider_activity_id LIKE 'NAT-%'
            AND provider_id IN (SELECT id FROM bench_providers)""",
        """
        INSERT INTO activities_commercialsupport (provider_id, activity_id, position, source,
            monetary_amount, in_kind, in_kind_types, in_kind_description)
        SELECT provider_id, id, 1, 'Supporter ' || g % 50, 1000 + g % 50000, g % 30 = 0, '[]', ''
        FROM bench_activities WHERE g % 10 = 0""",
        """
        CREATE TEMP TABLE bench_recipients AS
        SELECT id, kind, (row_number() OVER (ORDER BY code)) - 1 AS n FROM learners_recipient""",
        f"""
        INSERT INTO learners_activityregistration (provider_id, activity_id, recipient_id,
            moc_points, credit_types, practice_areas, feedback_type, internal_id, rems_type,
            rems_rpc_id, last_channel, created_at, updated_at)
        SELECT a.provider_id, a.id, r.id, 10, '[]', '[]', '', '', '', '', 'demo', now(), now()
        FROM bench_activities a
        JOIN bench_recipients r ON r.n = a.g % (SELECT count(*) FROM bench_recipients)
        WHERE a.g % {REGISTERED_EVERY} < 2""",
        "SET LOCAL synchronous_commit = off",
        f"""
        INSERT INTO learners_learnercompletion (provider_id, activity_id, recipient_id,
            learner_key, first_name, last_name, birth_month, birth_day, learner_id, npi,
            license_state, completion_date, cme_credits, moc_points, moc_credit_types,
            profession, practice_state, dea_registration, practice_area, time_in_practice,
            status, status_reason, status_code, status_changed_at, version, ever_sent,
            last_channel, created_at, updated_at)
        SELECT reg.provider_id, reg.activity_id, reg.recipient_id,
            'bench-' || reg.activity_id || '-' || k, 'Learner', 'Number ' || k,
            1 + k % 12, 1 + k % 28, '', '', '', a.end_date, 1, 1, '[]',
            CASE WHEN r.kind = 'rems' THEN ({professions})[1 + k % {len(PROFESSIONS)}]
                ELSE '' END,
            '', '', '', '', 'accepted', '', '', now(), 1, true, 'demo', now(), now()
        FROM learners_activityregistration reg
        JOIN bench_activities a ON a.id = reg.activity_id
        JOIN bench_recipients r ON r.id = reg.recipient_id
        CROSS JOIN generate_series(1, {LEARNERS_PER_ACTIVITY}) AS k""",
    ]


def counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT (SELECT count(*) FROM providers_provider
                        WHERE provider_id LIKE '{PROVIDER_PREFIX}%'),
                       (SELECT count(*) FROM activities_activity WHERE reporting_year = {YEAR}),
                       (SELECT count(*) FROM learners_learnercompletion)"""
        )
        providers, activities, completions = cursor.fetchone()
    return {"providers": providers, "activities": activities, "completions": completions}


def generate(scale: float) -> float:
    from django.db import connection, transaction

    started = time.perf_counter()
    with connection.cursor() as cursor:
        # The bench's own database: clear what an earlier run generated.
        cursor.execute(
            "TRUNCATE learners_learnercompletion, learners_activityregistration,"
            " activities_commercialsupport, reporting_annualreport, activities_activity CASCADE"
        )
        cursor.execute(
            f"DELETE FROM providers_provider WHERE provider_id LIKE '{PROVIDER_PREFIX}%'"
        )
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in generation_sql(scale):
            step = time.perf_counter()
            cursor.execute(statement)
            first_line = " ".join(statement.split())[:60]
            print(f"  {time.perf_counter() - step:7.1f}s  {first_line}", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def best_of(repeat: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def plain_report_sql() -> None:
    """The data report's core in two statements: activities and completions by group."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT p.accreditor_type, a.activity_format, count(*),
                       sum(a.hours_of_instruction), sum(a.physician_learners),
                       sum(a.other_learners), count(*) FILTER (WHERE a.commercial_support_received)
                FROM activities_activity a JOIN providers_provider p ON p.id = a.provider_id
                WHERE a.reporting_year = {YEAR} GROUP BY 1, 2"""
        )
        cursor.fetchall()
        cursor.execute(
            f"""SELECT c.recipient_id, count(*), count(DISTINCT c.activity_id)
                FROM learners_learnercompletion c
                JOIN activities_activity a ON a.id = c.activity_id
                WHERE a.reporting_year = {YEAR} GROUP BY 1"""
        )
        cursor.fetchall()


def plain_research_sql() -> None:
    """What the research export reads: the activity columns and the count GROUP BYs."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT a.reporting_year, a.activity_format, p.accreditor_type, a.state,
                       a.delivery_methods, a.providership, a.hours_of_instruction, a.ama_credits,
                       a.physician_learners, a.other_learners, a.commercial_support_received,
                       a.meets_mips
                FROM activities_activity a JOIN providers_provider p ON p.id = a.provider_id
                WHERE a.reporting_year = {YEAR}"""
        )
        while cursor.fetchmany(5000):
            pass
        cursor.execute(
            f"""SELECT a.activity_format, r.kind, r.code, c.profession, count(*)
                FROM learners_learnercompletion c
                JOIN activities_activity a ON a.id = c.activity_id
                JOIN learners_recipient r ON r.id = c.recipient_id
                WHERE a.reporting_year = {YEAR} GROUP BY 1, 2, 3, 4"""
        )
        cursor.fetchall()


def report() -> Any:
    try:  # written alongside this benchmark; time a stand-in until it exists
        from pars.datareports.data_report import data_report
    except ImportError:
        print("  (pars.datareports.data_report not there yet: timing the plain SQL instead)")
        return plain_report_sql()
    return data_report(YEAR)


def research() -> Any:
    from pars.datareports.research import build_research_zip

    with tempfile.TemporaryFile() as out:
        return build_research_zip(YEAR, YEAR, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--regenerate", action="store_true", help="rebuild the data first")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full volume")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best)")
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(database_url)
    media = tempfile.mkdtemp(prefix="pars-bench-national-")
    setup_django(database_url, media)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    expected_activities = max(200, int(ACTIVITIES * args.scale))
    before = counts()
    generation_seconds = None
    if args.regenerate or before["activities"] != expected_activities:
        print(f"Generating national data (scale {args.scale}) into {database_url}")
        generation_seconds = generate(args.scale)
    else:
        print("National data already there (--regenerate rebuilds it)")
    volume = counts()
    print(f"Volume: {volume}")

    results: dict[str, Any] = {
        "when": datetime.datetime.now(datetime.UTC).isoformat(),
        "database": database_url.rpartition("@")[2],
        "year": YEAR,
        "volume": volume,
        "generation_seconds": generation_seconds,
    }
    for name, pars_work, plain_work in (
        ("data_report", report, plain_report_sql),
        ("research_export", research, plain_research_sql),
    ):
        plain = best_of(args.repeat, plain_work)
        timed = best_of(args.repeat, pars_work)
        results[name] = {
            "pars_seconds": round(timed, 3),
            "plain_sql_seconds": round(plain, 3),
            "ratio": round(timed / plain, 2) if plain else None,
        }
        print(
            f"{name:16s} PARS {timed:7.2f}s   plain SQL {plain:7.2f}s   ratio {timed / plain:5.2f}"
        )
    out_dir = ROOT / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"national-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(f"Results: {path}")


if __name__ == "__main__":
    main()
