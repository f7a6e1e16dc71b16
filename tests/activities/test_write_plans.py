"""A single write's statements, as PARS runs them once prepared, find rows by index
(PostgreSQL, ANALYZEd; issue 14).

The hold with the stored record and the writing statement are prepared on their
connection and planned once for any values (pars.lib.prepared: generic plans). Planned
from real statistics, with other providers' activities and supporters in the tables, that
one plan must still look up the written activity and its supporters by index: a scan of
either table would make every web service write cost the whole table.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from pars.activities.models import Activity, CommercialSupport
from pars.audit.models import AuditEvent
from pars.providers.models import Provider
from pars.testing import make_provider
from tests.activities.test_activity_api import Api, course
from tests.activities.test_list_plan import _fill
from tests.support.plans import analyze, explain_generic, postgresql_only, quadratic_reads

pytestmark = [postgresql_only, pytest.mark.django_db]

TABLES = {Activity._meta.db_table, CommercialSupport._meta.db_table}


def _recorded(run: Any) -> dict[str, tuple[str, Any]]:
    """The hold's and the write's statements (with their parameters) as `run` ran them."""
    found: dict[str, tuple[str, Any]] = {}

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "pg_advisory_xact_lock_shared" in sql and "LATERAL" in sql:
            found["hold"] = (sql, params)
        elif sql.startswith("WITH closed AS"):
            found["write"] = (sql, params)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        run()
    return found


def _renamed(value: Any, old: str, new: str) -> Any:
    """A statement's parameter with the activity ID `old` made `new` (in a list of IDs, or
    in the rows' JSON)."""
    if isinstance(value, list):
        return [new if item == old else item for item in value]
    if isinstance(value, str):
        return value.replace(f'"{old}"', f'"{new}"')
    return value


@pytest.mark.parametrize("existing", [False, True], ids=["added", "updated"])
def test_a_single_writes_generic_plans_read_by_index(provider: Provider, existing: bool) -> None:
    _fill(provider, "MINE")
    for number in range(3):
        _fill(make_provider(name=f"Other {number}"), f"O{number}")
    analyze(Activity._meta.db_table, CommercialSupport._meta.db_table, AuditEvent._meta.db_table)
    api = Api(provider)
    key = "MINE-0007" if existing else "NEW-1"
    body = course(provider_activity_id=key, title="Written")

    def write() -> None:
        status = api.put(key, body).status_code if existing else api.post(body).status_code
        assert status == (200 if existing else 201)

    statements = _recorded(write)
    assert set(statements) == {"hold", "write"}
    for name, (sql, params) in statements.items():
        if not existing:  # planned and run for an ID not stored yet (NEW-1 now is)
            params = [_renamed(value, key, "NEW-2") for value in params]
        with transaction.atomic():  # the plan's run is undone
            plan = explain_generic(sql, params)
            transaction.set_rollback(True)
        # The written activity, its old supporters (two) and its new ones: a few rows each.
        assert quadratic_reads(plan, TABLES, keys=4) == [], name
