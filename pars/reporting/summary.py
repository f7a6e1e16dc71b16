"""What the program summary shows without being typed: totals computed from the activities.

Computed in SQL every time (never stored), from the activities whose reporting year
is the year: the commercial support the provider reported per activity, the number
of activities by format, hours of instruction and learner interactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Aggregate, Count, Q, Sum

from pars.accounts.access import ProviderAccess
from pars.activities.dictionary import FORMATS
from pars.activities.models import Activity, CommercialSupport


@dataclass(frozen=True)
class ActivityTotals:
    activities: int
    by_format: dict[str, int]
    hours_of_instruction: Decimal
    ama_credits: Decimal
    physician_interactions: int
    other_interactions: int
    commercial_support_monetary: int  # whole US dollars
    in_kind_supports: int  # supporters that gave in-kind support (it has no dollar value)
    commercial_supporters: int  # distinct supporter names
    activities_supported: int

    @property
    def by_format_labels(self) -> list[tuple[str, int]]:
        return [(FORMATS[code], count) for code, count in self.by_format.items()]


def activity_aggregates() -> dict[str, Aggregate]:
    """The SQL aggregates of a set of activities, for ``aggregate()`` or ``annotate()``
    (also grouped, by the national data report in ``pars.datareports``)."""
    return {
        "count": Count("id"),
        "hours": Sum("hours_of_instruction"),
        "credits": Sum("ama_credits"),
        "physicians": Sum("physician_learners"),
        "others": Sum("other_learners"),
    }


def support_aggregates() -> dict[str, Aggregate]:
    """The SQL aggregates of a set of commercial-support rows (whole dollars, in-kind
    supports, distinct supporter names, activities supported)."""
    return {
        "monetary": Sum("monetary_amount"),
        "in_kind": Count("id", filter=Q(in_kind=True)),
        "sources": Count("source", distinct=True),
        "activities": Count("activity", distinct=True),
    }


def activity_totals(access: ProviderAccess, year: int) -> ActivityTotals:
    activities = access.records(Activity).filter(reporting_year=year)
    totals = activities.aggregate(**activity_aggregates())
    by_format = dict(
        activities.order_by("activity_format")
        .values_list("activity_format")
        .annotate(count=Count("id"))
        .values_list("activity_format", "count")
    )
    support = access.records(CommercialSupport).filter(activity__reporting_year=year)
    money = support.aggregate(**support_aggregates())
    return ActivityTotals(
        activities=totals["count"],
        by_format={code: by_format[code] for code in FORMATS if code in by_format},
        hours_of_instruction=totals["hours"] or Decimal(0),
        ama_credits=totals["credits"] or Decimal(0),
        physician_interactions=totals["physicians"] or 0,
        other_interactions=totals["others"] or 0,
        commercial_support_monetary=money["monetary"] or 0,
        in_kind_supports=money["in_kind"],
        commercial_supporters=money["sources"],
        activities_supported=money["activities"],
    )
