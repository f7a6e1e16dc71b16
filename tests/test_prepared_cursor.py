"""pars.lib.prepared.prepared_cursor keeps one psycopg cursor per connection (issue 14):
each web service write used to make a new one, whose adapters learned its parameters' and
columns' types anew (about 50 µs of CPU per request). Kept, it must still answer each
statement with its own rows, survive a failed statement, never be shared by two users at
once, and not outlive its connection."""

from __future__ import annotations

import gc
import weakref

import pytest
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction

from pars.lib.prepared import database, prepared_cursor

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared path"),
]


def test_one_cursor_serves_every_use_each_with_its_own_answer() -> None:
    with prepared_cursor(connection) as first:
        first.execute("SELECT %s::int, %s::text", [1, "one"])
        assert first.fetchall() == [(1, "one")]
        used = first.cursor
    with prepared_cursor(connection) as second:
        assert second.cursor is used
        second.execute("SELECT %s::date", ["2026-12-07"])
        assert [str(row[0]) for row in second.fetchall()] == ["2026-12-07"]


def test_two_at_once_get_two_cursors_and_one_is_kept() -> None:
    with prepared_cursor(connection) as hold, prepared_cursor(connection) as write:
        assert hold.cursor is not write.cursor
        hold.execute("SELECT 1")
        write.execute("SELECT 2")
        assert (hold.fetchone(), write.fetchone()) == ((1,), (2,))
        kept = {hold.cursor, write.cursor}
    with prepared_cursor(connection) as again:
        assert again.cursor in kept
        assert not again.cursor.closed


def test_a_failed_statement_leaves_the_cursor_usable() -> None:
    with pytest.raises(DatabaseError), prepared_cursor(connection) as cursor:
        cursor.execute("SELECT 1 / %s::int", [0])
    with prepared_cursor(connection) as cursor:
        cursor.execute("SELECT 1 / %s::int", [1])
        assert cursor.fetchone() == (1,)


def test_a_new_connection_gets_a_new_cursor() -> None:
    with prepared_cursor(connection) as cursor:
        cursor.execute("SELECT 1")
        old = cursor.cursor
    connection.close()
    with prepared_cursor(connection) as cursor:
        assert cursor.cursor is not old
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] > 0


def test_a_closed_connection_is_not_kept_alive_by_its_cursor() -> None:
    """A review found the kept cursors, in a map keyed weakly by their connection, keeping
    every closed connection alive (the cursor holds its connection): one leak per
    reconnect, so per request with PARS_DB_CONN_MAX_AGE=0."""
    gone = []
    for _ in range(5):
        with prepared_cursor(connection) as cursor:
            cursor.execute("SELECT 1")
            gone.append(weakref.ref(cursor.cursor.connection))
        connection.close()
    with prepared_cursor(connection) as cursor:
        cursor.execute("SELECT 1")
    gc.collect()
    assert [ref() for ref in gone] == [None] * 5


def test_inside_a_transaction_the_kept_cursor_sees_the_transaction() -> None:
    with transaction.atomic():
        with prepared_cursor(connection) as cursor:
            cursor.execute("CREATE TEMP TABLE kept_cursor_probe (n int) ON COMMIT DROP")
            cursor.execute("INSERT INTO kept_cursor_probe VALUES (7)")
        with prepared_cursor(connection) as cursor:
            cursor.execute("SELECT n FROM kept_cursor_probe")
            assert cursor.fetchall() == [(7,)]


def test_the_proxy_is_resolved_to_the_connection_itself() -> None:
    assert database(connection) is connections[DEFAULT_DB_ALIAS]
    assert database(database(connection)) is database(connection)
