"""Activities in the web service: create-or-update by Provider Activity ID, read, list, delete.

The request schema published in OpenAPI is generated from the data dictionary and is
the JSON channel's contract (``pars.lib.json_contract``): a value of the wrong JSON type
answers 422 (rule ``api.field.type``); the body then goes to the one validator
(dictionary field names to values), and its problems come back as 400 with field
errors, each with its rule ID (see ``/api/v1/rules/activities``), with ``api.field.invalid``
for a spelling files may use but JSON may not (a label for a code, mm/dd/yyyy).
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any
from urllib.parse import quote, urlencode

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import register_converter, reverse
from ninja import Field, P, PathEx, QueryEx, Router, Schema
from ninja.responses import NinjaJSONEncoder
from pydantic import create_model

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities import services
from pars.activities.dictionary import (
    FIELDS,
    FIELDS_BY_NAME,
    FIRST_REPORTING_YEAR,
    FORMATS,
    LAST_REPORTING_YEAR,
    LEGACY_ACTIVITY_TYPES,
    MAX_WHOLE_NUMBER,
    MEASUREMENT_TYPES,
    REQUESTED_STATUSES,
    SUPPORTER_FIELDS,
)
from pars.activities.models import Activity, CommercialSupport
from pars.activities.status_needs import status_needs
from pars.activities.validation import HAS_LEARNER_RECORDS_RULE, rules_for_year, validate_activity
from pars.activities.xml_export import xml_file_response
from pars.intake.coerce import is_blank
from pars.intake.fields import FieldSpec, Kind, Status
from pars.intake.idempotency import IdempotencyKeyHeader, Outcome, fingerprint, run_idempotent
from pars.intake.models import Channel
from pars.intake.outcomes import ADDED
from pars.intake.rules import FieldError
from pars.lib import json_contract
from pars.lib.api_errors import MAX_OFFSET, ApiErrors, UploadErrorOut, parse_json
from pars.lib.json_contract import Violation

router = Router(tags=["activities"])


class ActivityIdConverter:
    """A Provider Activity ID in an address: any characters the dictionary allows, `/`
    included (sent raw or as %2F, it arrives decoded), but for an ending that names the
    activity's registrations (`/registrations`, `/registrations/<recipient>`: the routes
    of pars.learners.api_registrations)."""

    regex = r"(?![\s\S]*/registrations(?:/[^/]*)?\Z)[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class AnyTextConverter(ActivityIdConverter):
    """A Provider Activity ID followed by more of the address (a registration's)."""

    regex = r"[\s\S]+"


register_converter(ActivityIdConverter, "activity_id")
register_converter(AnyTextConverter, "any_text")
# The path of one activity; the OpenAPI document names it /activities/{provider_activity_id}.
ACTIVITY_PATH = "/{activity_id:provider_activity_id}"
rules_router = Router(tags=["rules"])

DEFAULT_LIMIT = 100
# What ninja's JSON renderer answers with.
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
MAX_LIMIT = 1000

# Errors of the JSON channel itself (not business rules, so not in validation.RULES).
RULE_BODY = "api.body.invalid"
RULE_UNKNOWN_FIELD = "api.field.unknown"
RULE_ID_MISMATCH = "api.provider_activity_id.mismatch"
RULE_LEGACY_MISMATCH = "api.legacy_activity_type.mismatch"
RULE_READ_ONLY = "api.field.read_only"

# What GET answers besides the dictionary fields and the status: bookkeeping, marked
# readOnly in OpenAPI. A request may send back the stored value (a record read from the
# API can be sent back as it is); any other value is refused (rule api.field.read_only).
STORED_READ_ONLY = ("last_channel", "created_at", "updated_at")
# What GET derives from the record (what it lacks for its next status): readOnly too,
# but ignored when sent (a record read back, then changed, would not match them).
DERIVED_FIELDS = ("next_status", "missing_for_next_status")
READ_ONLY_FIELDS = (*STORED_READ_ONLY, *DERIVED_FIELDS)
# The legacy activity-type code an Activity Format was given as (reference 2.1; the XML
# export writes it back): reported data, so taken as GET answers it, with its format.
LEGACY_FIELD = "legacy_activity_type"
INPUT_FIELDS = (*(spec.name for spec in FIELDS), "status", LEGACY_FIELD)


# ---------------------------------------------------------------------------
# The request body: generated from the dictionary; the JSON channel's contract

_REQUIRED_WORDS = {
    Status.DRAFT: "Required.",
    Status.ACTIVE: "Required for an active activity.",
    Status.CLOSED: "Required to close the activity.",
}


# Text: no control character but tab and line breaks (rule text.control_character).
TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]*$"
# Required text: the same, with at least one character that is not a space.
REQUIRED_TEXT_PATTERN = (
    "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]*[^\\s\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"
    "[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]*$"
)


