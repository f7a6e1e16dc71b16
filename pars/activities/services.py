"""The only writers of activities: every channel ends here after the validator.

Here too, once for every channel: a closed (attested) reporting year refuses
changes, and every change is recorded in the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from psycopg.errors import UniqueViolation

from pars.accounts.access import ProviderAccess
from pars.activities import small_writes
from pars.activities.copy_text import copy_rows
from pars.activities.models import Activity, ActivityChange, CommercialSupport
from pars.activities.validation import HAS_LEARNER_RECORDS_RULE, RULES, CleanActivity
from pars.activities.write_sql import (
    _ACTIVITY_TABLE,
    _AUDITED_FIELDS,
    _JSON_FIELDS,
    _STAGE_COLUMNS,
    _STAGE_FIELDS,
    _SUPPORT_FIELDS,
    _SUPPORT_TABLE,
    _SUPPORTER_FIELDS,
    _UPSERT_SQL,
    _VALUE_FIELDS,
    _changes,
    _copy_value,
    _fixed_values,
    _plain,
    _stage_row,
    _supporters,
)
from pars.activities.year_lock import LOCKED_RULE, locked_message, locked_years
from pars.audit.models import AuditAction, AuditEvent
from pars.audit.services import record_event
from pars.intake.outcomes import (
    ADDED,
    DELETED,
    UNCHANGED,
    UPDATED,
    BatchOutcomes,
    RecordOutcome,
)
from pars.intake.rules import FieldError
from pars.lib import prepared
from pars.lib.prepared_rows import PreparedRows, checked_at_once


@dataclass
class BatchResult(BatchOutcomes):
    """Each activity's outcome: added, updated (an existing activity with other values or
    supporters), unchanged (equal to the stored one: nothing written), deleted, or
    rejected (then nothing in the batch is written)."""

    # PostgreSQL, small batches: each record's stored values as the list reads them
    # (values by field name, "pk", "supporters"), by ID: a single write answers from them
    # without reading the activity back.
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def deleted(self) -> int:
        return self.withdrawn


class ActivityRefused(Exception):
    """A single write (web form, JSON) that the writer refused, with its field errors."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


def apply_activities(
    access: ProviderAccess,
    records: Sequence[tuple[int | None, CleanActivity]],
    *,
    channel: str,
    event: AuditEvent | Callable[[], AuditEvent] | None = None,
    expect_new: bool = False,
) -> BatchResult:
    """Write validated activities: upsert by Provider Activity ID, or delete.

    All or nothing: when anything is refused (a delete of an unknown ID, a change
    in a closed reporting year) the errors come back and nothing is written.
    Runs in one transaction (nested in the caller's, if any); the changes are
    recorded under `event` (or the event it makes, called only when something changes),
    or a new audit event. A record equal to the stored one writes nothing: it is
    unchanged. The result holds each record's outcome (added, updated, unchanged,
    deleted; rejected, then only the refused records have one). `expect_new` (a POST):
    outside a transaction, first tried as new records in one round trip (_added_at_once).
    """
    access.require_edit()
    result = BatchResult()
    deletes = [(row, record) for row, record in records if record.action == "delete"]
    upserts = [(row, record) for row, record in records if record.action == "upsert"]
    one_statement = (
        connection.vendor == "postgresql" and not deletes and 0 < len(upserts) <= SMALL_BATCH
    )
    pipelined = one_statement and event is None and prepared.pipelines()
    tried_as_new = pipelined and expect_new and connection.get_autocommit()
    at_once = _added_at_once(access, records, upserts, channel, result) if tried_as_new else None
    if at_once is not None:
        return at_once  # else a record is stored: written below as an update
    with transaction.atomic():
        held: dict[str, dict[str, Any]] | None = None
        if pipelined and not tried_as_new:
            # Held, the stored records read and, in the same round trip, new ones added.
            held, added = small_writes.hold_and_add(access, upserts, channel, result)
            if added is not None:
                return _small_outcome(access, records, upserts, held, added, result)
        elif one_statement:  # the provider held for writing, and the stored records read
            held = small_writes.stored_rows(access, [record for _, record in upserts], hold=True)
        if held is not None and event is None and any(_is_change(r, held) for _, r in upserts):
            # The write's own statement reads the closed years (after the hold).
            return _write_small(access, records, upserts, held, channel, result)
        # Not from `held`: it was read as of before the hold's wait (see write_small).
        errors = locked_year_errors(access, records, for_update=held is None)
        known: dict[str, int] = {}
        if deletes:
            known = _existing_ids(access, deletes)
            errors += _unknown_deletes(deletes, known)
            errors += _held_deletes(access, deletes, lock=True)
        if errors:
            result.reject(errors, {row: record.provider_activity_id for row, record in records})
            return result
        if held is not None:
            stored = held
            result.rows = dict(stored)
        else:
            stored = _stored(access, [record for _, record in upserts]) if upserts else {}
        # A re-sent record equal to the stored one writes nothing, not even an audit event.
        changing = any(_is_change(record, stored) for _, record in upserts)
        if one_statement and event is None:  # nothing changes: nothing written
            _add_outcomes(result, upserts, {}, stored)
            return result
        made: AuditEvent | None = None
        if known or changing:
            made = (event() if callable(event) else event) or record_event(
                access,
                AuditAction.ACTIVITIES_DELETED if not upserts else AuditAction.ACTIVITIES_WRITTEN,
                channel=channel,
            )
            if known:
                _delete_known(access, known, made)
                done: set[str] = set()
                for row, record in deletes:
                    key = record.provider_activity_id
                    result.add(row, key, UNCHANGED if key in done else DELETED, id=known[key])
                    done.add(key)
        if upserts:
            _upsert(access, upserts, stored, channel, made if changing else None, result)
    return result


