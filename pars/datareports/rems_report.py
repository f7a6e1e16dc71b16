"""The REMS report: a year's activity and learner data for the FDA Opioid Analgesic REMS.

Two tables, written as the two sheets of one workbook (or as two CSV files):

- **Activities**: every activity of the year registered with a REMS recipient, with its
  RPC ID, REMS type, the activity fields and its learner counts (the activity's own
  physician/other learner figures and the REMS completions reported for it).
- **Learners**: the REMS completion records of those activities with the REMS learner
  fields of reference 5.6 (profession, state of primary practice, DEA registration,
  practice area, surgical procedures, time in practice), the completion date, credits
  and delivery status. Withdrawn records are left out.

Only records of recipients of kind REMS are read: no MOC board's or state board's
registration or completion can appear. The learners' names, birth dates, NPIs and local
identifiers are not exported (the local identifier is a personal field, shown to staff
only with a recorded reason); each learner row names its activity instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery

from pars.activities.dictionary import FORMATS
from pars.learners.dictionary import (
    DEA_REGISTRATIONS,
    PROFESSIONS,
    REMS_PRACTICE_AREAS,
    REMS_TYPES,
    TIME_IN_PRACTICE,
)
from pars.learners.models import (
    ActivityRegistration,
    CompletionStatus,
    LearnerCompletion,
    RecipientKind,
)
from pars.providers.models import live_rows

WITHDRAWN = (
    CompletionStatus.WITHDRAWAL_QUEUED,
    CompletionStatus.WITHDRAWAL_SENT,
    CompletionStatus.WITHDRAWN,
)

ACTIVITY_COLUMNS = (
    "Provider ID",
    "Provider",
    "Provider Activity ID",
    "ACCME Activity ID",
    "Activity Title",
    "Activity Type",
    "Start Date",
    "End Date",
    "City",
    "State",
    "Country",
    "REMS Recipient",
    "REMS Type",
    "RPC ID",
    "Hours of Instruction",
    "AMA PRA Category 1 Credits",
    "Physician Learners",
    "Other Learners",
    "Commercial Support Received",
    "REMS Learner Completions",
    "REMS Completions Accepted",
)

LEARNER_COLUMNS = (
    "Provider ID",
    "Provider Activity ID",
    "REMS Recipient",
    "RPC ID",
    "Completion Date",
    "Profession",
    "State of Primary Practice",
    "DEA Registration",
    "Practice Area",
    "Surgical Procedures",
    "Time in Practice",
    "CME Credits",
    "Status",
)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("Yes" if value else "No")


TAKEN = (CompletionStatus.ACCEPTED, CompletionStatus.REPORTED)


def rems_registrations(year: int, accreditor_id: int | None = None) -> Any:
    registrations = ActivityRegistration.objects.filter(
        live_rows(), recipient__kind=RecipientKind.REMS, activity__reporting_year=year
    )
    if accreditor_id is not None:
        registrations = registrations.filter(provider__recognized_accreditor_id=accreditor_id)
    return registrations


def rems_completions(year: int, accreditor_id: int | None = None) -> Any:
    completions = LearnerCompletion.objects.filter(
        live_rows(), recipient__kind=RecipientKind.REMS, activity__reporting_year=year
    ).exclude(status__in=WITHDRAWN)
    if accreditor_id is not None:
        completions = completions.filter(provider__recognized_accreditor_id=accreditor_id)
    return completions


def activity_rows(year: int, accreditor_id: int | None = None) -> Iterator[tuple[Any, ...]]:
    """One row per REMS registration of an activity of `year` (counts computed in SQL)."""
    completions = LearnerCompletion.objects.filter(
        activity=OuterRef("activity"), recipient=OuterRef("recipient")
    ).exclude(status__in=WITHDRAWN)

    def count(queryset: Any) -> Subquery:
        return Subquery(
            queryset.order_by().values("activity").annotate(n=Count("id")).values("n")[:1]
        )

    rows = (
        rems_registrations(year, accreditor_id)
        .annotate(
            completions=count(completions),
            # Taken by the recipient: "reported" for REMS (no matching), "accepted" before.
            accepted=count(completions.filter(Q(status__in=TAKEN))),
        )
        .order_by("provider__provider_id", "activity__provider_activity_id", "recipient__code")
        .values_list(
            "provider__provider_id",
            "provider__name",
            "activity__provider_activity_id",
            "activity__accme_activity_id",
            "activity__title",
            "activity__activity_format",
            "activity__start_date",
            "activity__end_date",
            "activity__city",
            "activity__state",
            "activity__country",
            "recipient__code",
            "rems_type",
            "rems_rpc_id",
            "activity__hours_of_instruction",
            "activity__ama_credits",
            "activity__physician_learners",
            "activity__other_learners",
            "activity__commercial_support_received",
            "completions",
            "accepted",
        )
    )
    for row in rows.iterator(chunk_size=2000):
        values = list(row)
        values[5] = FORMATS.get(values[5], values[5])
        values[12] = REMS_TYPES.get(values[12], values[12])
        values[18] = _yes_no(values[18])
        values[19] = values[19] or 0
        values[20] = values[20] or 0
        yield tuple(values)


def learner_rows(year: int, accreditor_id: int | None = None) -> Iterator[tuple[Any, ...]]:
    """One row per REMS completion record of an activity of `year`, not withdrawn."""
    rpc_id = ActivityRegistration.objects.filter(
        activity=OuterRef("activity"), recipient=OuterRef("recipient")
    ).values("rems_rpc_id")[:1]
    statuses = dict(CompletionStatus.choices)
    rows = (
        rems_completions(year, accreditor_id)
        .annotate(rpc_id=Subquery(rpc_id))
        .order_by(
            "provider__provider_id", "activity__provider_activity_id", "completion_date", "id"
        )
        .values_list(
            "provider__provider_id",
            "activity__provider_activity_id",
            "recipient__code",
            "rpc_id",
            "completion_date",
            "profession",
            "practice_state",
            "dea_registration",
            "practice_area",
            "surgical_procedures",
            "time_in_practice",
            "cme_credits",
            "status",
        )
    )
    for row in rows.iterator(chunk_size=5000):
        values = list(row)
        values[3] = values[3] or ""
        values[5] = PROFESSIONS.get(values[5], values[5])
        values[7] = DEA_REGISTRATIONS.get(values[7], values[7])
        values[8] = REMS_PRACTICE_AREAS.get(values[8], values[8])
        values[9] = _yes_no(values[9])
        values[10] = TIME_IN_PRACTICE.get(values[10], values[10])
        values[12] = statuses.get(values[12], values[12])
        yield tuple(values)
