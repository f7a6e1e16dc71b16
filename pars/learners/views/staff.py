"""Staff: a provider's completions, personal data masked until a reason is given."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from pars.accounts.access import get_provider_access
from pars.accounts.decorators import staff_view
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.intake.models import Channel
from pars.learners.forms import RevealForm
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.learners.views.common import PersonalValues, filtered_completions, page_of, status_summary
from pars.lib import security_log


@dataclass(frozen=True)
class StaffRow:
    completion: LearnerCompletion
    personal: PersonalValues


def _staff_rows(completions: Iterable[LearnerCompletion], *, masked: bool) -> list[StaffRow]:
    return [StaffRow(c, PersonalValues.of(c, masked=masked)) for c in completions]


SHOWN_FIELDS = ["learner_id", "npi", "license_state", "birth_month", "birth_day"]


@staff_view
def staff_completions(request: HttpRequest, provider_id: str) -> HttpResponse:
    """A provider's completions for staff; POST with a reason shows the personal data once."""
    access = get_provider_access(request.user, provider_id)
    params = request.POST if request.method == "POST" else request.GET
    completions, filters = filtered_completions(access, params)
    completions = completions.select_related("activity", "recipient").order_by(
        "-status_changed_at", "-pk"
    )
    page = page_of(request, completions)
    form = RevealForm()
    revealed = False
    status = 200
    if request.method == "POST":
        form = RevealForm(request.POST)
        if form.is_valid():
            shown = [completion.pk for completion in page]
            record_event(
                access,
                AuditAction.PERSONAL_DATA_VIEWED,
                channel=Channel.WEB,
                description=f"Personal data of {len(shown)} learner completion"
                f"{'s' if len(shown) != 1 else ''} shown to staff",
                details={
                    "reason": form.cleaned_data["reason"],
                    "fields": SHOWN_FIELDS,
                    "completions": shown,
                    "filters": filters,
                    "page": page.number,
                },
            )
            security_log.personal_data_viewed(request, access, count=len(shown))
            revealed = True
        else:
            status = 400
    response = render(
        request,
        "learners/staff_list.html",
        {
            "access": access,
            "provider": access.provider,
            "page": page,
            "rows": _staff_rows(page, masked=not revealed),
            "filters": filters,
            "counts": status_summary(access),
            "statuses": CompletionStatus.choices,
            "recipients": Recipient.objects.all(),
            "form": form,
            "revealed": revealed,
        },
        status=status,
    )
    add_never_cache_headers(response)
    return response
