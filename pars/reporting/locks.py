"""Which reporting years are closed for a provider (attested and not reopened).

The writers of reported data ask here before they change anything. The activity writer,
a layer below, asks through ``pars.activities.year_lock``, where ``ReportingConfig.ready``
registers :func:`locked_years`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from django.db import connection

from pars.accounts.access import system_access
from pars.activities.year_lock import (
    HOLD_EXCLUSIVELY_SQL,
    HOLD_FOR_WRITING_SQL,
    LOCKED_RULE,
    Closure,
    locked_message,
)
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport

__all__ = ["LOCKED_RULE", "hold_provider_exclusively", "locked_message", "locked_years"]


def hold_provider_for_writing(provider: Provider) -> None:
    """Writers of reported data share this lock; an attestation takes it exclusively.

    So an attestation waits for writes in progress (a long upload included), and
    writes that start later see the attested year. PostgreSQL: an advisory lock per
    provider (year_lock.WRITE_LOCK_NAMESPACE); SQLite runs one write transaction at a time
    anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(HOLD_FOR_WRITING_SQL, [provider.pk])


def hold_provider_exclusively(provider: Provider) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(HOLD_EXCLUSIVELY_SQL, [provider.pk])


def locked_years(
    provider: Provider, years: Iterable[int] | None = None, *, for_update: bool = False
) -> set[int]:
    wanted = None if years is None else sorted(set(years))
    if for_update:
        # Two statements, on purpose: under READ COMMITTED the read after the hold sees an
        # attestation that committed while we waited for it (one statement would read as of
        # its start, before the wait, and miss the year just closed).
        hold_provider_for_writing(provider)
    if wanted == []:
        return set()
    wanted = wanted or []
    with connection.cursor() as cursor:
        cursor.execute(_closed_years_sql(connection.vendor, len(wanted)), [provider.pk, *wanted])
        return {year for (year,) in cursor.fetchall()}


def closed_years_sql(years: int) -> str:
    """locked_years' statement for this many years asked (parameters: the provider's id,
    then the years)."""
    return _closed_years_sql(connection.vendor, years)


# Every write of reported data asks this (a single API write too): the statement is the
# scoped accessor's query (system_access(provider).records(AnnualReport)), compiled by the
# ORM once per number of years asked rather than once per request.
@lru_cache(maxsize=32)
def _closed_years_sql(vendor: str, years: int) -> str:
    reports = system_access(_ANY_PROVIDER).records(AnnualReport).filter(attested_at__isnull=False)
    if years:
        reports = reports.filter(reporting_year__year__in=range(years))
    sql, params = reports.values_list("reporting_year__year").query.sql_with_params()
    # The compiled query's parameters are the provider's id, then the years, in that order.
    assert list(params) == [_ANY_PROVIDER.pk, *range(years)], params
    return sql


_ANY_PROVIDER = Provider(pk=-1)


def closures(provider: Provider, years: Iterable[int]) -> dict[int, Closure]:
    reports = (
        system_access(provider)
        .records(AnnualReport)
        .filter(attested_at__isnull=False, reporting_year__year__in=set(years))
    ).select_related("reporting_year", "attested_by")
    found = {}
    for report in reports:
        assert report.attested_at is not None  # filtered above
        who = report.attested_by
        name = f"{who.get_full_name() or who.email} ({who.email})" if who is not None else ""
        found[report.reporting_year.year] = Closure(
            report.reporting_year.year, report.attested_at, name
        )
    return found
