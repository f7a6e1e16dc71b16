"""Which task workers are alive: each running ``db_worker`` renews its row.

django-tasks-db records on a task only the ids of the workers that claimed it, not
whether they still live; this heartbeat tells a task a dead worker left *running*
(killed, out of memory, machine lost) from one a live worker is still busy with.
"""

from django.db import models


class TaskWorker(models.Model):
    """One running worker process (one incarnation of a ``--worker-id``)."""

    # A restarted systemd unit keeps its worker id (%H-%i): started_at tells the new
    # process from the one that died, whose tasks started before it.
    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["worker_id"]

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.hostname}:{self.pid})"
