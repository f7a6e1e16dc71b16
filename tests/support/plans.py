"""Plan checks for the writers' set-based lookups (PostgreSQL).

A lookup is planned from the table's statistics. For a provider the statistics have
not seen yet (a new provider's first file), they promise about one row while the file's
transaction has already written thousands: a plan that scans the provider's rows, or a
staging table, once for each row then takes time that grows with the square of the
file. The tests record the SQL the real upload path runs, EXPLAIN ANALYZE each lookup
in the same transaction and check the rows each plan node read, not the time it took.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the plans under test are PostgreSQL's"
)


def analyze(*tables: str) -> None:
    """Statistics as autovacuum would leave them (ANALYZE counts this transaction's rows)."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


@contextmanager
def recorded_selects(table: str) -> Iterator[list[tuple[str, Any]]]:
    """The SELECT statements (with their parameters) that read `table`, as they ran."""
    statements: list[tuple[str, Any]] = []
    name = re.compile(rf"\b{table}\b")  # not a table whose name starts alike

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if not many and sql.lstrip().upper().startswith("SELECT") and name.search(sql):
            statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield statements


def explain(sql: str, params: Any) -> dict[str, Any]:
    """The executed plan (EXPLAIN ANALYZE, JSON) of one recorded statement."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
        (document,) = cursor.fetchone()
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def rows_read(node: dict[str, Any]) -> float:
    """The rows a node read over all its runs (the counts EXPLAIN gives are per run)."""
    per_run = (
        node.get("Actual Rows", 0)
        + node.get("Rows Removed by Filter", 0)
        + node.get("Rows Removed by Index Recheck", 0)
    )
    return node.get("Actual Loops", 1) * per_run


def quadratic_reads(plan: dict[str, Any], tables: set[str], *, keys: int) -> list[str]:
    """The nodes over `tables` that read more rows than the `keys` looked up, or that
    scanned a table other than by index more than once (a rescan per outer row)."""
    found = []
    for node in _nodes(plan):
        relation = node.get("Relation Name")
        if relation not in tables:
            continue
        loops = node.get("Actual Loops", 1)
        per_row_scan = loops > 1 and "Index" not in node["Node Type"]
        if rows_read(node) > keys or per_row_scan:
            index = f" using {node['Index Name']}" if "Index Name" in node else ""
            found.append(
                f"{node['Node Type']} on {relation}{index}: {loops} run(s), "
                f"{rows_read(node):.0f} rows read for {keys} keys"
            )
    return found


def explain_generic(sql: str, params: Any) -> dict[str, Any]:
    """The executed plan of one recorded statement as a prepared statement runs it once
    PARS has prepared it: its generic plan (pars.lib.prepared), not one for these values."""
    numbered = iter(range(1, len(params) + 1))
    prepared = re.sub(r"%s", lambda _: f"${next(numbered)}", sql)
    values = ", ".join(["%s"] * len(params))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE pars_plan_check AS {prepared}")
        try:
            cursor.execute(
                f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE pars_plan_check({values})", params
            )
            (document,) = cursor.fetchone()
        finally:
            cursor.execute("DEALLOCATE pars_plan_check")
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]
