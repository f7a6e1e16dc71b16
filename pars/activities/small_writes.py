"""PostgreSQL, small batches (a single API or web write): the stored records read in one
statement, and everything written (the audit event, the activities, their supporters, the
audit trail's changes) in one more, which answers the rows as stored.

The writer (pars.activities.services.apply_activities) decides when: a batch of up to
SMALL_BATCH upserts and no deletes, with no audit event given.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, connection
from django.utils import timezone

from pars.accounts import key_check
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
    _fixed_values,
    _supporters,
)
from pars.activities.year_lock import HOLD_FOR_WRITING_SQL, closed_years_sql
from pars.audit.models import AuditAction, AuditEvent
from pars.lib.prepared import database, prepared_cursor

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
# The same, the provider first held for writing as pars.reporting.locks holds it (an
# attestation waits for this transaction). The closed years are read after it, by the
# writing statement, so that they are read after any attestation it waited for.
_HELD_ROWS_SQL = (
    f"SELECT a.* FROM ({HOLD_FOR_WRITING_SQL}) AS held "  # noqa: S608
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
    db = database(connection)  # not the proxy, once per value
    for (name, stored_field, converters), value in zip(
        _row_readers(db.vendor), values, strict=False
    ):
        for convert in converters:
            value = convert(value, stored_field, db)
        row[name] = value
    return row


def stored_rows(
    access: ProviderAccess, records: list[CleanActivity], *, hold: bool = False
) -> dict[str, dict[str, Any]]:
    """services._stored in one statement (PostgreSQL), every stored value included; `hold`: the
    provider held for writing first (locked_years' for_update), in the same statement."""
    keys = [record.provider_activity_id for record in records]
    with prepared_cursor(connection) as cursor:  # the same text for every single write
        if hold:
            cursor.execute(_HELD_ROWS_SQL, [access.provider.pk, keys, access.provider.pk])
        else:
            cursor.execute(_STORED_ROWS_SQL, [keys, access.provider.pk])
        return _stored_from(cursor.fetchall())


def _stored_from(found: list[Any]) -> dict[str, dict[str, Any]]:
    """stored_rows' answer from its statement's rows."""
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


def add_in_one_round_trip(
    access: ProviderAccess,
    upserts: list[tuple[int | None, CleanActivity]],
    channel: str,
    result: BatchResult,
) -> tuple[dict[str, tuple[int, bool]], set[int]] | None:
    """Outside any transaction: the provider held for writing, and the records written as
    write_small writes them if none is stored yet, sent together as one pipeline that
    PostgreSQL runs in turn as one transaction: one round trip for a new activity, as a
    bare INSERT's. write_small's answer, or None when a record's ID is stored already
    (then nothing is written; the caller writes as for any update).

    One transaction without BEGIN or COMMIT: in the extended protocol, statements sent
    before a Sync run in one transaction, committed at the Sync, or rolled back there
    after an error (which skips what follows it). The write's statement gets a snapshot
    of its own, after the hold, as write_small's would. Nothing here depends on what the
    statements answer: a refused or stored record writes nothing."""
    records = [record for _, record in upserts]
    sql, params = _one_statement(
        access, records, {}, channel, _event(access, channel), insert_only=True
    )
    db = database(connection)
    with prepared_cursor(db) as cursor:
        # A web-service request's key check, when it was left to travel with the write:
        # first, so that its refusal rolls back everything after it (asked once the cursor
        # is made: a new connection's own set-up statement may have run it).
        check = key_check.pending()
        try:
            with (
                key_check.sent_with_write(check),
                db.wrap_database_errors,
                db.connection.pipeline(),
            ):
                # The hold alone (its answer is not read): nothing stored is needed, a
                # stored record is written by the caller, with what it then reads. Taken
                # by the key check's statement, once the check has passed, when one goes.
                hold = [access.provider.pk]
                if check is not None:
                    cursor.execute(*check.statement_then(HOLD_FOR_WRITING_SQL, hold))
                else:
                    cursor.execute(HOLD_FOR_WRITING_SQL, hold)
                cursor.execute(sql, params)
        except IntegrityError as error:
            # Stored meanwhile by another request (its INSERT committed after this
            # statement counted none): everything here was rolled back at the Sync, the
            # audit event too; written as an update instead.
            if _constraint(error) == _UNIQUE_ID:
                return None
            raise
        found = cursor.fetchall()
    if found[0][-1]:  # stored already: nothing written
        return None
    return _written(records, [row[:-1] for row in found], result)


# The unique (provider, Provider Activity ID) constraint, by the name the model gives it.
_UNIQUE_ID = next(
    str(constraint.name)
    for constraint in Activity._meta.constraints
    if tuple(getattr(constraint, "fields", ())) == ("provider", "provider_activity_id")
)


def _constraint(error: IntegrityError) -> str | None:
    """The name of the constraint a database error broke, as PostgreSQL reports it."""
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def hold_and_add(
    access: ProviderAccess,
    upserts: list[tuple[int | None, CleanActivity]],
    channel: str,
    result: BatchResult,
) -> tuple[dict[str, dict[str, Any]], tuple[dict[str, tuple[int, bool]], set[int]] | None]:
    """stored_rows(hold=True), and write_small as if no record were stored yet, sent
    together: one round trip (psycopg sends the transaction's BEGIN in one before it) for
    what a new activity needs.

    PostgreSQL runs them in turn, the write after the hold (with a snapshot of its own, as
    write_small's own statement would), and the write writes nothing, not even the audit
    event, when a record's ID is stored already: then the answer is the stored rows and
    None, and the caller writes as before, with what was stored. Otherwise the stored rows
    (none) and write_small's answer."""
    records = [record for _, record in upserts]
    keys = [record.provider_activity_id for record in records]
    event = _event(access, channel)
    sql, params = _one_statement(access, records, {}, channel, event, new_only=True)
    # Sent without waiting for answers, read when the pipeline's end (a Sync) brings both.
    with prepared_cursor(connection) as hold, prepared_cursor(connection) as write:
        with connection.wrap_database_errors, connection.connection.pipeline():
            hold.execute(_HELD_ROWS_SQL, [access.provider.pk, keys, access.provider.pk])
            write.execute(sql, params)
        stored = _stored_from(hold.fetchall())
        found = write.fetchall()
    if found[0][-1]:  # stored already: nothing written
        return stored, None
    return stored, _written(records, [row[:-1] for row in found], result)


def write_small(
    access: ProviderAccess,
    upserts: list[tuple[int | None, CleanActivity]],
    stored: dict[str, dict[str, Any]],
    channel: str,
    result: BatchResult,
) -> tuple[dict[str, tuple[int, bool]], set[int]]:
    """apply_activities' writing for a small batch that changes something, on PostgreSQL,
    with the provider held (stored_rows(hold=True)): one statement, which first reads the
    provider's closed years among those the batch touches (its records' years and the
    years their activities are in as it runs) and writes nothing if there is one.

    As it runs, not as `stored` has them: the hold's statement read them as of its start,
    before any wait for an attestation (and for a writer that attestation waited for).

    Returns (pk, inserted) by the IDs written, and no closed years; or nothing written and
    the closed years. Puts each written record as stored in result.rows."""
    records = [record for _, record in upserts]
    sql, params = _one_statement(access, records, stored, channel, _event(access, channel))
    # One text per shape (supporters? changes?), run by every single write: prepared, it is
    # neither sent nor planned again (about 2 ms of a POST's 5, measured in process).
    with prepared_cursor(connection) as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    return _written(records, found, result)


def _event(access: ProviderAccess, channel: str) -> dict[str, Any]:
    """The audit event the write makes, by field name (not a model instance: its values
    are all the statement needs, and making one cost a single write some 2 % of its time)."""
    return {
        "provider": access.provider.pk,
        "at": timezone.now(),
        "action": AuditAction.ACTIVITIES_WRITTEN,
        "channel": channel,
        "user": access.user.pk if access.user is not None else None,
        "api_key": access.api_key.pk if access.api_key is not None else None,
        "reporting_year": None,
        "description": "",
        "details": {},
    }


def _written(
    records: list[CleanActivity], found: list[Any], result: BatchResult
) -> tuple[dict[str, tuple[int, bool]], set[int]]:
    """write_small's answer from its statement's rows."""
    closed = set(found[0][-1] or ()) if found else set()
    if closed:
        return {}, closed
    supporters = {record.provider_activity_id: _supporters(record) for record in records}
    written: dict[str, tuple[int, bool]] = {}
    for *values, inserted, _ in found:
        if values[0] is None:
            continue  # the one row of a write that changed nothing after all
        written_row = _row_values(values)
        key = written_row["provider_activity_id"]
        written_row["supporters"] = supporters[key]
        result.rows[key] = written_row
        written[key] = (written_row["pk"], inserted)
    return written, set()


_EVENT_FIELDS = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
# The event's values the driver cannot take as they are (a timestamp, the JSON details):
# the others (keys, text, numbers) Django would pass on unchanged, at a cost per field.
_EVENT_ADAPTED = frozenset(
    f.name for f in _EVENT_FIELDS if f.get_internal_type() in ("DateTimeField", "JSONField")
)
# _event names every column (tests/activities/test_one_round_trip.py checks it): a field
# added to AuditEvent must be given its value there.
# A supporter's columns after (provider, activity): its position first, then its values.
_SUPPORT_VALUE_FIELDS = [f for f in _SUPPORT_FIELDS if f.name not in ("provider", "activity")]
assert _SUPPORT_VALUE_FIELDS[0].name == "position"
_ROW_COLUMNS = [(f.name, str(f.column), f.name in _JSON_FIELDS) for f in _STAGE_FIELDS]


def _one_statement(
    access: ProviderAccess,
    records: list[CleanActivity],
    stored: dict[str, dict[str, Any]],
    channel: str,
    event: dict[str, Any],
    *,
    new_only: bool = False,
    insert_only: bool = False,
) -> tuple[str, list[Any]]:
    """The provider's closed years the records touch, then (when none is) the audit event, the
    upsert (as _UPSERT_SQL), the supporters of the rows written (an updated row's old ones
    deleted), and the trail's changes, as one statement that answers the written rows
    (_ROW_FIELDS, then inserted?, then the closed years).

    The rows, supporters and changes travel as three JSON parameters, whatever their
    number: one statement text for every batch, and a dozen parameters for the driver to
    adapt rather than one per column of each row."""
    years = sorted({year for r in records if (year := r.values.get("reporting_year")) is not None})
    keys = [record.provider_activity_id for record in records]
    params: list[Any] = [access.provider.pk, years, access.provider.pk, keys]
    if new_only or insert_only:
        params += [keys, access.provider.pk]
    db = database(connection)
    params += [
        f.get_db_prep_save(event[f.name], db) if f.name in _EVENT_ADAPTED else event[f.name]
        for f in _EVENT_FIELDS
    ]
    fixed = _fixed_values(access, channel, None)
    rows = [_row_json(record.values, fixed) for record in records]
    new_supporters = [
        old["pk"]
        for record in records
        if (old := stored.get(record.provider_activity_id)) is not None
        and old["supporters"] != _supporters(record)
    ]
    supporters = [
        {
            "key": record.provider_activity_id,
            "position": position,
            **{f.column: s.get(f.name) for f in _SUPPORT_VALUE_FIELDS[1:]},
        }
        for record in records
        for position, s in enumerate(record.supporters, start=1)
    ]
    changes = [
        {"key": record.provider_activity_id, "changes": diff}
        for record in records
        if (old := stored.get(record.provider_activity_id)) is not None
        and (diff := _changes(record, old))
    ]
    params += [_json(rows)] if insert_only else [_json(rows), new_supporters]
    if supporters:
        params += [access.provider.pk, _json(supporters)]
    if changes:
        params += [access.provider.pk, _json(changes)]
    shape = (bool(supporters), bool(changes), new_only or insert_only, insert_only)
    return _statement_sql(db.vendor, *shape), params


def _row_json(values: dict[str, Any], fixed: dict[str, object]) -> dict[str, Any]:
    """A record's row by column name (a column left out is NULL; JSON columns [] for none)."""
    row: dict[str, Any] = {}
    for name, column, is_json in _ROW_COLUMNS:
        value = fixed[name] if name in fixed else values.get(name)
        if is_json:
            row[column] = value or []
        elif value is not None:
            row[column] = value
    return row


def _json(value: Any) -> str:
    return json.dumps(value, default=_json_value, separators=(",", ":"))


def _json_value(value: Any) -> str:
    """Dates, times and decimals as PostgreSQL's input reads them (ISO 8601; exact)."""
    if isinstance(value, datetime.date):  # a datetime too
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


# The statement's text depends on whether the batch has supporters and changes to write:
# made once per such shape, not once per request.
@lru_cache(maxsize=16)
def _statement_sql(
    vendor: str, supporters: bool, changes: bool, new_only: bool = False, insert_only: bool = False
) -> str:
    """_one_statement's SQL (PostgreSQL). `new_only`: nothing is written when a record's
    ID is stored already, and the answer ends with how many are. `insert_only` (with it):
    a plain INSERT, so that an ID stored meanwhile by another transaction (after this
    statement's snapshot counted none) fails the statement rather than being updated
    without its trail (add_in_one_round_trip)."""
    table = _ACTIVITY_TABLE
    upsert = _rows_written_sql(insert_only)
    support_columns = ", ".join(str(f.column) for f in _SUPPORT_VALUE_FIELDS)
    # new_only: how many of the records' IDs are stored, one probe of the unique (provider,
    # ID) index per key, as activities_by_key (as one condition, the generic plan read all
    # of the provider's rows); the event, and so everything, only when none is.
    stored, none_stored = "", ""
    if new_only:
        stored = (
            "stored AS (SELECT count(*) AS n FROM unnest(%s::text[]) AS k(id) "  # noqa: S608
            f"CROSS JOIN LATERAL (SELECT 1 FROM {table} s WHERE s.provider_id = %s "
            "AND s.provider_activity_id = k.id OFFSET 0) AS s), "
        )
        none_stored = "AND (SELECT n FROM stored) = 0 "
    sql = (
        "WITH closed AS (SELECT array_agg(c.year) AS years "  # noqa: S608 (model names)
        f"FROM ({closed_years_sql(0)}) AS c(year) WHERE c.year = ANY(%s::int[]) "
        f"OR c.year IN (SELECT s.reporting_year FROM {table} s "
        "WHERE s.provider_id = %s AND s.provider_activity_id = ANY(%s::text[]))), "
        f"{stored}ev AS (INSERT INTO {AuditEvent._meta.db_table} "
        f"({', '.join(str(f.column) for f in _EVENT_FIELDS)}) "
        f"SELECT {', '.join(_cast(f) for f in _EVENT_FIELDS)} "
        f"WHERE (SELECT years FROM closed) IS NULL {none_stored}RETURNING id), "
        f"up AS ({upsert})"
    )
    if not insert_only:  # an updated row's old supporters (a plain INSERT updates none)
        # As an array of ids, so that the supporters are found by their activity's index:
        # as IN (subquery) it was planned as a hash join over the whole supporters table
        # (tests/activities/test_write_plans.py).
        sql += (
            f", gone AS (DELETE FROM {_SUPPORT_TABLE} WHERE activity_id = ANY(ARRAY("  # noqa: S608
            "SELECT id FROM up WHERE NOT inserted)))"
        )
    if supporters:  # the written rows' supporters, matched to their activity by its ID
        sql += (
            f", sup AS (INSERT INTO {_SUPPORT_TABLE} (provider_id, activity_id, "  # noqa: S608
            f"{support_columns}) "
            f"SELECT %s, up.id, {', '.join(f's.{f.column}' for f in _SUPPORT_VALUE_FIELDS)} "
            "FROM json_array_elements(%s::json) AS e "
            f"CROSS JOIN LATERAL json_populate_record(NULL::{_SUPPORT_TABLE}, e) AS s "
            "JOIN up ON up.provider_activity_id = e->>'key')"
        )
    if changes:  # the audit trail's changes of the updated rows
        sql += (
            f", ch AS (INSERT INTO {ActivityChange._meta.db_table} "  # noqa: S608
            "(provider_id, event_id, provider_activity_id, action, changes) "
            "SELECT %s, (SELECT id FROM ev), c->>'key', 'updated', (c->'changes')::jsonb "
            "FROM json_array_elements(%s::json) AS c "
            "WHERE c->>'key' IN (SELECT provider_activity_id FROM up))"
        )
    # At least one row, which answers the closed years (NULL: none) with the rows written.
    columns = ", ".join(f"up.{f.column}" for f in _ROW_FIELDS)
    answer = f" SELECT {columns}, up.inserted, (SELECT years FROM closed) "  # noqa: S608
    if new_only:
        answer += ", (SELECT n FROM stored) "
    return sql + answer + "FROM (SELECT 1) AS one LEFT JOIN up ON true"


def _rows_written_sql(insert_only: bool) -> str:
    """The statement's writing of the activities (as _UPSERT_SQL, or a plain INSERT), which
    answers each row written (_ROW_FIELDS, then inserted?). Nothing is written when a year
    the batch touches is closed: the audit event is not made, and the rows are written only
    with the event."""
    table = _ACTIVITY_TABLE
    rows = (  # noqa: S608 (table and column names come from the models)
        "SELECT {} FROM json_populate_recordset(NULL::{}, %s::json) AS r "
        "WHERE EXISTS (SELECT 1 FROM ev)"
    ).format(
        ", ".join(
            "(SELECT id FROM ev)" if f.name == "created_by_event" else f"r.{f.column}"
            for f in _STAGE_FIELDS
        ),
        table,
    )
    written = _UPSERT_SQL.format(source=rows)
    if insert_only:
        written = written[: written.index(" ON CONFLICT")] + (
            " RETURNING id, provider_activity_id, (xmax = 0)"
        )
    return written.replace(
        "RETURNING id, provider_activity_id, (xmax = 0)",
        f"RETURNING {', '.join(f'{table}.{f.column}' for f in _ROW_FIELDS)}, "
        "(xmax = 0) AS inserted",
    )


def _cast(model_field: Any) -> str:
    """A parameter typed as its column, for a SELECT that feeds an INSERT; text as text (a
    cast to varchar(n) would cut a long value, where the INSERT refuses it)."""
    db_type = model_field.cast_db_type(connection)
    return f"%s::{'text' if db_type.startswith('varchar') else db_type}"
