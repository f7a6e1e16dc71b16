"""What the learner endpoints of the web service share: request schemas generated from the
learner data dictionary, the error shape, JSON answers.

The request schemas are the JSON channel's contract: like the activity endpoints
(``pars.activities.api``), the learner endpoints check the JSON they receive against them
(``pars.lib.json_contract``: a value of the wrong JSON type is a malformed request, 422)
and hand it to the one validator (``pars.learners.validation``), so the OpenAPI
description and the rules cannot drift apart. Every refusal answers ``{"detail": ...,
"errors": [{row, field, rule, message}]}``; messages never quote an identifier or a birth
date.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, JsonResponse
from ninja import Field, Schema
from pydantic import create_model

from pars.activities.api import RULE_BODY, RULE_UNKNOWN_FIELD
from pars.activities.api_schemas import input_field, json_help, nullable, text_schema
from pars.intake.fields import FieldSpec, Kind
from pars.intake.idempotency import Outcome
from pars.intake.rules import FieldError
from pars.learners.dictionary import RECORD_ACTIONS
from pars.lib import api_errors, json_contract

# Errors of the JSON channel itself (not business rules, so not in validation.RULES).
RULE_TOO_MANY = "api.body.too_many"
RULE_NOT_CHANGEABLE = "api.field.not_changeable"
RULE_MISMATCH = "api.path.mismatch"
RULE_QUERY = "api.query.invalid"


class RecordError(Schema):
    row: int | None = Field(
        description="The record's `index` in a list request; null for a single record"
    )
    field: str
    rule: str = Field(description="Stable rule ID (see /api/v1/rules/learners)")
    message: str


# ---------------------------------------------------------------------------
# Request schemas, generated from the dictionary


def _description(spec: FieldSpec) -> str:
    parts = [json_help(spec)] if json_help(spec) else []
    if spec.kind is Kind.CHOICE and spec.name not in ("license_state", "practice_state"):
        parts.append("Codes: " + "; ".join(f"{c} = {t}" for c, t in spec.choices.items()) + ".")
    return " ".join(parts)


def input_model(name: str, doc: str, specs: Iterable[FieldSpec], **extra: tuple[Any, Any]) -> Any:
    """A pydantic model of dictionary fields for the OpenAPI description; its JSON schema
    is the request's contract (checked by pars.lib.json_contract, then the validator)."""
    return create_model(  # type: ignore[call-overload]
        name,
        __doc__=doc,
        **{spec.name: (Any, input_field(spec, _description(spec))) for spec in specs},
        **extra,
    )


ACTION_FIELD = (
    Any,
    Field(
        default=None,
        title="Action",
        description="`add` (the default: adds the record, or corrects it when the same learner, "
        "activity, recipient and completion date are already in PARS) or `delete` (withdraws "
        "it from the recipient).",
        json_schema_extra=nullable(
            {
                "type": "string",
                "enum": list(RECORD_ACTIONS),
                "x-enum-descriptions": list(RECORD_ACTIONS.values()),
            }
        ),
    ),
)


# A birth month and day (MM-DD, a day the month has) or a full date whose year is ignored.
BIRTH_DATE_SCHEMA = {
    "anyOf": [
        {
            "type": "string",
            "pattern": "^((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-9])|(0[13-9]|1[0-2])-30"
            "|(0[13578]|1[02])-31)$",
        },
        {"type": "string", "format": "date"},
    ]
}


def strict(
    schema: dict[str, Any], required: Iterable[str] = (), *one_of_each: tuple[str, ...]
) -> dict[str, Any]:
    """`schema` (of an input model) as the endpoint reads it: no other names (rule
    api.field.unknown), `required` fields not blank, and of each group in `one_of_each` at
    least one field given and not blank."""

    def given(name: str) -> dict[str, Any]:
        field = dict(schema["properties"][name])
        # Given: the value itself, not null.
        field.update(field.pop("anyOf", [{}])[0])
        if name == "birth_date":
            field = {key: field[key] for key in ("title", "description") if key in field}
            field.update(BIRTH_DATE_SCHEMA)
        elif field.get("type") == "string" and "format" not in field:
            field.update(text_schema(field.get("maxLength"), required=True))
        field.pop("default", None)
        return field

    properties = dict(schema["properties"])
    properties.update({name: given(name) for name in required})
    schema = {**schema, "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    if one_of_each:  # e.g. the learner ID or the NPI: one of them given and not blank
        schema["allOf"] = [
            {"anyOf": [{"required": [name], "properties": {name: given(name)}} for name in group]}
            for group in one_of_each
        ]
    return schema


def request_body(schema: dict[str, Any], content_type: str = "application/json") -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {content_type: {"schema": schema}}}}


# ---------------------------------------------------------------------------
# Answers


def error_body(errors: list[FieldError], detail: str | None = None) -> dict[str, Any]:
    if detail is None:
        detail = errors[0].message if len(errors) == 1 else f"{len(errors)} problems; see errors."
    return {"detail": detail, "errors": [error.as_dict() for error in errors]}


def refusal(
    field: str, rule: str, message: str, status: int = 400, row: int | None = None
) -> tuple[int, dict[str, Any]]:
    return status, error_body([FieldError(row, field, rule, message)])


def contract_errors(
    found: Iterable[json_contract.Violation], row: int | None = None
) -> list[FieldError]:
    return [FieldError(row, item.field, item.rule, item.message) for item in found]


def checked(
    schema: Mapping[str, Any],
    data: Any,
    validate: Callable[[], list[FieldError]],
    row: int | None = None,
) -> tuple[bool, list[FieldError]]:
    """One record against its request schema, then `validate` (the one validator):
    (malformed, errors). Malformed: a value of the wrong JSON type (only those errors,
    rule api.field.type). Otherwise the validator's errors, and the schema's own for
    spellings the validator reads from files but JSON may not use (a label for a code, a
    date written mm/dd/yyyy); `errors` is empty when the record passes both."""
    found = json_contract.violations(schema, data)
    typed = json_contract.type_violations(found)
    if typed:
        return True, contract_errors(typed, row)
    errors = validate()
    unreported = json_contract.unreported(found, [error.field for error in errors])
    return False, [*errors, *contract_errors(unreported, row)]


def parse_json(body: bytes) -> tuple[Any, tuple[int, dict[str, Any]] | None]:
    """(data, None) or (None, the 400 answer) for a body that is not JSON (or too deep)."""
    data, problem = api_errors.parse_json(body)
    if problem:
        return None, refusal("body", RULE_BODY, problem)
    return data, None


def unknown_fields(
    data: Mapping[str, Any], allowed: Iterable[str], row: int | None = None
) -> list[FieldError]:
    names = set(allowed)
    return [
        FieldError(
            row,
            str(name)[:60],
            RULE_UNKNOWN_FIELD,
            f"{str(name)[:60]!r} is not a field here; the fields are listed in the request "
            "schema of the OpenAPI description.",
        )
        for name in data
        if name not in names
    ]


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> HttpResponse:
    response = JsonResponse(body, status=status, safe=False, encoder=DjangoJSONEncoder)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def answer(outcome: Outcome, location: str | None = None) -> HttpResponse:
    """An idempotent write's answer, with Location (201) and Idempotent-Replayed headers."""
    headers = {}
    if location and outcome.status_code in (201, 202):
        headers["Location"] = location
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(outcome.status_code, outcome.body, headers)


def number(value: Decimal | None) -> float | None:
    """Credits and points (0.25 steps: exact as JSON numbers)."""
    return None if value is None else float(value)


def timestamp(value: datetime.datetime | None) -> str | None:
    return None if value is None else value.isoformat()
