"""Learner pre-validation in the web service: are these learners known to the recipient?

Before reporting completions, an integrator may check its learners' identities against the
recipient's roster (``pars.learners.prevalidation``). Nothing is written and nothing is sent
to the recipient; the answer never quotes an identifier or a birth date.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.api_schemas import text_schema
from pars.activities.upload_api import ApiErrors
from pars.intake.rules import FieldError
from pars.learners.api_common import (
    RULE_BODY,
    RULE_TOO_MANY,
    contract_errors,
    error_body,
    input_model,
    json_response,
    parse_json,
    refusal,
    request_body,
    strict,
    unknown_fields,
)
from pars.learners.dictionary import COMPLETION_FIELDS, COMPLETION_FIELDS_BY_NAME
from pars.learners.prevalidation import (
    IDENTITY_INPUTS,
    MAX_LEARNERS,
    PrevalidationUnavailable,
    prevalidate,
)
from pars.learners.validation import RULES, load_recipients
from pars.lib import json_contract

router = Router(tags=["learner matches"])

RULE_UNAVAILABLE = "api.matching.unavailable"

# What pre-validation reads of a learner, as the dictionary names it.
MATCH_FIELDS = tuple(name for name in IDENTITY_INPUTS if name in COMPLETION_FIELDS_BY_NAME)
MATCH_STATUSES = ("match", "mismatch", "not_found", "invalid")

LearnerIn = input_model(
    "LearnerMatchLearner",
    "A learner as the recipient should know them: the learner fields of the data dictionary.",
    [spec for spec in COMPLETION_FIELDS if spec.name in MATCH_FIELDS],
)
_RECIPIENT = COMPLETION_FIELDS_BY_NAME["recipient"]
MATCH_SCHEMA = {
    "title": "LearnerMatchRequest",
    "type": "object",
    "properties": {
        "recipient": {
            "title": _RECIPIENT.label,
            "description": _RECIPIENT.help,
            **text_schema(_RECIPIENT.max_length, required=True),
        },
        "learners": {
            "type": "array",
            "items": strict(LearnerIn.model_json_schema()),
            "minItems": 1,
            "maxItems": MAX_LEARNERS,
        },
    },
    "required": ["recipient", "learners"],
    "additionalProperties": False,
}


class LearnerMatchOut(Schema):
    index: int = Field(description="The learner's position in the list sent (from 0)")
    status: str = Field(description=", ".join(MATCH_STATUSES))
    message: str
    fields: list[str] = Field(description="The fields that differ or are invalid")


class LearnerMatchesOut(Schema):
    recipient: str
    counts: dict[str, int] = Field(description="Learners per status")
    results: list[LearnerMatchOut]


def _matches(access: ProviderAccess, body: bytes) -> tuple[int, dict[str, Any]]:
    data, problem = parse_json(body)
    if problem:
        return problem
    if not isinstance(data, dict) or not isinstance(data.get("learners"), list):
        return refusal(
            "body",
            RULE_BODY,
            "The request body must be a JSON object with `recipient` and a `learners` array.",
        )
    violations = json_contract.violations(MATCH_SCHEMA, data)
    typed = json_contract.type_violations(violations)
    if typed:
        return 422, error_body(contract_errors(typed))
    errors = unknown_fields(data, ("recipient", "learners"))
    code = str(data.get("recipient") or "").strip().upper()
    recipients = load_recipients()
    if not code:
        rule = "learner.recipient.required"
        errors.append(FieldError(None, "recipient", rule, RULES[rule].message))
    elif code not in recipients:
        rule = "learner.recipient.unknown"
        errors.append(
            FieldError(
                None,
                "recipient",
                rule,
                f"Recipient '{code[:20]}' is unknown. Allowed: {', '.join(recipients)}.",
            )
        )
    learners = data["learners"]
    if not learners:
        errors.append(FieldError(None, "learners", RULE_BODY, "Send at least one learner."))
    if len(learners) > MAX_LEARNERS:
        return refusal(
            "learners",
            RULE_TOO_MANY,
            f"At most {MAX_LEARNERS:,} learners per request; this one has {len(learners):,}.",
        )
    for index, learner in enumerate(learners):
        if not isinstance(learner, dict):
            errors.append(FieldError(index, "learner", RULE_BODY, "A learner is a JSON object."))
        else:
            errors.extend(unknown_fields(learner, MATCH_FIELDS, row=index))
    # A learner's value the schema does not allow (a code, a date's spelling) is a malformed
    # request, not a learner to report as invalid.
    errors += contract_errors(
        json_contract.unreported(violations, [error.field for error in errors])
    )
    if errors:
        return 400, error_body(errors)
    try:
        results = prevalidate(access, code, learners)
    except PrevalidationUnavailable as unavailable:
        return refusal("recipient", RULE_UNAVAILABLE, str(unavailable), status=503)
    counts = Counter(result.status for result in results)
    return 200, {
        "recipient": code,
        "counts": {status: counts.get(status, 0) for status in MATCH_STATUSES} | dict(counts),
        "results": [
            {
                "index": result.row - 1,
                "status": result.status,
                "message": result.message,
                "fields": list(result.fields),
            }
            for result in results
        ],
    }


@router.post(
    "/learner-matches",
    response={200: LearnerMatchesOut, 400: ApiErrors, 503: ApiErrors},
    url_name="learner_matches",
    summary="Pre-validate learners against a recipient's roster",
    description=f"Checks up to {MAX_LEARNERS:,} learners (name, birth month and day, and the "
    "recipient's identifier or NPI) against the recipient before any completion is "
    "reported: each comes back as `match`, `mismatch` (found, but a field differs: see "
    "`fields`), `not_found` or `invalid` (the data itself breaks a rule). Nothing is written "
    "or sent; messages never quote an identifier or a birth date. Only a body that is not "
    "such a request answers **400**; **503** (rule `api.matching.unavailable`) when the "
    "recipient offers no matching or its service cannot be reached.",
    openapi_extra=request_body(MATCH_SCHEMA),
)
def learner_matches(request: HttpRequest) -> HttpResponse:
    access = api_access(request)
    return json_response(*_matches(access, request.body))
