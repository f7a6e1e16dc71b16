"""What the provider's users are told about their accreditation (pars.notifications)."""

from __future__ import annotations

from django.urls import reverse

from pars.accreditation.models import Case, InfoRequest
from pars.notifications.models import Kind
from pars.notifications.services import EVERYONE, notify, provider_users
from pars.providers.models import AccreditationDecision, Provider


def _reopened(request: InfoRequest) -> str:
    codes = sorted(section.code for section in request.sections.all())
    parts = [f"section{'s' if len(codes) != 1 else ''} {', '.join(codes)}"] if codes else []
    if request.reopen_pip:
        parts.append("the performance-in-practice selection")
    return " and ".join(parts)


def information_requested(case: Case, request: InfoRequest) -> None:
    """Staff asked for more: those who can edit the case are told what and by when."""
    provider = case.provider
    reopened = _reopened(request)
    due = f" by {request.due_date:%m/%d/%Y}" if request.due_date else ""
    notify(
        provider_users(provider),
        Kind.CASE_INFO_REQUESTED,
        f"More information requested on your {case.get_case_type_display().lower()} case",
        body=(
            f"The accreditor's staff reopened {reopened} for changes{due}.\n\n"
            f"{request.message}\n\nChange the reopened parts, then resubmit the case."
        ),
        link=reverse("accreditation:case", args=[provider.provider_id, case.pk]),
        provider=provider,
    )


def decision_recorded(provider: Provider, decision: AccreditationDecision) -> None:
    """A decision is news to everyone at the provider, read-only users included."""
    term = ""
    if decision.term_end:
        term = f" The term runs until {decision.term_end:%m/%d/%Y}."
    notify(
        provider_users(provider, EVERYONE),
        Kind.DECISION_RECORDED,
        f"Accreditation decision: {decision.get_outcome_display()}",
        body=(
            f"{decision.get_decision_type_display()} decided on "
            f"{decision.decided_on:%m/%d/%Y}: {decision.get_outcome_display()}.{term}"
        ),
        link=reverse("providers:decisions", args=[provider.provider_id]),
        provider=provider,
        key=f"decision:{decision.pk}",
    )


def case_submitted(case: Case, version: int) -> None:
    """Staff who own the case, or asked for more on it, learn that it is (back) in."""
    staff = [case.staff_owner]
    if version > 1:
        request = case.info_requests.filter(answered_in=version).first()
        staff.append(request.requested_by if request else None)
    recipients = {user.pk: user for user in staff if user is not None and user.is_staff}
    what = "resubmitted" if version > 1 else "submitted"
    notify(
        recipients.values(),
        Kind.CASE_SUBMITTED,
        f"{case.provider.name} {what} its {case.get_case_type_display().lower()} case",
        body=f"Version {version} of the self-study is ready for review.",
        link=reverse("accreditation:staff_case", args=[case.pk]),
        provider=case.provider,
        key=f"case-submitted:{case.pk}:{version}",
    )