def _added_at_once(
    access: ProviderAccess,
    records: Sequence[tuple[int | None, CleanActivity]],
    upserts: list[tuple[int | None, CleanActivity]],
    channel: str,
    result: BatchResult,
) -> BatchResult | None:
    """apply_activities for records expected new, outside a transaction (PostgreSQL): all
    written (or refused) in one round trip, or None when one is stored."""
    added = small_writes.add_in_one_round_trip(access, upserts, channel, result)
    return None if added is None else _small_outcome(access, records, upserts, {}, added, result)


def _write_small(
    access: ProviderAccess,
    records: Sequence[tuple[int | None, CleanActivity]],
    upserts: list[tuple[int | None, CleanActivity]],
    held: dict[str, dict[str, Any]],
    channel: str,
    result: BatchResult,
) -> BatchResult:
    """apply_activities for a small batch that changes something (PostgreSQL, the provider
    held, `held` its stored records): one statement, or the closed years' refusals."""
    result.rows = dict(held)
    answer = small_writes.write_small(access, upserts, held, channel, result)
    return _small_outcome(access, records, upserts, held, answer, result)


def _small_outcome(
    access: ProviderAccess,
    records: Sequence[tuple[int | None, CleanActivity]],
    upserts: list[tuple[int | None, CleanActivity]],
    held: dict[str, dict[str, Any]],
    answer: tuple[dict[str, tuple[int, bool]], set[int]],
    result: BatchResult,
) -> BatchResult:
    """The outcomes of a small batch's write (`answer`: by ID, and the closed years found)."""
    written, closed = answer
    if closed:
        result.rows = {}
        # The years as stored now (held was read before the hold's wait): a new statement.
        errors = locked_year_errors(access, records, locked=closed)
        result.reject(errors, {row: record.provider_activity_id for row, record in records})
        return result
    _add_outcomes(result, upserts, written, held)
    return result


def _delete_known(access: ProviderAccess, known: dict[str, int], event: AuditEvent) -> None:
    """Delete these activities (primary keys by ID); the trail keeps every reported value
    of each, as [old, None]."""
    # By primary key: the index probe already found them (see activities_by_key).
    doomed = access.records(Activity).filter(pk__in=list(known.values()))
    gone = _old_values(doomed)
    doomed.delete()
    ActivityChange.objects.bulk_create(
        ActivityChange(
            provider=access.provider,
            event=event,
            provider_activity_id=key,
            action="deleted",
            changes={
                name: [_plain(value), None]
                for name, value in gone[key].items()
                if name not in ("pk", "provider_activity_id") and value not in (None, "", [])
            },
        )
        for key in sorted(known)
    )


