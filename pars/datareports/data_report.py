"""The annual data report: national aggregates of one reporting year.

Reference section 7.2: the size of the enterprise (providers by type), activities,
hours of instruction and learner interactions by activity type and by organization
type, income by source (commercial support from the activities, the four typed
program-summary figures), commercial support, and MOC/REMS participation.

Every figure is computed by the database (``aggregate``/``annotate`` over grouped
``values``), one query per table and one for its total row; Python only arranges the
few grouped rows the database returns (at most one per format, type or recipient),
never the activities or completions themselves. The activity and commercial-support
aggregates are the ones the per-provider program summary uses
(:mod:`pars.reporting.summary`), grouped here instead of filtered to one provider.

An activity counts in the year of its ``reporting_year``; annual reports by their
reporting year; registrations and completions by their activity's reporting year.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce

from pars.activities.dictionary import FORMATS
from pars.activities.models import Activity, CommercialSupport
from pars.learners.models import (
    ActivityRegistration,
    CompletionStatus,
    LearnerCompletion,
    Recipient,
)
from pars.providers.models import AccreditationStatus, AccreditorType, Provider
from pars.reporting.models import AnnualReport
from pars.reporting.summary import activity_aggregates, support_aggregates

TOTAL = "Total"
CENT = Decimal("0.01")


def _cents(value: Any) -> Decimal:
    """An amount or a number of hours as exact cents (SQLite sums decimals as floats)."""
    return Decimal(str(value or 0)).quantize(CENT)


# Providers counted as accredited in "providers by type" (applicants and providers
# whose accreditation ended are not).
ACCREDITED_STATUSES = (
    AccreditationStatus.PROVISIONAL,
    AccreditationStatus.ACCREDITATION,
    AccreditationStatus.COMMENDATION,
    AccreditationStatus.PROBATION,
)

# Completion statuses by what the participation table reports.
IN_PROGRESS = (CompletionStatus.QUEUED, CompletionStatus.SENT)
WITHDRAWN = (
    CompletionStatus.WITHDRAWAL_QUEUED,
    CompletionStatus.WITHDRAWAL_SENT,
    CompletionStatus.WITHDRAWN,
)

INCOME_SOURCES = {
    "advertising_exhibit_income": "Advertising and exhibits",
    "registration_fees": "Registration fees",
    "government_grants": "Government grants",
    "private_donations": "Private donations",
}


@dataclass(frozen=True)
class Table:
    """One table of the report: a label column, figures, and a total row."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    total: tuple[Any, ...] = ()  # empty: the table has no total row
    note: str = ""
    sheet: str = ""  # the name of its XLSX sheet (at most 31 characters)

    @property
    def all_rows(self) -> tuple[tuple[Any, ...], ...]:
        return self.rows + ((self.total,) if self.total else ())

    def column(self, name: str) -> dict[str, Any]:
        """The figures of one column by row label (the total row included)."""
        index = self.columns.index(name)
        return {row[0]: row[index] for row in self.all_rows}


@dataclass(frozen=True)
class DataReport:
    year: int
    accreditor_type: str | None
    providers_by_type: Table
    activities_by_type: Table
    activities_by_provider_type: Table
    income_by_source: Table
    commercial_support: Table
    supporters: Table
    participation: Table

    @property
    def tables(self) -> tuple[Table, ...]:
        return (
            self.providers_by_type,
            self.activities_by_type,
            self.activities_by_provider_type,
            self.income_by_source,
            self.commercial_support,
            self.supporters,
            self.participation,
        )

    @property
    def accreditor_type_label(self) -> str:
        if self.accreditor_type is None:
            return "All providers"
        return str(AccreditorType(self.accreditor_type).label)


def _scope(prefix: str, accreditor_type: str | None, accreditor_id: int | None) -> Q:
    """Rows of the providers in the report, through the provider relation `prefix`
    (never a sandbox's)."""
    q = Q(**{f"{prefix}sandbox_of__isnull": True})
    if accreditor_type is not None:
        q &= Q(**{f"{prefix}accreditor_type": accreditor_type})
    if accreditor_id is not None:
        q &= Q(**{f"{prefix}recognized_accreditor_id": accreditor_id})
    return q


def _types(accreditor_type: str | None) -> list[tuple[str, str]]:
    return [
        (str(value), str(label))
        for value, label in AccreditorType.choices
        if accreditor_type in (None, value)
    ]


def _grouped(rows: Any, key: str) -> dict[Any, dict[str, Any]]:
    return {row.pop(key): row for row in rows}


def _activity_figures(values: Mapping[str, Any] | None) -> tuple[Any, ...]:
    values = values or {}
    return (
        values.get("count") or 0,
        _cents(values.get("hours")),
        _cents(values.get("credits")),
        values.get("physicians") or 0,
        values.get("others") or 0,
    )


ACTIVITY_COLUMNS = (
    "Activities",
    "Hours of instruction",
    "AMA PRA Category 1 Credits",
    "Physician interactions",
    "Other learner interactions",
)


