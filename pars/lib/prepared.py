"""Statements that PostgreSQL keeps prepared on the connection: parsed and planned once per
connection rather than once per request, for the few that every web service request runs
(the API key with its rate-limit count, a single write's hold and stored record).

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


@contextmanager
def prepared_cursor(connection: BaseDatabaseWrapper) -> Iterator[Any]:
    """A cursor (Django's wrapper: logged, its errors translated) whose statements are
    prepared on PostgreSQL; elsewhere an ordinary cursor."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What connection.cursor() does before it makes a cursor.
    connection.validate_thread_sharing()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        # The stubs know neither psycopg's cursor classes nor that Django wraps a raw one.
        raw: Any = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapped as cursor:
        yield cursor