def _existing_ids(
    access: ProviderAccess, records: Sequence[tuple[int | None, CleanActivity]]
) -> dict[str, int]:
    """The primary keys of the provider's activities with these records' IDs, by ID."""
    keys = [record.provider_activity_id for _, record in records]
    return dict(activities_by_key(access, keys, "provider_activity_id", "pk"))


def activities_by_key(
    access: ProviderAccess, keys: Sequence[str], *fields: str
) -> list[tuple[Any, ...]]:
    """`fields` of the provider's activities with these Provider Activity IDs.

    On PostgreSQL, one probe of the unique (provider, ID) index per key, whatever plan
    the statistics suggest. Given the provider as a constant, the planner trusts the
    statistics for it: for a provider they have not seen yet (a new provider's first
    file) it expects one row while the file's transaction has written thousands, and
    reads all of them for each batch, or for each key (time growing with the square
    of the file). Here the provider comes with each key, and OFFSET 0 keeps the probe
    from being merged into a join the planner could reorder.
    """
    if connection.vendor != "postgresql":
        return list(
            access.records(Activity).filter(provider_activity_id__in=keys).values_list(*fields)
        )
    meta = Activity._meta
    column = {field.name: field.column for field in meta.concrete_fields}
    columns = ", ".join(f"a.{column['id' if name == 'pk' else name]}" for name in fields)
    # The keys go as one text, split by the server: two arrays of a batch's keys cost the
    # client a Python call per element to write out. Unless a key holds the separator (or
    # is empty, which the split would lose): then as an array.
    joined = _KEY_SEPARATOR.join(keys)
    params: list[Any]
    if keys and joined.count(_KEY_SEPARATOR) == len(keys) - 1 and "" not in keys:
        source, params = "string_to_array(%s, %s)", [joined, _KEY_SEPARATOR]
    else:
        source, params = "%s::text[]", [list(keys)]
    with connection.cursor() as cursor:
        cursor.execute(
            # Table and column names come from the model, never from input.
            f"SELECT {columns} FROM unnest(array_fill(%s::bigint, ARRAY[%s]), {source}) "  # noqa: S608
            f"AS k(provider, id) CROSS JOIN LATERAL (SELECT * FROM {meta.db_table} a "
            "WHERE a.provider_id = k.provider AND a.provider_activity_id = k.id OFFSET 0) a",
            [access.provider.pk, len(keys), *params],
        )
        return cursor.fetchall()


_KEY_SEPARATOR = "\x1f"  # the unit separator: no printable text holds it


def _unknown_deletes(
    deletes: Sequence[tuple[int | None, CleanActivity]], known: Mapping[str, int]
) -> list[FieldError]:
    rule = "activity.provider_activity_id.unknown"
    return [
        FieldError(row, "provider_activity_id", rule, RULES[rule].message)
        for row, record in deletes
        if record.provider_activity_id not in known
    ]


def _held_deletes(
    access: ProviderAccess,
    deletes: Sequence[tuple[int | None, CleanActivity]],
    *,
    lock: bool = False,
) -> list[FieldError]:
    """An error for each delete of an activity that other records keep.

    Learner completions and registrations point at their activity with a foreign key
    that protects it (``on_delete`` PROTECT or RESTRICT, and the database's own
    constraint): found here through the model's relations, so this app needs no import
    of the apps that depend on it. `lock` holds the activities first, so that a
    completion written meanwhile waits for this transaction or is seen by the check.
    """
    keys = [record.provider_activity_id for _, record in deletes]
    found = activities_by_key(access, keys, "pk")
    activities = Activity.objects.filter(pk__in=[pk for (pk,) in found])
    if lock:
        list(activities.order_by("pk").select_for_update().values_list("pk", flat=True))
    keeping = [
        relation
        for relation in Activity._meta.related_objects
        if relation.on_delete in (models.PROTECT, models.RESTRICT)
    ]
    if not keeping:
        return []
    held_by = Q()
    for relation in keeping:
        held_by |= Q(
            Exists(
                relation.related_model._base_manager.filter(
                    **{relation.field.attname: OuterRef("pk")}
                )
            )
        )
    held = set(activities.filter(held_by).values_list("provider_activity_id", flat=True))
    rule = HAS_LEARNER_RECORDS_RULE
    return [
        FieldError(row, "provider_activity_id", rule, RULES[rule].message)
        for row, record in deletes
        if record.provider_activity_id in held
    ]


