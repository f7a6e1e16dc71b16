"""The learner pages: an activity's registrations with recipients, learner completions
(list, one record, add, correct, resubmit, withdraw), learner files, pre-validation
against a recipient's registry, webhooks; and the staff view of a provider's completions.

The pages are thin. What the user typed goes as a raw mapping to the one validator and
the one writer (:mod:`pars.learners.validation`, :mod:`pars.learners.services`), whose
errors are shown on the fields; every read goes through the provider's access.

Personal fields (learner identifier, NPI, licence state, birth month and day) are shown
to the provider's own users. Accreditor staff see them masked ("••••56"), on the staff
page and in the provider's workspace alike, until they give a reason on the staff page,
which is recorded in the audit trail and shows them for that one response.
"""

from __future__ import annotations

import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.decorators import provider_view, staff_view
from pars.activities.forms import format_decimal
from pars.activities.models import Activity
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.intake.kinds import MAX_STORED_ERRORS
from pars.intake.models import Channel, Upload
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.rules import FieldError
from pars.intake.store import UploadRefused, store_upload
from pars.learners import services
from pars.learners.dictionary import COMPLETION_FIELDS, COMPLETION_FIELDS_BY_NAME, HEADER_ALIASES
from pars.learners.forms import (
    PERSONAL_FORM_FIELDS,
    CompletionForm,
    LearnerUploadForm,
    PrevalidationForm,
    RegistrationForm,
    RevealForm,
    WebhookForm,
    attach_errors,
    completion_field_names,
    completion_initial,
    registration_initial,
)
from pars.learners.models import (
    ActivityRegistration,
    CompletionEvent,
    CompletionEventKind,
    CompletionStatus,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
    WebhookEndpoint,
)
from pars.learners.parsers import rows_from_cells
from pars.learners.validation import load_recipients, validate_registration
from pars.lib import security_log

PER_PAGE = 50
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Statuses after which a record can no longer be corrected or withdrawn from here.
WITHDRAWING = (
    CompletionStatus.WITHDRAWAL_QUEUED,
    CompletionStatus.WITHDRAWAL_SENT,
    CompletionStatus.WITHDRAWN,
)
RESENDABLE = (CompletionStatus.REJECTED, CompletionStatus.HELD)


def _provider_url(name: str, access: ProviderAccess, **kwargs: Any) -> str:
    return reverse(name, kwargs={"provider_id": access.provider.provider_id, **kwargs})


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


# ---------------------------------------------------------------------------
# Registrations of an activity


def _registration(
    access: ProviderAccess, activity: Activity, code: str
) -> ActivityRegistration | None:
    return (
        access.records(ActivityRegistration)
        .filter(activity=activity, recipient__code=code)
        .select_related("recipient")
        .first()
    )


def _recipient(code: str) -> Recipient:
    """An active recipient (recipients are not provider data: one table for everyone)."""
    recipient = Recipient.objects.filter(code=code, active=True).first()
    if recipient is None:
        raise Http404("No such recipient.")
    return recipient


