"""Results: fetch a sent batch's answer and apply it per record, only to the version
that was sent."""

from __future__ import annotations

import datetime
import logging
import re
from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

# The package defines the task functions: their queued paths name it.
from pars.learners import delivery
from pars.learners.connectors.base import (
    ACCEPTED,
    IDENTITY_MISMATCH,
    RECORD_NOT_FOUND,
    DeliveryError,
    ItemResult,
    connector_for,
)
from pars.learners.delivery.queueing import (
    BATCH_SIZE,
    MIN_POLL_SECONDS,
    NO_RESULT,
    RESULTS_POLL_CAP_SECONDS,
    backoff_seconds,
    config_number,
    enqueue_at,
    first_poll_seconds,
    lease_seconds,
    notify_webhooks,
)
from pars.learners.delivery.sending import is_sandbox_batch
from pars.learners.models import (
    BatchStatus,
    CompletionEvent,
    CompletionEventKind,
    CompletionStatus,
    DeliveryAction,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
)

logger = logging.getLogger(__name__)


def collect_results(batch_id: int) -> int:
    """Fetch and apply a sent batch's results; returns the records answered (0: later)."""
    batch = DeliveryBatch.objects.select_related("recipient").filter(pk=batch_id).first()
    if batch is None or batch.status != BatchStatus.SENT:
        return 0
    recipient = batch.recipient
    now = timezone.now()
    taken = (
        DeliveryBatch.objects.filter(pk=batch_id, status=BatchStatus.SENT)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + datetime.timedelta(seconds=lease_seconds(recipient)))
    )
    if not taken:
        return 0
    try:
        connector = connector_for(recipient, sandbox=is_sandbox_batch(batch))
        results = connector.fetch_results(str(batch.key), recipient)
    except DeliveryError as error:
        _poll_later(batch_id, recipient, str(error))
        return 0
    except Exception as error:
        logger.error(
            "Delivery %s: batch %s: unexpected %s fetching results",
            recipient.code,
            batch_id,
            type(error).__name__,
        )
        _poll_later(batch_id, recipient, "Unexpected error fetching the results.")
        return 0
    if results is None:
        _poll_later(batch_id, recipient, "")
        return 0
    return _apply_results(batch_id, results)


