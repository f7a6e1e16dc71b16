"""A running upload's progress and its lease (heartbeat), shared across processes.

Progress goes through the cache (``upload-progress:<id>``), because the rows written
during processing stay invisible until the file's transaction ends. The lease: the job
renews ``Upload.heartbeat_at`` while it works, from a second database connection
outside the file's transaction (PostgreSQL; elsewhere the heartbeat goes to the shared
cache); a running upload whose lease ran out lost its worker (see recover.py).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.utils import timezone

from pars.intake.models import Upload, UploadStatus

logger = logging.getLogger(__name__)

PROGRESS_TIMEOUT = 6 * 60 * 60  # seconds a progress entry lives in the cache
# A running upload renews its heartbeat at most every HEARTBEAT_SECONDS (at least once
# per batch of rows); one whose heartbeat is older than LEASE_SECONDS lost its worker.
# LEASE_SECONDS is the default of settings.PARS_UPLOAD_LEASE_SECONDS (see lease_seconds()).
HEARTBEAT_SECONDS = 5.0
LEASE_SECONDS = 300.0


def progress_key(upload_id: int) -> str:
    return f"upload-progress:{upload_id}"


def get_progress(upload_id: int) -> dict[str, Any]:
    """``{"done": rows read, "total": estimated rows or None, "errors": count}``."""
    progress = cache.get(progress_key(upload_id))
    if not isinstance(progress, dict):
        return {"done": 0, "total": None, "errors": 0}
    return progress


def set_progress(upload_id: int, done: int, total: int | None, errors: int) -> None:
    if total is not None:
        total = max(total, done)
    cache.set(
        progress_key(upload_id),
        {"done": done, "total": total, "errors": errors},
        timeout=PROGRESS_TIMEOUT,
    )


# ---------------------------------------------------------------------------
# The lease

_heartbeat = threading.local()


def heartbeat_key(upload_id: int) -> str:
    return f"upload-heartbeat:{upload_id}"


def lease_seconds() -> float:
    """How long a running upload may go without a heartbeat before it counts as lost."""
    return float(getattr(settings, "PARS_UPLOAD_LEASE_SECONDS", LEASE_SECONDS))


def _heartbeat_seconds() -> float:
    # At least three beats per lease, so a live run never looks lost (short test leases).
    return min(HEARTBEAT_SECONDS, lease_seconds() / 3)


def beat(upload_id: int, *, force: bool = False) -> None:
    """Renew the running upload's lease (at most every few seconds)."""
    clock = time.monotonic()
    if not force and clock - getattr(_heartbeat, "last", 0.0) < _heartbeat_seconds():
        return
    _heartbeat.last = clock
    now = timezone.now()
    try:
        cache.set(heartbeat_key(upload_id), now.timestamp(), timeout=PROGRESS_TIMEOUT)
    except Exception:  # the database heartbeat below is the one that counts
        logger.debug("Upload %s: no cache heartbeat", upload_id, exc_info=True)
    if not connection.in_atomic_block:
        Upload.objects.filter(pk=upload_id, status=UploadStatus.RUNNING).update(heartbeat_at=now)
        return
    if connection.vendor != "postgresql":
        return  # SQLite: a second connection would wait for the file's write lock
    side = getattr(_heartbeat, "connection", None)
    try:
        if side is None:
            side = _heartbeat.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        with side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Upload._meta.db_table} SET heartbeat_at = %s "  # noqa: S608 (a model's table)
                "WHERE id = %s AND status = %s",
                [now, upload_id, UploadStatus.RUNNING.value],
            )
    except DatabaseError:
        # Not fatal: the lease may run out and the upload be resumed by recovery.
        logger.warning("Upload %s: heartbeat not recorded", upload_id, exc_info=True)
        end_heartbeat()


def lease_renewed() -> None:
    """The lease was just renewed by the caller (the claim writes ``heartbeat_at``): the
    next beat is due a whole interval later. A file done sooner (most are) then never
    opens the heartbeat's second connection, whose set-up cost a 10,000-row job some
    8-20 ms; a longer one beats as before."""
    _heartbeat.last = time.monotonic()


def end_heartbeat() -> None:
    side = getattr(_heartbeat, "connection", None)
    _heartbeat.connection = None
    _heartbeat.last = 0.0
    if side is not None:
        try:
            side.close()
        except DatabaseError:
            logger.debug("Heartbeat connection not closed cleanly", exc_info=True)
