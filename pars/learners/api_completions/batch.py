"""Reporting a list of completions (up to 1,000; explicitly partial)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import P, QueryEx

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.upload_api import (
    ApiErrors,
)
from pars.intake import dry_run as dry_runs
from pars.intake.idempotency import (
    IdempotencyKeyHeader,
    Outcome,
    fingerprint,
    run_idempotent,
)
from pars.intake.models import Channel
from pars.intake.outcomes import ADDED, REJECTED, UNCHANGED, UPDATED, WITHDRAWN, RecordOutcome
from pars.intake.rules import FieldError
from pars.learners.api_common import (
    RULE_BODY,
    RULE_TOO_MANY,
    answer,
    contract_errors,
    error_body,
    parse_json,
    refusal,
    request_body,
    unknown_fields,
)
from pars.learners.services import (
    ActivityLookup,
    apply_completions,
    refused_errors,
)
from pars.learners.validation import (
    CleanCompletion,
    RecipientRules,
    load_recipients,
    validate_completion,
)
from pars.lib import json_contract
from pars.lib.json_contract import RULE_TYPE as RULE_FIELD_TYPE

from .answers import completion_url
from .schemas import (
    _RECORD_SCHEMA,
    BATCH_SCHEMA,
    INPUT_FIELDS,
    LearnerBatchOut,
    LearnerCompletionDetailOut,
)
from .shared import MAX_RECORDS, router


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
    # Records that break the request schema make the whole request malformed (422, nothing
    # written); the validator's and the writer's refusals stay per record in the 200.
    malformed: list[FieldError] = []
    refused: dict[int, Mapping[str, Any]] = {}
    _validate_items(items, recipients, today, errors, clean, malformed, refused)
    malformed += _with_activity_checks(access, refused, errors, malformed, recipients, today)
    if malformed:
        rows = len({error.row for error in malformed})
        return 422, error_body(
            malformed,
            f"{rows} of {len(items)} records do not match the request schema; nothing was "
            "written. The errors list every problem of those records, their business rules "
            "too, so one correction fixes them (`row` is the record's index).",
        )
    # Every record's id comes back: none goes through COPY.
    result = apply_completions(
        access, clean, channel=Channel.API, recipients=recipients, today=today, use_copy=False
    )
    for error in result.errors:
        assert error.row is not None
        errors.setdefault(error.row, []).append(error)

    results: list[dict[str, Any]] = []
    counts = dict.fromkeys(
        ("received", "accepted", "unchanged", "rejected", "added", "corrected", "withdrawn"), 0
    )
    counts["received"] = len(items)
    outcomes = result.by_row()
    for index in range(len(items)):
        if index in errors:
            counts["rejected"] += 1
            results.append(_result(index, "rejected", None, errors[index]))
            continue
        outcome = outcomes[index]
        status = "unchanged" if outcome.category == UNCHANGED else "accepted"
        counts[status] += 1
        if outcome.category in (ADDED, WITHDRAWN):
            counts[outcome.category] += 1
        elif outcome.category == UPDATED:  # corrected or resubmitted
            counts["corrected"] += 1
        results.append(_result(index, status, outcome, []))
    detail = (
        f"{counts['accepted']} of {counts['received']} records written, "
        f"{counts['unchanged']} unchanged, {counts['rejected']} rejected."
    )
    return 200, {"detail": detail, "counts": counts, "results": results}


def _with_activity_checks(
    access: ProviderAccess,
    refused: Mapping[int, Mapping[str, Any]],
    errors: dict[int, list[FieldError]],
    malformed: list[FieldError],
    recipients: Mapping[str, RecipientRules],
    today: datetime.date,
) -> list[FieldError]:
    """A refused record's activity checks too, every problem of it in one answer: added to
    its errors (`errors`), or returned for a record against the schema (`malformed`)."""
    given = {
        index: errors.get(index) or [error for error in malformed if error.row == index]
        for index in refused
    }
    found = refused_errors(
        ActivityLookup(access),
        [(index, raw, given[index]) for index, raw in refused.items()],
        recipients=recipients,
        today=today,
    )
    more: list[FieldError] = []
    for index, all_errors in zip(refused, found, strict=True):
        if index in errors:
            errors[index] = all_errors
        else:
            more += all_errors[len(given[index]) :]
    return more


def _validate_items(
    items: list[Any],
    recipients: Mapping[str, RecipientRules],
    today: datetime.date,
    errors: dict[int, list[FieldError]],
    clean: list[tuple[int, CleanCompletion]],
    malformed: list[FieldError],
    refused: dict[int, Mapping[str, Any]],
) -> None:
    """Sort the records: clean, refused (`errors`, by index; the validator's refusals also
    in `refused`, with the record) or against the schema."""
    first_seen: dict[tuple[str, str, str, datetime.date], int] = {}
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
            if record is None:
                refused[index] = raw
            continue
        if record is None:
            errors[index] = found
            refused[index] = raw
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


def _result(
    index: int, status: str, outcome: RecordOutcome | None, errors: list[FieldError]
) -> dict[str, Any]:
    """One record's result (`outcome` None: rejected)."""
    stored: dict[str, Any] = dict.fromkeys(("id", "url", "version", "completion_status"))
    if outcome is not None and outcome.id is not None:
        stored = {
            "id": outcome.id,
            "url": completion_url(outcome.id),
            "version": outcome.version,
            "completion_status": outcome.status,
        }
    return {
        "index": index,
        "status": status,
        "outcome": outcome.outcome if outcome is not None else REJECTED,
        **stored,
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
    request: HttpRequest,
    idempotency_key: IdempotencyKeyHeader = None,
    dry_run: QueryEx[bool, P(description=dry_runs.DESCRIPTION)] = False,
) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    body = request.body

    def run() -> Outcome:
        return run_idempotent(
            access.provider,
            idempotency_key,
            lambda: fingerprint(request.method or "", request.path, body),
            lambda: _write_batch(access, body),
        )

    if not dry_run:
        return answer(run())
    # The same run, rolled back: nothing written, nothing delivered (pars.intake.dry_run).
    outcome = dry_runs.rehearse(run)
    counts = outcome.body.get("counts", {}) if isinstance(outcome.body, dict) else {}
    dry_runs.audit(
        access,
        channel=Channel.API,
        description=f"Learner completions checked (dry run): answered {outcome.status_code}; "
        "nothing was saved.",
        details={"status_code": outcome.status_code, "counts": counts},
    )
    return answer(outcome)
