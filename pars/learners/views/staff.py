"""Staff: a provider's completions, personal data masked until a reason is given."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.decorators import staff_view
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.intake.models import Channel
from pars.learners import exports
from pars.learners.forms import RevealForm
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.learners.views.common import (
    PersonalValues,
    filtered_completions,
    mask,
    page_of,
    status_summary,
)
from pars.lib import security_log


@dataclass(frozen=True)
class StaffRow:
    completion: LearnerCompletion
    personal: PersonalValues


def _staff_rows(completions: Iterable[LearnerCompletion], *, masked: bool) -> list[StaffRow]:
    return [StaffRow(c, PersonalValues.of(c, masked=masked)) for c in completions]


SHOWN_FIELDS = ["learner_id", "npi", "license_state", "birth_month", "birth_day"]


def _record_reveal(
    request: HttpRequest,
    access: ProviderAccess,
    reason: str,
    shown: list[int] | int,
    details: dict[str, Any],
) -> None:
    """Staff saw personal data: the reason and what was shown, in the audit trail."""
    count = shown if isinstance(shown, int) else len(shown)
    filters = details.get("filters", {})
    if "learner" in filters:  # a searched learner ID or NPI is personal data too
        details = {**details, "filters": {**filters, "learner": mask(filters["learner"])}}
    record_event(
        access,
        AuditAction.PERSONAL_DATA_VIEWED,
        channel=Channel.WEB,
        description=f"Personal data of {count} learner completion"
        f"{'s' if count != 1 else ''} shown to staff",
        details={"reason": reason, "fields": SHOWN_FIELDS, "completions": shown, **details},
    )
    security_log.personal_data_viewed(request, access, count=count)


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
            details = {"filters": filters, "page": page.number}
            _record_reveal(request, access, form.cleaned_data["reason"], shown, details)
            revealed = True
        else:
            status = 400
    return _render_list(request, access, page, filters, form, revealed=revealed, status=status)


def _render_list(
    request: HttpRequest,
    access: ProviderAccess,
    page: Page,
    filters: dict[str, str],
    form: RevealForm,
    *,
    revealed: bool,
    status: int,
) -> HttpResponse:
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


@staff_view
def staff_download(request: HttpRequest, provider_id: str, fmt: str) -> HttpResponseBase:
    """Every matching record as CSV or XLSX: masked, or (POST with a reason) shown and
    recorded in the audit trail like the page's "Show personal data"."""
    access = get_provider_access(request.user, provider_id)
    params = request.POST if request.method == "POST" else request.GET
    completions, filters = filtered_completions(access, params)
    masked = True
    if request.method == "POST":
        form = RevealForm(request.POST)
        if not form.is_valid():
            ordered = completions.select_related("activity", "recipient").order_by(
                "-status_changed_at", "-pk"
            )
            page = page_of(request, ordered)
            return _render_list(request, access, page, filters, form, revealed=False, status=400)
        count = completions.count()
        details = {"filters": filters, "download": fmt}
        _record_reveal(request, access, form.cleaned_data["reason"], count, details)
        masked = False
    write = exports.csv_response if fmt == "csv" else exports.xlsx_response
    response = write(
        completions, masked=masked, filename=f"learner-completions-{access.provider.provider_id}"
    )
    add_never_cache_headers(response)
    return response
