"""Delivery of completions to their recipients, and the recipients' answers.

The flow (docs/learner-delivery.md has the whole story):

1. A record is written as *queued* (or *withdrawal queued*); the writer calls
   :func:`schedule_delivery` after its commit, which queues :func:`deliver` per
   recipient.
2. :func:`deliver` first resends batches that are due: a worker died while sending
   them (their lease ran out) or a retry's time has come. Then it claims waiting
   records (``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL) into a
   :class:`DeliveryBatch` of up to :data:`BATCH_SIZE` with one :class:`DeliveryItem`
   per record (a snapshot of exactly what is sent), all in one transaction, and sends
   it through the recipient's connector under a lease.
3. Sent: the batch is *sent*, its records *sent* / *withdrawal sent*, and
   :func:`collect_results` is queued for when the answer should be ready.
   Not sent (recipient down): the batch is retried with exponential backoff and
   jitter; after ``max_attempts`` it is *failed* and its records stay *queued* with a
   clear reason until staff resend it (``deliver_completions --retry-failed``).
4. :func:`collect_results` applies the answer per record, only to the version that
   was sent: *accepted*, *rejected*, *held* (the learner was not matched), *withdrawn*.
5. :func:`release_held` resends held records whose learner now matches (after the
   registry was updated).

Nothing is sent twice: a record version and action is in one batch only (the unique
constraint on :class:`DeliveryItem`), and a batch is always resent whole under the
same key, which the recipient recognises. Logs name batches, counts and recipient
codes, never a learner's identifier, name or birth date.
"""

from __future__ import annotations

import datetime
import logging
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from pars.learners.connectors.base import (
    ACCEPTED,
    IDENTITY_MISMATCH,
    MATCH,
    RECORD_NOT_FOUND,
    Connector,
    DeliveryError,
    ItemResult,
    MatchingUnavailable,
    PermanentDeliveryError,
    TransientDeliveryError,
    connector_for,
)
from pars.learners.models import (
    WAITING_STATUSES,
    ActivityRegistration,
    BatchStatus,
    CompletionEvent,
    CompletionEventKind,
    CompletionStatus,
    ConnectorKind,
    DeliveryAction,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
    RecipientKind,
)
from pars.providers.models import Provider

logger = logging.getLogger(__name__)

BATCH_SIZE = 500  # records per batch
MAX_BATCHES_PER_RUN = 20  # then the task queues itself again
LEASE_SECONDS = 600  # a batch being sent by a worker that lives longer is resent
MAX_SEND_ATTEMPTS = 10
RETRY_BASE_SECONDS = 60.0  # first retry after about a minute, then doubling …
RETRY_CAP_SECONDS = 6 * 60 * 60.0  # … to at most six hours between attempts
RESULTS_POLL_SECONDS = 300.0  # first look for results (real recipients)
MIN_POLL_SECONDS = 30.0
RESULTS_POLL_CAP_SECONDS = 60 * 60.0
JITTER = 0.25  # up to a quarter more, so retries of many batches spread out

# Status codes PARS itself sets on records while delivery has trouble.
RETRYING = "delivery_retrying"
DELIVERY_FAILED = "delivery_failed"
NO_RESULT = "no_result"


# ---------------------------------------------------------------------------
# Queueing


def schedule_delivery(codes: Iterable[str]) -> None:
    """Queue the delivery task of each recipient code (the writer calls it on commit)."""
    from pars.learners.tasks import deliver_task

    for code in sorted(set(codes)):
        deliver_task.enqueue(code)


def enqueue_at(task: Any, when: datetime.datetime | None, *args: Any) -> bool:
    """Queue ``task(*args)`` to run at ``when`` (now if None or past).

    Returns False when the backend cannot defer tasks (the in-process backend of the
    tests): the ``deliver_completions`` command, run from cron, picks the work up then.
    """
    if when is None or when <= timezone.now():
        task.enqueue(*args)
        return True
    if task.get_backend().supports_defer:
        task.using(run_after=when).enqueue(*args)
        return True
    logger.debug("%s not deferred (backend cannot): left for the next run", task.name)
    return False


def backoff_seconds(attempt: int, base: float, cap: float) -> float:
    """Seconds before attempt ``attempt + 1``: base * 2^(attempt-1), plus jitter, capped."""
    raw = min(cap, base * 2 ** max(attempt - 1, 0))
    return min(cap, raw * (1 + random.uniform(0, JITTER)))  # noqa: S311 (not for secrets)


def _config_number(recipient: Recipient, name: str, default: float) -> float:
    value = (recipient.connector_config or {}).get(name)
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _first_poll_seconds(recipient: Recipient) -> float:
    config = recipient.connector_config or {}
    for name in ("results_poll_seconds", "results_delay_seconds"):
        if name in config:
            return _config_number(recipient, name, RESULTS_POLL_SECONDS)
    return 0.0 if recipient.connector == ConnectorKind.SIMULATOR else RESULTS_POLL_SECONDS


