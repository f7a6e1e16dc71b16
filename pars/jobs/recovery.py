"""Recovery of the work a dead task worker left behind, run inside every worker.

A worker killed mid-task (SIGKILL, out of memory, machine lost) leaves its upload
*running*, maybe a delivery batch leased, and its django-tasks-db row RUNNING for ever.
Every worker (``manage.py db_worker``, pars/jobs/management/commands/db_worker.py)
therefore

* records that it is alive (:class:`~pars.jobs.models.TaskWorker`, renewed from a
  thread, so a long task does not make it look dead);
* runs :func:`recover_all` when it starts and every PARS_RECOVERY_INTERVAL_SECONDS:
  uploads whose lease ran out are queued again (pars.intake.recover), delivery
  batches a dead worker held are queued again (pars.learners.delivery), and the task
  rows its dead colleagues left RUNNING are marked FAILED (:func:`prune_dead_tasks`).

Every step is a conditional UPDATE on what was read, so any number of workers, on any
number of machines, may recover at the same time: each piece of work is queued again
once. ``manage.py recover_jobs`` runs the same from cron or by hand.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from pars.intake.models import Upload, UploadStatus
from pars.intake.progress import lease_seconds
from pars.intake.recover import Recovery, recover_stale_uploads
from pars.intake.tasks import process_upload_task
from pars.jobs.models import TaskWorker
from pars.learners.delivery import DeliveryRecovery, recover_stale_deliveries

logger = logging.getLogger(__name__)

FORGET_WORKERS_AFTER = timedelta(days=1)  # rows of dead workers are kept this long


class WorkerLost(Exception):
    """Recorded on a task whose worker stopped while running it (see prune_dead_tasks)."""


def recovery_interval() -> float:
    return max(float(getattr(settings, "PARS_RECOVERY_INTERVAL_SECONDS", 60)), 1.0)


def beat_interval() -> float:
    """How often a worker renews its heartbeat: at least three times per lease."""
    return min(recovery_interval(), lease_seconds() / 3)


# ---------------------------------------------------------------------------
# Liveness of workers


def _cache_key(worker_id: str) -> str:
    return f"task-worker:{worker_id}"


def register_worker(worker_id: str) -> TaskWorker:
    """Record this process as the live incarnation of ``worker_id``."""
    now = timezone.now()
    worker, _ = TaskWorker.objects.update_or_create(
        worker_id=worker_id,
        defaults={
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": now,
            "seen_at": now,
        },
    )
    _cache_beat(worker, now)
    return worker


def _cache_beat(worker: TaskWorker, now: datetime) -> None:
    # Besides the row: on SQLite the row cannot be written while a task holds the
    # database's write lock, so the (shared, one-machine) cache carries the beat then.
    try:
        cache.set(
            _cache_key(worker.worker_id),
            [worker.started_at.timestamp(), now.timestamp()],
            timeout=int(lease_seconds() * 2) + 60,
        )
    except Exception:
        logger.debug("Worker %s: no cache heartbeat", worker.worker_id, exc_info=True)


def beat(worker: TaskWorker) -> None:
    """Renew the worker's heartbeat (recreating its row if another worker dropped it)."""
    now = timezone.now()
    _cache_beat(worker, now)
    renewed = TaskWorker.objects.filter(
        worker_id=worker.worker_id, started_at=worker.started_at
    ).update(seen_at=now, pid=worker.pid, hostname=worker.hostname)
    if not renewed:
        TaskWorker.objects.update_or_create(
            worker_id=worker.worker_id,
            defaults={
                "hostname": worker.hostname,
                "pid": worker.pid,
                "started_at": worker.started_at,
                "seen_at": now,
            },
        )


def forget_worker(worker: TaskWorker) -> None:
    """A worker that stops cleanly leaves no live row behind."""
    TaskWorker.objects.filter(worker_id=worker.worker_id, started_at=worker.started_at).delete()
    try:
        cache.delete(_cache_key(worker.worker_id))
    except Exception:
        logger.debug("Worker %s: cache entry not removed", worker.worker_id, exc_info=True)


def _live_since(worker_id: str, live: dict[str, datetime], cutoff: datetime) -> datetime | None:
    """When the live incarnation of ``worker_id`` started, or None if none is alive."""
    if worker_id in live:
        return live[worker_id]
    try:
        entry = cache.get(_cache_key(worker_id))
    except Exception:
        entry = None
    if isinstance(entry, list | tuple) and len(entry) == 2 and entry[1] >= cutoff.timestamp():
        return datetime.fromtimestamp(entry[0], tz=UTC)
    return None


# ---------------------------------------------------------------------------
# The task rows of dead workers


