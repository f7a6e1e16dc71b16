"""The learners app's background tasks are defined beside their work, in delivery.py and
webhooks.py (which queue them); named here too so tasks queued under these paths still run."""

from pars.learners.delivery import collect_results_task, deliver_task, release_held_task
from pars.learners.webhooks import send_webhook_task

__all__ = ["collect_results_task", "deliver_task", "release_held_task", "send_webhook_task"]
