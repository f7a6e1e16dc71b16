"""A batch's COPY left to PostgreSQL while the upload job reads and checks the next rows.

PostgreSQL spends about as long inserting a batch's rows (the COPY, its indexes, its
foreign key checks) as the job spends reading and checking them, and it runs on a core
of its own: waiting for the COPY to finish before reading on leaves one of the two idle.
Here the job's thread sends the batch's rows (**on the job's connection and in the
file's transaction**) and goes on to the next rows at once; a thread of its own ends the
COPY and waits for PostgreSQL's answer (psycopg lets go of the GIL while it waits).

The connection is never used by both threads at once:

* the COPY holds psycopg's connection lock from its start to its end, so anything else
  on the connection waits for it;
* every statement the job's thread runs through Django waits for the COPY first (an
  execute wrapper on the connection), and is where the COPY's error, if any, is raised;
  so is the next COPY. The upload job always runs one before it commits or rolls back
  (the release of its savepoint, the upload's result), so a failed COPY fails the file.

Only the upload job uses it (``apply_completions(copy_behind=True)``, inside the file's
transaction): its last batch is followed by those statements. Everything else writes
its COPY at once (insert.py).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.copy import LibpqWriter

from pars.lib.prepared_rows import _deferred_keys


class CopyBehind:
    """One COPY (its statement and its rows' text): every row is sent at once, in the
    job's thread; the end of the COPY and its answer are waited for in a thread of its
    own, so PostgreSQL inserts the rows while the job reads on. A thread that has to
    wait for the GIL before the rows are sent would leave PostgreSQL idle meanwhile."""

    def __init__(self, db: BaseDatabaseWrapper, sql: str, text: str, keys: str) -> None:
        self.db = db
        self.keys = keys
        self.error: BaseException | None = None
        self.settled = False
        if keys:  # checked as the COPY ends, as checked_at_once() has them
            with db.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {keys} IMMEDIATE")
        raw = db.connection.cursor()  # psycopg's, under Django's wrapper
        # flush_threshold 0: write() returns once the rows are on their way.
        copying = raw.copy(sql, writer=LibpqWriter(raw, flush_threshold=0))
        copy = copying.__enter__()
        try:
            copy.write(text)
        except BaseException:
            copying.__exit__(*sys.exc_info())
            raise
        self.thread = threading.Thread(
            target=self._end, args=(raw, copying), name="pars-learner-copy", daemon=True
        )
        db.execute_wrappers.append(self._settle_first)
        self.thread.start()

    def _end(self, raw: Any, copying: Any) -> None:
        try:
            copying.__exit__(None, None, None)  # the COPY's end, and PostgreSQL's answer
            raw.close()
        except BaseException as error:  # raised in the job's thread (settle())
            self.error = error

    def _settle_first(self, execute: Any, sql: Any, params: Any, many: bool, context: Any) -> Any:
        self.settle()
        return execute(sql, params, many, context)

    def settle(self) -> None:
        """Wait for the COPY to end; raise its error, if any."""
        if self.settled:
            return
        self.settled = True
        self.thread.join()
        self.db.execute_wrappers.remove(self._settle_first)
        _running.pop(id(self.db), None)
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        if self.keys:
            with self.db.cursor() as cursor:
                cursor.execute(f"SET CONSTRAINTS {self.keys} DEFERRED")


_running: dict[int, CopyBehind] = {}  # by id() of the connection it runs on


def settle_copy(alias: str = DEFAULT_DB_ALIAS) -> None:
    """Wait for the connection's COPY behind, if one runs (its error is raised here)."""
    running = _running.get(id(connections[alias]))
    if running is not None:
        running.settle()


def copy_behind(sql: str, text: str, table: str, alias: str = DEFAULT_DB_ALIAS) -> None:
    """Start the COPY of `text` into `table` (`sql`) beside the job (see the module doc)."""
    db = connections[alias]
    settle_copy(alias)
    with db.cursor() as cursor:
        keys = _deferred_keys(cursor, table)
    _running[id(db)] = CopyBehind(db, sql, text, keys)
