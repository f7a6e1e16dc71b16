"""Learner completions in the web service: report, list, read, correct, resubmit, withdraw.

Every record goes through the one validator (``validate_completion``) and the one writer
(``apply_completions`` and the single-record services), exactly like a learner file or the
web form, so a bad record gets the same rule IDs from every channel. Reporting is
**explicitly partial**: valid records are written, invalid ones come back with their errors,
and the answer is 200 with a result per record.

Personal data: the provider's own key may read its learners' identifiers and birth month
and day (it sent them), in a record's detail and, with ``include=personal``, in lists;
never in an error message, and never in a URL (the status query is a POST for that reason).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Sequence
from typing import Annotated, Any

from django.db import transaction
from django.db.models import DateTimeField, Q, QuerySet
from django.db.models.functions import Greatest
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Field, File, FormEx, P, QueryEx, Router, Schema, UploadedFile
from pydantic import WithJsonSchema, create_model

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.upload_api import (
    FORMAT,
    ApiErrors,
    UploadAccepted,
    accept_upload,
    format_fields,
)
from pars.intake.coerce import as_date
from pars.intake.fields import Kind
from pars.intake.idempotency import IdempotencyKeyHeader, fingerprint, run_idempotent
from pars.intake.models import Channel
from pars.intake.rules import FieldError
from pars.learners.api_common import (
    ACTION_FIELD,
    RULE_BODY,
    RULE_NOT_CHANGEABLE,
    RULE_QUERY,
    RULE_TOO_MANY,
    RecordError,
    answer,
    contract_errors,
    error_body,
    input_model,
    json_response,
    number,
    parse_json,
    refusal,
    request_body,
    strict,
    timestamp,
    unknown_fields,
)
from pars.learners.dictionary import COMPLETION_FIELDS
from pars.learners.models import (
    PERSONAL_FIELDS,
    CompletionEvent,
    CompletionStatus,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
)
from pars.learners.services import (
    CompletionRefused,
    apply_completions,
    correct_completion,
    resubmit_completion,
    withdraw_completion,
)
from pars.learners.uploads import KIND as LEARNER_UPLOADS
from pars.learners.validation import (
    RULES,
    CleanCompletion,
    load_recipients,
    month_day,
    validate_completion,
)
from pars.lib import json_contract
from pars.lib.json_contract import RULE_TYPE as RULE_FIELD_TYPE

router = Router(tags=["learner completions"])

MAX_RECORDS = 1_000
DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000

RULE_CURSOR = "api.cursor.invalid"
# An ISO 8601 date-time (the offset may be left out: the server's time zone), years 1000
# to 9998 (the time zones must not take it out of Python's range). Only this spelling: a
# bare number or date would otherwise be read as one.
DATE_TIME_PATTERN = (
    "^(1[0-9]{3}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
    "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]"
    "(:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
)

# The fields that place a record (activity and recipient): a correction keeps them.
PLACEMENT_FIELDS = ("provider_activity_id", "accme_activity_id", "recipient")
INPUT_FIELDS = frozenset({spec.name for spec in COMPLETION_FIELDS} | {"action"})
CHANGEABLE_FIELDS = frozenset(
    spec.name for spec in COMPLETION_FIELDS if spec.name not in PLACEMENT_FIELDS
)
# Personal fields as the API names them (birth month and day travel as one `birth_date`).
PERSONAL = tuple(
    dict.fromkeys(
        "birth_date" if name in ("birth_month", "birth_day") else name for name in PERSONAL_FIELDS
    )
)
_PERSONAL_NOTE = "Personal: in a list only with `include=personal`."


# ---------------------------------------------------------------------------
# Request schemas (documentation: the raw JSON goes to the validator)

CompletionIn = input_model(
    "LearnerCompletionIn",
    "One learner's completion of one activity, reported to one recipient: the completion "
    "fields of the learner data dictionary. Which are required depends on the recipient "
    "(see /api/v1/recipients); every record is checked by the same validator as the "
    "learner files and the web form.",
    COMPLETION_FIELDS,
    action=ACTION_FIELD,
)
CompletionChanges = input_model(
    "LearnerCompletionChanges",
    "The fields to change: any completion field but the activity and the recipient (to move "
    "a completion, withdraw it and report it anew). Fields left out keep their values.",
    [spec for spec in COMPLETION_FIELDS if spec.name in CHANGEABLE_FIELDS],
)
_RECORD_SCHEMA = CompletionIn.model_json_schema()
_CHANGES_SCHEMA = CompletionChanges.model_json_schema()
_RECORDS = {"type": "array", "items": _RECORD_SCHEMA, "minItems": 1, "maxItems": MAX_RECORDS}
BATCH_SCHEMA = {
    "title": "LearnerCompletionBatch",
    "description": f"A JSON array of up to {MAX_RECORDS:,} completion records, or an object "
    "whose `records` holds that array.",
    "oneOf": [
        _RECORDS,
        {
            "type": "object",
            "properties": {"records": _RECORDS},
            "required": ["records"],
            "additionalProperties": False,
        },
    ],
}
STATUS_QUERY_FIELDS = (
    "provider_activity_id",
    "accme_activity_id",
    "recipient",
    "birth_date",
    "completion_date",
    "learner_id",
    "npi",
)
StatusQueryIn = input_model(
    "LearnerStatusQuery",
    "Find a completion by its activity, the learner's birth month and day, the completion "
    "date and the learner's identifier (or NPI); `recipient` narrows it to one recipient.",
    [spec for spec in COMPLETION_FIELDS if spec.name in STATUS_QUERY_FIELDS],
)


# ---------------------------------------------------------------------------
# Answers

_OUT_TYPES: dict[Kind, Any] = {
    Kind.TEXT: str,
    Kind.CHOICE: str,
    Kind.DATE: datetime.date,
    Kind.DECIMAL: float | None,
    Kind.TEXT_LIST: list[str],
    Kind.BOOLEAN: bool | None,
}


def _out_field(spec: Any) -> tuple[Any, Any]:
    if spec.name in PERSONAL:
        return (
            str | None,
            Field(None, title=spec.label, description=f"{spec.help} {_PERSONAL_NOTE}"),
        )
    return (_OUT_TYPES[spec.kind], Field(title=spec.label, description=spec.help))


_STATUSES = ", ".join(CompletionStatus.values)
# One status or several separated by commas (spaces and case do not matter).
_ONE_STATUS = "\\s*(" + "|".join(CompletionStatus.values) + ")\\s*"
STATUS_LIST_PATTERN = f"^({_ONE_STATUS}(,{_ONE_STATUS})*)?$"


def _documented(pattern: str, description: str) -> WithJsonSchema:
    """A filter's spelling for the OpenAPI description; the endpoint checks it itself
    (400, rule api.query.invalid, like its other filters)."""
    return WithJsonSchema({"type": "string", "pattern": pattern, "description": description})


CompletionOut = create_model(  # type: ignore[call-overload]
    "LearnerCompletionOut",
    __base__=Schema,
    __doc__="A completion as PARS holds it, with its delivery status.",
    id=(int, ...),
    url=(str, Field(description="This record in the web service")),
    **{spec.name: _out_field(spec) for spec in COMPLETION_FIELDS},
    status=(str, Field(description=_STATUSES)),
    status_label=(str, ...),
    status_reason=(str, Field(description="Why the recipient rejected or held the record")),
    status_code=(str, Field(description="The recipient's code for that reason")),
    status_changed_at=(datetime.datetime, ...),
    version=(int, Field(description="Goes up with each correction, resubmission or withdrawal")),
    last_channel=(str, Field(description="How the record was last changed")),
    upload=(int | None, Field(description="The upload that added it, if any")),
    created_at=(datetime.datetime, ...),
    updated_at=(datetime.datetime, ...),
)


class CompletionEventOut(Schema):
    at: datetime.datetime
    kind: str
    label: str
    version: int
    channel: str
    changed_fields: list[str] = Field(description="Names of the fields changed, never values")
    detail: str


class CompletionDeliveryOut(Schema):
    version: int
    action: str = Field(description="submit or withdraw")
    outcome: str = Field(description="The recipient's answer (empty while awaited)")
    reason: str
    reason_code: str
    batch_status: str
    sent_at: datetime.datetime | None
    finished_at: datetime.datetime | None


class LearnerCompletionDetailOut(CompletionOut):  # type: ignore[misc,valid-type]
    events: list[CompletionEventOut] = Field(description="The record's history, oldest first")
    deliveries: list[CompletionDeliveryOut] = Field(
        description="Each version sent to the recipient"
    )


class LearnerCompletionPage(Schema):
    results: list[CompletionOut]  # type: ignore[valid-type]
    next: str | None = Field(description="The next page, or null on the last")
    next_cursor: str | None = Field(
        description="Where this page ends: send it as `cursor` for the next page now, or "
        "later for the records changed since"
    )


class LearnerRecordResult(Schema):
    index: int = Field(description="The record's position in the list sent (from 0)")
    status: str = Field(description="accepted (written), unchanged or rejected")
    outcome: str = Field(
        description="added, corrected, resubmitted, withdrawn, unchanged or rejected"
    )
    id: int | None = Field(description="The completion's ID, when there is one")
    url: str | None
    version: int | None
    completion_status: str | None = Field(description="The completion's delivery status")
    errors: list[RecordError]


class LearnerBatchCounts(Schema):
    received: int
    accepted: int
    unchanged: int
    rejected: int
    added: int
    corrected: int
    withdrawn: int


class LearnerBatchOut(Schema):
    detail: str
    counts: LearnerBatchCounts
    results: list[LearnerRecordResult]


def completion_url(completion_id: int) -> str:
    return reverse("api-v1:learner_completion", kwargs={"completion_id": completion_id})


def _value(spec: Any, completion: LearnerCompletion) -> Any:
    name = spec.name
    if name == "provider_activity_id":
        return completion.activity.provider_activity_id
    if name == "accme_activity_id":
        return completion.activity.accme_activity_id
    if name == "recipient":
        return completion.recipient.code
    if name == "birth_date":
        return f"{completion.birth_month:02d}-{completion.birth_day:02d}"
    value = getattr(completion, name)
    if spec.kind is Kind.DECIMAL:
        return number(value)
    if spec.kind is Kind.DATE:
        return value.isoformat()
    if spec.kind is Kind.TEXT_LIST:
        return list(value or [])
    return value


def completion_json(completion: LearnerCompletion, *, personal: bool) -> dict[str, Any]:
    """The record as the API answers it (personal fields only when asked for)."""
    data: dict[str, Any] = {"id": completion.pk, "url": completion_url(completion.pk)}
    for spec in COMPLETION_FIELDS:
        if personal or spec.name not in PERSONAL:
            data[spec.name] = _value(spec, completion)
    data.update(
        status=completion.status,
        status_label=completion.get_status_display(),
        status_reason=completion.status_reason,
        status_code=completion.status_code,
        status_changed_at=timestamp(completion.status_changed_at),
        version=completion.version,
        last_channel=completion.last_channel,
        upload=completion.upload_id,
        created_at=timestamp(completion.created_at),
        updated_at=timestamp(completion.updated_at),
    )
    return data


def detail_json(access: ProviderAccess, completion: LearnerCompletion) -> dict[str, Any]:
    data = completion_json(completion, personal=True)
    data["events"] = [
        {
            "at": timestamp(event.at),
            "kind": event.kind,
            "label": event.get_kind_display(),
            "version": event.version,
            "channel": event.channel,
            "changed_fields": list(event.changed_fields or []),
            "detail": event.detail,
        }
        for event in access.records(CompletionEvent)
        .filter(completion=completion)
        .order_by("at", "id")
    ]
    data["deliveries"] = [
        {
            "version": item.version,
            "action": item.action,
            "outcome": item.outcome,
            "reason": item.reason,
            "reason_code": item.reason_code,
            "batch_status": item.batch.status,
            "sent_at": timestamp(item.batch.sent_at),
            "finished_at": timestamp(item.batch.finished_at),
        }
        for item in access.records(DeliveryItem)
        .filter(completion=completion)
        .select_related("batch")
        .order_by("id")
    ]
    return data


def _records(access: ProviderAccess) -> QuerySet[LearnerCompletion]:
    return access.records(LearnerCompletion).select_related("activity", "recipient")


# ---------------------------------------------------------------------------
# Reporting a list of completions


def _identity_keys(activity_ref: str, record: CleanCompletion) -> tuple[str, str, str, str]:
    return (activity_ref, record.recipient, record.learner_key, record.completion_date.isoformat())


def _stored(
    access: ProviderAccess, records: Sequence[tuple[int, CleanCompletion]]
) -> dict[tuple[str, str, str, str], tuple[int, int, str]]:
    """(id, version, status) of the stored records with the identity of a record sent."""
    found: dict[tuple[str, str, str, str], tuple[int, int, str]] = {}
    if not records:
        return found
    rows = (
        access.records(LearnerCompletion)
        .filter(
            recipient__code__in={record.recipient for _, record in records},
            learner_key__in={record.learner_key for _, record in records},
            completion_date__in={record.completion_date for _, record in records},
        )
        .values_list(
            "pk",
            "version",
            "status",
            "activity__provider_activity_id",
            "activity__accme_activity_id",
            "recipient__code",
            "learner_key",
            "completion_date",
        )
    )
    for pk, version, status, pid, accme, code, key, date in rows:
        value = (pk, version, status)
        found[(pid, code, key, date.isoformat())] = value
        if accme:
            found[(f"#{accme}", code, key, date.isoformat())] = value
    return found


def _write_batch(access: ProviderAccess, body: bytes) -> tuple[int, dict[str, Any]]:
    data, problem = parse_json(body)
    if problem:
        return problem
    items = data.get("records") if isinstance(data, dict) and set(data) == {"records"} else data
    if not isinstance(items, list) or not items:
        return refusal(
            "body",
            RULE_BODY,
            "The request body must be a JSON array of completion records (or an object whose "
            "`records` holds one), with at least one record.",
        )
    if len(items) > MAX_RECORDS:
        return refusal(
            "body",
            RULE_TOO_MANY,
            f"At most {MAX_RECORDS:,} records per request; this one has {len(items):,}. Send "
            "them in several requests, or as a learner file (POST "
            "/api/v1/learner-completions/uploads).",
        )
    recipients = load_recipients()
    today = timezone.localdate()
    errors: dict[int, list[FieldError]] = {}
    clean: list[tuple[int, CleanCompletion]] = []
    first_seen: dict[tuple[str, str, str, datetime.date], int] = {}
    # Records that break the request schema make the whole request malformed (422, nothing
    # written); the validator's and the writer's refusals stay per record in the 200.
    malformed: list[FieldError] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            malformed.append(
                FieldError(index, "record", RULE_FIELD_TYPE, "A record must be a JSON object.")
            )
            continue
        violations = json_contract.violations(_RECORD_SCHEMA, item)
        typed = json_contract.type_violations(violations)
        if typed:
            malformed += contract_errors(typed, index)
            continue
        unknown = unknown_fields(item, INPUT_FIELDS | _READ_ONLY_FIELDS, row=index)
        if unknown:
            errors[index] = unknown
            continue
        raw = {name: item[name] for name in INPUT_FIELDS if name in item}
        record, found = validate_completion(raw, row=index, recipients=recipients, today=today)
        if violations:
            # All that is wrong with the record: the validator's errors (the rules of every
            # channel) and the schema's for spellings files may use but JSON may not.
            unreported = json_contract.unreported(violations, [error.field for error in found])
            malformed += [*found, *contract_errors(unreported, index)]
            continue
        if record is None:
            errors[index] = found
            continue
        identity = record.identity()
        if identity in first_seen:
            rule = "learner.record.duplicate_in_file"
            errors[index] = [
                FieldError(
                    index,
                    "row",
                    rule,
                    f"The same completion is record {first_seen[identity]} of this request.",
                )
            ]
            continue
        first_seen[identity] = index
        clean.append((index, record))

    if malformed:
        rows = len({error.row for error in malformed})
        return 422, error_body(
            malformed,
            f"{rows} of {len(items)} records do not match the request schema; nothing was "
            "written. See errors (`row` is the record's index).",
        )
    with transaction.atomic():
        before = _stored(access, clean)
        result = apply_completions(
            access, clean, channel=Channel.API, recipients=recipients, today=today
        )
        after = _stored(access, clean)
    for error in result.errors:
        assert error.row is not None
        errors.setdefault(error.row, []).append(error)

    results: list[dict[str, Any]] = []
    counts = dict.fromkeys(
        ("received", "accepted", "unchanged", "rejected", "added", "corrected", "withdrawn"), 0
    )
    counts["received"] = len(items)
    outcomes: dict[int, tuple[str, tuple[int, int, str] | None]] = {}
    for index, record in clean:
        if index in errors:
            continue
        key = _identity_keys(record.activity_ref, record)
        old, new = before.get(key), after.get(key)
        if new is None or (old is not None and old[1] == new[1]):
            outcome = "unchanged"
        elif record.action == "delete":
            outcome = "withdrawn"
        elif old is None:
            outcome = "added"
        else:
            outcome = "resubmitted" if old[2] == CompletionStatus.WITHDRAWN else "corrected"
        outcomes[index] = (outcome, new)
    for index in range(len(items)):
        if index in errors:
            counts["rejected"] += 1
            results.append(_result(index, "rejected", "rejected", None, errors[index]))
            continue
        outcome, stored = outcomes[index]
        status = "unchanged" if outcome == "unchanged" else "accepted"
        counts[status] += 1
        if outcome in ("added", "withdrawn"):
            counts[outcome] += 1
        elif outcome in ("corrected", "resubmitted"):
            counts["corrected"] += 1
        results.append(_result(index, status, outcome, stored, []))
    detail = (
        f"{counts['accepted']} of {counts['received']} records written, "
        f"{counts['unchanged']} unchanged, {counts['rejected']} rejected."
    )
    return 200, {"detail": detail, "counts": counts, "results": results}


def _result(
    index: int,
    status: str,
    outcome: str,
    stored: tuple[int, int, str] | None,
    errors: list[FieldError],
) -> dict[str, Any]:
    return {
        "index": index,
        "status": status,
        "outcome": outcome,
        "id": stored[0] if stored else None,
        "url": completion_url(stored[0]) if stored else None,
        "version": stored[1] if stored else None,
        "completion_status": stored[2] if stored else None,
        "errors": [error.as_dict() for error in errors],
    }


# Fields of the answer that are not completion fields: ignored in a body, so that a record
# read from the API can be sent back.
_READ_ONLY_FIELDS = frozenset(LearnerCompletionDetailOut.model_fields) - INPUT_FIELDS

_BATCH_DESCRIPTION = (
    f"Up to {MAX_RECORDS:,} records, each as a JSON object with the completion fields of the "
    "learner data dictionary (see the request schema) and an optional `action` (`add`, the "
    "default, or `delete`). **Explicitly partial**: every valid record is written and every "
    "invalid one is reported; the answer is **200** with one result per record, in order "
    "(`index` from 0), and counts. A record is `accepted` (added, corrected, resubmitted "
    "after a withdrawal, or withdrawn by a delete), `unchanged` (PARS already has it exactly "
    "so: sending a record again is safe and sends nothing twice) or `rejected`, with "
    "`errors` naming the `field` and `rule` (see /api/v1/rules/learners); the rules are "
    "those of every other channel. A record is the same record again when its activity, "
    "recipient, learner and completion date are the same. Only a body that is not such a "
    "list answers **400**. The request schema is the contract: a record whose values do not "
    "match it (credits as JSON numbers, credit types as an array, codes as listed, dates as "
    "yyyy-mm-dd) makes the request malformed: **422**, nothing written, with the errors of "
    "every such record (`row` is its index; rule `api.field.type` for a value of the wrong "
    "JSON type). Accepted records are queued for delivery; follow them with GET "
    "/api/v1/learner-completions. Send an `Idempotency-Key` header to make a retry safe."
)


@router.post(
    "/learner-completions",
    response={200: LearnerBatchOut, 400: ApiErrors, 422: ApiErrors},
    url_name="learner_completions_create",
    summary="Report learner completions (up to 1,000; explicitly partial)",
    description=_BATCH_DESCRIPTION,
    openapi_extra=request_body(BATCH_SCHEMA),
)
def report_completions(
    request: HttpRequest, idempotency_key: IdempotencyKeyHeader = None
) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    body = request.body
    outcome = run_idempotent(
        access.provider,
        idempotency_key,
        lambda: fingerprint(request.method or "", request.path, body),
        lambda: _write_batch(access, body),
    )
    return answer(outcome)


# ---------------------------------------------------------------------------
# Reading


def _encode_cursor(changed_at: datetime.datetime, pk: int) -> str:
    text = json.dumps([changed_at.isoformat(), pk])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime.datetime, int] | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = json.loads(text)
        changed_at = datetime.datetime.fromisoformat(stamp)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(pk, int) or timezone.is_naive(changed_at):
        return None
    return changed_at, pk


def _query_error(field: str, message: str, rule: str = RULE_QUERY) -> HttpResponse:
    return json_response(*refusal(field, rule, message))


@router.get(
    "/learner-completions",
    response={200: LearnerCompletionPage, 400: ApiErrors},
    url_name="learner_completions",
    summary="List learner completions and their status",
    description="The key's completions, oldest change first, in pages of `limit` (at most "
    f"{MAX_LIMIT:,}); `next` is the URL of the next page (null on the last). Filters: "
    "`activity` (Provider Activity ID), `recipient` (code), `status` (one or several, "
    f"separated by commas: {_STATUSES}) and `updated_since` (ISO 8601 date-time: records "
    "whose data or status changed at or after it). `next_cursor` marks where the page ends, "
    "also on the last page: keep it and ask again later with `cursor=` to get the records "
    "changed since (a record whose status changes moves to the end of the list). Learners' "
    "identifiers, NPI, licence state and birth month and day are left out unless "
    "`include=personal`.",
)
def list_completions(
    request: HttpRequest,
    activity: str | None = None,
    recipient: str | None = None,
    status: Annotated[str, _documented(STATUS_LIST_PATTERN, _STATUSES)] = "",
    updated_since: QueryEx[
        str | None, P(pattern=DATE_TIME_PATTERN, description="ISO 8601 date-time")
    ] = None,
    cursor: str | None = None,
    limit: QueryEx[int, P(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    include: Annotated[str, _documented("^(personal)?$", "personal")] = "",
) -> HttpResponse:
    access = api_access(request)
    if include not in (None, "", "personal"):
        return _query_error("include", "`include` takes one value: personal.")
    records = _records(access).annotate(
        changed_at=Greatest("updated_at", "status_changed_at", output_field=DateTimeField())
    )
    if activity:
        records = records.filter(activity__provider_activity_id=activity)
    if recipient:
        code = recipient.strip().upper()
        if not Recipient.objects.filter(code=code).exists():
            return _query_error(
                "recipient",
                "No recipient has this code (see /api/v1/recipients).",
                "learner.recipient.unknown",
            )
        records = records.filter(recipient__code=code)
    if status:
        wanted = [part.strip().lower() for part in status.split(",") if part.strip()]
        unknown = [part for part in wanted if part not in CompletionStatus.values]
        if unknown:
            return _query_error("status", f"A status is one of: {_STATUSES}.")
        records = records.filter(status__in=wanted)
    if updated_since is not None:
        try:
            since = datetime.datetime.fromisoformat(updated_since)
        except ValueError:  # the pattern holds, the date does not (February 30)
            return _query_error("updated_since", "Not a real date and time.")
        if timezone.is_naive(since):
            since = timezone.make_aware(since)
        records = records.filter(changed_at__gte=since)
    if cursor:
        position = _decode_cursor(cursor)
        if position is None:
            return _query_error("cursor", "This cursor is not one PARS gave.", RULE_CURSOR)
        changed_at, pk = position
        records = records.filter(Q(changed_at__gt=changed_at) | Q(changed_at=changed_at, pk__gt=pk))
    page = list(records.order_by("changed_at", "pk")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    # Where this page ends (the cursor sent, for an empty page): the next page now, or the
    # records changed since, later.
    next_cursor = _encode_cursor(page[-1].changed_at, page[-1].pk) if page else cursor
    next_url = None
    if more and next_cursor:
        query = request.GET.copy()
        query["cursor"] = next_cursor
        next_url = f"{request.path}?{query.urlencode()}"
    personal = include == "personal"
    return json_response(
        200,
        {
            "results": [completion_json(row, personal=personal) for row in page],
            "next": next_url,
            "next_cursor": next_cursor,
        },
    )


@router.get(
    "/learner-completions/{int:completion_id}",
    response=LearnerCompletionDetailOut,
    url_name="learner_completion",
    summary="One learner completion: its status, history and deliveries",
    description="The whole record, personal fields included, with its status (and the "
    "recipient's reason when rejected or held), its version, its history (`events`: field "
    "names, never values) and each delivery to the recipient with the recipient's answer.",
)
def completion_detail(request: HttpRequest, completion_id: int) -> HttpResponse:
    access = api_access(request)
    completion = _get(access, completion_id)
    return json_response(200, detail_json(access, completion))


def _get(access: ProviderAccess, completion_id: int) -> LearnerCompletion:
    """The key's completion, or 404 (also when it is another provider's)."""
    return access.get(LearnerCompletion, pk=completion_id)


# ---------------------------------------------------------------------------
# One record: correct, resubmit, withdraw


def _one_record_write(
    request: HttpRequest,
    completion_id: int,
    idempotency_key: str | None,
    action: Any,
) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    completion = _get(access, completion_id)
    body = request.body
    outcome = run_idempotent(
        access.provider,
        idempotency_key,
        lambda: fingerprint(request.method or "", request.path, body),
        lambda: action(access, completion, body),
    )
    return answer(outcome)


def _correct(
    access: ProviderAccess, completion: LearnerCompletion, body: bytes
) -> tuple[int, dict[str, Any]]:
    data, problem = parse_json(body)
    if problem:
        return problem
    if not isinstance(data, dict):
        return refusal(
            "body", RULE_BODY, "The request body must be a JSON object of the fields to change."
        )
    violations = json_contract.violations(_CHANGES_SCHEMA, data)
    typed = json_contract.type_violations(violations)
    if typed:
        return 422, error_body(contract_errors(typed))
    errors = unknown_fields(data, INPUT_FIELDS | _READ_ONLY_FIELDS)
    current = {
        spec.name: _value(spec, completion)
        for spec in COMPLETION_FIELDS
        if spec.name in PLACEMENT_FIELDS
    }
    current["action"] = "add"
    for name, value in current.items():
        sent = data.get(name)
        if sent in (None, "") or str(sent).strip().upper() == str(value or "").upper():
            continue
        errors.append(
            FieldError(
                None,
                name,
                RULE_NOT_CHANGEABLE,
                "A correction keeps the activity and the recipient; to move a completion, "
                "withdraw it and report it anew."
                if name != "action"
                else "To withdraw a completion, POST to its /withdraw (or DELETE it).",
            )
        )
    if errors:
        return 400, error_body(errors)
    changes = {name: data[name] for name in CHANGEABLE_FIELDS if name in data}
    with transaction.atomic():
        try:
            corrected = correct_completion(access, completion, changes, channel=Channel.API)
            errors = []
        except CompletionRefused as refused:
            errors = list(refused.errors)
        # Spellings the validator reads from files but JSON may not use: undo and refuse.
        unreported = json_contract.unreported(violations, [error.field for error in errors])
        errors += contract_errors(unreported)
        if errors:
            transaction.set_rollback(True)
            return 400, error_body(errors)
    return 200, detail_json(access, corrected)


def _resubmit(
    access: ProviderAccess, completion: LearnerCompletion, body: bytes
) -> tuple[int, dict[str, Any]]:
    try:
        sent = resubmit_completion(access, completion, channel=Channel.API)
    except CompletionRefused as refused:
        return 400, error_body(refused.errors)
    return 200, detail_json(access, sent)


def _withdraw(
    access: ProviderAccess, completion: LearnerCompletion, body: bytes
) -> tuple[int, dict[str, Any]]:
    withdrawn = withdraw_completion(access, completion, channel=Channel.API)
    return 200, detail_json(access, withdrawn)


_ONE_RESPONSES = {200: LearnerCompletionDetailOut, 400: ApiErrors, 422: ApiErrors}


@router.patch(
    "/learner-completions/{int:completion_id}",
    response=_ONE_RESPONSES,
    url_name="learner_completion_correct",
    summary="Correct a learner completion",
    description="Send the fields to change (any completion field but the activity and the "
    "recipient); the others keep their values, and the whole record is checked again by "
    "the one validator and writer (**400** with the rule IDs when it no longer passes). A "
    "change makes a new version, queued to be sent to the recipient again (which replaces "
    "the earlier one); sending what PARS already has changes nothing. A rejected or held "
    "record sent back unchanged is resubmitted. The fields of the answer that are not "
    "completion fields are ignored, so a record read by GET can be edited and sent back. "
    "`Idempotency-Key` makes a retry safe.",
    openapi_extra=request_body(_CHANGES_SCHEMA),
)
def correct(
    request: HttpRequest,
    completion_id: int,
    idempotency_key: IdempotencyKeyHeader = None,
) -> HttpResponse:
    return _one_record_write(request, completion_id, idempotency_key, _correct)


@router.post(
    "/learner-completions/{int:completion_id}/resubmit",
    response=_ONE_RESPONSES,
    url_name="learner_completion_resubmit",
    summary="Send a rejected or held completion again",
    description="For a record the recipient rejected or held, once the learner's data at the "
    "recipient is fixed: the record is checked again and queued as a new version. A record "
    "in any other status is answered unchanged. No body.",
)
def resubmit(
    request: HttpRequest,
    completion_id: int,
    idempotency_key: IdempotencyKeyHeader = None,
) -> HttpResponse:
    return _one_record_write(request, completion_id, idempotency_key, _resubmit)


_WITHDRAW_DESCRIPTION = (
    "Withdraws the completion from its recipient: a record never sent is withdrawn at once "
    "(`withdrawn`); one already sent is queued (`withdrawal_queued`, then `withdrawal_sent`, "
    "then `withdrawn` when the recipient confirms). The record and its history stay in PARS; "
    "reporting it again resubmits it. Withdrawing a withdrawn record changes nothing."
)


@router.post(
    "/learner-completions/{int:completion_id}/withdraw",
    response=_ONE_RESPONSES,
    url_name="learner_completion_withdraw",
    summary="Withdraw a learner completion",
    description=_WITHDRAW_DESCRIPTION + " No body.",
)
def withdraw(
    request: HttpRequest,
    completion_id: int,
    idempotency_key: IdempotencyKeyHeader = None,
) -> HttpResponse:
    return _one_record_write(request, completion_id, idempotency_key, _withdraw)


@router.delete(
    "/learner-completions/{int:completion_id}",
    response=_ONE_RESPONSES,
    url_name="learner_completion_delete",
    summary="Withdraw a learner completion (the same as POST …/withdraw)",
    description=_WITHDRAW_DESCRIPTION + " Answers 200 with the record and its new status.",
)
def delete_completion(request: HttpRequest, completion_id: int) -> HttpResponse:
    return _one_record_write(request, completion_id, None, _withdraw)


# ---------------------------------------------------------------------------
# The status query


STATUS_QUERY_SCHEMA = strict(
    StatusQueryIn.model_json_schema(),
    ("birth_date", "completion_date"),
    ("provider_activity_id", "accme_activity_id"),
    ("learner_id", "npi"),
)


def _status_query(access: ProviderAccess, body: bytes) -> tuple[int, dict[str, Any]]:
    data, problem = parse_json(body)
    if problem:
        return problem
    if not isinstance(data, dict):
        return refusal("body", RULE_BODY, "The request body must be a JSON object.")
    errors = unknown_fields(data, STATUS_QUERY_FIELDS)
    if errors:
        return 400, error_body(errors)
    violations = json_contract.violations(STATUS_QUERY_SCHEMA, data)
    typed = json_contract.type_violations(violations)
    if typed:
        return 422, error_body(contract_errors(typed))

    def text(name: str) -> str:
        value = data.get(name)
        return "" if value is None else str(value).strip()

    def rule(field: str, rule_id: str) -> None:
        errors.append(FieldError(None, field, rule_id, RULES[rule_id].message))

    pid, accme = text("provider_activity_id"), text("accme_activity_id")
    learner_id, npi = text("learner_id"), text("npi")
    if not pid and not accme:
        rule("provider_activity_id", "learner.activity.required")
    if not learner_id and not npi:
        rule("learner_id", "learner.learner_id.required")
    birth = month_day(data)
    if birth is False:
        rule("birth_date", "learner.birth_date.required")
    elif birth is None:
        rule("birth_date", "learner.birth_date.invalid")
    completion_date = None
    if not text("completion_date"):
        rule("completion_date", "learner.completion_date.required")
    else:
        completion_date = as_date(data.get("completion_date"))
        if completion_date is None:
            rule("completion_date", "learner.completion_date.invalid")
    # What the query reads but JSON may not send (a date written mm/dd/yyyy, a code too long).
    errors += contract_errors(
        json_contract.unreported(violations, [error.field for error in errors])
    )
    if errors or not isinstance(birth, tuple) or completion_date is None:
        return 400, error_body(errors)
    records = _records(access).filter(
        completion_date=completion_date, birth_month=birth[0], birth_day=birth[1]
    )
    if pid:
        records = records.filter(activity__provider_activity_id=pid)
    if accme:
        records = records.filter(activity__accme_activity_id=accme)
    if text("recipient"):
        records = records.filter(recipient__code=text("recipient").upper())
    same_learner = Q(learner_id__iexact=learner_id) if learner_id else Q(pk__in=[])
    if npi:
        same_learner |= Q(npi=npi)
    rows = records.filter(same_learner).order_by("recipient__sort_order", "pk")
    return 200, {"results": [completion_json(row, personal=False) for row in rows]}


class LearnerStatusResults(Schema):
    results: list[CompletionOut]  # type: ignore[valid-type]


@router.post(
    "/learner-completions/status",
    response={200: LearnerStatusResults, 400: ApiErrors},
    url_name="learner_completions_status",
    summary="Find completions by activity, birth date, completion date and identifier",
    description="The status query of the reference web service: the completions of one "
    "activity (`provider_activity_id` or `accme_activity_id`) on one `completion_date` for "
    "the learner with this `birth_date` (MM-DD, or a full date whose year is ignored) and "
    "`learner_id` (or `npi`), at every recipient or one (`recipient`). A POST, so that the "
    "identifier and birth date never appear in a URL (and so in no server log). Answers 200 "
    "with the matching records (an empty list when none matches); the personal fields are "
    "left out of the answer. Reads only.",
    openapi_extra=request_body(STATUS_QUERY_SCHEMA),
)
def status_query(request: HttpRequest) -> HttpResponse:
    access = api_access(request)
    return json_response(*_status_query(access, request.body))


# ---------------------------------------------------------------------------
# Learner files


@router.post(
    "/learner-completions/uploads",
    response={202: UploadAccepted, 400: ApiErrors, 413: ApiErrors, 422: ApiErrors},
    url_name="learner_completions_upload",
    summary="Upload a learner file",
    description="Multipart form with the file in `file`: tab-delimited text or Excel .xlsx "
    "with a header row (columns matched by name; see the learner file guide), or learner "
    "XML; the format is detected unless `format` says tsv, xlsx or xml. Answers **202** at "
    "once with the upload's URL in `url` and `Location` (`/api/v1/uploads/{id}`, the same "
    "status endpoint as activity files); the file is processed in the background. "
    "**Explicitly partial**, like POST /api/v1/learner-completions: every valid row is "
    "applied and every invalid row listed in the upload's errors with its rule ID; the same "
    "file again changes nothing. `Idempotency-Key` makes a retry safe.",
    openapi_extra=format_fields("format"),
)
def upload_learners(
    request: HttpRequest,
    response: HttpResponse,
    file: File[UploadedFile],
    file_format: FormEx[str, FORMAT] = "",
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    return accept_upload(
        request, response, file, file_format, idempotency_key, kind=LEARNER_UPLOADS
    )