def data_report(
    year: int, accreditor_type: str | None = None, *, accreditor_id: int | None = None
) -> DataReport:
    """The data report of `year`, for one accreditor type or all of them.

    `accreditor_id` limits it to the providers one state medical society accredits
    (what that society's staff may see).
    """
    if accreditor_type is not None and accreditor_type not in AccreditorType.values:
        raise ValueError(f"Unknown accreditor type {accreditor_type!r}")
    types = _types(accreditor_type)
    providers = Provider.objects.filter(_scope("", accreditor_type, accreditor_id))
    activities = Activity.objects.filter(
        _scope("provider__", accreditor_type, accreditor_id), reporting_year=year
    )
    support = CommercialSupport.objects.filter(
        _scope("provider__", accreditor_type, accreditor_id), activity__reporting_year=year
    )
    reports = AnnualReport.objects.filter(
        _scope("provider__", accreditor_type, accreditor_id), reporting_year__year=year
    )
    return DataReport(
        year=year,
        accreditor_type=accreditor_type,
        providers_by_type=_providers_by_type(year, providers, types),
        activities_by_type=_activities_by_type(activities),
        activities_by_provider_type=_activities_by_provider_type(activities, types),
        income_by_source=_income_by_source(reports, support, types),
        commercial_support=_commercial_support(support, activities, types),
        supporters=_supporters(support),
        participation=_participation(year, accreditor_type, accreditor_id),
    )


def _providers_by_type(year: int, providers: Any, types: list[tuple[str, str]]) -> Table:
    has_activities = Exists(Activity.objects.filter(provider=OuterRef("pk"), reporting_year=year))
    attested = Exists(
        AnnualReport.objects.filter(
            provider=OuterRef("pk"), reporting_year__year=year, attested_at__isnull=False
        )
    )
    aggregates = {
        "accredited": Count("id", filter=Q(accreditation_status__in=ACCREDITED_STATUSES)),
        "reporting": Count("id", filter=Q(has_activities)),
        "attested": Count("id", filter=Q(attested)),
    }
    by_type = _grouped(
        providers.order_by().values("accreditor_type").annotate(**aggregates), "accreditor_type"
    )
    total = providers.aggregate(**aggregates)

    def figures(values: Mapping[str, Any] | None) -> tuple[int, int, int]:
        values = values or {}
        return (
            values.get("accredited") or 0,
            values.get("reporting") or 0,
            values.get("attested") or 0,
        )

    return Table(
        key="providers",
        sheet="Providers by type",
        title="Providers by type",
        columns=(
            "Provider type",
            "Accredited providers",
            f"Providers with activities in {year}",
            f"Annual reports attested for {year}",
        ),
        rows=tuple((label, *figures(by_type.get(value))) for value, label in types),
        total=(TOTAL, *figures(total)),
    )


def _activities_by_type(activities: Any) -> Table:
    by_format = _grouped(
        activities.order_by().values("activity_format").annotate(**activity_aggregates()),
        "activity_format",
    )
    return Table(
        key="activities_by_type",
        sheet="Activities by type",
        title="Activities, hours and learner interactions by activity type",
        columns=("Activity type", *ACTIVITY_COLUMNS),
        rows=tuple(
            (label, *_activity_figures(by_format.get(code))) for code, label in FORMATS.items()
        ),
        total=(TOTAL, *_activity_figures(activities.aggregate(**activity_aggregates()))),
    )


def _activities_by_provider_type(activities: Any, types: list[tuple[str, str]]) -> Table:
    by_type = _grouped(
        activities.order_by().values("provider__accreditor_type").annotate(**activity_aggregates()),
        "provider__accreditor_type",
    )
    return Table(
        key="activities_by_provider_type",
        sheet="Activities by provider type",
        title="Activities, hours and learner interactions by provider type",
        columns=("Provider type", *ACTIVITY_COLUMNS),
        rows=tuple((label, *_activity_figures(by_type.get(value))) for value, label in types),
        total=(TOTAL, *_activity_figures(activities.aggregate(**activity_aggregates()))),
    )


def _income_by_source(reports: Any, support: Any, types: list[tuple[str, str]]) -> Table:
    sums = {field: Sum(field) for field in INCOME_SOURCES}
    typed = _grouped(
        reports.order_by().values("provider__accreditor_type").annotate(**sums),
        "provider__accreditor_type",
    )
    typed_total = reports.aggregate(**sums)
    money = {"monetary": Sum("monetary_amount")}
    commercial = _grouped(
        support.order_by().values("provider__accreditor_type").annotate(**money),
        "provider__accreditor_type",
    )
    commercial_total = support.aggregate(**money)

    def figures(typed: Mapping[str, Any] | None, commercial: Mapping[str, Any] | None) -> tuple:
        amounts = (
            _cents((commercial or {}).get("monetary")),
            *(_cents((typed or {}).get(field)) for field in INCOME_SOURCES),
        )
        return (*amounts, sum(amounts, Decimal(0)))

    return Table(
        key="income",
        sheet="Income by source",
        title="Income by source (US dollars)",
        columns=(
            "Provider type",
            "Commercial support",
            *INCOME_SOURCES.values(),
            "Total income",
        ),
        rows=tuple(
            (label, *figures(typed.get(value), commercial.get(value))) for value, label in types
        ),
        total=(TOTAL, *figures(typed_total, commercial_total)),
        note="Commercial support is summed from the activities' supporters; the other sources "
        "are the program-summary figures of the providers' annual reports.",
    )


