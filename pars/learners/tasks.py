"""Background entry points of the learners app; the work itself is in delivery.py and
webhooks.py. Each is safe to run twice (queues deliver at least once)."""

from django.tasks import task

from pars.learners import delivery, webhooks


@task()
def deliver_task(code: str) -> int:
    """Recover, then send the waiting records of one recipient; returns records sent."""
    return delivery.deliver(code)


@task()
def collect_results_task(batch_id: int) -> int:
    """Fetch and apply a sent batch's results; returns records answered."""
    return delivery.collect_results(batch_id)


@task()
def release_held_task(code: str) -> int:
    """Resend the recipient's held records whose learner now matches its registry."""
    return delivery.release_held(code)


@task()
def send_webhook_task(delivery_id: int) -> bool:
    """POST one webhook notification (retried with backoff by itself)."""
    return webhooks.send_webhook(delivery_id)
