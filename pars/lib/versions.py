"""Versions of single records in the web service: `ETag` and `If-Match` (RFC 9110).

A record's version is a strong ETag: a hash of its JSON answer as GET gives it (fields
that change without a write, such as a day count, left out), so any write changes it and
an unchanged record keeps it. A write that sends ``If-Match`` is done only when the record
is at one of the versions named (``*``: at any version, so it must exist); otherwise it
answers **412** with rule ``api.precondition_failed`` and the current ``ETag``. Weak tags
(``W/"…"``) never match: If-Match compares strongly.

The endpoint checks and writes in one transaction with the record locked
(``select_for_update``), so two writers holding the same version cannot both pass. A
request refused on its own merits (malformed, invalid) gets that refusal on any version:
only a request that would succeed gets 412. The semantics are those of the activity
endpoints (``pars.activities``), which ``pars.lib`` may not import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, JsonResponse
from ninja import HeaderEx, P

from pars.lib.api_errors import error_response

RULE_PRECONDITION = "api.precondition_failed"

IfMatchHeader = HeaderEx[
    str | None,
    P(
        alias="If-Match",
        description="The record's `ETag` as last read: the write is refused with **412** "
        "(rule `api.precondition_failed`) when the record has changed since (or, for `*`, "
        "does not exist), so that two systems cannot overwrite each other's change.",
    ),
]

ETAG_HEADER = {
    "description": "The record's version: send it as If-Match to write only that version",
    "schema": {"type": "string"},
}

IF_MATCH_NOTE = (
    " The answer's `ETag` is the record's version: send it back as `If-Match` to write only "
    "if nobody changed the record meanwhile (**412**, rule `api.precondition_failed`, "
    "otherwise; the 412 answer carries the current `ETag`)."
)


def etag(answer: Mapping[str, Any], leave_out: Iterable[str] = ()) -> str:
    """The strong ETag of a record as answered: a stable hash of its JSON."""
    left_out = set(leave_out)
    stored = {name: value for name, value in answer.items() if name not in left_out}
    text = json.dumps(stored, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def matches(if_match: str, current: str | None) -> bool:
    """RFC 9110 If-Match: `*` for any current version, else a strong match of one tag."""
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    if current is None:
        return False
    return "*" in tags or current in tags


def precondition_failed(
    if_match: str | None, current: str | None, what: str = "record"
) -> JsonResponse | None:
    """None when the write may go on (no If-Match, or it matches the current version);
    else the 412 answer, with the current ETag (none when there is no such record)."""
    if if_match is None or matches(if_match, current):
        return None
    message = (
        f"The {what} has changed since you read it (its ETag is no longer the one in "
        "If-Match): read it again, then send your change."
        if current is not None
        else f"There is no such {what} to match If-Match."
    )
    headers = {"ETag": current} if current is not None else {}
    return error_response(412, "If-Match", RULE_PRECONDITION, message, headers)


def with_etag(response: HttpResponse, current: str | None) -> HttpResponse:
    """The answer with its ETag header (200 and 201 answers only)."""
    if current is not None and response.status_code in (200, 201):
        response["ETag"] = current
    return response


def etag_headers(*statuses: int) -> dict[str, Any]:
    """OpenAPI (``openapi_extra``): the ETag header of these answers."""
    return {"responses": {str(status): {"headers": {"ETag": ETAG_HEADER}} for status in statuses}}
