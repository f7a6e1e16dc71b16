"""Logs every wait for SQLite's one write lock (``pars.db``: "waited 2.1 s for the write lock").

On SQLite one transaction writes at a time; the others wait for it (up to the
connection's ``timeout``, then "database is locked"). Reading a page should never wait
(page views write nothing, an upload holds the lock only for its short write), so a wait
is worth a line in the log. What is timed is what waits for the lock: the ``BEGIN`` of a
transaction (``transaction_mode`` IMMEDIATE takes the lock there), and a write statement
outside a transaction.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

logger = logging.getLogger("pars.db")

LOCK_WAIT_SECONDS = 1.0  # a lock-taking statement this slow waited for another writer
_TAKES_LOCK = re.compile(r"^\s*(BEGIN|INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _timed(connection: BaseDatabaseWrapper) -> Callable[..., Any]:
    def wrapper(
        execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if not _TAKES_LOCK.match(sql) or (
            connection.in_atomic_block and not sql.lstrip().upper().startswith("BEGIN")
        ):
            return execute(sql, params, many, context)
        started = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            waited = time.monotonic() - started
            if waited >= LOCK_WAIT_SECONDS:
                logger.warning("waited %.1f s for the SQLite write lock: %.60s", waited, sql)

    return wrapper


def _on_connect(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.execute_wrappers.append(_timed(connection))


def log_lock_waits() -> None:
    connection_created.connect(_on_connect, dispatch_uid="pars.lib.sqlite_lock")
