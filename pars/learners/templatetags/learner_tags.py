"""Learner data on other apps' pages: an activity's registrations, the dashboard's counts.

The activity page and the dashboard belong to other apps; these tags let their templates
show learner data without those apps importing the learner app (dependencies point one way).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.db.models import Count

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity
from pars.learners.forms import registration_display
from pars.learners.models import ActivityRegistration, CompletionStatus, LearnerCompletion
from pars.learners.services import status_counts

register = template.Library()


@dataclass(frozen=True)
class RegistrationRow:
    registration: ActivityRegistration
    fields: list[tuple[str, str]]
    completions: int


@register.simple_tag
def activity_registrations(access: ProviderAccess, activity: Activity) -> list[RegistrationRow]:
    """The activity's registrations, each with its fields and number of completions."""
    registrations = (
        access.records(ActivityRegistration)
        .filter(activity=activity)
        .select_related("recipient", "attested_by")
        .order_by("recipient__sort_order", "recipient__code")
    )
    counts = dict(
        access.records(LearnerCompletion)
        .filter(activity=activity)
        .values("recipient_id")
        .annotate(n=Count("id"))
        .values_list("recipient_id", "n")
    )
    return [
        RegistrationRow(reg, registration_display(reg), counts.get(reg.recipient_id, 0))
        for reg in registrations
    ]


@dataclass(frozen=True)
class LearnerCounts:
    queued: int
    rejected: int
    held: int
    total: int


@register.simple_tag
def learner_counts(access: ProviderAccess) -> LearnerCounts:
    """The provider's records waiting to be sent, rejected and held (for the dashboard)."""
    counts = status_counts(access)
    return LearnerCounts(
        queued=counts.get(CompletionStatus.QUEUED, 0),
        rejected=counts.get(CompletionStatus.REJECTED, 0),
        held=counts.get(CompletionStatus.HELD, 0),
        total=sum(counts.values()),
    )
