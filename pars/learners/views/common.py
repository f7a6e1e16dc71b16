"""What the learner pages share: workspace links, the completion filters and pages of
the list, and the masking of personal data.

Personal fields (learner identifier, NPI, license state, birth month and day) are shown
to the provider's own users. Accreditor staff see them masked ("••••56"), on the staff
page and in the provider's workspace alike, until they give a reason on the staff page,
which is recorded in the audit trail and shows them for that one response.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity
from pars.learners import services
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME
from pars.learners.models import ActivityRegistration, CompletionStatus, LearnerCompletion
from pars.learners.services.writer import ClosedYears

PER_PAGE = 50


def provider_url(name: str, access: ProviderAccess, **kwargs: Any) -> str:
    return reverse(name, kwargs={"provider_id": access.provider.provider_id, **kwargs})


# ---------------------------------------------------------------------------
# Closed (attested) years


def closed_year_note(
    access: ProviderAccess, years: set[int], recipient: str = ""
) -> dict[str, Any]:
    """The attested (closed) years among `years`, newest first, for the note that says a
    closed year's completions are read-only (docs/learner-files.md, "After the year
    closes"); for one record's page (its `recipient`), `read_only`: no change is offered,
    unless the recipient takes completions after attestation (then `record_open`)."""
    closed = ClosedYears(access)
    found = [
        closed.closures[year] for year in sorted(years, reverse=True) if year in closed.closures
    ]
    opened = sorted(closed.open_recipients)
    return {
        "closures": found,
        "open_recipients": opened,
        "record_open": recipient if found and recipient in opened else "",
        "read_only": bool(found) and bool(recipient) and recipient not in opened,
        "support_email": settings.PARS_SUPPORT_EMAIL,
    }


# ---------------------------------------------------------------------------
# Masking personal data (staff)

MASK = "••••"


def mask(value: Any) -> str:
    """``••••56``: the last two characters of a long enough value, nothing of a short one."""
    text = "" if value is None else str(value)
    if not text:
        return "—"
    return MASK + text[-2:] if len(text) > 4 else MASK


def _birth(completion: LearnerCompletion) -> str:
    return f"{completion.birth_month:02d}-{completion.birth_day:02d}"


@dataclass(frozen=True)
class PersonalValues:
    """A record's personal fields as one page may show them."""

    learner_id: str
    npi: str
    license_state: str
    birth_date: str

    @classmethod
    def of(cls, completion: LearnerCompletion, *, masked: bool) -> PersonalValues:
        if masked:
            return cls(
                mask(completion.learner_id),
                mask(completion.npi),
                "••" if completion.license_state else "—",
                "••-••",
            )
        return cls(
            completion.learner_id or "—",
            completion.npi or "—",
            completion.license_state or "—",
            _birth(completion),
        )


def activity_registration(
    access: ProviderAccess, activity: Activity, code: str
) -> ActivityRegistration | None:
    return (
        access.records(ActivityRegistration)
        .filter(activity=activity, recipient__code=code)
        .select_related("recipient")
        .first()
    )


# ---------------------------------------------------------------------------
# Completions: the list


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


def status_summary(access: ProviderAccess) -> list[StatusCount]:
    """Every status with its count of the provider's records, in the statuses' order."""
    counts = services.status_counts(access)
    return [
        StatusCount(value, label, counts.get(value, 0)) for value, label in CompletionStatus.choices
    ]


def _date_param(params: Any, name: str) -> datetime.date | None:
    """A date from the filter form (yyyy-mm-dd from a date input, or mm/dd/yyyy)."""
    text = str(params.get(name, "")).strip()
    for layout in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.datetime.strptime(text, layout).date()  # noqa: DTZ007 (a date only)
        except ValueError:
            continue
    return None


def _search_filters(
    completions: QuerySet[LearnerCompletion], params: Any, filters: dict[str, str]
) -> QuerySet[LearnerCompletion]:
    """The typed searches: learner name, learner ID or NPI, activity, completion dates."""
    query = str(params.get("q", "")).strip()
    if query:
        for term in query.split()[:5]:
            completions = completions.filter(
                Q(first_name__icontains=term) | Q(last_name__icontains=term)
            )
        filters["q"] = query
    # An identifier is matched whole: a part of one would find other people's records.
    learner = str(params.get("learner", "")).strip()
    if learner:
        completions = completions.filter(Q(learner_id=learner) | Q(npi=learner))
        filters["learner"] = learner
    activity_text = str(params.get("activity_q", "")).strip()
    if activity_text:
        completions = completions.filter(
            Q(activity__provider_activity_id__iexact=activity_text)
            | Q(activity__title__icontains=activity_text)
        )
        filters["activity_q"] = activity_text
    for name, lookup in (("from", "completion_date__gte"), ("to", "completion_date__lte")):
        day = _date_param(params, name)
        if day is not None:
            completions = completions.filter(**{lookup: day})
            filters[name] = day.isoformat()
    return completions


def filtered_completions(
    access: ProviderAccess, params: Any
) -> tuple[QuerySet[LearnerCompletion], dict[str, str]]:
    completions = access.records(LearnerCompletion)
    filters: dict[str, str] = {}
    activity = str(params.get("activity", "")).strip()
    if activity.isdigit():
        completions = completions.filter(activity_id=int(activity))
        filters["activity"] = activity
    recipient = str(params.get("recipient", "")).strip().upper()
    if recipient:
        completions = completions.filter(recipient__code=recipient)
        filters["recipient"] = recipient
    status = str(params.get("status", "")).strip()
    if status in CompletionStatus.values:
        completions = completions.filter(status=status)
        filters["status"] = status
    return _search_filters(completions, params, filters), filters


def page_of(request: HttpRequest, rows: QuerySet[Any]) -> Page:
    return Paginator(rows, PER_PAGE).get_page(request.GET.get("page") or request.POST.get("page"))


def field_label(name: str) -> str:
    if name in ("birth_month", "birth_day"):
        return COMPLETION_FIELDS_BY_NAME["birth_date"].label
    spec = COMPLETION_FIELDS_BY_NAME.get(name)
    return spec.label if spec else name.replace("_", " ").capitalize()
