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
same key, which the recipient recognizes. Logs name batches, counts and recipient
codes, never a learner's identifier, name or birth date.

The modules: :mod:`.queueing` (when work is queued, the tuning numbers), :mod:`.payloads`,
:mod:`.sending` (steps 2-3), :mod:`.results` (step 4), :mod:`.held` (step 5),
:mod:`.recovery` (work a dead worker left), :mod:`.runs` (all at once, for the command).
The task functions are defined here, so that the paths recorded for queued tasks
(``pars.learners.delivery.deliver_task``) stay the same; this package's names are the
interface the rest of PARS uses.
"""

from __future__ import annotations

from django.tasks import task

from pars.learners.delivery.held import release_held
from pars.learners.delivery.payloads import build_payload
from pars.learners.delivery.queueing import (
    BATCH_SIZE,
    backoff_seconds,
    enqueue_at,
    schedule_delivery,
)
from pars.learners.delivery.recovery import DeliveryRecovery, recover_stale_deliveries
from pars.learners.delivery.results import collect_due, collect_results
from pars.learners.delivery.runs import DeliveryRun, run_delivery
from pars.learners.delivery.sending import deliver, retry_failed

# Background entry points, beside their work (the package's modules queue them). Each is safe
# to run twice: queues deliver at least once.


@task()
def deliver_task(code: str) -> int:
    """Recover, then send the waiting records of one recipient; returns records sent."""
    return deliver(code)


@task()
def collect_results_task(batch_id: int) -> int:
    """Fetch and apply a sent batch's results; returns records answered."""
    return collect_results(batch_id)


@task()
def release_held_task(code: str) -> int:
    """Resend the recipient's held records whose learner now matches its registry."""
    return release_held(code)


__all__ = [
    "BATCH_SIZE",
    "DeliveryRecovery",
    "DeliveryRun",
    "backoff_seconds",
    "build_payload",
    "collect_due",
    "collect_results",
    "collect_results_task",
    "deliver",
    "deliver_task",
    "enqueue_at",
    "recover_stale_deliveries",
    "release_held",
    "release_held_task",
    "retry_failed",
    "run_delivery",
    "schedule_delivery",
]
