"""Which reporting years are closed for a provider (attested and not reopened).

The writers of reported data ask here before they change anything; it imports only
the reporting models, so the activity services can use it without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable

from pars.providers.models import Provider
from pars.reporting.models import AnnualReport

LOCKED_RULE = "activity.reporting_year.locked"


def locked_years(
    provider: Provider, years: Iterable[int] | None = None, *, for_update: bool = False
) -> set[int]:
    reports = AnnualReport.objects.filter(provider=provider)
    if for_update:
        reports = reports.select_for_update()
    reports = reports.filter(attested_at__isnull=False)
    if years is not None:
        reports = reports.filter(reporting_year__year__in=set(years))
    return set(reports.values_list("reporting_year__year", flat=True))


def locked_message(year: int) -> str:
    return (
        f"The {year} annual report of this provider is attested and closed: its activities "
        "and program summary can no longer change. Ask the accreditor's staff to reopen it."
    )
