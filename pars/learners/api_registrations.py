"""Recipients, activity registrations and the learner rule catalog in the web service.

A completion reaches a recipient (a certifying board's MOC program, the FDA REMS, a state
board) only for an activity registered with it. ``GET /recipients`` publishes each
recipient's rules as data (the same rows the validator reads); registrations are written by
``pars.learners.services.save_registration`` after ``validate_registration``, like the web form.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any
from urllib.parse import quote

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Field, P, PathEx, Router, Schema
from pydantic import create_model

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.api import activity_query, activity_url
from pars.activities.api_schemas import REQUIRED_TEXT_PATTERN, ActivityIdPath, RulesOut
from pars.activities.models import Activity
from pars.activities.upload_api import ApiErrors
from pars.intake import dry_run as dry_runs
from pars.intake.fields import Kind
from pars.intake.idempotency import IdempotencyKeyHeader, fingerprint, run_idempotent
from pars.intake.models import Channel
from pars.learners.api_common import (
    RULE_BODY,
    RULE_MISMATCH,
    answer,
    contract_errors,
    error_body,
    input_model,
    json_response,
    number,
    parse_json,
    refusal,
    request_body,
    timestamp,
    unknown_fields,
)
from pars.learners.dictionary import REGISTRATION_FIELDS
from pars.learners.models import ActivityRegistration, Recipient
from pars.learners.services import RegistrationRefused, delete_registration, save_registration
from pars.learners.validation import RULES, load_recipients, rules_from_recipient
from pars.learners.validation import validate_registration as validate
from pars.lib import json_contract
from pars.lib.versions import (
    IF_MATCH_NOTE,
    IfMatchHeader,
    etag,
    etag_headers,
    precondition_failed,
    with_etag,
)

router = Router(tags=["recipients and registrations"])
rules_router = Router(tags=["rules"])


# ---------------------------------------------------------------------------
# Recipients


class RecipientIdentifierOut(Schema):
    kind: str = Field(description="board_id, license or local")
    label: str
    pattern: str = Field(description="A regular expression the whole identifier must match")
    hint: str
    required: bool
    accepts_npi: bool = Field(description="An NPI may stand in for the identifier")
    matched: bool = Field(
        description="The recipient matches each learner against its registry (a learner it "
        "does not know is held); false: it only receives reports (REMS: records are reported)"
    )


class RecipientOut(Schema):
    code: str = Field(description="What a completion's `recipient` names")
    name: str
    kind: str = Field(description="moc_board, rems or state_board")
    kind_label: str
    state: str = Field(description="State boards: the state whose licenses they hold")
    identifier: RecipientIdentifierOut
    registration_fields: list[str] = Field(
        description="The registration fields this recipient asks for (dictionary names)"
    )
    required_registration_fields: list[str]
    credit_types: list[str] = Field(description="MOC credit types the board accepts")
    practice_areas: list[str]
    feedback_types: list[str]
    attestation_text: str = Field(description="What `attest: true` agrees to")
    required_completion_fields: list[str] = Field(
        description="Completion fields this recipient requires besides the learner's name, "
        "birth month and day, identifier and completion date"
    )
    variable_credit: bool = Field(
        description="Learners may earn different points; if false every learner earns the "
        "registered points"
    )
    points_step: float
    window_years: int = Field(
        description="Completions are accepted for this many calendar years (2: this and last)"
    )
    earliest_completion_date: datetime.date = Field(
        description="The earliest completion date the recipient accepts today"
    )


def _recipient_json(recipient: Recipient, today: datetime.date) -> dict[str, Any]:
    rules = rules_from_recipient(recipient)
    return {
        "code": recipient.code,
        "name": recipient.name,
        "kind": recipient.kind,
        "kind_label": recipient.get_kind_display(),
        "state": recipient.state,
        "identifier": {
            "kind": recipient.identifier_kind,
            "label": recipient.identifier_label,
            "pattern": recipient.identifier_pattern,
            "hint": recipient.identifier_hint,
            "required": recipient.identifier_required,
            "accepts_npi": recipient.accepts_npi,
            "matched": recipient.matches_learners,
        },
        "registration_fields": list(rules.registration_fields),
        "required_registration_fields": list(rules.required_registration_fields),
        "credit_types": list(rules.credit_types),
        "practice_areas": list(rules.practice_areas),
        "feedback_types": list(rules.feedback_types),
        "attestation_text": recipient.attestation_text,
        "required_completion_fields": sorted(rules.completion_fields),
        "variable_credit": rules.variable_credit,
        "points_step": number(rules.points_step),
        "window_years": rules.window_years,
        "earliest_completion_date": rules.earliest_completion(today),
    }


@router.get(
    "/recipients",
    response=list[RecipientOut],
    url_name="recipients",
    summary="Recipients of learner completions, with their rules",
    description="Every active recipient (certifying boards' MOC programs, the FDA Opioid "
    "Analgesic REMS, state medical boards) with the rules PARS applies to it, as data: how "
    "the learner is identified, which registration and completion fields it requires, its "
    "MOC credit types, whether credit may vary per learner, and its window of completion "
    "dates. The same for every key.",
)
def recipients(request: HttpRequest) -> Any:
    api_access(request)
    today = timezone.localdate()
    return [
        _recipient_json(recipient, today) for recipient in Recipient.objects.filter(active=True)
    ]


# ---------------------------------------------------------------------------
# Registrations

_ATTEST = (
    Any,
    Field(
        ...,
        title="Attest",
        description="`true`: you attest to the recipient's requirements (its "
        "`attestation_text` in /api/v1/recipients). Required on every PUT.",
        json_schema_extra={"type": "boolean", "enum": [True]},
    ),
)

RegistrationIn = input_model(
    "RegistrationIn",
    "An activity's registration with one recipient: the registration fields of the learner "
    "data dictionary. A recipient asks for some of them (its `registration_fields`, required: "
    "`required_registration_fields`); the others are ignored. Checked by the same validator "
    "as the web form.",
    REGISTRATION_FIELDS,
    attest=_ATTEST,
)

_OUT_TYPES: dict[Kind, Any] = {
    Kind.TEXT: str,
    Kind.CHOICE: str,
    Kind.DECIMAL: float | None,
    Kind.INTEGER: int | None,
    Kind.DATE: datetime.date | None,
    Kind.TEXT_LIST: list[str],
}

RegistrationOut = create_model(  # type: ignore[call-overload]
    "RegistrationOut",
    __base__=Schema,
    __doc__="An activity's registration with one recipient.",
    provider_activity_id=(str, ...),
    recipient=(str, Field(description="The recipient's code")),
    recipient_name=(str, ...),
    **{
        spec.name: (_OUT_TYPES[spec.kind], Field(title=spec.label, description=spec.help))
        for spec in REGISTRATION_FIELDS
    },
    attested_at=(datetime.datetime | None, ...),
    last_channel=(str, Field(description="How the registration was last saved")),
    created_at=(datetime.datetime, ...),
    updated_at=(datetime.datetime, ...),
    url=(str, Field(description="This registration in the web service")),
    completions=(str, Field(description="Its learner completions in the web service")),
)

# Fields of the answer that are not registration fields: ignored in a PUT body, so that a
# registration read by GET can be sent back.
READ_ONLY_FIELDS = frozenset(RegistrationOut.model_fields) - {
    spec.name for spec in REGISTRATION_FIELDS
}
INPUT_FIELDS = frozenset({spec.name for spec in REGISTRATION_FIELDS} | {"attest"})
REGISTRATION_SCHEMA = RegistrationIn.model_json_schema()


# A recipient's code in a path (a NUL, say, answers 422, never a 500).
RecipientPath = PathEx[
    str,
    P(
        max_length=Recipient._meta.get_field("code").max_length,
        pattern=REQUIRED_TEXT_PATTERN,
        description="The recipient's code (see /api/v1/recipients)",
    ),
]


def registration_url(provider_activity_id: str, code: str) -> str:
    # Percent-encoded as the activity's own address (an ID may hold `/`, `%`, `#`, `?`).
    return f"{activity_url(provider_activity_id)}/registrations/{quote(code, safe='')}"


def registration_json(registration: ActivityRegistration) -> dict[str, Any]:
    activity_id = registration.activity.provider_activity_id
    code = registration.recipient.code
    data: dict[str, Any] = {
        "provider_activity_id": activity_id,
        "recipient": code,
        "recipient_name": registration.recipient.name,
    }
    for spec in REGISTRATION_FIELDS:
        value = getattr(registration, spec.name)
        if spec.kind is Kind.DECIMAL:
            value = number(value)
        elif spec.kind is Kind.DATE:
            value = value.isoformat() if value else None
        elif spec.kind is Kind.TEXT_LIST:
            value = list(value or [])
        data[spec.name] = value
    completions = reverse("api-v1:learner_completions")
    data.update(
        attested_at=timestamp(registration.attested_at),
        last_channel=registration.last_channel,
        created_at=timestamp(registration.created_at),
        updated_at=timestamp(registration.updated_at),
        url=registration_url(activity_id, code),
        completions=f"{completions}?{activity_query(activity=activity_id, recipient=code)}",
    )
    return data


@router.get(
    "/activities/{any_text:provider_activity_id}/registrations",
    response={200: list[RegistrationOut]},  # type: ignore[valid-type]
    url_name="activity_registrations",
    summary="An activity's registrations with recipients",
)
def registrations(request: HttpRequest, provider_activity_id: ActivityIdPath) -> Any:
    access = api_access(request)
    activity = access.get(Activity, provider_activity_id=provider_activity_id)
    rows = (
        access.records(ActivityRegistration)
        .filter(activity=activity)
        .select_related("activity", "recipient")
    )
    return json_response(200, [registration_json(row) for row in rows])


def _held_version(access: ProviderAccess, activity: Activity, code: str) -> str | None:
    """The registration's ETag (None: there is none), its row held until the write commits."""
    held = list(
        access.records(ActivityRegistration)
        .select_for_update()
        .filter(activity=activity, recipient__code=code.strip().upper())
        .select_related("activity", "recipient")
    )
    return etag(registration_json(held[0])) if held else None


