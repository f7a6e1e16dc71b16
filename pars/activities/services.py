"""The only writers of activities: every channel ends here after the validator."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity, CommercialSupport
from pars.activities.validation import RULES, CleanActivity, FieldError

_VALUE_FIELDS = [
    f.name
    for f in Activity._meta.concrete_fields
    if f.name not in ("id", "provider", "provider_activity_id", "created_at")
]


@dataclass
class BatchResult:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    errors: list[FieldError] = field(default_factory=list)


def apply_activities(
    access: ProviderAccess, records: Sequence[tuple[int | None, CleanActivity]], *, channel: str
) -> BatchResult:
    """Write validated activities: upsert by Provider Activity ID, or delete.

    All or nothing: runs in one transaction (nested in the caller's, if any) and
    raises nothing for user mistakes; a delete of an unknown ID comes back as an
    error and the caller decides whether to roll back.
    """
    access.require_edit()
    result = BatchResult()
    deletes = [(row, record) for row, record in records if record.action == "delete"]
    upserts = [record for _, record in records if record.action == "upsert"]
    with transaction.atomic():
        if deletes:
            ids = [record.provider_activity_id for _, record in deletes]
            known = set(
                access.records(Activity)
                .filter(provider_activity_id__in=ids)
                .values_list("provider_activity_id", flat=True)
            )
            for row, record in deletes:
                if record.provider_activity_id not in known:
                    rule = "activity.provider_activity_id.unknown"
                    result.errors.append(
                        FieldError(row, "provider_activity_id", rule, RULES[rule].message)
                    )
            result.deleted, _ = (
                access.records(Activity).filter(provider_activity_id__in=known).delete()
            )
            result.deleted = len(known)
        if upserts:
            _upsert(access, upserts, channel, result)
    return result


def _upsert(
    access: ProviderAccess, records: list[CleanActivity], channel: str, result: BatchResult
) -> None:
    if connection.vendor == "postgresql":
        _upsert_postgresql(access, records, channel, result)
    else:
        _upsert_orm(access, records, channel, result)


def _upsert_orm(
    access: ProviderAccess, records: list[CleanActivity], channel: str, result: BatchResult
) -> None:
    keys = [record.provider_activity_id for record in records]
    existing = set(
        access.records(Activity)
        .filter(provider_activity_id__in=keys)
        .values_list("provider_activity_id", flat=True)
    )
    result.updated += len(existing)
    result.added += len(set(keys) - existing)
    activities = [
        Activity(provider=access.provider, last_channel=channel, **record.values)
        for record in records
    ]
    Activity.objects.bulk_create(
        activities,
        update_conflicts=True,
        unique_fields=["provider", "provider_activity_id"],
        update_fields=_VALUE_FIELDS,
    )
    # A written record replaces its supporters as a whole.
    CommercialSupport.objects.filter(
        provider=access.provider, activity__in=[activity.pk for activity in activities]
    ).delete()
    CommercialSupport.objects.bulk_create(
        CommercialSupport(
            provider=access.provider, activity=activity, position=position, **supporter
        )
        for activity, record in zip(activities, records, strict=True)
        for position, supporter in enumerate(record.supporters, start=1)
    )


def save_activity(access: ProviderAccess, record: CleanActivity, *, channel: str) -> Activity:
    """Write one validated activity (web form, JSON) and return it."""
    apply_activities(access, [(None, record)], channel=channel)
    return access.get(Activity, provider_activity_id=record.provider_activity_id)


def delete_activity(access: ProviderAccess, activity: Activity) -> None:
    access.require_edit()
    access.records(Activity).filter(pk=activity.pk).delete()


# PostgreSQL: rows go through COPY into a session-local staging table and from there
# into the activity table with one INSERT ... ON CONFLICT, several times faster than
# the ORM's multi-row INSERT for big files. The rows are the same validated values.
_ACTIVITY_TABLE = Activity._meta.db_table
_SUPPORT_TABLE = CommercialSupport._meta.db_table
_STAGE_COLUMNS = [str(f.column) for f in Activity._meta.concrete_fields if f.name != "id"]
_STAGE_FIELDS = [f for f in Activity._meta.concrete_fields if f.name not in ("id",)]
_SUPPORT_FIELDS = [f for f in CommercialSupport._meta.concrete_fields if f.name != "id"]


_JSON_FIELDS = frozenset(
    f.name for f in Activity._meta.concrete_fields if f.get_internal_type() == "JSONField"
)


def _copy_value(value: object) -> object:
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def _stage_row(values: dict[str, object], fixed: dict[str, object]) -> list[object]:
    row: list[object] = []
    for stage_field in _STAGE_FIELDS:
        name = stage_field.name
        if name in fixed:
            row.append(fixed[name])
        elif name in _JSON_FIELDS:
            row.append(json.dumps(values.get(name) or []))
        else:
            row.append(values.get(name))
    return row


def _upsert_postgresql(
    access: ProviderAccess, records: list[CleanActivity], channel: str, result: BatchResult
) -> None:
    now = timezone.now()
    columns = ", ".join(_STAGE_COLUMNS)
    updates = ", ".join(
        f"{column} = EXCLUDED.{column}"
        for column in _STAGE_COLUMNS
        if column not in ("provider_id", "provider_activity_id", "created_at")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS pars_activity_stage ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {columns} FROM {_ACTIVITY_TABLE} WITH NO DATA"
        )
        cursor.execute("TRUNCATE pars_activity_stage")
        fixed = {
            "provider": access.provider.pk,
            "last_channel": channel,
            "created_at": now,
            "updated_at": now,
        }
        with cursor.cursor.copy(f"COPY pars_activity_stage ({columns}) FROM STDIN") as copy:
            for record in records:
                copy.write_row(_stage_row(record.values, fixed))
        cursor.execute(
            # Table and column names come from the models, never from input.
            f"INSERT INTO {_ACTIVITY_TABLE} ({columns}) SELECT {columns} "  # noqa: S608
            "FROM pars_activity_stage "
            f"ON CONFLICT (provider_id, provider_activity_id) DO UPDATE SET {updates} "
            "RETURNING id, provider_activity_id, (xmax = 0)"
        )
        written = {key: (pk, inserted) for pk, key, inserted in cursor.fetchall()}
        inserted_count = sum(1 for _, inserted in written.values() if inserted)
        result.added += inserted_count
        result.updated += len(written) - inserted_count
        ids = [pk for pk, _ in written.values()]
        cursor.execute(
            f"DELETE FROM {_SUPPORT_TABLE} WHERE activity_id = ANY(%s)",  # noqa: S608 (model name)
            [ids],
        )
        support_columns = ", ".join(str(field.column) for field in _SUPPORT_FIELDS)
        with cursor.cursor.copy(f"COPY {_SUPPORT_TABLE} ({support_columns}) FROM STDIN") as copy:
            for record in records:
                activity_pk = written[record.provider_activity_id][0]
                for position, supporter in enumerate(record.supporters, start=1):
                    row = {
                        **supporter,
                        "provider": access.provider.pk,
                        "activity": activity_pk,
                        "position": position,
                    }
                    copy.write_row([_copy_value(row[field.name]) for field in _SUPPORT_FIELDS])
