"""A writer's read of the closed years holds the provider (PostgreSQL): an attestation
that starts meanwhile waits for the write, so no write lands in a year closed under it."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.db.utils import OperationalError

from pars.providers.models import Provider
from pars.reporting.locks import hold_provider_exclusively, locked_years
from pars.reporting.models import AnnualReport, ReportingYear

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
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


def test_a_writer_that_waited_for_an_attestation_sees_the_year_it_closed(
    provider: Provider,
) -> None:
    year = ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31))
    report = AnnualReport.objects.create(provider=provider, reporting_year=year)
    attesting = threading.Event()
    seen: list[set[int]] = []

    def write_meanwhile() -> None:
        try:
            attesting.wait(timeout=30)
            with transaction.atomic():
                seen.append(locked_years(provider, for_update=True))  # waits for the attest
        finally:
            connections.close_all()

    writer = threading.Thread(target=write_meanwhile)
    with transaction.atomic():  # the attestation: holds the provider, closes the year
        hold_provider_exclusively(provider)
        writer.start()
        attesting.set()
        time.sleep(0.5)  # the writer's hold now waits on ours
        AnnualReport.objects.filter(pk=report.pk).update(
            attested_at=datetime.datetime.now(tz=datetime.UTC)
        )
    writer.join(timeout=30)
    assert seen == [{2025}]
