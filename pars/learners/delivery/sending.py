"""Sending: claim waiting records into batches, send them under a lease, record the
receipt or back off and retry; staff put failed batches back."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

# The package defines the task functions: their queued paths name it.
from pars.learners import delivery
from pars.learners.connectors.base import (
    Connector,
    PermanentDeliveryError,
    TransientDeliveryError,
    connector_for,
)
from pars.learners.delivery.payloads import build_payload
from pars.learners.delivery.queueing import (
    BATCH_SIZE,
    DELIVERY_FAILED,
    MAX_BATCHES_PER_RUN,
    MAX_SEND_ATTEMPTS,
    RETRY_BASE_SECONDS,
    RETRY_CAP_SECONDS,
    RETRYING,
    backoff_seconds,
    config_number,
    enqueue_at,
    first_poll_seconds,
    lease_seconds,
    notify_webhooks,
    schedule_delivery,
)
from pars.learners.models import (
    WAITING_STATUSES,
    ActivityRegistration,
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
from pars.providers.models import live_rows

logger = logging.getLogger(__name__)


def deliver(code: str) -> int:
    """Send what waits for this recipient; returns the number of records sent.

    Safe to run at any time and in parallel: batches are leased, records claimed with
    row locks that other workers skip.
    """
    recipient = Recipient.objects.filter(code=code).first()
    if recipient is None:
        logger.warning("Delivery: no recipient %s", code[:20])
        return 0
    connector = connector_for(recipient)
    sent = 0
    for batch_id in _due_batch_ids(recipient):
        outcome, count = _send(recipient, connector, batch_id)
        sent += count
        if outcome == "retry":
            return sent  # the recipient is down: build no new batches now
    now = timezone.now()
    in_backoff = DeliveryBatch.objects.filter(
        recipient=recipient, status=BatchStatus.SENDING, next_attempt_at__gt=now
    ).exists()
    if in_backoff:
        return sent  # the retry run will send the new records too
    for _ in range(MAX_BATCHES_PER_RUN):
        claimed = _claim(recipient)
        if claimed is None:
            return sent
        outcome, count = _send(recipient, connector, claimed, leased=True)
        sent += count
        if outcome != "sent":
            return sent
    schedule_delivery([recipient.code])  # more waiting: continue in a new task
    return sent


def _due_batch_ids(recipient: Recipient) -> list[int]:
    now = timezone.now()
    return list(
        DeliveryBatch.objects.filter(recipient=recipient, status=BatchStatus.SENDING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )


def _claim(recipient: Recipient) -> int | None:
    """Put up to BATCH_SIZE waiting records in a new batch (leased to this worker)."""
    with transaction.atomic():
        waiting = LearnerCompletion.objects.filter(
            recipient=recipient, status__in=WAITING_STATUSES, batch__isnull=True
        ).order_by("pk")
        # A batch holds live records or a sandbox's, never both: a sandbox batch goes to
        # the registry simulator (is_sandbox_batch), live records first.
        sandbox = not waiting.filter(live_rows()).exists()
        waiting = waiting.filter(provider__sandbox_of__isnull=not sandbox)
        if connection.features.has_select_for_update_skip_locked:
            waiting = waiting.select_for_update(skip_locked=True, of=("self",))
        completions = list(waiting.select_related("activity", "provider", "recipient")[:BATCH_SIZE])
        if not completions:
            return None
        already = set(
            DeliveryItem.objects.filter(
                completion_id__in=[completion.pk for completion in completions]
            ).values_list("completion_id", "version", "action")
        )
        registrations = {
            registration.activity_id: registration
            for registration in ActivityRegistration.objects.filter(
                recipient=recipient,
                activity_id__in={completion.activity_id for completion in completions},
            )
        }
        now = timezone.now()
        batch = DeliveryBatch.objects.create(
            recipient=recipient,
            status=BatchStatus.SENDING,
            lease_until=now + datetime.timedelta(seconds=lease_seconds(recipient)),
        )
        items = []
        for completion in completions:
            action = (
                DeliveryAction.WITHDRAW
                if completion.status == CompletionStatus.WITHDRAWAL_QUEUED
                else DeliveryAction.SUBMIT
            )
            if (completion.pk, completion.version, action) in already:
                logger.error(
                    "Delivery: completion %s v%s was already sent; not sent again",
                    completion.pk,
                    completion.version,
                )
                continue
            items.append(
                DeliveryItem(
                    provider_id=completion.provider_id,
                    batch=batch,
                    completion=completion,
                    version=completion.version,
                    action=action,
                    payload=build_payload(
                        completion, action, registrations.get(completion.activity_id)
                    ),
                )
            )
        if not items:
            batch.delete()
            return None
        DeliveryItem.objects.bulk_create(items)
        batch.items_count = len(items)
        batch.save(update_fields=["items_count"])
        # From here on the record may reach the recipient: a withdrawal must be sent.
        LearnerCompletion.objects.filter(pk__in=[item.completion_id for item in items]).update(
            batch=batch, ever_sent=True
        )
    logger.info("Delivery %s: batch %s holds %d records", recipient.code, batch.pk, len(items))
    return batch.pk


def is_sandbox_batch(batch: DeliveryBatch) -> bool:
    """Whether the batch holds a sandbox's records (then only the simulator gets it)."""
    return batch.items.exclude(live_rows()).exists()