@router.get(
    "/activities/{any_text:provider_activity_id}/registrations/{recipient}",
    response={200: RegistrationOut},
    url_name="activity_registration_detail",
    summary="An activity's registration with one recipient",
    description="Answers **404** when the activity is not registered with it." + IF_MATCH_NOTE,
    openapi_extra=etag_headers(200),
)
def registration_detail(
    request: HttpRequest, provider_activity_id: ActivityIdPath, recipient: RecipientPath
) -> HttpResponse:
    access = api_access(request)
    activity = access.get(Activity, provider_activity_id=provider_activity_id)
    registration = access.get(
        ActivityRegistration, activity=activity, recipient__code=recipient.strip().upper()
    )
    data = registration_json(registration)
    return with_etag(json_response(200, data), etag(data))


def _put(
    access: ProviderAccess, activity: Activity, code: str, body: bytes
) -> tuple[int, dict[str, Any]]:
    data, problem = parse_json(body)
    if problem:
        return problem
    if not isinstance(data, dict):
        return refusal(
            "body", RULE_BODY, "The request body must be a JSON object of registration fields."
        )
    unknown = unknown_fields(data, INPUT_FIELDS | READ_ONLY_FIELDS)
    if unknown:
        return 400, error_body(unknown)
    violations = json_contract.violations(REGISTRATION_SCHEMA, data)
    typed = json_contract.type_violations(violations)
    if typed:
        return 422, error_body(contract_errors(typed))
    body_code = data.get("recipient")
    if body_code not in (None, "") and str(body_code).strip().upper() != code.upper():
        return refusal(
            "recipient",
            RULE_MISMATCH,
            "The recipient in the body is not the one in the address; leave it out of the "
            "body or make them equal.",
        )
    raw = {name: data[name] for name in INPUT_FIELDS if name in data}
    raw["recipient"] = code
    clean, errors = validate(raw, recipients=load_recipients(), ama_credits=activity.ama_credits)
    # Spellings the validator reads from the web form but JSON may not use.
    errors += contract_errors(
        json_contract.unreported(violations, [error.field for error in errors])
    )
    if clean is None or errors:
        return 400, error_body(errors)
    existed = (
        access.records(ActivityRegistration)
        .filter(activity=activity, recipient__code=clean.recipient)
        .exists()
    )
    registration = save_registration(access, activity, clean, channel=Channel.API)
    return (200 if existed else 201), registration_json(registration)


