"""One record at a time (web form, JSON): submit, correct, resubmit, withdraw, fix identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.learners.delivery import schedule_delivery
from pars.learners.dictionary import COMPLETION_FIELDS, LINK_GROUPS, group_names, value_names
from pars.learners.models import (
    CompletionEventKind,
    CompletionStatus,
    LearnerCompletion,
)
from pars.learners.validation import (
    FieldError,
    load_recipients,
    validate_completion,
)
from pars.learners.webhooks import notify_status_changes

from .lookups import ActivityLookup, _against_activity
from .refusals import CompletionRefused
from .writer import (
    _WITHDRAWN_STATUSES,
    ClosedYears,
    _changed_fields,
    _locked_error,
    _new_version,
    _withdraw,
    apply_completions,
    closed_years,
    refused_errors,
)

# The fields naming the record's activity and recipient: a correction keeps them.
_LINKS = frozenset(spec.name for spec in COMPLETION_FIELDS if spec.group in LINK_GROUPS)


def completion_raw(completion: LearnerCompletion) -> dict[str, Any]:
    """A stored record as raw input again (for corrections: change some, keep the rest)."""
    raw: dict[str, Any] = {
        "action": "add",
        "provider_activity_id": completion.activity.provider_activity_id,
        "recipient": completion.recipient.code,
    }
    for name in value_names():
        if name == "birth_date":  # stored as its month and day (STORED_AS)
            raw[name] = f"{completion.birth_month:02d}-{completion.birth_day:02d}"
        else:
            value = getattr(completion, name)
            raw[name] = list(value) if isinstance(value, list) else value
    return raw


def submit_completion(
    access: ProviderAccess, raw: Mapping[str, Any], *, channel: str
) -> LearnerCompletion | None:
    """Validate and write one record (add, or delete = withdraw); raises CompletionRefused.

    Returns the record (None for a delete of a record never written).
    """
    recipients = load_recipients()
    today = timezone.localdate()
    record, errors = validate_completion(raw, recipients=recipients, today=today)
    if record is None:
        lookup = ActivityLookup(access)
        [errors] = refused_errors(lookup, [(None, raw, errors)], recipients=recipients, today=today)
        raise CompletionRefused(errors)
    result = apply_completions(access, [(None, record)], channel=channel, recipients=recipients)
    if result.errors:
        raise CompletionRefused(result.errors)
    return (
        access.records(LearnerCompletion)
        .filter(
            recipient__code=record.recipient,
            learner_key=record.learner_key,
            completion_date=record.completion_date,
            activity__provider_activity_id=record.provider_activity_id,
        )
        .first()
        if record.provider_activity_id
        else access.records(LearnerCompletion)
        .filter(
            recipient__code=record.recipient,
            learner_key=record.learner_key,
            completion_date=record.completion_date,
            activity__accme_activity_id=record.accme_activity_id,
        )
        .first()
    )


def correct_completion(
    access: ProviderAccess,
    completion: LearnerCompletion,
    changes: Mapping[str, Any],
    *,
    channel: str,
) -> LearnerCompletion:
    """Change some fields of a record (also its learner identity): a new version, resent.

    The activity and the recipient stay; to move a completion, withdraw it and add it anew.
    """
    access.require_edit()
    assert completion.provider_id == access.provider.pk
    if completion.status in (CompletionStatus.WITHDRAWAL_QUEUED, CompletionStatus.WITHDRAWAL_SENT):
        rule = "learner.record.not_found"
        raise CompletionRefused(
            [
                FieldError(
                    None, "action", rule, "This record is being withdrawn; add it again instead."
                )
            ]
        )
    raw = completion_raw(completion)
    raw.update(
        {key: value for key, value in changes.items() if key != "action" and key not in _LINKS}
    )
    recipients = load_recipients(include_inactive=True)
    today = timezone.localdate()
    record, errors = validate_completion(raw, recipients=recipients, today=today)
    lookup = ActivityLookup(access)
    if record is None:
        [errors] = refused_errors(lookup, [(None, raw, errors)], recipients=recipients, today=today)
        raise CompletionRefused(errors)
    lookup.load([record.activity_ref])
    info = lookup.get(record.activity_ref)
    errors = _against_activity(None, record, info, recipients[record.recipient], today)
    closed_year = _locked_error(closed_years(lookup), None, record, info)
    if errors:
        raise CompletionRefused(errors + ([closed_year] if closed_year else []))
    values = record.values()
    with transaction.atomic():
        if not closed_years(lookup).still_current():  # attested or reopened meanwhile
            closed_year = _locked_error(closed_years(lookup, fresh=True), None, record, info)
        locked = LearnerCompletion.objects.select_for_update().get(pk=completion.pk)
        clash = (
            LearnerCompletion.objects.filter(
                activity_id=locked.activity_id,
                recipient_id=locked.recipient_id,
                learner_key=values["learner_key"],
                completion_date=values["completion_date"],
            )
            .exclude(pk=locked.pk)
            .exists()
        )
        if clash:
            rule = "learner.record.duplicate_in_file"
            raise CompletionRefused(
                [
                    FieldError(
                        None,
                        "learner_id",
                        rule,
                        "Another record already has this learner and date.",
                    )
                ]
            )
        changed = _changed_fields(locked, values)
        if locked.completion_date != values["completion_date"]:
            changed.append("completion_date")
        if not changed and locked.status not in (CompletionStatus.REJECTED, CompletionStatus.HELD):
            return locked
        if closed_year is not None:
            raise CompletionRefused([closed_year])
        kind = CompletionEventKind.CORRECTED if changed else CompletionEventKind.RESUBMITTED
        _new_version(locked, values, kind, channel=channel, by=access, changed=changed)
        code = locked.recipient.code
        transaction.on_commit(lambda: _schedule([code]))

        notify_status_changes(access.provider, [locked.pk])
    return locked


def resubmit_completion(
    access: ProviderAccess, completion: LearnerCompletion, *, channel: str
) -> LearnerCompletion:
    """Send a rejected or held record again as it is (after the learner's data was fixed)."""
    return correct_completion(access, completion, {}, channel=channel)


def withdraw_completion(
    access: ProviderAccess, completion: LearnerCompletion, *, channel: str
) -> LearnerCompletion:
    """Withdraw a record from its recipient (at once if it was never sent)."""
    access.require_edit()
    assert completion.provider_id == access.provider.pk
    with transaction.atomic():
        closed = ClosedYears(access, hold=True)
        locked = LearnerCompletion.objects.select_for_update().get(pk=completion.pk)
        closed_year = closed.error(None, locked.activity_id, locked.recipient.code)
        if closed_year is not None and locked.status not in _WITHDRAWN_STATUSES:
            raise CompletionRefused([closed_year])
        if _withdraw(access, locked, channel=channel):
            record_event(
                access, AuditAction.LEARNERS_WRITTEN, channel=channel, details={"withdrawn": 1}
            )
            if locked.status == CompletionStatus.WITHDRAWAL_QUEUED:
                code = locked.recipient.code
                transaction.on_commit(lambda: _schedule([code]))

            notify_status_changes(access.provider, [locked.pk])
    return locked


def fix_learner_identity(
    access: ProviderAccess,
    completion: LearnerCompletion,
    changes: Mapping[str, Any],
    *,
    channel: str,
) -> list[LearnerCompletion]:
    """Correct the learner's identity on this record and on every held record of the same
    learner at the same recipient; each is resent. Returns the records changed."""
    held = list(
        access.records(LearnerCompletion)
        .filter(
            recipient_id=completion.recipient_id,
            learner_key=completion.learner_key,
            status=CompletionStatus.HELD,
        )
        .exclude(pk=completion.pk)
    )
    fixed = [correct_completion(access, completion, changes, channel=channel)]
    identity = {key: changes[key] for key in group_names("learner") if key in changes}
    for other in held:
        fixed.append(correct_completion(access, other, identity, channel=channel))
    return fixed


def _schedule(codes: list[str]) -> None:

    schedule_delivery(codes)
