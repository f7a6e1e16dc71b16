"""Learner completions: the list, one record, add, correct, resubmit, withdraw.

The pages are thin. What the user typed goes as a raw mapping to the one validator and
the one writer (:mod:`pars.learners.validation`, :mod:`pars.learners.services`), whose
errors are shown on the fields; every read goes through the provider's access.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.activities.forms import format_decimal
from pars.activities.models import Activity
from pars.audit.models import AuditEvent
from pars.intake.models import Channel, Upload
from pars.learners import exports, services
from pars.learners.connectors import IDENTITY_MISMATCH
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME
from pars.learners.forms import (
    PERSONAL_FORM_FIELDS,
    CompletionForm,
    attach_errors,
    completion_field_names,
    completion_initial,
)
from pars.learners.guidance import what_to_do
from pars.learners.models import (
    ActivityRegistration,
    CompletionEvent,
    CompletionEventKind,
    CompletionStatus,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
)
from pars.learners.services.writer import ClosedYears
from pars.learners.views.common import (
    PersonalValues,
    activity_registration,
    closed_year_note,
    field_label,
    filtered_completions,
    page_of,
    provider_url,
    status_summary,
)

# Statuses after which a record can no longer be corrected or withdrawn from here.
WITHDRAWING = (
    CompletionStatus.WITHDRAWAL_QUEUED,
    CompletionStatus.WITHDRAWAL_SENT,
    CompletionStatus.WITHDRAWN,
)
RESENDABLE = (CompletionStatus.REJECTED, CompletionStatus.HELD)


@provider_view()
def completion_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    completions, filters = filtered_completions(access, request.GET)
    completions = completions.select_related("activity", "recipient").order_by(
        "-status_changed_at", "-pk"
    )
    page = page_of(request, completions)
    activities = (
        access.records(Activity)
        .filter(registrations__isnull=False)
        .distinct()
        .order_by("provider_activity_id")
    )
    return render(
        request,
        "learners/list.html",
        {
            "access": access,
            "page": page,
            "filters": filters,
            "counts": status_summary(access),
            "statuses": CompletionStatus.choices,
            "recipients": Recipient.objects.all(),
            "activities": activities,
            **closed_year_note(access, {c.activity.reporting_year for c in page.object_list}),
        },
    )


def _download_name(access: ProviderAccess) -> str:
    return f"learner-completions-{access.provider.provider_id}"


@provider_view()
def completion_download(request: HttpRequest, access: ProviderAccess, fmt: str) -> HttpResponseBase:
    """Every record the list's filters match (not one page), as CSV or XLSX.

    Personal fields are the provider's own users'; staff get them masked, as on the
    pages here (the staff list's download shows them once a reason is given).
    """
    completions, _ = filtered_completions(access, request.GET)
    write = exports.csv_response if fmt == "csv" else exports.xlsx_response
    return write(completions, masked=access.is_staff, filename=_download_name(access))


# ---------------------------------------------------------------------------
# One completion


@dataclass(frozen=True)
class HistoryRow:
    at: Any
    what: str
    version: int
    detail: str
    who: str


# Steps the recipient took, credited to it; PARS's own steps (sending, releasing a held
# record) are credited to the automatic delivery, never to "PARS" as if a person.
_RECIPIENT_STEPS = {
    CompletionEventKind.ACCEPTED,
    CompletionEventKind.REJECTED,
    CompletionEventKind.REPORTED,
    CompletionEventKind.HELD,
    CompletionEventKind.WITHDRAWN,
}
AUTOMATIC = "Automatic delivery"


def credit(user: Any, api_key: Any) -> str:
    """Who made a change, as people know them: the user's name (else email) or the API
    key's name; "" when neither is known."""
    if user is not None:
        return str(user.get_full_name() or user.email)
    if api_key is not None:
        return f"API key “{api_key.name}”"
    return ""


def _created_by(
    completion: LearnerCompletion, event: AuditEvent | None, upload: Upload | None
) -> str:
    """Who added the record: its audit event's user or key; for a record added before
    PARS kept it, its upload's; else the channel it came through."""
    channels = dict(Channel.choices)
    who = (
        credit(event.user, event.api_key)
        if event is not None
        else credit(upload.created_by, upload.api_key)
        if upload is not None
        else ""
    )
    channel = channels.get(completion.last_channel, "")
    if not who:
        return channel or "Unknown"
    return f"{who} ({channel})" if channel else who


def _event_by(
    event: CompletionEvent, completion: LearnerCompletion, channels: dict[str, str]
) -> str:
    who = credit(event.user, event.api_key)
    channel = channels.get(event.channel, event.channel)
    if who:
        return f"{who} ({channel})" if channel else who
    if event.kind in _RECIPIENT_STEPS:
        return completion.recipient.code
    return channel or AUTOMATIC


def _created_row(access: ProviderAccess, completion: LearnerCompletion) -> HistoryRow:
    """The row of a record added in bulk: by whom, and from which upload."""
    # Links without a database constraint (big table): read, never assumed.
    upload = (
        access.records(Upload)
        .filter(pk=completion.upload_id or 0)
        .select_related("created_by", "api_key")
        .first()
    )
    added_by = (
        access.records(AuditEvent)
        .filter(pk=completion.created_by_event_id or 0)
        .select_related("user", "api_key")
        .first()
    )
    return HistoryRow(
        completion.created_at,
        CompletionEventKind.CREATED.label,
        1,
        f"in {upload.title.lower()}" if upload is not None else "",
        _created_by(completion, added_by, upload),
    )


def _history(access: ProviderAccess, completion: LearnerCompletion) -> list[HistoryRow]:
    """The record's events and what the recipient answered to each version sent."""
    rows = []
    channels = dict(Channel.choices)
    # New records are written in bulk without an event: their first row is the record's own.
    if (
        not access.records(CompletionEvent)
        .filter(completion=completion, kind=CompletionEventKind.CREATED)
        .exists()
    ):
        rows.append(_created_row(access, completion))
    events = (
        access.records(CompletionEvent)
        .filter(completion=completion)
        .select_related("user", "api_key")
        .order_by("at", "id")
    )
    for event in events:
        changed = list(dict.fromkeys(field_label(name) for name in event.changed_fields or []))
        detail = "; ".join(
            part
            for part in (
                f"changed: {', '.join(changed)}" if changed else "",
                event.detail,
            )
            if part
        )
        who = _event_by(event, completion, channels)
        rows.append(HistoryRow(event.at, event.get_kind_display(), event.version, detail, who))
    return rows


@dataclass(frozen=True)
class DeliveryRow:
    batch: int
    sent_at: Any
    version: int
    action: str
    outcome: str
    reason: str
    reason_code: str


OUTCOMES = {"accepted": "Accepted", "rejected": "Rejected", "missing": "No answer"}
# A recipient's "no such learner" refusal holds the record (pars.learners.delivery.results):
# its answer reads as what it did to the record, not as a plain rejection.
NOT_MATCHED = "Learner not matched (held)"


def _answer(item: DeliveryItem, recipient: Recipient) -> str:
    if not item.outcome:
        return "Awaiting the answer" if item.batch.sent_at else "Being sent"
    if (
        item.outcome == "rejected"
        and item.reason_code == IDENTITY_MISMATCH
        and recipient.matches_learners
    ):
        return NOT_MATCHED
    return OUTCOMES.get(item.outcome, item.outcome.capitalize())


def _deliveries(access: ProviderAccess, completion: LearnerCompletion) -> list[DeliveryRow]:
    """Each version of the record sent to the recipient, and what the recipient answered."""
    items = (
        access.records(DeliveryItem)
        .filter(completion=completion)
        .select_related("batch")
        .order_by("batch__created_at", "id")
    )
    return [
        DeliveryRow(
            item.batch_id,
            item.batch.sent_at,
            item.version,
            item.get_action_display(),
            _answer(item, completion.recipient),
            item.reason,
            item.reason_code,
        )
        for item in items
    ]


def _record_fields(
    completion: LearnerCompletion, personal: PersonalValues
) -> list[tuple[str, str]]:
    recipient = completion.recipient
    shown: list[tuple[str, str]] = []
    for name in completion_field_names(recipient):
        spec = COMPLETION_FIELDS_BY_NAME[name]
        label = spec.label
        if name == "learner_id":
            value = personal.learner_id
            label = recipient.identifier_label or label
        elif name == "npi":
            value = personal.npi
        elif name == "license_state":
            value = personal.license_state
        elif name == "birth_date":
            value = personal.birth_date
        else:
            raw = getattr(completion, name)
            if spec.is_empty(raw):
                value = "—"
            elif isinstance(raw, bool):
                value = "Yes" if raw else "No"
            elif isinstance(raw, list):
                value = "; ".join(raw)
            elif name == "completion_date":
                value = raw.strftime("%m/%d/%Y")
            elif hasattr(raw, "normalize"):
                value = format_decimal(raw)
            else:
                value = str(spec.choices.get(raw, raw)) if spec.choices else str(raw)
        shown.append((label, value))
    return shown


@provider_view()
def completion_detail(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    completion = access.get(LearnerCompletion, pk=pk)
    personal = PersonalValues.of(completion, masked=access.is_staff)
    closed = _record_closures(access, completion)
    writable = not closed["read_only"]
    return render(
        request,
        "learners/detail.html",
        {
            "access": access,
            "completion": completion,
            "fields": _record_fields(completion, personal),
            "history": _history(access, completion),
            "deliveries": _deliveries(access, completion),
            # Staff see personal data masked here: the text then quotes none.
            "what_to_do": what_to_do(completion, personal=not access.is_staff),
            "can_correct": writable and completion.status not in WITHDRAWING,
            "can_resubmit": writable and completion.status in RESENDABLE,
            "can_withdraw": writable and completion.status not in WITHDRAWING,
            **closed,
        },
    )


def _record_closures(access: ProviderAccess, completion: LearnerCompletion) -> dict[str, Any]:
    return closed_year_note(access, {completion.activity.reporting_year}, completion.recipient.code)


def _closed_year_redirect(
    request: HttpRequest, access: ProviderAccess, completion: LearnerCompletion
) -> HttpResponse:
    """A closed year's record offers no change: back to its page, which says why."""
    messages.error(
        request,
        f"The {completion.activity.reporting_year} annual report is attested and closed: "
        "this completion can no longer change.",
    )
    return redirect(provider_url("learners:detail", access, pk=completion.pk))


def _registrations(access: ProviderAccess) -> QuerySet[ActivityRegistration]:
    return (
        access.records(ActivityRegistration)
        .select_related("activity", "recipient")
        .order_by("activity__provider_activity_id", "recipient__sort_order")
    )


@provider_view(edit=True)
def completion_new(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """Report one learner: choose the activity's registration, then fill in the learner."""
    chosen = str(request.POST.get("registration") or request.GET.get("registration") or "")
    registration = (
        _registrations(access).filter(pk=int(chosen)).first() if chosen.isdigit() else None
    )
    if registration is None:
        closed = ClosedYears(access)
        return render(
            request,
            "learners/new_choose.html",
            {
                "access": access,
                "registrations": [
                    registration
                    for registration in _registrations(access)
                    if closed.closure(registration.activity_id, registration.recipient.code) is None
                ],
            },
        )
    recipient = registration.recipient
    summary: list[Any] = []
    status = 200
    if request.method == "POST":
        form = CompletionForm(
            request.POST, recipient=recipient, credit_types=registration.credit_types
        )
        form.is_valid()
        raw = {
            **form.raw(),
            "provider_activity_id": registration.activity.provider_activity_id,
            "recipient": recipient.code,
        }
        try:
            completion = services.submit_completion(access, raw, channel=Channel.WEB)
        except services.CompletionRefused as refused:
            summary = attach_errors(form, refused.errors)
            status = 400
        else:
            assert completion is not None
            messages.success(
                request,
                f"{completion.learner_name}'s completion is saved: "
                f"{completion.get_status_display()}.",
            )
            return redirect(provider_url("learners:detail", access, pk=completion.pk))
    else:
        form = CompletionForm(recipient=recipient, credit_types=registration.credit_types)
    return render(
        request,
        "learners/completion_form.html",
        {
            "access": access,
            "registration": registration,
            "activity": registration.activity,
            **closed_year_note(access, {registration.activity.reporting_year}, recipient.code),
            "recipient": recipient,
            "form": form,
            "summary": summary,
        },
        status=status,
    )


def _correction_changes(form: CompletionForm, *, masked: bool) -> dict[str, Any]:
    """The submitted fields; a masked personal field left blank keeps its value."""
    changes = form.raw()
    if masked:
        changes = {
            name: value
            for name, value in changes.items()
            if not (name in PERSONAL_FORM_FIELDS and value in (None, ""))
        }
    return changes


def _apply_correction(
    access: ProviderAccess, completion: LearnerCompletion, changes: dict[str, Any]
) -> list[LearnerCompletion]:
    """Correct the record (a held one's identity fix reaches the learner's other held ones)."""
    if completion.status == CompletionStatus.HELD:
        return services.fix_learner_identity(access, completion, changes, channel=Channel.WEB)
    return [services.correct_completion(access, completion, changes, channel=Channel.WEB)]


def _report_correction(
    request: HttpRequest, completion: LearnerCompletion, fixed: list[LearnerCompletion]
) -> None:
    record = fixed[0]
    if record.version == completion.version:
        messages.info(request, "Nothing was changed.")
        return
    others = len(fixed) - 1
    messages.success(
        request,
        f"Corrected: version {record.version} is {record.get_status_display()}."
        + (
            f" The same learner's {others} other held "
            f"record{'s' if others != 1 else ''} "
            f"{'were' if others != 1 else 'was'} corrected and queued too."
            if others
            else ""
        ),
    )


def _correction_form(
    completion: LearnerCompletion, recipient: Recipient, offered: list[str], *, masked: bool
) -> CompletionForm:
    """The form filled with the record; masked personal fields show a placeholder instead."""
    initial = completion_initial(services.completion_raw(completion))
    if masked:
        for name in PERSONAL_FORM_FIELDS:
            initial.pop(name, None)
    form = CompletionForm(initial=initial, recipient=recipient, credit_types=offered)
    if masked:
        personal = PersonalValues.of(completion, masked=True)
        for name, shown in (
            ("learner_id", personal.learner_id),
            ("npi", personal.npi),
            ("birth_date", personal.birth_date),
            ("license_state", personal.license_state),
        ):
            if name in form.fields:
                form.fields[name].widget.attrs["placeholder"] = f"{shown} (unchanged)"
    return form


@provider_view(edit=True)
def completion_correct(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    """Change a record (its learner's identity too): a new version, sent again.

    A held record's identity fix is applied to the learner's other held records at the
    same recipient as well (``services.fix_learner_identity``).
    """
    completion = access.get(LearnerCompletion, pk=pk)
    detail_url = provider_url("learners:detail", access, pk=completion.pk)
    if completion.status in WITHDRAWING:
        messages.error(
            request, "This record is withdrawn or being withdrawn; it cannot be changed."
        )
        return redirect(detail_url)
    closed = _record_closures(access, completion)
    if closed["read_only"] and request.method != "POST":  # one sent anyway meets the writer
        return _closed_year_redirect(request, access, completion)
    recipient = completion.recipient
    registration = activity_registration(access, completion.activity, recipient.code)
    offered = list((registration.credit_types if registration else None) or [])
    offered += [name for name in completion.moc_credit_types if name not in offered]
    # Staff see personal fields masked: left blank, they keep their values.
    masked = access.is_staff
    summary: list[Any] = []
    status = 200
    if request.method == "POST":
        form = CompletionForm(request.POST, recipient=recipient, credit_types=offered)
        form.is_valid()
        try:
            fixed = _apply_correction(access, completion, _correction_changes(form, masked=masked))
        except services.CompletionRefused as refused:
            summary = attach_errors(form, refused.errors)
            status = 400
        else:
            _report_correction(request, completion, fixed)
            return redirect(detail_url)
    else:
        form = _correction_form(completion, recipient, offered, masked=masked)
    return render(
        request,
        "learners/completion_form.html",
        {
            "access": access,
            "completion": completion,
            "activity": completion.activity,
            "recipient": recipient,
            "form": form,
            "summary": summary,
            "masked": masked,
            **closed,
        },
        status=status,
    )


@provider_view(edit=True)
@require_POST
def completion_resubmit(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    """Send a rejected or held record again as it is (the learner's data was fixed elsewhere)."""
    completion = access.get(LearnerCompletion, pk=pk)
    try:
        record = services.resubmit_completion(access, completion, channel=Channel.WEB)
    except services.CompletionRefused as refused:
        for error in refused.errors:
            messages.error(request, f"Not resubmitted: {error.message}")
    else:
        messages.success(request, f"Resubmitted: version {record.version} is queued.")
    return redirect(provider_url("learners:detail", access, pk=completion.pk))


@provider_view(edit=True)
def completion_withdraw(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    completion = access.get(LearnerCompletion, pk=pk)
    refused: list[Any] = []
    if request.method == "POST":
        try:
            record = services.withdraw_completion(access, completion, channel=Channel.WEB)
        except services.CompletionRefused as refusal:
            refused = refusal.errors
        else:
            messages.success(request, f"{record.get_status_display()}.")
            return redirect(provider_url("learners:detail", access, pk=completion.pk))
    elif _record_closures(access, completion)["read_only"]:
        return _closed_year_redirect(request, access, completion)
    return render(
        request,
        "learners/withdraw.html",
        {
            "access": access,
            "completion": completion,
            "sent": completion.ever_sent,
            "refused": refused,
        },
        status=400 if refused else 200,
    )
