"""Everything at once, for one recipient or all (the ``deliver_completions`` command)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from pars.learners.delivery.results import collect_due
from pars.learners.delivery.sending import deliver, retry_failed
from pars.learners.models import BatchStatus, DeliveryBatch, DeliveryItem, Recipient
from pars.providers.models import live_rows


def live_batches() -> QuerySet[DeliveryBatch]:
    """Batches of real providers' records: a sandbox's batches (to the registry
    simulator, never a board; a batch is all one or all the other) are rehearsals, left
    out of what staff monitor and what the delivery run reports as retrying or failed."""
    sandboxed = DeliveryItem.objects.filter(batch=OuterRef("pk")).exclude(live_rows())
    return DeliveryBatch.objects.filter(~Exists(sandboxed))


@dataclass
class DeliveryRun:
    """What one run of :func:`run_delivery` did (for the command's report)."""

    records_sent: int = 0
    records_answered: int = 0
    batches_retrying: int = 0
    batches_failed: int = 0
    webhooks_sent: int = 0


def run_delivery(code: str | None = None, *, retry_failed_batches: bool = False) -> DeliveryRun:
    """Recover, send, collect (and retry failed batches) for one recipient or all, then
    send due webhooks. Idempotent: for cron and operators."""
    from pars.learners.webhooks import send_due_webhooks  # webhooks imports this package

    run = DeliveryRun()
    recipients = Recipient.objects.order_by("sort_order", "code")
    if code:
        recipients = recipients.filter(code=code.upper())
    for recipient in recipients:
        if retry_failed_batches:
            retry_failed(recipient.code)
        run.records_sent += deliver(recipient.code)
        run.records_answered += collect_due(recipient.code)
    batches = live_batches()
    if code:
        batches = batches.filter(recipient__code=code.upper())
    run.batches_retrying = batches.filter(
        status=BatchStatus.SENDING, next_attempt_at__isnull=False
    ).count()
    run.batches_failed = batches.filter(status=BatchStatus.FAILED).count()
    run.webhooks_sent = send_due_webhooks()
    return run
