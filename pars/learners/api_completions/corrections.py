"""One record: correct, resubmit, withdraw (and DELETE, a withdrawal)."""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.upload_api import (
    ApiErrors,
)
from pars.intake import dry_run as dry_runs
from pars.intake.idempotency import IdempotencyKeyHeader, fingerprint, run_idempotent
from pars.intake.models import Channel
from pars.intake.rules import FieldError
from pars.learners.api_common import (
    RULE_BODY,
    RULE_NOT_CHANGEABLE,
    answer,
    contract_errors,
    error_body,
    json_response,
    parse_json,
    refusal,
    request_body,
    unknown_fields,
)
from pars.learners.dictionary import COMPLETION_FIELDS
from pars.learners.models import (
    LearnerCompletion,
)
from pars.learners.services import (
    CompletionRefused,
    correct_completion,
    resubmit_completion,
    withdraw_completion,
)
from pars.lib import json_contract
from pars.lib.versions import (
    IF_MATCH_NOTE,
    IfMatchHeader,
    etag,
    etag_headers,
    precondition_failed,
    with_etag,
)

from .answers import _value, detail_json
from .batch import _READ_ONLY_FIELDS
from .reading import _get
from .schemas import (
    _CHANGES_SCHEMA,
    CHANGEABLE_FIELDS,
    INPUT_FIELDS,
    PLACEMENT_FIELDS,
    LearnerCompletionDetailOut,
)
from .shared import router


def _one_record_write(
    request: HttpRequest,
    completion_id: int,
    idempotency_key: str | None,
    action: Any,
    if_match: str | None = None,
) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    completion = _get(access, completion_id)
    body = request.body
    # With If-Match, the completion is held from the check until the write commits.
    with transaction.atomic() if if_match is not None else contextlib.nullcontext():
        if if_match is not None:
            held = access.records(LearnerCompletion).select_for_update().get(pk=completion.pk)
            stale = precondition_failed(if_match, version(access, held), "learner completion")
            if stale is not None:
                # Refused on its own merits (malformed, invalid): that refusal, not 412.
                status, refused = dry_runs.rehearse(lambda: action(access, held, body))
                return json_response(status, refused) if status >= 400 else stale
            completion = held
        outcome = run_idempotent(
            access.provider,
            idempotency_key,
            lambda: fingerprint(request.method or "", request.path, body),
            lambda: action(access, completion, body),
        )
    current = etag(outcome.body) if outcome.status_code == 200 else None
    return with_etag(answer(outcome), current)


def version(access: ProviderAccess, completion: LearnerCompletion) -> str:
    """The completion's ETag: of the whole record as GET answers it."""
    return etag(detail_json(access, completion))


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


_ONE_RESPONSES = {
    200: LearnerCompletionDetailOut,
    400: ApiErrors,
    412: ApiErrors,
    422: ApiErrors,
}


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
    "`Idempotency-Key` makes a retry safe." + IF_MATCH_NOTE,
    openapi_extra={**request_body(_CHANGES_SCHEMA), **etag_headers(200)},
)
def correct(
    request: HttpRequest,
    completion_id: int,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
) -> HttpResponse:
    return _one_record_write(request, completion_id, idempotency_key, _correct, if_match)


@router.post(
    "/learner-completions/{int:completion_id}/resubmit",
    response=_ONE_RESPONSES,
    url_name="learner_completion_resubmit",
    summary="Send a rejected or held completion again",
    description="For a record the recipient rejected or held, once the learner's data at the "
    "recipient is fixed: the record is checked again and queued as a new version. A record "
    "in any other status is answered unchanged. No body." + IF_MATCH_NOTE,
    openapi_extra=etag_headers(200),
)
def resubmit(
    request: HttpRequest,
    completion_id: int,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
) -> HttpResponse:
    return _one_record_write(request, completion_id, idempotency_key, _resubmit, if_match)


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
    description=_WITHDRAW_DESCRIPTION + " No body." + IF_MATCH_NOTE,
    openapi_extra=etag_headers(200),
)
def withdraw(
    request: HttpRequest,
    completion_id: int,
    idempotency_key: IdempotencyKeyHeader = None,
    if_match: IfMatchHeader = None,
) -> HttpResponse:
    return _one_record_write(request, completion_id, idempotency_key, _withdraw, if_match)


@router.delete(
    "/learner-completions/{int:completion_id}",
    response=_ONE_RESPONSES,
    url_name="learner_completion_delete",
    summary="Withdraw a learner completion (the same as POST …/withdraw)",
    description=_WITHDRAW_DESCRIPTION
    + " Answers 200 with the record and its new status."
    + IF_MATCH_NOTE,
    openapi_extra=etag_headers(200),
)
def delete_completion(
    request: HttpRequest, completion_id: int, if_match: IfMatchHeader = None
) -> HttpResponse:
    return _one_record_write(request, completion_id, None, _withdraw, if_match)
