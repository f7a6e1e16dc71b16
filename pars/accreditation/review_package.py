"""The review package: what the accreditor reads about a provider for a (re)accreditation
or progress report, over one period (by default the provider's accreditation term).

Everything is computed in SQL (aggregate / annotate over ``values()``), the way
`pars.reporting.summary` computes the program summary; Python only turns the grouped
rows into a frozen dataclass. The activities *of the period* are those held during it:
an activity belongs when it starts on or before the period's last day and ends on or
after its first day. The summaries group those activities by their reporting year and
by format; commercial support is summed from the supporters of the same activities in a
query of its own (joining supporters into the activity sums would count an activity's
hours once per supporter).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.activities.dictionary import FORMATS
from pars.activities.models import Activity, CommercialSupport
from pars.providers.models import AccreditationDecision, Provider
from pars.reporting.models import AnnualReport

# Activity fields that say what an activity was designed to change and what it measured.
OUTCOME_FIELDS: dict[str, str] = {
    "designed_to_change_competence": "Designed to change competence",
    "changes_measured_competence": "Measured change in competence",
    "designed_to_change_performance": "Designed to change performance",
    "changes_measured_performance": "Measured change in performance",
    "designed_to_change_patient_outcomes": "Designed to change patient outcomes",
    "changes_measured_patient_outcomes": "Measured change in patient outcomes",
}

# The columns of the activity list, in order: (key of the row, heading).
ACTIVITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("provider_activity_id", "Activity ID"),
    ("title", "Title"),
    ("format_label", "Format"),
    ("start_date", "Start date"),
    ("end_date", "End date"),
    ("reporting_year", "Reporting year"),
    ("hours_of_instruction", "Hours of instruction"),
    ("ama_credits", "AMA PRA Category 1 credits"),
    ("physician_learners", "Physician learners"),
    ("other_learners", "Other learners"),
    ("support_monetary", "Commercial support (US$)"),
    ("support_in_kind", "In-kind supporters"),
    ("supporter_count", "Commercial supporters"),
)

DEFAULT_PERIOD_YEARS = 4  # when the provider has no term: the last four years


@dataclass(frozen=True)
class Figures:
    """The sums of one group of activities (a year, a format, or the whole period)."""

    activities: int
    hours_of_instruction: Decimal
    ama_credits: Decimal
    physician_learners: int
    other_learners: int
    support_monetary: int  # whole US dollars
    in_kind_supports: int  # supporter rows that gave in-kind support
    supporters: int  # distinct supporter names
    activities_supported: int


@dataclass(frozen=True)
class YearRow:
    year: int
    figures: Figures
    outcomes: dict[str, int]  # OUTCOME_FIELDS key -> activities with the field true


@dataclass(frozen=True)
class FormatRow:
    code: str
    label: str
    figures: Figures


@dataclass(frozen=True)
class SupporterRow:
    source: str
    activities: int
    monetary: int
    in_kind: int


@dataclass(frozen=True)
class AttestationRow:
    year: int
    attested_at: datetime.datetime | None
    attested_by: str
    statement_version: int | None
    summary_completed_at: datetime.datetime | None


@dataclass(frozen=True)
class ReviewPackage:
    provider: Provider
    start: datetime.date
    end: datetime.date
    totals: Figures
    by_year: tuple[YearRow, ...]
    by_format: tuple[FormatRow, ...]
    outcome_totals: dict[str, int]
    supporters: tuple[SupporterRow, ...]
    attestations: tuple[AttestationRow, ...]
    decisions: tuple[AccreditationDecision, ...]
    activity_rows: QuerySet[Any, Any]  # lazy: iterate with iter_activities()

    @property
    def years(self) -> range:
        return range(self.start.year, self.end.year + 1)

    @property
    def outcome_labels(self) -> list[tuple[str, str, int]]:
        return [(key, label, self.outcome_totals[key]) for key, label in OUTCOME_FIELDS.items()]

    def iter_activities(self) -> Iterator[dict[str, Any]]:
        """The activity list, one dict per activity with the ACTIVITY_COLUMNS keys."""
        for row in self.activity_rows.iterator(chunk_size=2000):
            row["format_label"] = FORMATS.get(row["activity_format"], row["activity_format"])
            yield row


def default_period(
    provider: Provider, today: datetime.date | None = None
) -> tuple[datetime.date, datetime.date]:
    """The provider's accreditation term; where it has none, the last four years to today."""
    today = today or timezone.localdate()
    end = provider.term_end or today
    start = provider.term_start or datetime.date(end.year - DEFAULT_PERIOD_YEARS, 1, 1)
    return start, end


def period_activities(
    access: ProviderAccess, start: datetime.date, end: datetime.date
) -> QuerySet[Activity]:
    return access.records(Activity).filter(start_date__lte=end, end_date__gte=start)


_ACTIVITY_SUMS = {
    "activities": Count("id"),
    "hours": Sum("hours_of_instruction"),
    "credits": Sum("ama_credits"),
    "physicians": Sum("physician_learners"),
    "others": Sum("other_learners"),
}
_OUTCOME_COUNTS = {key: Count("id", filter=Q(**{key: True})) for key in OUTCOME_FIELDS}
_SUPPORT_SUMS = {
    "monetary": Sum("monetary_amount"),
    "in_kind": Count("id", filter=Q(in_kind=True)),
    "sources": Count("source", distinct=True),
    "supported": Count("activity", distinct=True),
}