# ---------------------------------------------------------------------------
# Payloads


def build_payload(
    completion: LearnerCompletion,
    action: str,
    registration: ActivityRegistration | None,
) -> dict[str, Any]:
    """What the recipient receives for one record: its activity, learner and credits."""
    activity = completion.activity
    recipient = completion.recipient

    def number(value: Any) -> str | None:
        return None if value is None else str(value)

    payload: dict[str, Any] = {
        "ref": f"{completion.pk}.{completion.version}.{action}",
        "record_id": str(completion.pk),
        "version": completion.version,
        "action": action,
        "provider": {
            "provider_id": completion.provider.provider_id,
            "name": completion.provider.name,
        },
        "activity": {
            "accme_activity_id": activity.accme_activity_id,
            "provider_activity_id": activity.provider_activity_id,
            "title": activity.title,
            "start_date": activity.start_date.isoformat(),
            "end_date": activity.end_date.isoformat(),
            "recipient_activity_id": registration.internal_id if registration else "",
        },
        "learner": {
            "first_name": completion.first_name,
            "last_name": completion.last_name,
            "birth_month": completion.birth_month,
            "birth_day": completion.birth_day,
            "learner_id": completion.learner_id,
            "npi": completion.npi,
            "license_state": completion.license_state,
        },
        "completion_date": completion.completion_date.isoformat(),
        "credits": {
            "cme_credits": number(completion.cme_credits),
            "moc_points": number(completion.moc_points),
            "moc_credit_types": list(completion.moc_credit_types or ()),
        },
    }
    if recipient.kind == RecipientKind.REMS:
        payload["activity"]["rems_type"] = registration.rems_type if registration else ""
        payload["activity"]["rems_rpc_id"] = registration.rems_rpc_id if registration else ""
        payload["rems"] = {
            "profession": completion.profession,
            "practice_state": completion.practice_state,
            "dea_registration": completion.dea_registration,
            "practice_area": completion.practice_area,
            "surgical_procedures": completion.surgical_procedures,
            "time_in_practice": completion.time_in_practice,
        }
    return payload


# ---------------------------------------------------------------------------
# Sending


@dataclass
class DeliveryRun:
    """What one run of :func:`run_delivery` did (for the command's report)."""

    records_sent: int = 0
    records_answered: int = 0
    batches_retrying: int = 0
    batches_failed: int = 0
    webhooks_sent: int = 0


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


def _lease_seconds(recipient: Recipient) -> float:
    return _config_number(recipient, "lease_seconds", LEASE_SECONDS)


def _claim(recipient: Recipient) -> int | None:
    """Put up to BATCH_SIZE waiting records in a new batch (leased to this worker)."""
    with transaction.atomic():
        waiting = LearnerCompletion.objects.filter(
            recipient=recipient, status__in=WAITING_STATUSES, batch__isnull=True
        ).order_by("pk")
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
            lease_until=now + datetime.timedelta(seconds=_lease_seconds(recipient)),
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


def _send(
    recipient: Recipient, connector: Connector, batch_id: int, *, leased: bool = False
) -> tuple[str, int]:
    """Send (or resend) one batch under its key: ("sent" | "retry" | "failed" | "busy", n)."""
    now = timezone.now()
    if not leased:
        taken = (
            DeliveryBatch.objects.filter(pk=batch_id, status=BatchStatus.SENDING)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_until=now + datetime.timedelta(seconds=_lease_seconds(recipient)))
        )
        if not taken:
            return "busy", 0
    batch = DeliveryBatch.objects.get(pk=batch_id)
    items = [item.payload for item in batch.items.order_by("pk")]
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
        batch.next_attempt_at = now + datetime.timedelta(seconds=_first_poll_seconds(recipient))
        batch.save()
        _notify(changed)
    logger.info(
        "Delivery %s: batch %s sent (%d records, receipt recorded)",
        recipient.code,
        batch.pk,
        len(events),
    )
    from pars.learners.tasks import collect_results_task

    enqueue_at(collect_results_task, batch.next_attempt_at, batch.pk)
    return len(events)


def _send_failed(batch_id: int, recipient: Recipient, message: str, *, permanent: bool) -> str:
    """Back off and retry later, or give up after max_attempts (the records stay queued)."""
    now = timezone.now()
    max_attempts = int(_config_number(recipient, "max_attempts", MAX_SEND_ATTEMPTS))
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
                max(_config_number(recipient, "retry_base_seconds", RETRY_BASE_SECONDS), 1.0),
                _config_number(recipient, "retry_cap_seconds", RETRY_CAP_SECONDS),
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
        from pars.learners.tasks import deliver_task

        enqueue_at(deliver_task, batch.next_attempt_at, recipient.code)
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