# A web address as Django's URLValidator accepts it (http or https, a host name with a
# top-level domain), written as an RFC 3986 URI (ASCII; other characters percent-encoded).
_URI_CHAR = "(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})"
URL_PATTERN = (
    "^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?\\.){1,4}[A-Za-z]{2,30}"
    f"(?::[1-9][0-9]{{0,3}})?(?:/{_URI_CHAR}*)*(?:\\?(?:{_URI_CHAR}|[/?])*)?"
    f"(?:#(?:{_URI_CHAR}|[/?])*)?$"
)


def text_schema(max_length: int | None = None, *, required: bool = False) -> dict[str, Any]:
    """A text value as every validator reads it: no control characters, at most
    `max_length` characters, and (`required`) not blank."""
    schema: dict[str, Any] = {
        "type": "string",
        "pattern": REQUIRED_TEXT_PATTERN if required else TEXT_PATTERN,
    }
    if required:
        schema["minLength"] = 1
    if max_length:
        schema["maxLength"] = max_length
    return schema


def codes(spec: FieldSpec) -> list[str]:
    """The codes a choice field takes in JSON (the Activity Format also takes the legacy
    activity-type codes); files and the web form also read their labels."""
    if spec.name == "activity_format":
        return [*spec.choices, *LEGACY_ACTIVITY_TYPES]
    return list(spec.choices)


def code_schema(spec: FieldSpec, *, blank: bool = False) -> dict[str, Any]:
    """One code: an `enum`, each code's label in `x-enum-descriptions`; `blank`: also ""
    (no value, as GET answers a field left empty)."""
    labels = {**spec.choices}
    if spec.name == "activity_format":
        labels.update(
            {
                code: f"Legacy activity type: {FORMATS[target]}"
                for code, (target, _) in LEGACY_ACTIVITY_TYPES.items()
            }
        )
    enum, descriptions = codes(spec), [labels[code] for code in codes(spec)]
    if blank:
        enum, descriptions = [*enum, ""], [*descriptions, "No value"]
    return {"type": "string", "enum": enum, "x-enum-descriptions": descriptions}


