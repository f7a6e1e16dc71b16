"""Recovery: what happens to an upload when its worker dies.

The rows of a file are written in one transaction, so a worker killed half-way (or
whose database connection is cut) leaves no rows behind; only the Upload stays
*running*. The job therefore holds a lease (progress.py). :func:`recover_stale_uploads`,
run by every task worker when it starts and then every PARS_RECOVERY_INTERVAL_SECONDS
(pars.jobs), at the start of every upload task, by ``manage.py recover_jobs`` (cron)
and by ``manage.py deliver_completions``, puts a running upload whose lease ran out
back in the queue, and the next run applies the file from scratch: the same data as a run
that was never interrupted. After MAX_ATTEMPTS interrupted runs the upload fails with
a clear message (a file that kills its worker every time must not loop forever).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from pars.intake.models import Upload, UploadStatus
from pars.intake.progress import heartbeat_key, lease_seconds, progress_key
from pars.intake.store import queue_upload

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
QUEUED_STALE_SECONDS = 3600.0  # a queued upload this old (its task lost) is queued again


def requeue_or_fail(
    upload_id: int, *, reason: str, heartbeat_at: Any = ..., enqueue: bool = True
) -> str | None:
    """Put an interrupted running upload back in the queue, or fail it after MAX_ATTEMPTS.

    ``heartbeat_at`` (when given) must still be the upload's heartbeat: a worker that
    renewed its lease meanwhile is alive and keeps its upload. Returns the new status,
    or None when the upload was not changed.
    """
    running = Upload.objects.filter(pk=upload_id, status=UploadStatus.RUNNING)
    if heartbeat_at is not ...:
        running = running.filter(
            Q(heartbeat_at__isnull=True) if heartbeat_at is None else Q(heartbeat_at=heartbeat_at)
        )
    now = timezone.now()
    exhausted = running.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=UploadStatus.FAILED,
        finished_at=now,
        message=f"Processing was interrupted {MAX_ATTEMPTS} times ({reason}); nothing was "
        "changed. Please upload the file again; if it fails again, contact PARS support.",
    )
    if exhausted:
        logger.error("Upload %s failed: interrupted %s times", upload_id, MAX_ATTEMPTS)
        return UploadStatus.FAILED.value
    requeued = running.update(
        status=UploadStatus.QUEUED,
        heartbeat_at=now,
        message=f"Processing was interrupted ({reason}); nothing was changed. "
        "It starts again automatically.",
    )
    if not requeued:
        return None
    logger.warning("Upload %s interrupted (%s): queued again", upload_id, reason)
    cache.delete(progress_key(upload_id))
    if enqueue:
        queue_upload(Upload(pk=upload_id))
    return UploadStatus.QUEUED.value


@dataclass
class Recovery:
    """What :func:`recover_stale_uploads` did."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)  # queued uploads whose task was lost


def recover_stale_uploads(
    stale_seconds: float | None = None,
    *,
    queued_seconds: float = QUEUED_STALE_SECONDS,
    enqueue: bool = True,
) -> Recovery:
    """Resume uploads whose worker died; safe to run at any time, from any process.

    * *running* with a heartbeat older than ``stale_seconds`` (default: the lease,
      settings.PARS_UPLOAD_LEASE_SECONDS): queued again (its rolled-back run is repeated
      from the start), or failed after MAX_ATTEMPTS runs;
    * *queued* for longer than ``queued_seconds`` (the queue lost its task, e.g. the
      worker died between taking the task and claiming the upload): queued once more
      (a second task for it is harmless: only one run can claim it).

    Every change is a conditional UPDATE on what was read, so when two workers recover
    at once each upload is queued again by one of them only.
    """
    recovery = Recovery()
    now = timezone.now()
    cutoff = now - timedelta(seconds=lease_seconds() if stale_seconds is None else stale_seconds)
    stale = Upload.objects.filter(status=UploadStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    for upload_id, heartbeat_at in stale.order_by("pk").values_list("pk", "heartbeat_at"):
        beat = cache.get(heartbeat_key(upload_id))
        if isinstance(beat, int | float) and beat >= cutoff.timestamp():
            continue  # alive, renewing through the cache (a database without a side line)
        outcome = requeue_or_fail(
            upload_id,
            reason="the task worker stopped",
            heartbeat_at=heartbeat_at,
            enqueue=enqueue,
        )
        if outcome == UploadStatus.FAILED:
            recovery.failed.append(upload_id)
        elif outcome == UploadStatus.QUEUED:
            recovery.requeued.append(upload_id)
    queued_cutoff = now - timedelta(seconds=queued_seconds)
    lost_since = Q(heartbeat_at__lt=queued_cutoff) | Q(
        heartbeat_at__isnull=True, created_at__lt=queued_cutoff
    )
    lost = Upload.objects.filter(status=UploadStatus.QUEUED).filter(lost_since)
    for upload_id in lost.order_by("pk").values_list("pk", flat=True):
        # Marked, so the next recovery does not queue it again before queued_seconds; only
        # while still lost, so a recovery running beside this one does not queue it twice.
        marked = (
            Upload.objects.filter(pk=upload_id, status=UploadStatus.QUEUED)
            .filter(lost_since)
            .update(heartbeat_at=now)
        )
        if marked:
            recovery.resent.append(upload_id)
            if enqueue:
                queue_upload(Upload(pk=upload_id))
    return recovery