# ---------------------------------------------------------------------------
# Results


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
        .update(lease_until=now + datetime.timedelta(seconds=_lease_seconds(recipient)))
    )
    if not taken:
        return 0
    try:
        results = connector_for(recipient).fetch_results(str(batch.key), recipient)
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
        base = max(_first_poll_seconds(recipient), MIN_POLL_SECONDS)
        cap = max(
            _config_number(recipient, "results_poll_cap_seconds", RESULTS_POLL_CAP_SECONDS), base
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
    from pars.learners.tasks import collect_results_task

    enqueue_at(collect_results_task, batch.next_attempt_at, batch_id)


def _scrub(text: str, completion: LearnerCompletion) -> str:
    """A recipient's reason without the learner's identifier, NPI or birth date in it."""
    for value in (completion.learner_id, completion.npi):
        if value and len(value) >= 3:
            text = re.sub(re.escape(value), "[identifier]", text, flags=re.IGNORECASE)
    month, day = completion.birth_month, completion.birth_day
    text = re.sub(rf"(?<!\d)0?{month}[-/.]0?{day}(?!\d)", "[birth date]", text)
    return text[:500]


def _outcome(item: DeliveryItem, result: ItemResult | None, code: str) -> tuple[str, str, str, str]:
    """(status, event kind, reason, reason code) of a record from its result."""
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
    if result.outcome == ACCEPTED:
        return CompletionStatus.ACCEPTED, CompletionEventKind.ACCEPTED, "", ""
    if result.reason_code == IDENTITY_MISMATCH:
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
                item.outcome = "missing"
            else:
                item.outcome = result.outcome
                item.reason = _scrub(result.reason, completion) if completion else ""
                item.reason_code = result.reason_code
            expected = (
                CompletionStatus.WITHDRAWAL_SENT
                if item.action == DeliveryAction.WITHDRAW
                else CompletionStatus.SENT
            )
            if (
                completion is None
                or completion.version != item.version
                or completion.status != expected
            ):
                continue  # a newer version took over: this answer is history only
            status, kind, reason, reason_code = _outcome(item, result, code)
            reason = _scrub(reason, completion)
            completion.status = status
            completion.status_reason = reason
            completion.status_code = reason_code
            completion.status_changed_at = now
            completion.updated_at = now
            completion.batch = None
            updated.append(completion)
            changed[completion.provider_id].append(completion.pk)
            events.append(
                CompletionEvent(
                    provider_id=completion.provider_id,
                    completion=completion,
                    kind=kind,
                    version=completion.version,
                    detail=reason[:500],
                )
            )
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
        _notify(changed)
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


# ---------------------------------------------------------------------------
# Held records


def _identity(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: values[name]
        for name in (
            "first_name",
            "last_name",
            "birth_month",
            "birth_day",
            "learner_id",
            "npi",
            "license_state",
        )
    }


def release_held(code: str) -> int:
    """Resend the recipient's held records whose learner now matches its registry.

    Each released record gets a new version (queued, event "released"); delivery is
    scheduled. Returns how many were released (0 when the connector cannot match).
    """
    recipient = Recipient.objects.filter(code=code).first()
    if recipient is None:
        return 0
    connector = connector_for(recipient)
    held = list(
        LearnerCompletion.objects.filter(recipient=recipient, status=CompletionStatus.HELD)
        .order_by("pk")
        .values(
            "pk",
            "first_name",
            "last_name",
            "birth_month",
            "birth_day",
            "learner_id",
            "npi",
            "license_state",
        )
    )
    released = 0
    for start in range(0, len(held), BATCH_SIZE):
        chunk = held[start : start + BATCH_SIZE]
        try:
            outcomes = connector.match_learners(recipient, [_identity(row) for row in chunk])
        except MatchingUnavailable as error:
            logger.info("Release %s: matching unavailable: %s", recipient.code, error)
            return released
        matched = [
            row["pk"]
            for row, outcome in zip(chunk, outcomes, strict=True)
            if outcome.status == MATCH
        ]
        released += _release(recipient, matched)
    if released:
        logger.info("Release %s: %d held records released", recipient.code, released)
        transaction.on_commit(lambda: schedule_delivery([recipient.code]))
    return released


def _release(recipient: Recipient, completion_ids: list[int]) -> int:
    if not completion_ids:
        return 0
    now = timezone.now()
    changed: dict[int, list[int]] = defaultdict(list)
    with transaction.atomic():
        completions = list(
            LearnerCompletion.objects.select_for_update().filter(
                pk__in=completion_ids, status=CompletionStatus.HELD
            )
        )
        for completion in completions:
            completion.version += 1
            completion.status = CompletionStatus.QUEUED
            completion.status_reason = ""
            completion.status_code = ""
            completion.status_changed_at = now
            completion.updated_at = now
            completion.batch = None
            changed[completion.provider_id].append(completion.pk)
        LearnerCompletion.objects.bulk_update(
            completions,
            [
                "version",
                "status",
                "status_reason",
                "status_code",
                "status_changed_at",
                "updated_at",
                "batch",
            ],
        )
        CompletionEvent.objects.bulk_create(
            CompletionEvent(
                provider_id=completion.provider_id,
                completion=completion,
                kind=CompletionEventKind.RELEASED,
                version=completion.version,
                detail=f"The learner now matches the {recipient.code} registry; resent.",
            )
            for completion in completions
        )
        _notify(changed)
    return len(completions)


# ---------------------------------------------------------------------------
# Everything at once (the deliver_completions command)


def _notify(changed: dict[int, list[int]]) -> None:
    if not changed:
        return
    from pars.learners.webhooks import notify_status_changes

    providers = Provider.objects.in_bulk(list(changed))
    for provider_id, ids in changed.items():
        notify_status_changes(providers[provider_id], ids)


def run_delivery(code: str | None = None, *, retry_failed_batches: bool = False) -> DeliveryRun:
    """Recover, send, collect (and retry failed batches) for one recipient or all, then
    send due webhooks. Idempotent: for cron and operators."""
    from pars.learners.webhooks import send_due_webhooks

    run = DeliveryRun()
    recipients = Recipient.objects.order_by("sort_order", "code")
    if code:
        recipients = recipients.filter(code=code.upper())
    for recipient in recipients:
        if retry_failed_batches:
            retry_failed(recipient.code)
        run.records_sent += deliver(recipient.code)
        run.records_answered += collect_due(recipient.code)
    batches = DeliveryBatch.objects.all()
    if code:
        batches = batches.filter(recipient__code=code.upper())
    run.batches_retrying = batches.filter(
        status=BatchStatus.SENDING, next_attempt_at__isnull=False
    ).count()
    run.batches_failed = batches.filter(status=BatchStatus.FAILED).count()
    run.webhooks_sent = send_due_webhooks()
    return run


# ---------------------------------------------------------------------------
# Recovery: work a dead worker left behind


@dataclass
class DeliveryRecovery:
    """What :func:`recover_stale_deliveries` queued again (batch ids)."""

    sending: list[int] = field(default_factory=list)
    collecting: list[int] = field(default_factory=list)


def recover_stale_deliveries(*, enqueue: bool = True) -> DeliveryRecovery:
    """Queue again the sending and collecting that a dead worker left behind.

    A batch whose lease ran out (its worker died while sending it or fetching its
    results), or whose retry or collection is overdue by more than a lease (the deferred
    task was lost), is made due now and its task queued. Each batch is taken with a
    conditional UPDATE on what was read, so two workers recovering at once queue it once;
    a task queued twice anyway is harmless (the batch lease lets one run send it).
    Run by every task worker periodically (pars.jobs) and by ``recover_jobs``.
    """
    from pars.learners.tasks import collect_results_task

    now = timezone.now()
    recovery = DeliveryRecovery()
    codes: set[str] = set()
    candidates = (
        DeliveryBatch.objects.filter(status__in=(BatchStatus.SENDING, BatchStatus.SENT))
        .filter(Q(lease_until__lt=now) | Q(lease_until__isnull=True, next_attempt_at__lt=now))
        .select_related("recipient")
        .order_by("pk")
    )
    for batch in candidates:
        if batch.lease_until is None:
            overdue = now - datetime.timedelta(seconds=_lease_seconds(batch.recipient))
            if batch.next_attempt_at is None or batch.next_attempt_at >= overdue:
                continue  # its deferred task is due and should run any moment
        taken = DeliveryBatch.objects.filter(
            pk=batch.pk,
            status=batch.status,
            lease_until=batch.lease_until,
            next_attempt_at=batch.next_attempt_at,
        ).update(lease_until=None, next_attempt_at=now)
        if not taken:
            continue  # sent, answered or recovered meanwhile
        if batch.status == BatchStatus.SENDING:
            recovery.sending.append(batch.pk)
            codes.add(batch.recipient.code)
        else:
            recovery.collecting.append(batch.pk)
            if enqueue:
                collect_results_task.enqueue(batch.pk)
        logger.warning(
            "Delivery %s: batch %s left by a stopped worker: queued again",
            batch.recipient.code,
            batch.pk,
        )
    if enqueue:
        schedule_delivery(codes)
    return recovery


__all__ = [
    "BATCH_SIZE",
    "DeliveryRun",
    "backoff_seconds",
    "build_payload",
    "collect_due",
    "collect_results",
    "deliver",
    "recover_stale_deliveries",
    "release_held",
    "retry_failed",
    "run_delivery",
    "schedule_delivery",
]
