"""A writer's read of the closed years holds the provider (PostgreSQL): an attestation
that starts meanwhile waits for the write, so no write lands in a year closed under it."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.db.utils import OperationalError

from pars.providers.models import Provider
from pars.reporting.locks import hold_provider_exclusively, locked_years
from pars.reporting.models import AnnualReport, ReportingYear

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the writers' hold is a PostgreSQL advisory lock"
    ),
]


def _attest_without_waiting(provider: Provider) -> str:
    """What an attestation in another connection meets: "held" or "free"."""
    outcome: list[str] = []

    def attempt() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '200ms'")
                hold_provider_exclusively(provider)
            outcome.append("free")
        except OperationalError:
            outcome.append("held")
        finally:
            connections.close_all()

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(timeout=30)
    return outcome[0]


def test_the_writers_read_of_closed_years_holds_off_an_attestation(provider: Provider) -> None:
    year = ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31))
    AnnualReport.objects.create(
        provider=provider, reporting_year=year, attested_at=datetime.datetime.now(tz=datetime.UTC)
    )
    with transaction.atomic():
        assert locked_years(provider, for_update=True) == {2025}
        assert _attest_without_waiting(provider) == "held"
    assert _attest_without_waiting(provider) == "free"
    with transaction.atomic():
        assert locked_years(provider, [2024], for_update=True) == set()  # none closed: held too
        assert _attest_without_waiting(provider) == "held"


def _attest_while_writing(report: AnnualReport, write: Callable[[], None]) -> None:
    """Attest `report` in this thread while another runs `write` (which must wait for the
    attestation's hold, then run)."""
    attesting = threading.Event()

    def write_meanwhile() -> None:
        try:
            attesting.wait(timeout=30)
            write()
        finally:
            connections.close_all()

    writer = threading.Thread(target=write_meanwhile)
    with transaction.atomic():  # the attestation: holds the provider, closes the year
        hold_provider_exclusively(report.provider)
        writer.start()
        attesting.set()
        time.sleep(0.5)  # the writer's hold now waits on ours
        AnnualReport.objects.filter(pk=report.pk).update(
            attested_at=datetime.datetime.now(tz=datetime.UTC)
        )
    writer.join(timeout=30)


def test_a_writer_that_waited_for_an_attestation_sees_the_year_it_closed(
    provider: Provider,
) -> None:
    year = ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31))
    report = AnnualReport.objects.create(provider=provider, reporting_year=year)
    seen: list[set[int]] = []

    def write() -> None:
        with transaction.atomic():
            seen.append(locked_years(provider, for_update=True))  # waits for the attest

    _attest_while_writing(report, write)
    assert seen == [{2025}]


@pytest.mark.parametrize("expect_new", [False, True], ids=["in-a-transaction", "pipelined"])
def test_a_single_write_that_waited_for_an_attestation_is_refused(
    provider: Provider, expect_new: bool
) -> None:
    """The one-statement write (PostgreSQL, one activity) reads the closed years in its
    writing statement, after the statement that waited for the attestation's hold: the
    year closed meanwhile refuses it, and nothing is written. So does a POST's write as a
    new activity, its statements sent to the database at once (the hold first)."""
    from pars.accounts.access import get_api_access
    from pars.activities.models import Activity
    from pars.activities.services import ActivityRefused, write_record_row
    from pars.activities.validation import validate_activity
    from pars.testing import course_json

    year = ReportingYear.objects.create(year=2026, deadline=datetime.date(2027, 3, 31))
    report = AnnualReport.objects.create(provider=provider, reporting_year=year)
    record, errors = validate_activity(course_json(provider_activity_id="WAIT-1"))
    assert record is not None
    assert not errors
    refused: list[list[str]] = []

    def write() -> None:
        try:
            # Waits, then…
            write_record_row(get_api_access(provider), record, channel="api", expect_new=expect_new)
        except ActivityRefused as refusal:
            refused.append([error.rule for error in refusal.errors])

    _attest_while_writing(report, write)
    assert refused == [["activity.reporting_year.locked"]]
    assert not Activity.objects.filter(provider=provider).exists()


def _raw_connection() -> Any:
    import psycopg

    settings_dict = connection.settings_dict
    return psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
    )


def _until_waiting(count: int) -> None:
    """Until `count` sessions of this database wait for a lock."""
    # In autocommit: a transaction reads pg_stat_activity once and keeps what it read, so
    # that later polls in it never saw a session that came (or began waiting) afterwards.
    with _raw_connection() as watcher:
        watcher.autocommit = True
        for _ in range(100):
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()
            if waiting == (count,):
                return
            time.sleep(0.05)
    raise AssertionError(f"{count} sessions never waited")


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_a_write_queued_behind_an_attestation_sees_where_the_activity_is_now(
    provider: Provider, method: str
) -> None:
    """A writer moves A-1 into 2025 (not committed yet); an attestation of 2025 waits for
    it; a single write moving A-1 back to 2026 queues behind the attestation. Its hold's
    statement read A-1 as of before the wait (in 2026): the write must check the year
    A-1 is in when it writes (2025, closed by then) and be refused. Found by a review.
    A POST first writes A-1 as new, all statements sent at once: it finds A-1 stored
    (after its wait), writes nothing, and is refused as the PUT is."""
    from pars.activities.models import Activity
    from pars.activities.year_lock import HOLD_EXCLUSIVELY_SQL, HOLD_FOR_WRITING_SQL
    from tests.activities.test_activity_api import Api, course

    year = ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31))
    report = AnnualReport.objects.create(provider=provider, reporting_year=year)
    api = Api(provider)
    in_2026 = {"start_date": "2026-05-01", "end_date": "2026-05-01"}
    assert api.put("A-1", course(**in_2026)).status_code == 201
    first_writer, attester = _raw_connection(), _raw_connection()
    answers: list[Any] = []
    try:
        first_writer.execute(HOLD_FOR_WRITING_SQL, [provider.pk])
        first_writer.execute(
            "UPDATE activities_activity SET reporting_year = 2025, start_date = '2025-05-01', "
            "end_date = '2025-05-01' WHERE provider_activity_id = 'A-1'"
        )

        def attest() -> None:
            attester.execute(HOLD_EXCLUSIVELY_SQL, [provider.pk])
            attester.execute(
                "UPDATE reporting_annualreport SET attested_at = now() WHERE id = %s",
                [report.pk],
            )
            attester.commit()

        def write_back() -> None:
            try:
                moved = course(provider_activity_id="A-1", title="Moved back", **in_2026)
                if method == "PUT":
                    answers.append(api.put("A-1", moved))
                else:
                    answers.append(api.post(moved))
            finally:
                connections.close_all()

        attesting = threading.Thread(target=attest)
        attesting.start()
        _until_waiting(1)
        writing = threading.Thread(target=write_back)
        writing.start()
        _until_waiting(2)
        first_writer.commit()
        attesting.join(timeout=30)
        writing.join(timeout=30)
    finally:
        first_writer.close()
        attester.close()
    (answer,) = answers
    assert answer.status_code == 400, answer.content
    assert [error["rule"] for error in answer.json()["errors"]] == [
        "activity.reporting_year.locked"
    ]
    stored = Activity.objects.get(provider=provider, provider_activity_id="A-1")
    assert (stored.reporting_year, stored.title) == (2025, course()["title"])
