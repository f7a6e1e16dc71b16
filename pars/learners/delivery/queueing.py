"""When delivery work is queued: the tuning numbers, the tasks queued now or at a later
time with backoff, a recipient's overrides of the numbers, and the webhook notice of
records whose status changed."""

from __future__ import annotations

import datetime
import logging
import random
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

# The package defines the task functions: their queued paths name it.
from pars.learners import delivery
from pars.learners.models import ConnectorKind, Recipient
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


def schedule_delivery(codes: Iterable[str]) -> None:
    """Queue the delivery task of each recipient code (the writer calls it on commit)."""
    for code in sorted(set(codes)):
        delivery.deliver_task.enqueue(code)


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


def config_number(recipient: Recipient, name: str, default: float) -> float:
    value = (recipient.connector_config or {}).get(name)
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def first_poll_seconds(recipient: Recipient) -> float:
    config = recipient.connector_config or {}
    for name in ("results_poll_seconds", "results_delay_seconds"):
        if name in config:
            return config_number(recipient, name, RESULTS_POLL_SECONDS)
    return 0.0 if recipient.connector == ConnectorKind.SIMULATOR else RESULTS_POLL_SECONDS


def lease_seconds(recipient: Recipient) -> float:
    return config_number(recipient, "lease_seconds", LEASE_SECONDS)


def notify_webhooks(changed: dict[int, list[int]]) -> None:
    if not changed:
        return
    from pars.learners.webhooks import notify_status_changes  # webhooks imports this package

    providers = Provider.objects.in_bulk(list(changed))
    for provider_id, ids in changed.items():
        notify_status_changes(providers[provider_id], ids)
