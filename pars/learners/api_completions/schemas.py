"""Request and answer schemas of the learner completion endpoints (documentation: the
raw JSON goes to the validator)."""

from __future__ import annotations

import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import WithJsonSchema, create_model

from pars.intake.fields import Kind
from pars.learners.api_common import (
    ACTION_FIELD,
    RecordError,
    input_model,
)
from pars.learners.dictionary import COMPLETION_FIELDS, LINK_GROUPS
from pars.learners.models import (
    PERSONAL_FIELDS,
    CompletionStatus,
)

from .shared import MAX_RECORDS

# An ISO 8601 date-time (the offset may be left out: the server's time zone), years 1000
# to 9998 (the time zones must not take it out of Python's range). Only this spelling: a
# bare number or date would otherwise be read as one.
DATE_TIME_PATTERN = (
    "^(1[0-9]{3}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
    "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]"
    "(:[0-5][0-9](\\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
)

# The fields that place a record (activity and recipient): a correction keeps them.
PLACEMENT_FIELDS = tuple(spec.name for spec in COMPLETION_FIELDS if spec.group in LINK_GROUPS)
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
    what_to_do=(
        str,
        Field(
            description="For a held or rejected record: what did not match or was refused "
            "and how to fix it (which channel). It names the license number or ID and the "
            "learner only where personal fields are in the answer; empty otherwise"
        ),
    ),
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