def refusals(
    access: ProviderAccess, records: Sequence[tuple[int | None, CleanActivity]]
) -> list[FieldError]:
    """What apply_activities would refuse, found without writing (deletes of unknown IDs
    or of activities learner records keep, changes to closed years): a rejected file
    still reports every problem."""
    deletes = [(row, record) for row, record in records if record.action == "delete"]
    unknown = _unknown_deletes(deletes, _existing_ids(access, deletes)) if deletes else []
    held = _held_deletes(access, deletes) if deletes else []
    return unknown + held + locked_year_errors(access, records)


def locked_year_errors(
    access: ProviderAccess,
    records: Sequence[tuple[int | None, CleanActivity]],
    *,
    for_update: bool = False,
    locked: set[int] | None = None,
) -> list[FieldError]:
    """An error for each record that would change a closed (attested) reporting year; the
    years its activities are in are read as they are now (after the hold, if any)."""
    # for_update: hold the provider's report rows, so an attestation waits for this write.
    if locked is None:  # `locked`: the closed years, when the caller has read them
        locked = locked_years(access.provider, for_update=for_update)
    if not locked:
        return []  # the common case costs one small query
    errors = [
        FieldError(
            row, "reporting_year", LOCKED_RULE, locked_message(record.values["reporting_year"])
        )
        for row, record in records
        if record.values.get("reporting_year") in locked
    ]
    # Moving or deleting an activity out of a closed year is a change to that year too.
    keys = [record.provider_activity_id for _, record in records]
    years = activities_by_key(access, keys, "provider_activity_id", "reporting_year")
    existing = {key: year for key, year in years if year in locked}
    for row, record in records:
        year = existing.get(record.provider_activity_id)
        if year is not None and record.values.get("reporting_year") != year:
            errors.append(FieldError(row, "reporting_year", LOCKED_RULE, locked_message(year)))
    return errors


def _stored(access: ProviderAccess, records: list[CleanActivity]) -> dict[str, dict[str, Any]]:
    """The stored values (and supporters) of these records' activities, by ID: what a
    write compares with, and what the audit trail keeps of a change."""
    keys = [record.provider_activity_id for record in records]
    if connection.vendor != "postgresql":
        return _old_values(access.records(Activity).filter(provider_activity_id__in=keys))
    # Found by key, then read by primary key: no provider constant for the planner to
    # misjudge (see activities_by_key).
    found = activities_by_key(access, keys, "pk")
    return _old_values(Activity.objects.filter(pk__in=[pk for (pk,) in found])) if found else {}


def _is_change(record: CleanActivity, stored: dict[str, dict[str, Any]]) -> bool:
    old = stored.get(record.provider_activity_id)
    return old is None or bool(_changes(record, old))


def _upsert(
    access: ProviderAccess,
    upserts: list[tuple[int | None, CleanActivity]],
    stored: dict[str, dict[str, Any]],
    channel: str,
    event: AuditEvent | None,
    result: BatchResult,
) -> None:
    """Write the records that differ from the stored ones; each record's outcome."""
    records = [record for _, record in upserts]
    written: dict[str, tuple[int, bool]] = {}
    if event is not None:  # None: every record equals the stored one
        if connection.vendor == "postgresql":
            written = _upsert_postgresql(access, records, stored, channel, event)
        else:
            written = _upsert_orm(access, records, stored, channel, event)
        _record_changes(
            access, [r for r in records if r.provider_activity_id in written], stored, event
        )
    _add_outcomes(result, upserts, written, stored)


def _add_outcomes(
    result: BatchResult,
    upserts: Sequence[tuple[int | None, CleanActivity]],
    written: Mapping[str, tuple[int, bool]],
    stored: Mapping[str, Mapping[str, Any]],
) -> None:
    """Each record's outcome: added or updated when written, else unchanged. A batch holds
    each ID once: every channel refuses a file that repeats one."""
    for row, record in upserts:
        key = record.provider_activity_id
        if key in written:
            pk, inserted = written[key]
            result.add(row, key, ADDED if inserted else UPDATED, id=pk)
        else:
            result.add(row, key, UNCHANGED, id=stored[key]["pk"])