def _send(
    recipient: Recipient, connector: Connector, batch_id: int, *, leased: bool = False
) -> tuple[str, int]:
    """Send (or resend) one batch under its key: ("sent" | "retry" | "failed" | "busy", n)."""
    now = timezone.now()
    if not leased:
        taken = (
            DeliveryBatch.objects.filter(pk=batch_id, status=BatchStatus.SENDING)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_until=now + datetime.timedelta(seconds=lease_seconds(recipient)))
        )
        if not taken:
            return "busy", 0
    batch = DeliveryBatch.objects.get(pk=batch_id)
    items = [item.payload for item in batch.items.order_by("pk")]
    if is_sandbox_batch(batch):
        connector = connector_for(recipient, sandbox=True)
    try:
        receipt = connector.send(str(batch.key), recipient, items)
    except TransientDeliveryError as error:
        return _send_failed(batch_id, recipient, str(error), permanent=False), 0
    except PermanentDeliveryError as error:
        return _send_failed(batch_id, recipient, str(error), permanent=True), 0
    except Exception as error:  # a connector bug must not lose the batch: retry it later
        logger.error(
            "Delivery %s: batch %s: unexpected %s from the connector",
            recipient.code,
            batch_id,
            type(error).__name__,
        )
        message = f"Unexpected error in the {recipient.connector} connector."
        return _send_failed(batch_id, recipient, message, permanent=False), 0
    count = _mark_sent(batch_id, receipt)
    return "sent", count


def _mark_sent(batch_id: int, receipt: str) -> int:
    """Record that the recipient has the batch; queue the collection of its results."""
    now = timezone.now()
    changed: dict[int, list[int]] = defaultdict(list)
    with transaction.atomic():
        batch = (
            DeliveryBatch.objects.select_for_update().select_related("recipient").get(pk=batch_id)
        )
        if batch.status != BatchStatus.SENDING:
            return 0
        recipient = batch.recipient
        items = list(batch.items.values_list("completion_id", "version", "action"))
        current = dict(
            LearnerCompletion.objects.select_for_update()
            .filter(batch=batch, pk__in=[completion_id for completion_id, _, _ in items])
            .values_list("pk", "version")
        )
        events = []
        for status, action in (
            (CompletionStatus.SENT, DeliveryAction.SUBMIT),
            (CompletionStatus.WITHDRAWAL_SENT, DeliveryAction.WITHDRAW),
        ):
            ids = [
                completion_id
                for completion_id, version, item_action in items
                if item_action == action and current.get(completion_id) == version
            ]
            LearnerCompletion.objects.filter(pk__in=ids).update(
                status=status,
                status_reason="",
                status_code="",
                status_changed_at=now,
                ever_sent=True,
                updated_at=now,
            )
            for completion_id, provider_id in LearnerCompletion.objects.filter(
                pk__in=ids
            ).values_list("pk", "provider_id"):
                changed[provider_id].append(completion_id)
                events.append(
                    CompletionEvent(
                        provider_id=provider_id,
                        completion_id=completion_id,
                        kind=CompletionEventKind.SENT,
                        version=current[completion_id],
                        detail=f"Batch {batch.pk} to {recipient.code}"
                        + (" (withdrawal)" if action == DeliveryAction.WITHDRAW else ""),
                    )
                )
        CompletionEvent.objects.bulk_create(events)
        batch.status = BatchStatus.SENT
        batch.receipt = receipt[:200]
        batch.sent_at = now
        batch.lease_until = None
        batch.last_error = ""
        batch.attempts = 0  # from now on: attempts to collect the results
        batch.next_attempt_at = now + datetime.timedelta(seconds=first_poll_seconds(recipient))
        batch.save()
        notify_webhooks(changed)
    logger.info(
        "Delivery %s: batch %s sent (%d records, receipt recorded)",
        recipient.code,
        batch.pk,
        len(events),
    )
    enqueue_at(delivery.collect_results_task, batch.next_attempt_at, batch.pk)
    return len(events)