# An empty string: no value.
BLANK: dict[str, Any] = {"type": "string", "maxLength": 0}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional value: `null` (or leaving the field out) gives none, as GET answers it."""
    return {"anyOf": [schema, {"type": "null"}]}


def value_schema(spec: FieldSpec) -> dict[str, Any]:
    """The JSON Schema of one field's value: the JSON channel's contract, checked by
    pars.lib.json_contract (JSON types, codes only, dates as yyyy-mm-dd, lists as arrays;
    files and the web form also read labels, mm/dd/yyyy and ';'-separated text)."""
    kind = spec.kind
    schema: dict[str, Any]
    if kind in (Kind.TEXT, Kind.URL):
        schema = text_schema(spec.max_length)
        if kind is Kind.URL:  # or "" (no value, as GET answers it)
            schema = {"anyOf": [{**schema, "format": "uri", "pattern": URL_PATTERN}, BLANK]}
    elif kind in (Kind.INTEGER, Kind.MONEY):
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_WHOLE_NUMBER}
        if spec.max_value is not None:
            schema["maximum"] = int(spec.max_value)
    elif kind is Kind.DECIMAL:
        schema = {"type": "number", "minimum": 0}
        if spec.positive:
            schema = {"type": "number", "exclusiveMinimum": 0}
        if spec.max_value is not None:
            schema["maximum"] = float(spec.max_value)
        schema["multipleOf"] = float(spec.step) if spec.step is not None else 0.01
    elif kind is Kind.BOOLEAN:
        schema = {"type": "boolean"}
    elif kind is Kind.DATE:
        schema = {"type": "string", "format": "date"}
    elif kind is Kind.YEAR:
        schema = {
            "type": "integer",
            "minimum": FIRST_REPORTING_YEAR,
            "maximum": LAST_REPORTING_YEAR,
        }
    elif kind is Kind.CHOICE:
        schema = code_schema(spec, blank=True)
    elif kind is Kind.CHOICE_LIST:
        schema = {"type": "array", "items": code_schema(spec)}
    elif kind is Kind.TEXT_LIST:
        schema = {"type": "array", "items": text_schema(spec.max_length, required=True)}
    elif kind is Kind.OUTCOMES:
        schema = {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "outcome": code_schema(spec),
                    "measurement_types": nullable(
                        {
                            "type": "array",
                            "items": {
                                "type": "string",
                                "enum": list(MEASUREMENT_TYPES),
                                "x-enum-descriptions": list(MEASUREMENT_TYPES.values()),
                            },
                        }
                    ),
                },
                "required": ["outcome"],
            },
        }
    elif kind is Kind.SUPPORTERS:
        schema = {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    sub.name: {"title": sub.label, **nullable(value_schema(sub))}
                    for sub in SUPPORTER_FIELDS
                },
            },
        }
    else:  # pragma: no cover - a new Kind must be described here
        raise ValueError(f"No JSON schema for {spec.name} ({kind})")
    return schema


# How the files' help words a list; JSON sends an array instead.
_SEPARATED = re.compile(r",? separated by (';'|semicolons)")


def json_help(spec: FieldSpec) -> str:
    """A field's help as it applies to JSON (the dictionary's help is written for files)."""
    if spec.kind is Kind.DATE:
        return "A date, yyyy-mm-dd."
    if spec.kind is Kind.OUTCOMES:
        return "Each outcome measured, with its measurement types (objective, subjective)."
    text = _SEPARATED.sub("", spec.help)
    if spec.kind in (Kind.CHOICE_LIST, Kind.TEXT_LIST, Kind.OUTCOMES):
        text = (text + " An array.").strip()
    return text


def _description(spec: FieldSpec) -> str:
    parts = [json_help(spec)] if json_help(spec) else []
    if spec.required_for is not None:
        parts.append(_REQUIRED_WORDS[spec.required_for])
    if spec.years != "all years":
        parts.append(f"Collected {spec.years}.")
    if spec.kind in (Kind.CHOICE, Kind.CHOICE_LIST, Kind.OUTCOMES) and spec.name != "country":
        parts.append("Codes: " + "; ".join(f"{c} = {t}" for c, t in spec.choices.items()) + ".")
    return " ".join(parts)


def input_field(spec: FieldSpec, description: str) -> Any:
    """A request field of the dictionary: optional, nullable, typed as its JSON schema."""
    return Field(
        default=None,
        title=spec.label,
        description=description,
        json_schema_extra=nullable(value_schema(spec)),
    )


ActivityIn = create_model(  # type: ignore[call-overload]
    "ActivityIn",
    __doc__="An activity: the fields of the PARS data dictionary. Only the Provider Activity "
    "ID (in the path for PUT) is needed for a draft; what else is required depends on the "
    "status and reporting year (see the rule catalogue). Values are checked by the same "
    "validator as the web form and the batch files.",
    **{spec.name: (Any, input_field(spec, _description(spec))) for spec in FIELDS},
    status=(
        Any,
        Field(
            default=None,
            title="Save as",
            description="The highest status to save the activity with: draft, active or "
            "closed. Leave out to save it with the highest status its data allows.",
            json_schema_extra=nullable(
                {
                    "type": "string",
                    "enum": list(REQUESTED_STATUSES),
                    "x-enum-descriptions": list(REQUESTED_STATUSES.values()),
                }
            ),
        ),
    ),
)

# What even a draft needs (the validator refuses a record without it).
DRAFT_REQUIRED = tuple(spec.name for spec in FIELDS if spec.required_for is Status.DRAFT)


_READ_ONLY_SCHEMAS: dict[str, dict[str, Any]] = {
    "last_channel": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
}


_MISSING_SCHEMA = {
    "type": "object",
    "properties": {
        "field": {"type": "string"},
        "label": {"type": "string"},
        "rule": {"type": "string"},
    },
}
_DERIVED_SCHEMAS: dict[str, dict[str, Any]] = {
    "next_status": {"anyOf": [{"type": "string", "enum": ["active", "closed"]}, {"type": "null"}]},
    "missing_for_next_status": {"type": "array", "items": _MISSING_SCHEMA},
}


def _activity_schema(required: tuple[str, ...]) -> dict[str, Any]:
    schema: dict[str, Any] = ActivityIn.model_json_schema()
    for name in DRAFT_REQUIRED:
        spec = FIELDS_BY_NAME[name]
        field = schema["properties"][name]
        required_value = code_schema(spec) if spec.kind is Kind.CHOICE else value_schema(spec)
        if spec.kind is Kind.TEXT:
            required_value.update(text_schema(spec.max_length, required=True))
        schema["properties"][name] = {
            "title": field["title"],
            "description": field["description"],
            **required_value,
        }
    schema["properties"][LEGACY_FIELD] = {
        "title": "Legacy activity type",
        "description": "The legacy activity-type code the Activity Format was given as (as "
        "GET answers it): the Activity Format is that code, or the format it stands for "
        "(rule `api.legacy_activity_type.mismatch`), or left out. Empty or null: none.",
        **nullable(
            {
                "type": "string",
                "enum": [*LEGACY_ACTIVITY_TYPES, ""],
                "x-enum-descriptions": [
                    *(FORMATS[target] for target, _ in LEGACY_ACTIVITY_TYPES.values()),
                    "None",
                ],
            }
        ),
    }
    for name, value in _READ_ONLY_SCHEMAS.items():
        schema["properties"][name] = {
            **value,
            "readOnly": True,
            "description": "Read-only: leave it out, or send the value stored "
            "(rule `api.field.read_only`).",
        }
    for name, value in _DERIVED_SCHEMAS.items():
        schema["properties"][name] = {
            **value,
            "readOnly": True,
            "description": "Read-only, derived from the record: ignored when sent.",
        }
    schema["additionalProperties"] = False  # other names: rule api.field.unknown
    if required:
        schema["required"] = list(required)
    return schema


ID_LENGTH = FIELDS_BY_NAME["provider_activity_id"].max_length
ID_DESCRIPTION = (
    "The Provider Activity ID (not blank, no control characters), percent-encoded: "
    "`/` as %2F, `%` as %25, a space as %20, `#` as %23, `?` as %3F"
)

# The ID in a path: what the dictionary allows (a NUL, say, answers 422, never a 500).
ActivityIdPath = PathEx[
    str, P(max_length=ID_LENGTH, pattern=REQUIRED_TEXT_PATTERN, description=ID_DESCRIPTION)
]

POST_SCHEMA = _activity_schema(DRAFT_REQUIRED)
# PUT: the Provider Activity ID is the one in the address.
PUT_SCHEMA = _activity_schema(
    tuple(name for name in DRAFT_REQUIRED if name != "provider_activity_id")
)
REQUEST_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": POST_SCHEMA}}}
}
PUT_REQUEST_BODY = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": PUT_SCHEMA}}}
}


# ---------------------------------------------------------------------------
# Answers


class OutcomeOut(Schema):
    outcome: str
    measurement_types: list[str]


class SupporterOut(Schema):
    source: str
    monetary_amount: int | None
    in_kind: bool
    in_kind_types: list[str]
    in_kind_description: str


_OUT_TYPES: dict[Kind, Any] = {
    Kind.TEXT: str,
    Kind.INTEGER: int | None,
    Kind.MONEY: int | None,
    Kind.DECIMAL: float | None,
    Kind.BOOLEAN: bool | None,
    Kind.DATE: datetime.date,
    Kind.YEAR: int,
    Kind.CHOICE: str,
    Kind.CHOICE_LIST: list[str],
    Kind.TEXT_LIST: list[str],
    Kind.URL: str,
    Kind.OUTCOMES: list[OutcomeOut],
    Kind.SUPPORTERS: list[SupporterOut],
}

_READ_ONLY: dict[str, Any] = {"readOnly": True}


class MissingOut(Schema):
    """A field the activity lacks for its next status, and the rule asking for it."""

    field: str
    label: str
    rule: str


ActivityOut = create_model(  # type: ignore[call-overload]
    "ActivityOut",
    __base__=Schema,
    **{
        spec.name: (_OUT_TYPES[spec.kind], Field(title=spec.label, description=spec.help))
        for spec in FIELDS
    },
    status=(str, Field(description="draft, active, ready_to_close or closed")),
    legacy_activity_type=(
        str,
        Field(description="The legacy activity-type code the Activity Format was given as, if any"),
    ),
    last_channel=(
        str,
        Field(description="How the activity was last saved", json_schema_extra=_READ_ONLY),
    ),
    created_at=(datetime.datetime, Field(json_schema_extra=_READ_ONLY)),
    updated_at=(datetime.datetime, Field(json_schema_extra=_READ_ONLY)),
    next_status=(
        str | None,
        Field(
            description="The status the activity may reach next (active, closed; null once "
            "closed). Derived: ignored when sent.",
            json_schema_extra=_READ_ONLY,
        ),
    ),
    missing_for_next_status=(
        list[MissingOut],
        Field(
            description="What the activity lacks for its next status: each field, its label "
            "and the rule asking for it (the rules are listed at /activities/rules). Derived: "
            "ignored when sent.",
            json_schema_extra=_READ_ONLY,
        ),
    ),
)


# The web service's one error shape (the names of this module kept for its importers).
ErrorOut = UploadErrorOut
ErrorsOut = ApiErrors


class RuleOut(Schema):
    id: str
    field: str
    message: str
    first_year: int | None
    last_year: int | None


class RulesOut(Schema):
    rules: list[RuleOut]


# The list, in bulk: values() rows turned into what ActivityOut dumps for each instance
# (the same keys in the same order, the same conversions), without a model per record.
_LIST_FIELDS = [
    name for name in ActivityOut.model_fields if name != "supporters" and name not in DERIVED_FIELDS
]
_FLOAT_FIELDS = frozenset(spec.name for spec in FIELDS if spec.kind is Kind.DECIMAL)
_OUTCOME_FIELDS = frozenset(spec.name for spec in FIELDS if spec.kind is Kind.OUTCOMES)
_SUPPORTER_OUT = list(SupporterOut.model_fields)


def activities_json(records: QuerySet[Activity]) -> list[dict[str, Any]]:
    """The records as the list answers them (ready for NinjaJSONEncoder): two queries."""
    rows = list(records.values("pk", *_LIST_FIELDS))
    supporters: dict[int, list[dict[str, Any]]] = {row["pk"]: [] for row in rows}
    if rows:
        found = CommercialSupport.objects.filter(activity__in=list(supporters))
        for supporter in found.order_by("activity", "position").values("activity", *_SUPPORTER_OUT):
            supporters[supporter.pop("activity")].append(supporter)
    return [_list_item(row, supporters[row["pk"]]) for row in rows]


def _list_item(row: dict[str, Any], supporters: list[dict[str, Any]]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name in ActivityOut.model_fields:
        if name == "supporters":
            item[name] = supporters
            continue
        if name in DERIVED_FIELDS:
            continue
        value = row[name]
        if name in _FLOAT_FIELDS and value is not None:
            value = float(value)
        elif name in _OUTCOME_FIELDS:
            value = [
                {"outcome": o["outcome"], "measurement_types": o["measurement_types"]}
                for o in value
            ]
        item[name] = value
    needs = status_needs(row, supporters)
    item["next_status"] = needs.next_status
    item["missing_for_next_status"] = [
        {"field": m.field, "label": m.label, "rule": m.rule} for m in needs.missing
    ]
    return item


def _stored_json(records: QuerySet[Activity]) -> dict[str, Any]:
    """The one activity of `records` as GET answers it (a JSON-ready dict, stored for
    idempotent replays), read as values; {} if there is none."""
    found = activities_json(records)
    data: dict[str, Any] = json.loads(json.dumps(found[0], cls=DjangoJSONEncoder)) if found else {}
    return data


def _errors(errors: list[FieldError]) -> tuple[int, dict[str, Any]]:
    detail = errors[0].message if len(errors) == 1 else f"{len(errors)} problems; see errors."
    return 400, {"detail": detail, "errors": [error.as_dict() for error in errors]}


def _channel_error(field: str, rule: str, message: str) -> tuple[int, dict[str, Any]]:
    return _errors([FieldError(None, field, rule, message)])


def contract_errors(found: list[Violation], row: int | None = None) -> list[FieldError]:
    """Violations of the request schema as errors of the one shape."""
    return [FieldError(row, item.field, item.rule, item.message) for item in found]


def activity_url(provider_activity_id: str) -> str:
    """The activity's address in the web service: the ID as one percent-encoded segment
    (`/` as %2F, `%` as %25, a space as %20), which the routes decode back to the ID."""
    segment = quote(provider_activity_id, safe="")
    if segment in (".", ".."):  # a client would resolve these as dot segments
        segment = segment.replace(".", "%2E")
    return f"{reverse('api-v1:activities')}/{segment}"


def activity_query(**params: str) -> str:
    """A query string of activity IDs and codes, each value percent-encoded."""
    return urlencode(params, quote_via=quote)


def _answer(outcome: Outcome) -> HttpResponse:
    response = JsonResponse(outcome.body, status=outcome.status_code, safe=False)
    if outcome.status_code == 201:
        response["Location"] = activity_url(outcome.body["provider_activity_id"])
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


# ---------------------------------------------------------------------------
# Writing


def _write(access: ProviderAccess, body: bytes, path_id: str | None) -> tuple[int, Any]:
    """Parse, validate and save one activity: (status, JSON answer)."""
    data, problem = parse_json(body)
    if problem:
        return _channel_error("body", RULE_BODY, problem)
    if not isinstance(data, dict):
        return _channel_error(
            "body", RULE_BODY, "The request body must be a JSON object of activity fields."
        )
    unknown = [name for name in data if name not in INPUT_FIELDS + READ_ONLY_FIELDS]
    if unknown:
        return _errors(
            [
                FieldError(
                    None,
                    str(name),
                    RULE_UNKNOWN_FIELD,
                    f"{name!r} is not an activity field; the fields are listed in the "
                    "request schema of the OpenAPI description.",
                )
                for name in unknown
            ]
        )
    # The JSON contract: a value of the wrong JSON type makes the request malformed (422).
    found = json_contract.violations(POST_SCHEMA if path_id is None else PUT_SCHEMA, data)
    typed = json_contract.type_violations(found)
    if typed:
        return 422, _errors(contract_errors(typed))[1]
    raw = {name: data[name] for name in INPUT_FIELDS if name in data}
    legacy_error = _legacy_format(raw)
    if legacy_error is not None:
        return _errors([legacy_error])
    if path_id is not None:
        body_id = raw.get("provider_activity_id")
        if not is_blank(body_id) and str(body_id).strip() != path_id.strip():
            return _channel_error(
                "provider_activity_id",
                RULE_ID_MISMATCH,
                f"The Provider Activity ID in the body ({body_id!r}) is not the one in the "
                f"address ({path_id!r}); leave it out of the body or make them equal.",
            )
        raw["provider_activity_id"] = path_id
    record, errors = validate_activity(raw)
    # Spellings the validator reads from files but the JSON contract does not allow.
    errors += contract_errors(json_contract.unreported(found, [e.field for e in errors]))
    if record is None or errors:
        return _errors(errors)
    errors = _read_only_errors(access, record.provider_activity_id, data)
    if errors:
        return _errors(errors)
    try:
        outcome = services.write_record(access, record, channel=Channel.API)
    except services.ActivityRefused as refused:
        return _errors(refused.errors)
    assert outcome.id is not None  # an added or updated (or unchanged) activity has one
    saved = _stored_json(access.records(Activity).filter(pk=outcome.id))
    return (201 if outcome.outcome == ADDED else 200), saved


def _legacy_format(raw: dict[str, Any]) -> FieldError | None:
    """Take `legacy_activity_type` out of the body: a legacy code goes to the validator as
    the Activity Format (which maps it, as files give it), when the Activity Format sent is
    that code, the format it stands for, or nothing."""
    code = raw.pop(LEGACY_FIELD, None)
    if not isinstance(code, str) or code not in LEGACY_ACTIVITY_TYPES:
        return None  # nothing, or not a code: the JSON contract reports it
    target = LEGACY_ACTIVITY_TYPES[code][0]
    given = raw.get("activity_format")
    if is_blank(given) or given in (code, target):
        raw["activity_format"] = code
        return None
    return FieldError(
        None,
        LEGACY_FIELD,
        RULE_LEGACY_MISMATCH,
        f"The legacy activity type {code!r} stands for the format {target!r}, not "
        f"{given!r}; leave it out or send the Activity Format it stands for.",
    )


def _read_only_errors(
    access: ProviderAccess, provider_activity_id: str, data: dict[str, Any]
) -> list[FieldError]:
    """An error for each read-only field sent with another value than the stored one."""
    sent = {name: data[name] for name in STORED_READ_ONLY if data.get(name) is not None}
    if not sent:
        return []
    current = _stored_json(
        access.records(Activity).filter(provider_activity_id=provider_activity_id)
    )
    return [
        FieldError(
            None,
            name,
            RULE_READ_ONLY,
            f"{name!r} is read-only: PARS sets it. Leave it out of the body, or send the "
            "value stored.",
        )
        for name, value in sent.items()
        if current.get(name) != value
    ]


def _idempotent_write(request: HttpRequest, key: str | None, path_id: str | None) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    body = request.body
    outcome = run_idempotent(
        access.provider,
        key,
        lambda: fingerprint(request.method or "", request.path, body),
        lambda: _write(access, body, path_id),
    )
    return _answer(outcome)


_WRITE_RESPONSES = {200: ActivityOut, 201: ActivityOut, 400: ErrorsOut, 422: ErrorsOut}
_WRITE_DESCRIPTION = (
    "The body is one activity as a JSON object with the field names of the data dictionary "
    "(lists as arrays, `supporters` as an array of objects) and an optional `status`. The "
    "request schema is the contract: numbers, booleans and lists arrive as JSON numbers, "
    "booleans and arrays (a value of another JSON type answers **422**, rule "
    "`api.field.type`), codes as one of the codes listed (not their labels) and dates as "
    "yyyy-mm-dd (rule `api.field.invalid` when only that is wrong); `null` gives no value. "
    "The record is checked by the same validator as the web form and the batch files: "
    "problems answer **400** with `errors`, each naming its `field` and `rule` (see "
    "`/api/v1/rules/activities`); names that are not activity fields are refused with rule "
    "`api.field.unknown`. A new "
    "activity answers **201**, an update **200**; both return the saved record, which "
    "replaces the stored one as a whole (supporters included); a record equal to the "
    "stored one answers **200** and writes nothing (`updated_at` and the audit trail stay). "
    "A record read by GET can be sent back as it is: `legacy_activity_type` is taken with "
    "its format, and the readOnly fields (`last_channel`, `created_at`, `updated_at`) may "
    "be left out or sent as stored (another value: rule `api.field.read_only`). The "
    "Provider Activity ID may hold any characters: percent-encode it in an address "
    "(`/` as %2F); the `Location` header gives it so. Send an `Idempotency-Key` "
    "header to make a retry safe: the same key and body get the first answer again (with "
    "`Idempotent-Replayed: true`); the same key with another body answers **422** "
    "(rule `api.idempotency_key.reused`)."
)


@router.get(
    "",
    response=list[ActivityOut],  # type: ignore[valid-type]
    url_name="activities",
    summary="List activities",
)
def activities(
    request: HttpRequest,
    year: int | None = None,
    limit: QueryEx[int, P(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: QueryEx[int, P(ge=0, le=MAX_OFFSET)] = 0,
) -> Any:
    """Ordered by Provider Activity ID; `limit` (1 to 1000) and `offset` page through
    them, and the `X-Total-Count` header counts them all. A `limit` or `offset` out of
    range answers 422."""
    records = api_access(request).records(Activity).order_by("provider_activity_id")
    if year is not None:
        records = records.filter(reporting_year=year)
    total = records.count()
    # Serialised here in bulk: the bytes ActivityOut would give, without a model per record.
    answer = HttpResponse(
        json.dumps(activities_json(records[offset : offset + limit]), cls=NinjaJSONEncoder),
        content_type=JSON_CONTENT_TYPE,
    )
    answer["X-Total-Count"] = str(total)
    return answer


@router.post(
    "",
    response=_WRITE_RESPONSES,
    url_name="activity_create",
    summary="Create or update an activity by the Provider Activity ID in the body",
    description=_WRITE_DESCRIPTION,
    openapi_extra=REQUEST_BODY,
)
def create_activity(
    request: HttpRequest,
    idempotency_key: IdempotencyKeyHeader = None,
) -> HttpResponse:
    return _idempotent_write(request, idempotency_key, None)


@router.get(
    ACTIVITY_PATH,
    response=ActivityOut,
    url_name="activity",
    summary="One activity, by Provider Activity ID",
)
def activity(request: HttpRequest, provider_activity_id: ActivityIdPath) -> Any:
    access = api_access(request)
    found = access.get(Activity, provider_activity_id=provider_activity_id)  # or 404
    # As the list answers it, with what the record lacks for its next status.
    return activities_json(access.records(Activity).filter(pk=found.pk))[0]


@router.put(
    ACTIVITY_PATH,
    response=_WRITE_RESPONSES,
    url_name="activity_put",
    summary="Create or update an activity by Provider Activity ID",
    description=_WRITE_DESCRIPTION
    + " The Provider Activity ID is the one in the address; the body may leave it out.",
    openapi_extra=PUT_REQUEST_BODY,
)
def put_activity(
    request: HttpRequest,
    provider_activity_id: ActivityIdPath,
    idempotency_key: IdempotencyKeyHeader = None,
) -> HttpResponse:
    return _idempotent_write(request, idempotency_key, provider_activity_id)


@router.delete(
    ACTIVITY_PATH,
    response={204: None, 400: ErrorsOut, 409: ErrorsOut},
    url_name="activity_delete",
    summary="Delete an activity",
    description="Answers 204, or 404 when this provider has no activity with that ID. "
    "**409** with rule `activity.delete.has_learner_records` when learner completions or "
    "registrations refer to the activity (completions are withdrawn, never deleted); "
    "**400** with rule `activity.reporting_year.locked` when its reporting year is closed.",
)
def delete_activity(request: HttpRequest, provider_activity_id: ActivityIdPath) -> HttpResponse:
    access = api_access(request)
    activity = access.get(Activity, provider_activity_id=provider_activity_id)
    try:
        services.delete_activity(access, activity, channel=Channel.API)
    except services.ActivityRefused as refused:
        status, body = _errors(refused.errors)
        if any(error.rule == HAS_LEARNER_RECORDS_RULE for error in refused.errors):
            status = 409  # the activity's state conflicts with the delete, not the request
        return JsonResponse(body, status=status)
    return HttpResponse(status=204)


@rules_router.get(
    "/activities",
    auth=None,
    response=RulesOut,
    url_name="activity_rules",
    summary="The activity rule catalogue (no API key needed)",
    description="Every rule the activity validator applies, with its field and message; "
    "`year` keeps the rules that apply to activities of that reporting year.",
)
def activity_rules(request: HttpRequest, year: int | None = None) -> Any:
    return {"rules": [rule.as_dict() for rule in rules_for_year(year)]}


exports_router = Router(tags=["exports"])


@exports_router.get(
    "/activities.xml",
    url_name="activities_export_xml",
    summary="Activities as MEMS XML",
    description="The key's activities (optionally one reporting year) as an ACCMEActivities "
    "document that re-imports to the same records through POST /api/v1/uploads.",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The document, as a download (attachment)",
                "content": {"application/xml": {"schema": {"type": "string"}}},
            }
        }
    },
)
def activities_xml(request: HttpRequest, year: int | None = None) -> Any:
    records = api_access(request).records(Activity).order_by("provider_activity_id")
    if year is not None:
        records = records.filter(reporting_year=year)
    return xml_file_response(records, f"activities{'-' + str(year) if year else ''}.xml")