def _upsert_orm(
    access: ProviderAccess,
    records: list[CleanActivity],
    stored: dict[str, dict[str, Any]],
    channel: str,
    event: AuditEvent,
) -> dict[str, tuple[int, bool]]:
    """Write the records that change something; (primary key, inserted?) by ID.

    What ``bulk_create(update_conflicts=True)`` writes, as one prepared INSERT … ON
    CONFLICT run for every row: without model instances and SQL built per row, the
    write lock that SQLite holds meanwhile is a fraction as long.
    """
    changing = [record for record in records if _is_change(record, stored)]
    if not changing:
        return {}
    fixed = _fixed_values(access, channel, event)
    rows = _ORM_ROWS.rows((record.values for record in changing), fixed)
    with connection.cursor() as cursor:
        cursor.executemany(_ORM_UPSERT_SQL, rows)
    keys = [record.provider_activity_id for record in changing]
    pks = dict(activities_by_key(access, keys, "provider_activity_id", "pk"))
    by_key = {record.provider_activity_id: record for record in changing}
    _replace_supporters(access, {pks[key]: record for key, record in by_key.items()})
    return {key: (pks[key], key not in stored) for key in by_key}


_ORM_ROWS = PreparedRows(Activity)
_ORM_UPSERT_SQL = (
    f"INSERT INTO {_ORM_ROWS.table} ({_ORM_ROWS.names}) VALUES {_ORM_ROWS.placeholders} "  # noqa: S608 (model names)
    "ON CONFLICT (provider_id, provider_activity_id) DO UPDATE SET "
    + ", ".join(
        f"{field.column} = excluded.{field.column}"
        for field in _ORM_ROWS.fields
        if field.name in _VALUE_FIELDS
    )
)


def _replace_supporters(access: ProviderAccess, records: dict[int, CleanActivity]) -> None:
    """A written record replaces its supporters as a whole (`records`: by primary key)."""
    access.records(CommercialSupport).filter(activity__in=list(records)).delete()
    CommercialSupport.objects.bulk_create(
        CommercialSupport(provider=access.provider, activity_id=pk, position=position, **supporter)
        for pk, record in records.items()
        for position, supporter in enumerate(record.supporters, start=1)
    )


def _old_values(existing: Any) -> dict[str, dict[str, Any]]:
    """The audited values (and supporters) of activities about to be overwritten."""
    rows = {
        row["provider_activity_id"]: row
        for row in existing.values("pk", "provider_activity_id", *_AUDITED_FIELDS)
    }
    if rows:
        by_pk = {row["pk"]: row for row in rows.values()}
        for row in by_pk.values():
            row["supporters"] = []
        supporters = CommercialSupport.objects.filter(activity__in=list(by_pk)).order_by(
            "activity", "position"
        )
        for supporter in supporters.values("activity", *_SUPPORTER_FIELDS):
            by_pk[supporter.pop("activity")]["supporters"].append(supporter)
    return rows


def _record_changes(
    access: ProviderAccess,
    records: list[CleanActivity],
    before: dict[str, dict[str, Any]],
    event: AuditEvent,
) -> None:
    changes = []
    for record in records:
        old = before.get(record.provider_activity_id)
        if old is None:
            continue  # a new activity: it points at the event that created it
        diff = _changes(record, old)
        if diff:
            changes.append(
                ActivityChange(
                    provider=access.provider,
                    event=event,
                    provider_activity_id=record.provider_activity_id,
                    action="updated",
                    changes=diff,
                )
            )
    ActivityChange.objects.bulk_create(changes)


def save_activity(access: ProviderAccess, record: CleanActivity, *, channel: str) -> Activity:
    """Write one validated activity (web form, JSON) and return it; raises ActivityRefused."""
    return write_activity(access, record, channel=channel)[0]


def write_activity(
    access: ProviderAccess, record: CleanActivity, *, channel: str
) -> tuple[Activity, RecordOutcome]:
    """save_activity, with the record's outcome (added or updated); raises ActivityRefused."""
    outcome = write_record(access, record, channel=channel)
    return access.get(Activity, pk=outcome.id), outcome


