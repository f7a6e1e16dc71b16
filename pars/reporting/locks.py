"""Which reporting years are closed for a provider (attested and not reopened).

The writers of reported data ask here before they change anything. The activity writer,
a layer below, asks through ``pars.activities.year_lock``, where ``ReportingConfig.ready``
registers :func:`locked_years`.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from pars.accounts.access import system_access
from pars.activities.year_lock import LOCKED_RULE, Closure, locked_message
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport

__all__ = ["LOCKED_RULE", "hold_provider_exclusively", "locked_message", "locked_years"]


def hold_provider_for_writing(provider: Provider) -> None:
    """Writers of reported data share this lock; an attestation takes it exclusively.

    So an attestation waits for writes in progress (a long upload included), and
    writes that start later see the attested year. PostgreSQL row locks on the
    provider; SQLite runs one write transaction at a time anyway.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {Provider._meta.db_table} WHERE id = %s FOR SHARE",  # noqa: S608
                [provider.pk],
            )


def hold_provider_exclusively(provider: Provider) -> None:
    list(Provider.objects.select_for_update().filter(pk=provider.pk).values_list("pk"))


def locked_years(
    provider: Provider, years: Iterable[int] | None = None, *, for_update: bool = False
) -> set[int]:
    reports = system_access(provider).records(AnnualReport).filter(attested_at__isnull=False)
    if years is not None:
        reports = reports.filter(reporting_year__year__in=set(years))
    closed = reports.values_list("reporting_year__year", flat=True)
    if for_update:
        # Two statements, on purpose: under READ COMMITTED the read after the hold sees an
        # attestation that committed while we waited for it (one statement would read as of
        # its start, before the wait, and miss the year just closed).
        hold_provider_for_writing(provider)
    return set(closed)


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
