"""A writer's read of the closed years holds the provider (PostgreSQL): an attestation
that starts meanwhile waits for the write, so no write lands in a year closed under it."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable

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


def test_a_single_write_that_waited_for_an_attestation_is_refused(provider: Provider) -> None:
    """The one-statement write (PostgreSQL, one activity) reads the closed years in its
    writing statement, after the statement that waited for the attestation's hold: the
    year closed meanwhile refuses it, and nothing is written."""
    from pars.accounts.access import get_api_access
    from pars.activities.models import Activity
    from pars.activities.services import ActivityRefused, write_record
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
            write_record(get_api_access(provider), record, channel="api")  # waits, then…
        except ActivityRefused as refusal:
            refused.append([error.rule for error in refusal.errors])

    _attest_while_writing(report, write)
    assert refused == [["activity.reporting_year.locked"]]
    assert not Activity.objects.filter(provider=provider).exists()