def write_record(access: ProviderAccess, record: CleanActivity, *, channel: str) -> RecordOutcome:
    """Write one validated activity and return its outcome, the activity unread (the JSON
    channel reads it back as values); raises ActivityRefused."""
    result = apply_activities(access, [(None, record)], channel=channel)
    if result.errors:
        raise ActivityRefused(result.errors)
    (outcome,) = result.outcomes
    return outcome


def write_record_row(
    access: ProviderAccess, record: CleanActivity, *, channel: str, expect_new: bool = False
) -> tuple[RecordOutcome, dict[str, Any] | None]:
    """write_record, with the activity as stored (values by field name, "pk" and
    "supporters") when the writer has it without reading it back (PostgreSQL), or None.
    `expect_new`: as apply_activities'."""
    result = apply_activities(access, [(None, record)], channel=channel, expect_new=expect_new)
    if result.errors:
        raise ActivityRefused(result.errors)
    (outcome,) = result.outcomes
    return outcome, result.rows.get(record.provider_activity_id)


def delete_activity(access: ProviderAccess, activity: Activity, *, channel: str = "web") -> None:
    """Delete one activity; raises ActivityRefused when its reporting year is closed or
    learner records keep it."""
    record = CleanActivity(activity.provider_activity_id, "delete")
    record.values["reporting_year"] = activity.reporting_year
    result = apply_activities(access, [(None, record)], channel=channel)
    if result.errors:
        raise ActivityRefused(result.errors)


# PostgreSQL: a big batch goes through COPY into a session-local staging table and from
# there into the activity table with one INSERT ... ON CONFLICT, several times faster
# than the ORM's multi-row INSERT for big files; a small one (SMALL_BATCH) goes straight
# into the same INSERT ... ON CONFLICT as a VALUES list. The rows are the same either way.


# Up to this many records a batch is written with one multi-row INSERT ... VALUES: a
# single API write then costs no staging table, TRUNCATE or COPY round trips.
SMALL_BATCH = 50


def _upsert_postgresql(
    access: ProviderAccess,
    records: list[CleanActivity],
    stored: dict[str, dict[str, Any]],
    channel: str,
    event: AuditEvent,
) -> dict[str, tuple[int, bool]]:
    """Write the records that change something; (primary key, inserted?) by ID."""
    fixed = _fixed_values(access, channel, event)
    # An existing row is rewritten only when a value differs, or its supporters do.
    new_supporters = [
        old["pk"]
        for record in records
        if (old := stored.get(record.provider_activity_id)) is not None
        and old["supporters"] != _supporters(record)
    ]
    small = len(records) <= SMALL_BATCH
    with connection.cursor() as cursor:
        written: dict[str, tuple[int, bool]] = {}
        new = [r for r in records if r.provider_activity_id not in stored]
        if not small and new:
            written = _copy_new(cursor, new, fixed)
        rest = [r for r in records if r.provider_activity_id not in written]
        if rest:
            written.update(_upsert_rows(cursor, rest, fixed, new_supporters))
        # An inserted activity has no supporters yet to delete.
        replaced = [pk for pk, inserted in written.values() if not inserted]
        if replaced:
            cursor.execute(
                f"DELETE FROM {_SUPPORT_TABLE} WHERE activity_id = ANY(%s)",  # noqa: S608 (model name)
                [replaced],
            )
        _insert_supporters(cursor, _supporter_rows(access, records, written), small=small)
    return written


def _upsert_rows(
    cursor: Any, records: list[CleanActivity], fixed: dict[str, object], new_supporters: list[int]
) -> dict[str, tuple[int, bool]]:
    """INSERT ... ON CONFLICT the records, from a VALUES list (a small batch) or through the
    staging table; (primary key, inserted?) of each row written, by ID."""
    params: list[Any] = []
    if len(records) <= SMALL_BATCH:
        source, params = _values_source([_stage_row(r.values, fixed) for r in records])
    else:
        _stage(cursor, *copy_rows(_STAGE_FIELDS, (r.values for r in records), fixed))
        source = _STAGED
    cursor.execute(_UPSERT_SQL.format(source=source), [*params, new_supporters])
    return {key: (pk, inserted) for pk, key, inserted in cursor.fetchall()}


