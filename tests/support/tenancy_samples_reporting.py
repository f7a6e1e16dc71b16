"""Route samples for the annual-report and audit pages (see route_walker.py)."""

import datetime
from typing import Any

from pars.reporting.models import ReportingYear
from tests.support.route_walker import Kind, Sample, Victim

YEAR = 2026  # the victim's activity is in 2026 (pars.testing.make_activity)


def _year() -> int:
    """The reporting year the year routes name exists, so a 404 is the tenancy rule's."""
    ReportingYear.objects.get_or_create(
        year=YEAR, defaults={"deadline": datetime.date(2027, 3, 31)}
    )
    return YEAR


def _provider(v: Victim) -> dict[str, Any]:
    return {"provider_id": v.provider.provider_id}


def _provider_year(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "year": _year()}


def _staff_year(v: Victim) -> dict[str, Any]:
    return {"year": _year()}


def _activity(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "provider_activity_id": v.activity.provider_activity_id}


def _activity_pk(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "pk": v.activity.pk}


REPORTING_SAMPLES: dict[str, Sample] = {
    "reporting:summary_current": Sample(Kind.PROVIDER, _provider),
    "reporting:attest_current": Sample(Kind.PROVIDER, _provider),
    "reporting:program_summary": Sample(Kind.PROVIDER, _provider_year),
    "reporting:attest": Sample(Kind.PROVIDER, _provider_year),
    "reporting:staff_current": Sample(Kind.STAFF),
    "reporting:staff_year": Sample(Kind.STAFF, _staff_year),
    "reporting:staff_reminders": Sample(Kind.STAFF, _staff_year),
    "reporting:staff_reopen": Sample(Kind.STAFF, _provider_year),
    "audit:provider": Sample(Kind.STAFF, _provider),
    "audit:activity": Sample(Kind.STAFF, _activity),
    "audit:history": Sample(Kind.PROVIDER, _activity_pk),
}
