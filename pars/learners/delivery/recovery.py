"""Recovery: queue again the work a dead worker left behind."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

# The package defines the task functions: their queued paths name it.
from pars.learners import delivery
from pars.learners.delivery.queueing import lease_seconds, schedule_delivery
from pars.learners.models import BatchStatus, DeliveryBatch

logger = logging.getLogger(__name__)


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
            overdue = now - datetime.timedelta(seconds=lease_seconds(batch.recipient))
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
                delivery.collect_results_task.enqueue(batch.pk)
        logger.warning(
            "Delivery %s: batch %s left by a stopped worker: queued again",
            batch.recipient.code,
            batch.pk,
        )
    if enqueue:
        schedule_delivery(codes)
    return recovery