def _drawn_ids(cursor: Any, count: int) -> list[int]:
    """`count` primary keys drawn from the activity table's sequence."""
    # The sequence is looked up once (a subquery run before the rows), not once per key:
    # that look-up cost four times the numbers themselves.
    cursor.execute(
        "SELECT array_agg(nextval((SELECT pg_get_serial_sequence(%s, 'id')::regclass))) "
        "FROM generate_series(1, %s)",
        [_ACTIVITY_TABLE, count],
    )
    ids: list[int] = cursor.fetchone()[0]
    return ids


def _copy_new(
    cursor: Any, records: list[CleanActivity], fixed: dict[str, object]
) -> dict[str, tuple[int, bool]]:
    """Activities the provider does not have yet, straight into the table by COPY (their
    primary keys drawn from its sequence first): no staging table, no conflict to look
    for. Another write may have added one of them since `_stored` looked (a web or API
    save does not wait for the file): then nothing is copied ({}), and the upsert takes
    them all, as it always did."""
    ids = _drawn_ids(cursor, len(records))
    columns, text = copy_rows(_STAGE_FIELDS, (r.values for r in records), fixed, ids)
    with checked_at_once(cursor, _ACTIVITY_TABLE):
        try:
            with (
                transaction.atomic(),
                cursor.cursor.copy(f"COPY {_ACTIVITY_TABLE} ({columns}) FROM STDIN") as copy,
            ):
                copy.write(text)
        except UniqueViolation:  # raised by psycopg itself: the COPY bypasses Django's cursor
            return {}
    return {r.provider_activity_id: (pk, True) for r, pk in zip(records, ids, strict=True)}


def _values_source(rows: list[list[object]]) -> tuple[str, list[Any]]:
    """The rows as a VALUES list for the upsert, JSON columns cast from text."""
    one = "({})".format(
        ", ".join("%s::jsonb" if field.name in _JSON_FIELDS else "%s" for field in _STAGE_FIELDS)
    )
    return "VALUES " + ", ".join([one] * len(rows)), [value for row in rows for value in row]


def _stage(cursor: Any, columns: str, text: str) -> None:
    """Big batches: the rows (CSV text of `columns`) through COPY into a session-local
    staging table."""
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS pars_activity_stage ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {', '.join(_STAGE_COLUMNS)} FROM {_ACTIVITY_TABLE} WITH NO DATA"
    )
    cursor.execute("TRUNCATE pars_activity_stage")
    with cursor.cursor.copy(f"COPY pars_activity_stage ({columns}) FROM STDIN") as copy:
        copy.write(text)


def _supporter_rows(
    access: ProviderAccess, records: list[CleanActivity], written: dict[str, tuple[int, bool]]
) -> list[dict[str, Any]]:
    """The supporters of the written records, numbered; an unchanged record keeps its own."""
    return [
        {
            **supporter,
            "provider": access.provider.pk,
            "activity": written[record.provider_activity_id][0],
            "position": position,
        }
        for record in records
        if record.provider_activity_id in written
        for position, supporter in enumerate(record.supporters, start=1)
    ]


def _insert_supporters(cursor: Any, supporters: list[dict[str, Any]], *, small: bool) -> None:
    if not supporters:
        return
    columns = ", ".join(str(field.column) for field in _SUPPORT_FIELDS)
    if small:
        one = "({})".format(
            ", ".join(
                "%s::jsonb" if field.get_internal_type() == "JSONField" else "%s"
                for field in _SUPPORT_FIELDS
            )
        )
        cursor.execute(
            f"INSERT INTO {_SUPPORT_TABLE} ({columns}) VALUES "  # noqa: S608 (model names)
            + ", ".join([one] * len(supporters)),
            [_copy_value(row[field.name]) for row in supporters for field in _SUPPORT_FIELDS],
        )
        return
    columns, text = copy_rows(_SUPPORT_FIELDS, supporters, {})
    with (
        checked_at_once(cursor, _SUPPORT_TABLE),
        cursor.cursor.copy(f"COPY {_SUPPORT_TABLE} ({columns}) FROM STDIN") as copy,
    ):
        copy.write(text)


_STAGED = f"SELECT {', '.join(_STAGE_COLUMNS)} FROM pars_activity_stage"  # noqa: S608