def _work_in_hand(task_path: str, args_kwargs: Any) -> bool:
    """True while the dead task's work is not yet queued again (its upload still running).

    The upload is queued again by recover_stale_uploads once its own lease runs out;
    the row is marked only after that, so it never says FAILED for work still pending.
    """
    if task_path != process_upload_task.module_path:
        return False
    args = (args_kwargs or {}).get("args") or []
    if not args:
        return False
    return Upload.objects.filter(pk=args[0], status=UploadStatus.RUNNING).exists()


def prune_dead_tasks(stale_seconds: float | None = None) -> list[str]:
    """Mark FAILED the task rows left RUNNING by workers that are dead; returns their ids.

    A row qualifies when it started more than a lease ago, no live worker with its last
    worker id was already running when it started (the one that claimed it died; a
    restarted unit with the same id is a new incarnation), and its work has been queued
    again (an upload is no longer *running*). The dead worker's own work is resumed by
    the uploads' and deliveries' recovery, not by running the row again. The update is
    conditional on the row still being the same RUNNING one, so it happens once; should
    the worker be alive after all, it still records its own result when it finishes.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=lease_seconds() if stale_seconds is None else stale_seconds)
    live = dict(
        TaskWorker.objects.filter(seen_at__gte=cutoff).values_list("worker_id", "started_at")
    )
    pruned: list[str] = []
    rows = (
        DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff)
        .order_by("started_at")
        .values_list("pk", "started_at", "worker_ids", "task_path", "args_kwargs")
    )
    for pk, started_at, worker_ids, task_path, args_kwargs in rows:
        worker_id = worker_ids[-1] if worker_ids else ""
        since = _live_since(worker_id, live, cutoff) if worker_id else None
        if since is not None and started_at is not None and since <= started_at:
            continue  # its worker is alive and busy with it
        if _work_in_hand(task_path, args_kwargs):
            continue
        marked = DBTaskResult.objects.filter(
            pk=pk, status=TaskResultStatus.RUNNING, started_at=started_at
        ).update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
            traceback=f"The task worker {worker_id or '(unknown)'} stopped while running "
            "this task (no heartbeat for a lease); its work is resumed by recovery.",
        )
        if marked:
            pruned.append(str(pk))
            logger.warning(
                "Task %s (%s) left running by the dead worker %s: marked failed",
                pk,
                task_path.rsplit(".", 1)[-1],
                worker_id or "(unknown)",
            )
    TaskWorker.objects.filter(seen_at__lt=now - FORGET_WORKERS_AFTER).delete()
    return pruned


# ---------------------------------------------------------------------------
# All of it


@dataclass
class JobsRecovery:
    """What :func:`recover_all` did."""

    uploads: Recovery = field(default_factory=Recovery)
    deliveries: DeliveryRecovery = field(default_factory=DeliveryRecovery)
    tasks_failed: list[str] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        return bool(
            self.uploads.requeued
            or self.uploads.failed
            or self.uploads.resent
            or self.deliveries.sending
            or self.deliveries.collecting
            or self.tasks_failed
        )


def recover_all(stale_seconds: float | None = None) -> JobsRecovery:
    """Queue again what dead workers left, then mark their task rows (in that order)."""
    recovery = JobsRecovery()
    recovery.uploads = recover_stale_uploads(stale_seconds)
    recovery.deliveries = recover_stale_deliveries()
    recovery.tasks_failed = prune_dead_tasks()
    return recovery


class RecoveryThread(threading.Thread):
    """Beside the worker's task loop: renews its heartbeat and runs recovery regularly.

    A thread, so a task that runs for an hour neither makes its worker look dead nor
    holds up recovery; it uses its own database connection.
    """

    def __init__(self, worker: TaskWorker) -> None:
        super().__init__(name="pars-recovery", daemon=True)
        self.worker = worker
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)

    def run(self) -> None:
        next_recovery = time.monotonic() + recovery_interval()
        while not self.stopping.wait(beat_interval()):
            try:
                beat(self.worker)
                if time.monotonic() >= next_recovery:
                    next_recovery = time.monotonic() + recovery_interval()
                    report(recover_all())
            except Exception:  # never let the thread die: the next round tries again
                logger.exception("Worker %s: heartbeat or recovery failed", self.worker.worker_id)
            finally:
                connections.close_all()  # this thread's connections only


def report(recovery: JobsRecovery) -> None:
    if recovery.anything:
        logger.warning(
            "Recovery: uploads queued again %s, given up %s, resent %s; delivery batches "
            "queued again %s; task rows of dead workers marked failed: %d",
            recovery.uploads.requeued,
            recovery.uploads.failed,
            recovery.uploads.resent,
            recovery.deliveries.sending + recovery.deliveries.collecting,
            len(recovery.tasks_failed),
        )