@router.put(
    "/activities/{any_text:provider_activity_id}/registrations/{recipient}",
    response={
        200: RegistrationOut,
        201: RegistrationOut,
        400: ApiErrors,
        412: ApiErrors,
        422: ApiErrors,
    },
    url_name="activity_registration",
    summary="Register an activity with a recipient (or change its registration)",
    description="The body holds the registration fields the recipient asks for (see its "
    "`registration_fields` in /api/v1/recipients) and `attest: true`. It is checked by the "
    "same validator as the web form: problems answer **400** with `errors` and their rule "
    "IDs (`registration.*`, see /api/v1/rules/learners). A new registration answers **201** "
    "with `Location`, a change **200**; both return the registration, which replaces the "
    "stored one as a whole. `Idempotency-Key` makes a retry safe." + IF_MATCH_NOTE,
    openapi_extra={**request_body(REGISTRATION_SCHEMA), **etag_headers(200, 201)},
)
def put_registration(
    request: HttpRequest,
    provider_activity_id: ActivityIdPath,
    recipient: RecipientPath,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    activity = access.get(Activity, provider_activity_id=provider_activity_id)
    body = request.body
    # With If-Match, the registration is held from the check until the write commits.
    with transaction.atomic() if if_match is not None else contextlib.nullcontext():
        if if_match is not None:
            stale = precondition_failed(
                if_match, _held_version(access, activity, recipient), "registration"
            )
            if stale is not None:
                # Refused on its own merits (malformed, invalid): that refusal, not 412.
                status, refused = dry_runs.rehearse(lambda: _put(access, activity, recipient, body))
                return json_response(status, refused) if status >= 400 else stale
        outcome = run_idempotent(
            access.provider,
            idempotency_key,
            lambda: fingerprint(request.method or "", request.path, body),
            lambda: _put(access, activity, recipient, body),
        )
    location = outcome.body.get("url") if outcome.status_code == 201 else None
    current = etag(outcome.body) if outcome.status_code in (200, 201) else None
    return with_etag(answer(outcome, location), current)


@router.delete(
    "/activities/{any_text:provider_activity_id}/registrations/{recipient}",
    response={204: None, 409: ApiErrors, 412: ApiErrors},
    url_name="activity_registration_delete",
    summary="Remove an activity's registration with a recipient",
    description="Answers **204**; **404** when the activity is not registered with it; "
    "**409** with rule `registration.activity.has_completions` while completions reported "
    "for the registration are not withdrawn; **412** (rule `api.precondition_failed`) when "
    "`If-Match` does not name its current `ETag`.",
)
def delete_registration_endpoint(
    request: HttpRequest,
    provider_activity_id: ActivityIdPath,
    recipient: RecipientPath,
    if_match: IfMatchHeader = None,
) -> HttpResponse:
    access = api_access(request)
    activity = access.get(Activity, provider_activity_id=provider_activity_id)
    registration = access.get(
        ActivityRegistration, activity=activity, recipient__code=recipient.strip().upper()
    )
    with transaction.atomic():
        if if_match is not None:
            stale = precondition_failed(
                if_match, _held_version(access, activity, recipient), "registration"
            )
            if stale is not None:
                return stale
        try:
            delete_registration(access, registration, channel=Channel.API)
        except RegistrationRefused as refused:
            return json_response(409, error_body(refused.errors))
    return HttpResponse(status=204)


# ---------------------------------------------------------------------------
# The rule catalog


@rules_router.get(
    "/rules/learners",
    auth=None,
    response=RulesOut,
    url_name="learner_rules",
    summary="The learner rule catalog (no API key needed)",
    description="Every rule the learner validator and writer apply to completions "
    "(`learner.*`) and registrations (`registration.*`), with its field and message. Errors "
    "of the JSON channel itself have `api.*` IDs (see the learner API guide).",
)
def learner_rules(request: HttpRequest) -> Any:
    return {"rules": [rule.as_dict() for rule in RULES.values()]}
