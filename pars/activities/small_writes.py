"""PostgreSQL, small batches (a single API or web write): the stored records read in one
statement, and everything written (the audit event, the activities, their supporters, the
audit trail's changes) in one more, which answers the rows as stored.

The writer (pars.activities.services.apply_activities) decides when: a batch of up to
SMALL_BATCH upserts and no deletes, with no audit event given.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db import connection, models

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity, ActivityChange
from pars.activities.validation import CleanActivity
from pars.activities.write_sql import (
    _ACTIVITY_TABLE,
    _JSON_FIELDS,
    _STAGE_FIELDS,
    _SUPPORT_FIELDS,
    _SUPPORT_TABLE,
    _SUPPORTER_FIELDS,
    _UPSERT_SQL,
    _changes,
    _copy_value,
    _fixed_values,
    _stage_row,
    _supporters,
)
from pars.audit.models import AuditAction, AuditEvent
from pars.providers.models import Provider

if TYPE_CHECKING:
    from pars.activities.services import BatchResult

_ROW_FIELDS = [f for f in Activity._meta.concrete_fields if f.name != "provider"]
_SUPPORTER_JSON = ", ".join(f"'{name}', s.{name}" for name in _SUPPORTER_FIELDS)
# Table and column names come from the models, never from input.
_STORED_ROWS_SQL = (
    f"SELECT {', '.join(f'a.{f.column}' for f in _ROW_FIELDS)}, "  # noqa: S608
    f"(SELECT json_agg(json_build_object({_SUPPORTER_JSON}) ORDER BY s.position) "
    f"FROM {_SUPPORT_TABLE} s WHERE s.activity_id = a.id) "
    "FROM unnest(%s::text[]) AS k(id) CROSS JOIN LATERAL "
    f"(SELECT * FROM {_ACTIVITY_TABLE} a WHERE a.provider_id = %s "
    "AND a.provider_activity_id = k.id OFFSET 0) a"
)
# The same, the provider first held for writing as pars.reporting.locks holds it (FOR
# SHARE: an attestation waits for this transaction). The closed years are read after it,
# in a statement of their own, so that they are read after any attestation it waited for.
_HELD_ROWS_SQL = (
    f"SELECT a.* FROM (SELECT 1 FROM {Provider._meta.db_table} "  # noqa: S608
    "WHERE id = %s FOR SHARE) AS held "
    f"LEFT JOIN LATERAL ({_STORED_ROWS_SQL}) AS a ON true"
)


_Converter = Callable[[Any, Any, Any], Any]


@lru_cache(maxsize=8)
def _row_readers(vendor: str) -> list[tuple[str, Any, tuple[_Converter, ...]]]:
    """(name, field, its converters) of each of _ROW_FIELDS: asked of the fields once per
    process, not once per value of each row."""
    return [
        (
            "pk" if stored_field.primary_key else stored_field.name,
            stored_field,
            tuple(stored_field.get_db_converters(connection)),
        )
        for stored_field in _ROW_FIELDS
    ]


def _row_values(values: Sequence[Any]) -> dict[str, Any]:
    """A raw row of _ROW_FIELDS as values() reads it (by field name, "pk" for the id)."""
    row: dict[str, Any] = {}
    for (name, stored_field, converters), value in zip(
        _row_readers(connection.vendor), values, strict=False
    ):
        for convert in converters:
            value = convert(value, stored_field, connection)
        row[name] = value
    return row


def stored_rows(
    access: ProviderAccess, records: list[CleanActivity], *, hold: bool = False
) -> dict[str, dict[str, Any]]:
    """services._stored in one statement (PostgreSQL), every stored value included; `hold`: the
    provider held for writing first (locked_years' for_update), in the same statement."""
    keys = [record.provider_activity_id for record in records]
    with connection.cursor() as cursor:
        if hold:
            cursor.execute(_HELD_ROWS_SQL, [access.provider.pk, keys, access.provider.pk])
        else:
            cursor.execute(_STORED_ROWS_SQL, [keys, access.provider.pk])
        found = cursor.fetchall()
    rows = {}
    for *values, supporters in found:
        if values[0] is None:
            continue  # the provider held, no activity found
        row = _row_values(values)
        if isinstance(supporters, str):  # json, as Django's PostgreSQL backend reads it
            supporters = json.loads(supporters)
        row["supporters"] = supporters or []
        rows[row["provider_activity_id"]] = row
    return rows


def write_small(
    access: ProviderAccess,
    upserts: list[tuple[int | None, CleanActivity]],
    stored: dict[str, dict[str, Any]],
    channel: str,
    changing: bool,
    result: BatchResult,
) -> dict[str, tuple[int, bool]]:
    """apply_activities' writing for a small batch on PostgreSQL: one statement; returns
    (pk, inserted) by the IDs written, and puts each written record as stored in
    result.rows."""
    records = [record for _, record in upserts]
    written: dict[str, tuple[int, bool]] = {}
    if changing:
        event = AuditEvent(
            provider=access.provider,
            action=AuditAction.ACTIVITIES_WRITTEN,
            channel=channel,
            user=access.user,
            api_key=access.api_key,
            details={},
        )
        sql, params = _one_statement(access, records, stored, channel, event)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        supporters = {record.provider_activity_id: _supporters(record) for record in records}
        for *values, inserted in found:
            written_row = _row_values(values)
            key = written_row["provider_activity_id"]
            written_row["supporters"] = supporters[key]
            result.rows[key] = written_row
            written[key] = (written_row["pk"], inserted)
    return written


def _cast(model_field: models.Field[Any, Any]) -> str:
    return f"%s::{model_field.cast_db_type(connection)}"


_EVENT_FIELDS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
# A supporter's columns after (provider, activity): its position first, then its values.
_SUPPORT_VALUE_FIELDS = [f for f in _SUPPORT_FIELDS if f.name not in ("provider", "activity")]
assert _SUPPORT_VALUE_FIELDS[0].name == "position"


def _one_statement(
    access: ProviderAccess,
    records: list[CleanActivity],
    stored: dict[str, dict[str, Any]],
    channel: str,
    event: AuditEvent,
) -> tuple[str, list[Any]]:
    """The audit event, the upsert (as _UPSERT_SQL), the supporters of the rows written
    (an updated row's old ones deleted), and the trail's changes, as one statement that
    answers the written rows (_ROW_FIELDS, then inserted?)."""
    params: list[Any] = [
        f.get_db_prep_save(f.pre_save(event, True), connection) for f in _EVENT_FIELDS
    ]
    fixed: dict[str, object] = {**_fixed_values(access, channel, event), "created_by_event": None}
    for record in records:
        row = _stage_row(record.values, fixed)
        params += [
            v for f, v in zip(_STAGE_FIELDS, row, strict=True) if f.name != "created_by_event"
        ]
    new_supporters = [
        old["pk"]
        for record in records
        if (old := stored.get(record.provider_activity_id)) is not None
        and old["supporters"] != _supporters(record)
    ]
    params.append(new_supporters)
    supporter_rows = [
        [
            record.provider_activity_id,
            position,
            *(_copy_value(s.get(f.name)) for f in _SUPPORT_VALUE_FIELDS[1:]),
        ]
        for record in records
        for position, s in enumerate(record.supporters, start=1)
    ]
    if supporter_rows:
        params += [access.provider.pk, *(v for row in supporter_rows for v in row)]
    changes = [
        (record.provider_activity_id, json.dumps(diff))
        for record in records
        if (old := stored.get(record.provider_activity_id)) is not None
        and (diff := _changes(record, old))
    ]
    if changes:
        params += [access.provider.pk, *(v for change in changes for v in change)]
    sql = _statement_sql(connection.vendor, len(records), len(supporter_rows), len(changes))
    return sql, params


# The statement's text depends only on how many records, supporters and changes it
# writes: made once per such shape, not once per request.
@lru_cache(maxsize=256)
def _statement_sql(vendor: str, records: int, supporters: int, changes: int) -> str:
    """_one_statement's SQL (PostgreSQL) for this many records, supporters and changes."""
    one = "({})".format(
        ", ".join(
            "(SELECT id FROM ev)"
            if f.name == "created_by_event"
            else ("%s::jsonb" if f.name in _JSON_FIELDS else "%s")
            for f in _STAGE_FIELDS
        )
    )
    upsert = _UPSERT_SQL.format(source="VALUES " + ", ".join([one] * records)).replace(
        "RETURNING id, provider_activity_id, (xmax = 0)",
        f"RETURNING {', '.join(f'{_ACTIVITY_TABLE}.{f.column}' for f in _ROW_FIELDS)}, "
        "(xmax = 0) AS inserted",
    )
    sql = (
        f"WITH ev AS (INSERT INTO {AuditEvent._meta.db_table} "  # noqa: S608 (model names)
        f"({', '.join(str(f.column) for f in _EVENT_FIELDS)}) "
        f"VALUES ({', '.join(['%s'] * len(_EVENT_FIELDS))}) RETURNING id), "
        f"up AS ({upsert}), "
        f"gone AS (DELETE FROM {_SUPPORT_TABLE} WHERE activity_id IN "
        "(SELECT id FROM up WHERE NOT inserted))"
    )
    if supporters:  # the written rows' supporters
        one_supporter = "(%s, {})".format(", ".join(_cast(f) for f in _SUPPORT_VALUE_FIELDS))
        columns = ", ".join(str(f.column) for f in _SUPPORT_VALUE_FIELDS)
        sql += (
            f", sup AS (INSERT INTO {_SUPPORT_TABLE} (provider_id, activity_id, "  # noqa: S608
            f"{columns}) "
            f"SELECT %s, up.id, {', '.join(f's.{f.column}' for f in _SUPPORT_VALUE_FIELDS)} "
            f"FROM (VALUES {', '.join([one_supporter] * supporters)}) "
            f"AS s(key, {columns}) "
            "JOIN up ON up.provider_activity_id = s.key)"
        )
    if changes:  # the audit trail's changes of the updated rows
        sql += (
            f", ch AS (INSERT INTO {ActivityChange._meta.db_table} "  # noqa: S608
            "(provider_id, event_id, provider_activity_id, action, changes) "
            "SELECT %s, (SELECT id FROM ev), c.key, 'updated', c.changes::jsonb "
            f"FROM (VALUES {', '.join(['(%s, %s)'] * changes)}) AS c(key, changes) "
            "WHERE c.key IN (SELECT provider_activity_id FROM up))"
        )
    sql += f" SELECT {', '.join(str(f.column) for f in _ROW_FIELDS)}, inserted FROM up"  # noqa: S608
    return sql