def _figures(sums: dict[str, Any] | None, support: dict[str, Any] | None) -> Figures:
    sums = sums or {}
    support = support or {}
    return Figures(
        activities=sums.get("activities") or 0,
        hours_of_instruction=sums.get("hours") or Decimal(0),
        ama_credits=sums.get("credits") or Decimal(0),
        physician_learners=sums.get("physicians") or 0,
        other_learners=sums.get("others") or 0,
        support_monetary=support.get("monetary") or 0,
        in_kind_supports=support.get("in_kind") or 0,
        supporters=support.get("sources") or 0,
        activities_supported=support.get("supported") or 0,
    )


def _grouped(queryset: QuerySet[Any], key: str, sums: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    """One SQL GROUP BY: {key value: {sum name: value}}."""
    rows = queryset.order_by().values(key).annotate(**sums)
    return {row[key]: row for row in rows}


def _by_year(
    activities: QuerySet[Activity], support: QuerySet[CommercialSupport]
) -> tuple[YearRow, ...]:
    """The figures and outcomes of each reporting year in the period."""
    year_sums = _grouped(activities, "reporting_year", {**_ACTIVITY_SUMS, **_OUTCOME_COUNTS})
    year_support = _grouped(
        support.annotate(year=F("activity__reporting_year")), "year", _SUPPORT_SUMS
    )
    return tuple(
        YearRow(
            year=year,
            figures=_figures(year_sums[year], year_support.get(year)),
            outcomes={key: year_sums[year][key] for key in OUTCOME_FIELDS},
        )
        for year in sorted(year_sums)
    )


def _by_format(
    activities: QuerySet[Activity], support: QuerySet[CommercialSupport]
) -> tuple[FormatRow, ...]:
    """The figures of each activity format used, in the dictionary's order."""
    format_sums = _grouped(activities, "activity_format", _ACTIVITY_SUMS)
    format_support = _grouped(
        support.annotate(code=F("activity__activity_format")), "code", _SUPPORT_SUMS
    )
    return tuple(
        FormatRow(code, label, _figures(format_sums[code], format_support.get(code)))
        for code, label in FORMATS.items()
        if code in format_sums
    )


def _supporter_rows(support: QuerySet[CommercialSupport]) -> tuple[SupporterRow, ...]:
    """Each commercial supporter's total, the largest first."""
    return tuple(
        SupporterRow(
            source=row["source"],
            activities=row["activities"],
            monetary=row["monetary"] or 0,
            in_kind=row["in_kind"],
        )
        for row in support.order_by()
        .values("source")
        .annotate(
            activities=Count("activity", distinct=True),
            monetary=Sum("monetary_amount"),
            in_kind=Count("id", filter=Q(in_kind=True)),
        )
        .order_by("-monetary", "source")
    )


def _attestations(
    access: ProviderAccess, start: datetime.date, end: datetime.date
) -> tuple[AttestationRow, ...]:
    """The annual attestations of the reporting years the period touches."""
    return tuple(
        AttestationRow(
            year=report.reporting_year.year,
            attested_at=report.attested_at,
            attested_by=str(report.attested_by) if report.attested_by else "",
            statement_version=(
                report.attestation_statement.version if report.attestation_statement else None
            ),
            summary_completed_at=report.program_summary_completed_at,
        )
        for report in access.records(AnnualReport)
        .filter(reporting_year__year__gte=start.year, reporting_year__year__lte=end.year)
        .select_related("reporting_year", "attested_by", "attestation_statement")
        .order_by("reporting_year__year")
    )


def _activity_rows(activities: QuerySet[Activity]) -> QuerySet[Any, Any]:
    """The period's activities with their support, as rows for the listing (lazy)."""
    return (
        activities.annotate(
            support_monetary=Coalesce(Sum("supporters__monetary_amount"), Value(0)),
            support_in_kind=Count("supporters", filter=Q(supporters__in_kind=True)),
            supporter_count=Count("supporters"),
        )
        .order_by("start_date", "provider_activity_id")
        .values(
            "id",
            "provider_activity_id",
            "title",
            "activity_format",
            "start_date",
            "end_date",
            "reporting_year",
            "hours_of_instruction",
            "ama_credits",
            "physician_learners",
            "other_learners",
            "support_monetary",
            "support_in_kind",
            "supporter_count",
        )
    )


def build_review_package(
    access: ProviderAccess, start: datetime.date, end: datetime.date
) -> ReviewPackage:
    activities = period_activities(access, start, end)
    support = access.records(CommercialSupport).filter(activity__in=activities)

    totals = activities.aggregate(**_ACTIVITY_SUMS, **_OUTCOME_COUNTS)
    support_totals = support.aggregate(**_SUPPORT_SUMS)

    by_year = _by_year(activities, support)
    by_format = _by_format(activities, support)
    return ReviewPackage(
        provider=access.provider,
        start=start,
        end=end,
        totals=_figures(totals, support_totals),
        by_year=by_year,
        by_format=by_format,
        outcome_totals={key: totals[key] for key in OUTCOME_FIELDS},
        supporters=_supporter_rows(support),
        attestations=_attestations(access, start, end),
        decisions=tuple(access.records(AccreditationDecision).order_by("-decided_on", "-id")),
        activity_rows=_activity_rows(activities),
    )