def _commercial_support(support: Any, activities: Any, types: list[tuple[str, str]]) -> Table:
    by_type = _grouped(
        support.order_by().values("provider__accreditor_type").annotate(**support_aggregates()),
        "provider__accreditor_type",
    )
    total = support.aggregate(**support_aggregates())

    def figures(values: Mapping[str, Any] | None) -> tuple[int, int, int, int]:
        values = values or {}
        return (
            values.get("monetary") or 0,
            values.get("in_kind") or 0,
            values.get("sources") or 0,
            values.get("activities") or 0,
        )

    return Table(
        key="commercial_support",
        sheet="Commercial support",
        title="Commercial support by provider type",
        columns=(
            "Provider type",
            "Monetary support (US dollars)",
            "In-kind supports",
            "Commercial supporters",
            "Activities supported",
        ),
        rows=tuple((label, *figures(by_type.get(value))) for value, label in types),
        total=(TOTAL, *figures(total)),
        note="Supporters are counted by name; in-kind support has no dollar value.",
    )


def _supporters(support: Any) -> Table:
    rows = (
        support.order_by()
        .values("source")
        .annotate(
            activities=Count("activity", distinct=True),
            monetary=Coalesce(Sum("monetary_amount"), 0),
            in_kind=Count("id", filter=Q(in_kind=True)),
        )
        .order_by("-monetary", "source")
        .values_list("source", "activities", "monetary", "in_kind")
    )
    return Table(
        key="supporters",
        sheet="Commercial supporters",
        title="Commercial supporters",
        columns=(
            "Commercial supporter",
            "Activities supported",
            "Monetary support (US dollars)",
            "In-kind supports",
        ),
        rows=tuple(
            (source, count, monetary or 0, in_kind) for source, count, monetary, in_kind in rows
        ),
    )


def _participation(year: int, accreditor_type: str | None, accreditor_id: int | None) -> Table:
    registrations = _grouped(
        ActivityRegistration.objects.filter(
            _scope("provider__", accreditor_type, accreditor_id), activity__reporting_year=year
        )
        .order_by()
        .values("recipient_id")
        .annotate(activities=Count("activity", distinct=True)),
        "recipient_id",
    )
    completions = LearnerCompletion.objects.filter(
        _scope("provider__", accreditor_type, accreditor_id), activity__reporting_year=year
    )
    aggregates = {
        "reported": Count("id", filter=~Q(status__in=WITHDRAWN)),
        # Taken by the recipient: accepted, or reported where it matches no learners (REMS).
        "accepted": Count(
            "id", filter=Q(status__in=(CompletionStatus.ACCEPTED, CompletionStatus.REPORTED))
        ),
        "in_progress": Count("id", filter=Q(status__in=IN_PROGRESS)),
        "rejected": Count("id", filter=Q(status=CompletionStatus.REJECTED)),
        "held": Count("id", filter=Q(status=CompletionStatus.HELD)),
        "withdrawn": Count("id", filter=Q(status__in=WITHDRAWN)),
    }
    by_recipient = _grouped(
        completions.order_by().values("recipient_id").annotate(**aggregates), "recipient_id"
    )
    registered_total = ActivityRegistration.objects.filter(
        _scope("provider__", accreditor_type, accreditor_id), activity__reporting_year=year
    ).aggregate(activities=Count("activity", distinct=True))["activities"]

    def figures(values: Mapping[str, Any] | None) -> Iterator[int]:
        for key in aggregates:
            yield (values or {}).get(key) or 0

    recipients = Recipient.objects.order_by("sort_order", "code").values_list(
        "id", "code", "name", "kind"
    )
    kinds = dict(Recipient._meta.get_field("kind").choices or [])
    rows = tuple(
        (
            f"{code}: {name}",
            str(kinds.get(kind, kind)),
            (registrations.get(pk) or {}).get("activities", 0),
            *figures(by_recipient.get(pk)),
        )
        for pk, code, name, kind in recipients
    )
    return Table(
        key="participation",
        sheet="MOC REMS participation",
        title="MOC, REMS and state-board participation",
        columns=(
            "Recipient",
            "Program",
            "Activities registered",
            "Learner completions reported",
            "Accepted",
            "Queued or sent",
            "Rejected",
            "Held",
            "Withdrawn",
        ),
        rows=rows,
        total=(TOTAL, "", registered_total, *figures(completions.aggregate(**aggregates))),
        note="Activities registered with several recipients count once in the total. "
        "Completions reported exclude withdrawn records.",
    )
