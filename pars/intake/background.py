"""A file's batches written from a second thread while the job checks the next rows.

On PostgreSQL the job spends about a third of its time waiting on the database (the
COPY of a batch, the look-ups before it, the constraint checks). :class:`BatchWriter`
writes batch N from one writer thread, **on the job's own connection and in the file's
one transaction**, while the job's thread reads and checks batch N+1 (psycopg lets go
of the GIL while it waits on the socket), so the two overlap.

The connection is never used by both threads at once:

* at most one batch is in the writer's hands: handing over the next one waits for the
  previous one first (:meth:`BatchWriter.write`), and so does everything else the job's
  thread does with the database: every statement it runs through Django waits first (an
  execute wrapper on the connection), and the writes are settled before the job's
  transaction is committed or rolled back (leaving :func:`batch_writer`);
* what a batch's write returns is taken (counted, reported) on the job's thread, in the
  order of the batches, when it is settled: the run's counts and error report are only
  ever touched by one thread, in the order a one-thread run would touch them.

The writer runs no statement of its own making between batches and keeps nothing open
across them (no COPY left open), so a settled writer is a quiet connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

logger = logging.getLogger(__name__)

# How long the job's thread waits for one batch (a 2,000-row batch takes well under 1 s);
# then it raises TimeoutError, as a statement stuck that long would have failed the job.
WRITE_TIMEOUT = 15 * 60.0


class BatchWriter:
    """Writes one batch at a time in a thread of its own, on the job's connection."""

    def __init__(self, alias: str = DEFAULT_DB_ALIAS) -> None:
        self.alias = alias
        self.db = connections[alias]  # the job's connection (the wrapper, not the proxy)
        self._pending: tuple[Future[Any], Callable[[Any], None]] | None = None
        self._writer_thread: int | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="pars-batch-writer", initializer=self._adopt
        )
        self.db.inc_thread_sharing()
        self.db.execute_wrappers.append(self._settle_first)

    def _adopt(self) -> None:
        """In the writer thread: Django's connection (and transaction) is the job's."""
        connections[self.alias] = self.db
        self._writer_thread = threading.get_ident()

    def _settle_first(self, execute: Any, sql: Any, params: Any, many: bool, context: Any) -> Any:
        """Any statement of the job's thread waits for the batch being written."""
        if threading.get_ident() != self._writer_thread:
            self.settle()
        return execute(sql, params, many, context)

    def write[T](self, work: Callable[[], T], then: Callable[[T], None]) -> None:
        """Write a batch: `work` runs in the writer thread, `then` takes what it returned
        in this thread (when the next batch is handed over, or at :meth:`settle`)."""
        self.settle()
        self._pending = (self._executor.submit(work), then)

    def settle(self) -> None:
        """Wait for the batch being written (its error is raised here) and take its outcome."""
        if self._pending is None:
            return
        future, then = self._pending
        self._pending = None
        then(future.result(timeout=WRITE_TIMEOUT))

    def close(self, *, failed: bool) -> None:
        """Settle (or, when the job already failed, only wait for) the last batch, and
        hand the connection back to the job's thread alone."""
        try:
            if not failed:
                self.settle()
            elif self._pending is not None:
                # The job's error is the one raised; the writer's is only logged.
                future, _ = self._pending
                self._pending = None
                wait_for([future], timeout=WRITE_TIMEOUT)
                if future.done() and future.exception() is not None:
                    logger.warning("A batch write failed too", exc_info=future.exception())
        finally:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self.db.execute_wrappers.remove(self._settle_first)
            self.db.dec_thread_sharing()


_writers: dict[int, BatchWriter] = {}  # by id() of the run being written


@contextmanager
def batch_writer(run: object, *, expected: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """While it is open, `run`'s batches (:func:`write_batch`) are written in a thread.
    The last one is settled on leaving, also when one of the `expected` errors is raised
    (one the job handles, such as a file that stops being readable)."""
    writer = BatchWriter()
    _writers[id(run)] = writer
    failed = True
    try:
        yield
        failed = False
    except expected:
        failed = False
        raise
    finally:
        del _writers[id(run)]
        writer.close(failed=failed)


def write_batch[T](run: object, work: Callable[[], T], then: Callable[[T], None]) -> None:
    """Write a batch of `run` (`work`) and take its outcome (`then`): in the writer thread
    when one is open for the run, else at once."""
    writer = _writers.get(id(run))
    if writer is None:
        then(work())
    else:
        writer.write(work, then)


def settle_writes(run: object) -> None:
    """Wait for `run`'s batch being written, if any, and take its outcome (before the
    run decides something on its counts, or uses what the writer uses)."""
    writer = _writers.get(id(run))
    if writer is not None:
        writer.settle()
