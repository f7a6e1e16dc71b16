"""Statements that PostgreSQL keeps prepared on the connection: parsed and planned once per
connection rather than once per request, for the few that every web service request runs
(the API key with its rate-limit count, a single write's hold and stored record, and the
write itself).

Django binds parameters on the client by default (the statement travels as text with its
values in it, planned anew each time). A cursor that binds them on the server lets psycopg
prepare a statement after its ``prepare_threshold``-th run on a connection (5 by default;
``PARS_DB_PREPARE_THRESHOLD``, "off" for a connection pooler that cannot keep prepared
statements: PgBouncer in transaction mode before 1.21, or without max_prepared_statements).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.utils.connection import ConnectionProxy

# psycopg splits a statement's text at its placeholders on every execute, and remembers the
# split only for statements up to 4 KB. A single write's statement is about 10 KB (the 70
# columns of an activity, named in its INSERT, its update and its answer): splitting it
# anew took about 0.4 ms of each API write. Remembered up to 16 KB; psycopg still leaves
# out statements with more than 50 parameters (generated IN lists), so the cache (128
# entries) keeps the texts that recur. tests/activities/test_api_statements.py fails if psycopg
# renames it.
LONG_STATEMENT_BYTES = 16384


def remember_long_statements() -> None:
    """Let psycopg remember the split of statements up to LONG_STATEMENT_BYTES."""
    from psycopg import _queries

    # Private to psycopg: a release without it leaves the default (speed only, and the test
    # named above fails), never a failing start.
    current = getattr(_queries, "MAX_CACHED_STATEMENT_LENGTH", None)
    if isinstance(current, int) and current < LONG_STATEMENT_BYTES:
        _queries.MAX_CACHED_STATEMENT_LENGTH = LONG_STATEMENT_BYTES


def plan_prepared_statements_once() -> None:
    """Each new PostgreSQL connection keeps one plan per prepared statement."""
    connection_created.connect(_generic_plans, dispatch_uid="pars.lib.prepared")


# PostgreSQL's default (plan_cache_mode auto) plans a prepared statement anew on every run
# while a plan for the run's own values looks cheaper than the generic one. For a single
# write's hold and its writing statement it always did (pg_prepared_statements counted
# custom plans only), so they were planned on every request (~0.25 and ~0.5 ms): the
# preparing saved the parsing only. Their generic plans are the same index lookups (the
# unique (provider, activity ID) index; tests/activities/test_write_plans.py asserts them
# on analyzed tables). Only the statements of prepared_cursor are prepared on the server
# (Django's own cursors bind on the client), so nothing else is planned differently.
# Only on connections that are kept (PARS_DB_CONN_MAX_AGE above 0): a connection opened
# for one request never reaches the preparing threshold, and the SET would cost it a round
# trip; behind a transaction pooler (CONN_MAX_AGE 0, as docs/deployment.md says) a session
# setting would also stay on a server connection that other clients then get.
def _generic_plans(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor != "postgresql" or connection.settings_dict.get("CONN_MAX_AGE") == 0:
        return
    if connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold", 5) is None:
        return  # nothing is prepared
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")


def pipelines() -> bool:
    """Whether statements can be sent as a pipeline (libpq 14 or newer): else the writers
    send them one at a time."""
    import psycopg

    return bool(psycopg.Pipeline.is_supported())


# One psycopg cursor kept per connection for prepared_cursor: a cursor's adapters learn
# the dumpers of its parameters' types and the loaders of its results' columns on first
# use, which a cursor made per request paid every time (about 50 µs of an API write's
# CPU, measured in process). Kept on Django's connection object (not in a map keyed by
# psycopg's connection, which the cursor itself would keep alive: a review found one such
# entry leaked per reconnect); used again only on the connection it was made for.
_KEPT_CURSOR = "_pars_kept_cursor"


def database(connection: BaseDatabaseWrapper) -> BaseDatabaseWrapper:
    """The connection itself rather than django.db.connection's proxy, every attribute of
    which is looked up again through the thread's (asgiref) local storage."""
    if isinstance(connection, ConnectionProxy):
        found: BaseDatabaseWrapper = connection._connections[connection._alias]
        return found
    return connection


@contextmanager
def prepared_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """A cursor (Django's wrapper: logged, its errors translated) whose statements are
    prepared on PostgreSQL; elsewhere an ordinary cursor.

    On PostgreSQL the same psycopg cursor serves every use on a connection (one made anew
    when it is in use already, as with two at once)."""
    connection = database(connection)
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What connection.cursor() does before it makes a cursor.
    connection.validate_thread_sharing()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    psycopg_connection = connection.connection
    raw: Any = getattr(connection, _KEPT_CURSOR, None)
    setattr(connection, _KEPT_CURSOR, None)  # in use: a second user at once makes its own
    if raw is None or raw.closed or raw.connection is not psycopg_connection:
        with connection.wrap_database_errors:
            # The stubs know neither psycopg's cursor classes nor that Django wraps a raw one.
            raw = ServerBindingCursor(psycopg_connection)  # type: ignore[call-arg]
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    try:
        yield wrapped
    finally:
        if psycopg_connection.closed or raw.closed:
            pass
        elif getattr(connection, _KEPT_CURSOR, None) is not None:
            raw.close()  # one of two used at once: the other is kept
        else:
            setattr(connection, _KEPT_CURSOR, raw)
