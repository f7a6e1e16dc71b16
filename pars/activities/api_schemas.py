"""The activity web service's schemas: the request body, generated from the data dictionary
(the JSON channel's contract, checked by ``pars.lib.json_contract``), the ID in a path, and
the answers. The routes are in ``pars.activities.api``; the learner endpoints build their
own schemas from the same pieces.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from ninja import Field, P, PathEx, Schema
from pydantic import create_model

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
from pars.intake.fields import FieldSpec, Kind, Status

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
    "status and reporting year (see the rule catalog). Values are checked by the same "
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


class RuleOut(Schema):
    id: str
    field: str
    message: str
    first_year: int | None
    last_year: int | None


class RulesOut(Schema):
    rules: list[RuleOut]
