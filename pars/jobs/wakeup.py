"""Waking an idle worker the moment a task is queued (PostgreSQL LISTEN/NOTIFY).

django-tasks-db's worker polls its table and sleeps ``--interval`` seconds (1 by default)
when it finds nothing, so a file uploaded to an idle worker waited up to a second before
anyone looked at it: most of the time a user waits for a small file. On PostgreSQL the
backend below also sends ``NOTIFY pars_tasks`` with every task it queues (PostgreSQL
delivers it when the enqueuing transaction commits, never before the row is visible), and
an idle worker waits on ``LISTEN pars_tasks`` instead of sleeping. The interval stays the
upper bound (a notification lost with a dropped connection costs one interval, as before)
and SQLite, which has no notifications, keeps polling.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from django.db import DatabaseError, connections, router
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

CHANNEL = "pars_tasks"


class NotifyingDatabaseBackend(DatabaseBackend):
    """django-tasks-db's backend, which also wakes the idle workers (PostgreSQL)."""

    def _task_to_db_task(self, task: Any, args: Any, kwargs: Any) -> DBTaskResult:
        db_task = super()._task_to_db_task(task, args, kwargs)
        connection = connections[router.db_for_write(DBTaskResult)]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, db_task.queue_name])
        return db_task


class Wakeup:
    """What an idle worker waits on: a notification, or at most ``seconds``."""

    def __init__(self) -> None:
        self._listener: Any = None  # a second connection of Django's, kept LISTENing

    def start(self) -> None:
        """Listen from now on (before the worker's first look at the queue: a task queued
        between that look and the first wait then still wakes it)."""
        alias = router.db_for_read(DBTaskResult)
        if connections[alias].vendor != "postgresql":
            return
        try:
            self._listen(alias)
        except (DatabaseError, OSError, psycopg.Error):
            logger.warning("Worker wake-up connection failed; polling until it is back")
            self.close()

    def wait(self, seconds: float) -> None:
        alias = router.db_for_read(DBTaskResult)
        if connections[alias].vendor != "postgresql":
            time.sleep(seconds)
            return
        try:
            raw = self._listen(alias)
            for _ in raw.notifies(timeout=seconds, stop_after=1):
                break
            # Several may have arrived at once; one look at the queue serves them all.
            for _ in raw.notifies(timeout=0):
                pass
        except (DatabaseError, OSError, psycopg.Error):
            logger.warning("Worker wake-up connection lost; polling until it is back")
            self.close()
            time.sleep(seconds)

    def _listen(self, alias: str) -> Any:
        if self._listener is None:
            listener = connections.create_connection(alias)
            listener.ensure_connection()
            listener.connection.autocommit = True
            listener.connection.execute(f"LISTEN {CHANNEL}")
            self._listener = listener
        return self._listener.connection

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.close()
            except DatabaseError:
                logger.debug("Wake-up connection not closed cleanly", exc_info=True)
