"""The status query: the status of records named by their identity, in a POST body
(identifiers never travel in a URL)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from ninja import Schema

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.upload_api import (
    ApiErrors,
)
from pars.intake.coerce import as_date
from pars.intake.rules import FieldError
from pars.learners.api_common import (
    RULE_BODY,
    contract_errors,
    error_body,
    json_response,
    parse_json,
    refusal,
    request_body,
    strict,
    unknown_fields,
)
from pars.learners.validation import (
    RULES,
    month_day,
)
from pars.lib import json_contract

from .answers import _records, completion_json
from .schemas import STATUS_QUERY_FIELDS, CompletionOut, StatusQueryIn
from .shared import router

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
    results: list[CompletionOut]


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