def _poll_later(batch_id: int, recipient: Recipient, message: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        batch = DeliveryBatch.objects.select_for_update().get(pk=batch_id)
        batch.attempts += 1
        base = max(first_poll_seconds(recipient), MIN_POLL_SECONDS)
        cap = max(
            config_number(recipient, "results_poll_cap_seconds", RESULTS_POLL_CAP_SECONDS), base
        )
        batch.next_attempt_at = now + datetime.timedelta(
            seconds=backoff_seconds(batch.attempts, base, cap)
        )
        batch.lease_until = None
        batch.last_error = message[:500]
        batch.save()
    if message:
        logger.warning(
            "Delivery %s: results of batch %s not fetched: %s", recipient.code, batch_id, message
        )
    else:
        logger.debug("Delivery %s: results of batch %s not ready", recipient.code, batch_id)
    enqueue_at(delivery.collect_results_task, batch.next_attempt_at, batch_id)


def _scrub(text: str, completion: LearnerCompletion) -> str:
    """A recipient's reason without the learner's identifier, NPI or birth date in it."""
    for value in (completion.learner_id, completion.npi):
        if value and len(value) >= 3:
            text = re.sub(re.escape(value), "[identifier]", text, flags=re.IGNORECASE)
    month, day = completion.birth_month, completion.birth_day
    text = re.sub(rf"(?<!\d)0?{month}[-/.]0?{day}(?!\d)", "[birth date]", text)
    return text[:500]


def _outcome(
    item: DeliveryItem, result: ItemResult | None, recipient: Recipient
) -> tuple[str, str, str, str]:
    """(status, event kind, reason, reason code) of a record from its result."""
    code = recipient.code
    if result is None:
        return (
            CompletionStatus.REJECTED,
            CompletionEventKind.REJECTED,
            f"{code} returned no result for this record; resubmit it.",
            NO_RESULT,
        )
    if item.action == DeliveryAction.WITHDRAW:
        if result.outcome == ACCEPTED or result.reason_code == RECORD_NOT_FOUND:
            return CompletionStatus.WITHDRAWN, CompletionEventKind.WITHDRAWN, "", ""
        return (
            CompletionStatus.REJECTED,
            CompletionEventKind.REJECTED,
            f"{code} refused the withdrawal: {result.reason or 'no reason given'}",
            result.reason_code or "withdrawal_refused",
        )
    if result.outcome == ACCEPTED and not recipient.matches_learners:
        # A recipient that only receives reports (REMS): in its report, nothing to match.
        return CompletionStatus.REPORTED, CompletionEventKind.REPORTED, "", ""
    if result.outcome == ACCEPTED:
        return CompletionStatus.ACCEPTED, CompletionEventKind.ACCEPTED, "", ""
    if result.reason_code == IDENTITY_MISMATCH and recipient.matches_learners:
        return (
            CompletionStatus.HELD,
            CompletionEventKind.HELD,
            result.reason or f"The learner was not found in the {code} registry.",
            IDENTITY_MISMATCH,
        )
    return (
        CompletionStatus.REJECTED,
        CompletionEventKind.REJECTED,
        result.reason or f"Rejected by {code}.",
        result.reason_code or "rejected",
    )


def _record_answer(
    item: DeliveryItem, result: ItemResult | None, completion: LearnerCompletion | None
) -> None:
    """Note the recipient's answer on the delivery item (kept even when it is history)."""
    if result is None:
        item.outcome = "missing"
    else:
        item.outcome = result.outcome
        item.reason = _scrub(result.reason, completion) if completion else ""
        item.reason_code = result.reason_code


def _still_awaits(item: DeliveryItem, completion: LearnerCompletion) -> bool:
    """Whether the completion is still the version this item sent, waiting for its answer."""
    expected = (
        CompletionStatus.WITHDRAWAL_SENT
        if item.action == DeliveryAction.WITHDRAW
        else CompletionStatus.SENT
    )
    return completion.version == item.version and completion.status == expected


def _settle(
    completion: LearnerCompletion,
    item: DeliveryItem,
    result: ItemResult | None,
    recipient: Recipient,
    now: datetime.datetime,
) -> CompletionEvent:
    """Move the completion to the status the answer gives; returns its (unsaved) event."""
    status, kind, reason, reason_code = _outcome(item, result, recipient)
    reason = _scrub(reason, completion)
    completion.status = status
    completion.status_reason = reason
    completion.status_code = reason_code
    completion.status_changed_at = now
    completion.updated_at = now
    completion.batch = None
    return CompletionEvent(
        provider_id=completion.provider_id,
        completion=completion,
        kind=kind,
        version=completion.version,
        detail=reason[:500],
    )


def _apply_results(batch_id: int, results: Sequence[ItemResult]) -> int:
    by_ref = {result.ref: result for result in results}
    now = timezone.now()
    changed: dict[int, list[int]] = defaultdict(list)
    with transaction.atomic():
        batch = (
            DeliveryBatch.objects.select_for_update().select_related("recipient").get(pk=batch_id)
        )
        if batch.status != BatchStatus.SENT:
            return 0
        code = batch.recipient.code
        items = list(batch.items.order_by("pk"))
        completions = LearnerCompletion.objects.select_for_update().in_bulk(
            [item.completion_id for item in items]
        )
        updated: list[LearnerCompletion] = []
        events = []
        missing = 0
        for item in items:
            result = by_ref.get(str(item.payload.get("ref")))
            completion = completions.get(item.completion_id)
            if result is None:
                missing += 1
            _record_answer(item, result, completion)
            if completion is None or not _still_awaits(item, completion):
                continue  # a newer version took over: this answer is history only
            events.append(_settle(completion, item, result, batch.recipient, now))
            updated.append(completion)
            changed[completion.provider_id].append(completion.pk)
        DeliveryItem.objects.bulk_update(
            items, ["outcome", "reason", "reason_code"], batch_size=BATCH_SIZE
        )
        LearnerCompletion.objects.bulk_update(
            updated,
            ["status", "status_reason", "status_code", "status_changed_at", "updated_at", "batch"],
            batch_size=BATCH_SIZE,
        )
        CompletionEvent.objects.bulk_create(events)
        batch.status = BatchStatus.DONE
        batch.finished_at = now
        batch.lease_until = None
        batch.next_attempt_at = None
        batch.last_error = f"{missing} records had no result." if missing else ""
        batch.save()
        notify_webhooks(changed)
    logger.info(
        "Delivery %s: batch %s answered (%d records applied, %d without result)",
        code,
        batch_id,
        len(updated),
        missing,
    )
    return len(updated)


def collect_due(code: str | None = None) -> int:
    """Collect the results of every sent batch whose time has come; returns records."""
    now = timezone.now()
    batches = DeliveryBatch.objects.filter(status=BatchStatus.SENT).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )
    if code:
        batches = batches.filter(recipient__code=code)
    return sum(collect_results(pk) for pk in batches.order_by("pk").values_list("pk", flat=True))