def _send_failed(batch_id: int, recipient: Recipient, message: str, *, permanent: bool) -> str:
    """Back off and retry later, or give up after max_attempts (the records stay queued)."""
    now = timezone.now()
    max_attempts = int(config_number(recipient, "max_attempts", MAX_SEND_ATTEMPTS))
    with transaction.atomic():
        batch = DeliveryBatch.objects.select_for_update().get(pk=batch_id)
        if batch.status != BatchStatus.SENDING:
            return "busy"
        batch.attempts += 1
        batch.last_error = message[:500]
        batch.lease_until = None
        if permanent or batch.attempts >= max_attempts:
            outcome = "failed"
            batch.status = BatchStatus.FAILED
            batch.finished_at = now
            batch.next_attempt_at = None
            reason = (
                f"Not yet delivered to {recipient.code}: {message} Nothing is lost: the "
                "record stays queued and PARS staff will resend it."
            )
            code = DELIVERY_FAILED
        else:
            outcome = "retry"
            delay = backoff_seconds(
                batch.attempts,
                max(config_number(recipient, "retry_base_seconds", RETRY_BASE_SECONDS), 1.0),
                config_number(recipient, "retry_cap_seconds", RETRY_CAP_SECONDS),
            )
            batch.next_attempt_at = now + datetime.timedelta(seconds=delay)
            reason = (
                f"Delivery to {recipient.code} is being retried "
                f"(attempt {batch.attempts} of {max_attempts} failed: {message})"
            )
            code = RETRYING
        batch.save()
        LearnerCompletion.objects.filter(batch=batch, status__in=WAITING_STATUSES).update(
            status_reason=reason[:500], status_code=code, updated_at=timezone.now()
        )
    if outcome == "failed":
        logger.error(
            "Delivery %s: batch %s failed after %d attempts: %s",
            recipient.code,
            batch_id,
            batch.attempts,
            message,
        )
    else:
        logger.warning(
            "Delivery %s: batch %s attempt %d failed, next at %s: %s",
            recipient.code,
            batch_id,
            batch.attempts,
            batch.next_attempt_at,
            message,
        )
        enqueue_at(delivery.deliver_task, batch.next_attempt_at, recipient.code)
    return outcome


def retry_failed(code: str) -> int:
    """Put the failed batches of a recipient back to sending (same key, same items);
    returns how many. Run :func:`deliver` (or the command) to send them."""
    now = timezone.now()
    with transaction.atomic():
        batches = list(
            DeliveryBatch.objects.select_for_update().filter(
                recipient__code=code, status=BatchStatus.FAILED
            )
        )
        for batch in batches:
            batch.status = BatchStatus.SENDING
            batch.attempts = 0
            batch.next_attempt_at = None
            batch.lease_until = None
            batch.finished_at = None
            batch.save()
        LearnerCompletion.objects.filter(batch__in=batches, status__in=WAITING_STATUSES).update(
            status_reason=f"Delivery to {code} will be retried.",
            status_code=RETRYING,
            updated_at=now,
        )
    if batches:
        logger.info("Delivery %s: %d failed batches will be resent", code, len(batches))
    return len(batches)