@provider_view(edit=True)
def registration_new(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    """Choose the recipient to register the activity with (then its form)."""
    activity = access.get(Activity, pk=pk)
    registered = set(
        access.records(ActivityRegistration)
        .filter(activity=activity)
        .values_list("recipient__code", flat=True)
    )
    recipients = Recipient.objects.filter(active=True).exclude(code__in=registered)
    code = request.GET.get("recipient", "")
    if code and recipients.filter(code=code).exists():
        return redirect(_provider_url("learners:registration", access, pk=activity.pk, code=code))
    return render(
        request,
        "learners/registration_choose.html",
        {"access": access, "activity": activity, "recipients": recipients},
    )


@provider_view()
def registration_edit(
    request: HttpRequest, access: ProviderAccess, pk: int, code: str
) -> HttpResponse:
    """Register the activity with one recipient, or change its registration (attested)."""
    activity = access.get(Activity, pk=pk)
    registration = _registration(access, activity, code)
    recipient = registration.recipient if registration else _recipient(code)
    summary: list[Any] = []
    status = 200
    if request.method == "POST":
        access.require_edit()
        form = RegistrationForm(request.POST, recipient=recipient)
        form.is_valid()  # the fields accept anything: this only collects the values
        clean, errors = validate_registration(
            form.raw(),
            recipients=load_recipients(include_inactive=registration is not None),
            ama_credits=activity.ama_credits,
        )
        if clean is not None and not errors:
            try:
                services.save_registration(access, activity, clean, channel=Channel.WEB)
            except services.RegistrationRefused as refused:
                errors = refused.errors
            else:
                messages.success(
                    request,
                    f"Activity {activity.provider_activity_id} is registered with "
                    f"{recipient.code}.",
                )
                return redirect(
                    _provider_url("activities:detail", access, pk=activity.pk) + "#registrations"
                )
        summary = attach_errors(form, errors)
        status = 400
    else:
        initial = registration_initial(registration) if registration else None
        form = RegistrationForm(initial=initial, recipient=recipient)
    return render(
        request,
        "learners/registration_form.html",
        {
            "access": access,
            "activity": activity,
            "recipient": recipient,
            "registration": registration,
            "form": form,
            "summary": summary,
        },
        status=status,
    )


@provider_view(edit=True)
def registration_delete(
    request: HttpRequest, access: ProviderAccess, pk: int, code: str
) -> HttpResponse:
    activity = access.get(Activity, pk=pk)
    registration = _registration(access, activity, code)
    if registration is None:
        raise Http404("The activity is not registered with this recipient.")
    refused: list[FieldError] = []
    if request.method == "POST":
        try:
            services.delete_registration(access, registration, channel=Channel.WEB)
        except services.RegistrationRefused as refusal:
            refused = refusal.errors
        else:
            messages.success(
                request,
                f"Activity {activity.provider_activity_id} is no longer registered with {code}.",
            )
            return redirect(
                _provider_url("activities:detail", access, pk=activity.pk) + "#registrations"
            )
    return render(
        request,
        "learners/registration_delete.html",
        {
            "access": access,
            "activity": activity,
            "registration": registration,
            "refused": refused,
        },
        status=400 if refused else 200,
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


def _filtered(
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
    query = str(params.get("q", "")).strip()
    if query:
        for term in query.split()[:5]:
            completions = completions.filter(
                Q(first_name__icontains=term) | Q(last_name__icontains=term)
            )
        filters["q"] = query
    return completions, filters


def _page(request: HttpRequest, rows: QuerySet[Any]) -> Page:
    return Paginator(rows, PER_PAGE).get_page(request.GET.get("page") or request.POST.get("page"))


@provider_view()
def completion_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    completions, filters = _filtered(access, request.GET)
    completions = completions.select_related("activity", "recipient").order_by(
        "-status_changed_at", "-pk"
    )
    page = _page(request, completions)
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
        },
    )


# ---------------------------------------------------------------------------
# One completion


@dataclass(frozen=True)
class HistoryRow:
    at: Any
    what: str
    version: int
    detail: str
    who: str


def _field_label(name: str) -> str:
    if name in ("birth_month", "birth_day"):
        return COMPLETION_FIELDS_BY_NAME["birth_date"].label
    spec = COMPLETION_FIELDS_BY_NAME.get(name)
    return spec.label if spec else name.replace("_", " ").capitalize()


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
        rows.append(
            HistoryRow(
                completion.created_at,
                CompletionEventKind.CREATED.label,
                1,
                f"in upload #{completion.upload_id}" if completion.upload_id else "",
                "PARS",
            )
        )
    events = (
        access.records(CompletionEvent)
        .filter(completion=completion)
        .select_related("user")
        .order_by("at", "id")
    )
    for event in events:
        changed = list(dict.fromkeys(_field_label(name) for name in event.changed_fields or []))
        detail = "; ".join(
            part
            for part in (
                f"changed: {', '.join(changed)}" if changed else "",
                event.detail,
            )
            if part
        )
        who = event.user.email if event.user else channels.get(event.channel, event.channel)
        if event.user and event.channel:
            who = f"{who} ({channels.get(event.channel, event.channel)})"
        rows.append(
            HistoryRow(event.at, event.get_kind_display(), event.version, detail, who or "PARS")
        )
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
            OUTCOMES.get(item.outcome, item.outcome.capitalize())
            if item.outcome
            else "Awaiting the answer"
            if item.batch.sent_at
            else "Being sent",
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
            if raw in (None, "", []):
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
    return render(
        request,
        "learners/detail.html",
        {
            "access": access,
            "completion": completion,
            "fields": _record_fields(completion, personal),
            "history": _history(access, completion),
            "deliveries": _deliveries(access, completion),
            "can_correct": completion.status not in WITHDRAWING,
            "can_resubmit": completion.status in RESENDABLE,
            "can_withdraw": completion.status not in WITHDRAWING,
        },
    )


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
        return render(
            request,
            "learners/new_choose.html",
            {"access": access, "registrations": _registrations(access)},
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
            return redirect(_provider_url("learners:detail", access, pk=completion.pk))
    else:
        form = CompletionForm(recipient=recipient, credit_types=registration.credit_types)
    return render(
        request,
        "learners/completion_form.html",
        {
            "access": access,
            "registration": registration,
            "activity": registration.activity,
            "recipient": recipient,
            "form": form,
            "summary": summary,
        },
        status=status,
    )


@provider_view(edit=True)
def completion_correct(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    """Change a record (its learner's identity too): a new version, sent again.

    A held record's identity fix is applied to the learner's other held records at the
    same recipient as well (``services.fix_learner_identity``).
    """
    completion = access.get(LearnerCompletion, pk=pk)
    detail_url = _provider_url("learners:detail", access, pk=completion.pk)
    if completion.status in WITHDRAWING:
        messages.error(
            request, "This record is withdrawn or being withdrawn; it cannot be changed."
        )
        return redirect(detail_url)
    recipient = completion.recipient
    registration = _registration(access, completion.activity, recipient.code)
    offered = list((registration.credit_types if registration else None) or [])
    offered += [name for name in completion.moc_credit_types if name not in offered]
    # Staff see personal fields masked: left blank, they keep their values.
    masked = access.is_staff
    summary: list[Any] = []
    status = 200
    if request.method == "POST":
        form = CompletionForm(request.POST, recipient=recipient, credit_types=offered)
        form.is_valid()
        changes = form.raw()
        if masked:
            changes = {
                name: value
                for name, value in changes.items()
                if not (name in PERSONAL_FORM_FIELDS and value in (None, ""))
            }
        try:
            if completion.status == CompletionStatus.HELD:
                fixed = services.fix_learner_identity(
                    access, completion, changes, channel=Channel.WEB
                )
            else:
                fixed = [
                    services.correct_completion(access, completion, changes, channel=Channel.WEB)
                ]
        except services.CompletionRefused as refused:
            summary = attach_errors(form, refused.errors)
            status = 400
        else:
            record = fixed[0]
            if record.version == completion.version:
                messages.info(request, "Nothing was changed.")
            else:
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
            return redirect(detail_url)
    else:
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
    return redirect(_provider_url("learners:detail", access, pk=completion.pk))


@provider_view(edit=True)
def completion_withdraw(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    completion = access.get(LearnerCompletion, pk=pk)
    if request.method == "POST":
        record = services.withdraw_completion(access, completion, channel=Channel.WEB)
        messages.success(request, f"{record.get_status_display()}.")
        return redirect(_provider_url("learners:detail", access, pk=completion.pk))
    return render(
        request,
        "learners/withdraw.html",
        {"access": access, "completion": completion, "sent": completion.ever_sent},
    )


# ---------------------------------------------------------------------------
# Learner files


def _learner_columns() -> list[tuple[str, str, str]]:
    """(header, other accepted names, help) of every column a learner file may have."""
    rows = [("Action", "Record Action", "Add (the default) or Delete: withdraws the record.")]
    for spec in COMPLETION_FIELDS:
        aliases = ", ".join(HEADER_ALIASES.get(spec.name, ()))
        rows.append((spec.label, aliases, spec.help))
    return rows


@provider_view()
def learner_uploads(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    form = LearnerUploadForm()
    if request.method == "POST":
        access.require_edit()
        form = LearnerUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                upload = store_upload(
                    access,
                    form.cleaned_data["file"],
                    created_by=access.user,
                    kind_hint=form.cleaned_data["file_format"] or None,
                    kind="learners",
                )
            except UploadRefused as refused:
                form.add_error("file", refused.message)
            else:
                return redirect(_provider_url("uploads:detail", access, pk=upload.pk))
    uploads = (
        access.records(Upload)
        .filter(kind="learners")
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(uploads, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "learners/uploads.html",
        {
            "access": access,
            "form": form,
            "page": page,
            "columns": _learner_columns(),
            "max_errors": MAX_STORED_ERRORS,
        },
        status=400 if form.errors else 200,
    )


@provider_view()
@require_GET
def learner_template(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """The Excel learner template, to fill in and upload."""
    from pars.learners.xlsx_template import write_learner_template

    stream = io.BytesIO()
    write_learner_template(stream)
    response = HttpResponse(stream.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = 'attachment; filename="pars-learner-template.xlsx"'
    return response


# ---------------------------------------------------------------------------
# Pre-validation


# Pre-validation reads its list inside the request, so the list must be small: a file
# of at most 1 MB and, for Excel, a workbook that expands to at most 8 MB with at most
# 50,000 shared strings (1,000 learners take far less). Everything else is refused
# before it is inflated; big files belong in a learner upload (a background job).
PREVALIDATION_MAX_BYTES = 1024 * 1024
PREVALIDATION_MAX_XLSX_BYTES = 8 * 1024 * 1024
PREVALIDATION_MAX_SHARED_STRINGS = 50_000
_NEEDED_COLUMNS = frozenset({"first_name", "last_name"})


@dataclass(frozen=True)
class TypedLearner:
    """One learner of the list as typed (row number in the list, the name typed)."""

    row: int
    name: str
    data: dict[str, Any]
    problem: str = ""


@dataclass(frozen=True)
class MatchRow:
    row: int
    name: str
    status: str
    label: str
    message: str
    fields: str


MATCH_LABELS = {
    "match": "Match",
    "mismatch": "Mismatch",
    "not_found": "Not found",
    "invalid": "Invalid",
}


def _table(rows: Iterator[ParsedRow]) -> Iterator[TypedLearner]:
    """Learners of a header-led table; the header names columns as learner files do."""
    for parsed in rows:
        data = {name: value for name, value in parsed.data.items() if str(value).strip()}
        typed = " ".join(
            str(data.get(key, "")).strip() for key in ("first_name", "last_name")
        ).strip()
        yield TypedLearner(parsed.row, typed, data, parsed.problem or "")


def _xlsx_learners(uploaded: UploadedFile, limit: int) -> list[TypedLearner]:
    """The learners of an Excel list, read by the learner file parser (the same checks,
    with the smaller limits of a list read in a request)."""
    from pars.intake.readers.xlsx import XlsxLimits
    from pars.learners.parsers.xlsx import read_learner_xlsx

    limits = XlsxLimits.from_settings().at_most(
        PREVALIDATION_MAX_XLSX_BYTES, PREVALIDATION_MAX_SHARED_STRINGS
    )
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as local:
        for chunk in uploaded.chunks():
            local.write(chunk)
        local.flush()
        rows = read_learner_xlsx(local.name, required=_NEEDED_COLUMNS, limits=limits)
        try:
            return list(itertools.islice(_table(rows), limit + 1))
        finally:
            rows.close()  # stopped early: the workbook's files are closed now


def _max_learners() -> int:
    from pars.learners.prevalidation import MAX_LEARNERS

    return MAX_LEARNERS


def _typed_learners(form: PrevalidationForm) -> list[TypedLearner]:
    """The learners of the pasted text or the file; FileRejected when they cannot be read."""
    from pars.intake.readers.delimited import read_records

    uploaded = form.cleaned_data.get("file")
    text = form.cleaned_data.get("learners") or ""
    if uploaded is not None:
        if uploaded.size > PREVALIDATION_MAX_BYTES:
            raise FileRejected(
                "The file is larger than 1 MB: pre-validate at most 1,000 learners at a time "
                "(a bigger file belongs in a learner upload)."
            )
        head = uploaded.read(4)
        uploaded.seek(0)
        if head.startswith(b"PK\x03\x04"):
            return _checked(_xlsx_learners(uploaded, _max_learners()))
        records = read_records(io.BytesIO(uploaded.read()))
    elif text.strip():
        records = read_records(io.BytesIO(text.encode("utf-8")))
    else:
        raise FileRejected("Paste the learners (with their header row) or choose a file.")
    rows = rows_from_cells(records, what="list", required=_NEEDED_COLUMNS)
    return _checked(list(itertools.islice(_table(rows), _max_learners() + 1)))


def _checked(learners: list[TypedLearner]) -> list[TypedLearner]:
    limit = _max_learners()
    if not learners:
        raise FileRejected("The list has a header row but no learners.")
    if len(learners) > limit:
        raise FileRejected(
            f"The list has more than {limit:,} learners; pre-validate at most {limit:,} at a time."
        )
    return learners


def _match_rows(access: ProviderAccess, code: str, learners: list[TypedLearner]) -> list[MatchRow]:
    from pars.learners.prevalidation import prevalidate

    readable = [learner for learner in learners if not learner.problem]
    results = prevalidate(access, code, [learner.data for learner in readable]) if readable else []
    by_learner = {id(learner): result for learner, result in zip(readable, results, strict=False)}
    rows = []
    for learner in learners:
        result = by_learner.get(id(learner))
        if result is None:
            status, message, fields = "invalid", learner.problem or "Not checked.", ""
        else:
            status, message = result.status, result.message
            fields = ", ".join(_field_label(name) for name in result.fields)
        rows.append(
            MatchRow(
                learner.row,
                learner.name or "—",
                status,
                MATCH_LABELS.get(status, status),
                message,
                fields,
            )
        )
    return rows


@provider_view()
def prevalidation(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """Check learners against a recipient's registry before reporting their completions.

    Nothing is stored, and the results name each learner only by the row number and
    the name typed in this same request; no identifier or birth date is shown back.
    """
    recipients = Recipient.objects.filter(active=True)
    form = PrevalidationForm(recipients=recipients)
    rows: list[MatchRow] = []
    status = 200
    if request.method == "POST":
        access.require_edit()
        form = PrevalidationForm(request.POST, request.FILES, recipients=recipients)
        if form.is_valid():
            try:
                learners = _typed_learners(form)
            except FileRejected as rejected:
                form.add_error(
                    "file" if form.cleaned_data.get("file") else "learners", rejected.message
                )
            else:
                try:
                    rows = _match_rows(access, form.cleaned_data["recipient"], learners)
                except ValueError as refused:  # unknown recipient, or it cannot match now
                    form.add_error("recipient", str(refused))
        if form.errors:
            status = 400
    counts = {key: sum(1 for row in rows if row.status == key) for key in MATCH_LABELS}
    response = render(
        request,
        "learners/prevalidate.html",
        {
            "access": access,
            "form": form,
            "rows": rows,
            "counts": [(MATCH_LABELS[key], key, count) for key, count in counts.items()],
            "max_learners": _max_learners(),
        },
        status=status,
    )
    add_never_cache_headers(response)  # what was typed stays out of caches
    return response


# ---------------------------------------------------------------------------
# Webhooks (provider administrators)


@provider_view(manage_users=True)
def webhook_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    from pars.learners import webhooks

    form = WebhookForm(request.POST or None)
    created: tuple[WebhookEndpoint, str] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            created = webhooks.create_endpoint(
                access, form.cleaned_data["url"], form.cleaned_data["description"]
            )
        except (ValidationError, ValueError) as refused:
            message = "; ".join(getattr(refused, "messages", None) or [str(refused)])
            form.add_error("url", message or "This address cannot receive webhooks.")
        else:
            form = WebhookForm()
    endpoints = access.records(WebhookEndpoint).order_by("-active", "created_at")
    response = render(
        request,
        "learners/webhooks.html",
        {
            "access": access,
            "form": form,
            "endpoints": endpoints,
            "created": created[0] if created else None,
            "secret": created[1] if created else None,
        },
        status=400 if form.errors else 200,
    )
    if created:
        add_never_cache_headers(response)  # the secret is shown this once
    return response


@provider_view(manage_users=True)
@require_POST
def webhook_deactivate(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    from pars.learners import webhooks

    endpoint = access.get(WebhookEndpoint, pk=pk)
    webhooks.deactivate_endpoint(access, endpoint)
    messages.success(request, f"{endpoint.url} is deactivated: PARS no longer notifies it.")
    return redirect(_provider_url("learners:webhooks", access))


@provider_view(manage_users=True)
@require_POST
def webhook_delete(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    from pars.learners import webhooks

    endpoint = access.get(WebhookEndpoint, pk=pk)
    url = endpoint.url
    webhooks.delete_endpoint(access, endpoint)
    messages.success(request, f"{url} is deleted.")
    return redirect(_provider_url("learners:webhooks", access))


# ---------------------------------------------------------------------------
# Staff: a provider's completions, personal data masked until a reason is given


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
    completions, filters = _filtered(access, params)
    completions = completions.select_related("activity", "recipient").order_by(
        "-status_changed_at", "-pk"
    )
    page = _page(request, completions)
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
