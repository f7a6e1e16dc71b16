"""What the writer's paths share (pars.activities.services, and its PostgreSQL small-batch
path pars.activities.small_writes): the activity and supporter tables' names and columns,
the INSERT ... ON CONFLICT they write through, the rows of parameters they send, and the
comparison with the stored values that the audit trail records.

Table and column names come from the models, never from input.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity, CommercialSupport
from pars.activities.validation import CleanActivity
from pars.audit.models import AuditEvent

_VALUE_FIELDS = [
    f.name
    for f in Activity._meta.concrete_fields
    if f.name not in ("id", "provider", "provider_activity_id", "created_at", "created_by_event")
]
# What the audit trail compares: the reported values, not bookkeeping.
_AUDITED_FIELDS = [name for name in _VALUE_FIELDS if name not in ("updated_at", "last_channel")]
_SUPPORTER_FIELDS = ["source", "monetary_amount", "in_kind", "in_kind_types", "in_kind_description"]


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
    """A small batch's row of parameters for the VALUES list (JSON columns as text)."""
    row: list[object] = []
    for stage_field in _STAGE_FIELDS:
        name = stage_field.name
        if name in fixed:
            row.append(fixed[name])
        elif name in _JSON_FIELDS:
            value = values.get(name)
            row.append(json.dumps(value) if value else "[]")
        else:
            row.append(values.get(name))
    return row


# Compared with the stored row: the reported values, not bookkeeping.
_COMPARED_COLUMNS = [
    str(f.column) for f in Activity._meta.concrete_fields if f.name in _AUDITED_FIELDS
]
_UPDATED_COLUMNS = [
    column
    for column in _STAGE_COLUMNS
    if column not in ("provider_id", "provider_activity_id", "created_at", "created_by_event_id")
]


# One statement for both sources of the upsert (a VALUES list, or the staging table).
_UPSERT_SQL = (
    f"INSERT INTO {_ACTIVITY_TABLE} ({', '.join(_STAGE_COLUMNS)}) {{source}} "
    "ON CONFLICT (provider_id, provider_activity_id) DO UPDATE SET "
    + ", ".join(f"{column} = EXCLUDED.{column}" for column in _UPDATED_COLUMNS)
    + " WHERE ({}) IS DISTINCT FROM ({})".format(
        ", ".join(f"{_ACTIVITY_TABLE}.{column}" for column in _COMPARED_COLUMNS),
        ", ".join(f"EXCLUDED.{column}" for column in _COMPARED_COLUMNS),
    )
    + f" OR {_ACTIVITY_TABLE}.id = ANY(%s) "
    "RETURNING id, provider_activity_id, (xmax = 0)"
)


def _supporters(record: CleanActivity) -> list[dict[str, Any]]:
    return [{name: s.get(name) for name in _SUPPORTER_FIELDS} for s in record.supporters]


def _changes(record: CleanActivity, old: dict[str, Any]) -> dict[str, list[Any]]:
    """What the record changes in the stored activity `old`: [old, new] by field name."""
    diff = {
        name: [_plain(old[name]), _plain(record.values.get(name))]
        for name in _AUDITED_FIELDS
        if _plain(old[name]) != _plain(record.values.get(name))
    }
    if old["supporters"] != _supporters(record):
        diff["supporters"] = [old["supporters"], _supporters(record)]
    return diff


def _fixed_values(
    access: ProviderAccess, channel: str, event: AuditEvent | None
) -> dict[str, object]:
    """The columns every row of a write shares: whose, how, by which event (None: made by
    the write's own statement), and when."""
    now = timezone.now()
    return {
        "provider": access.provider.pk,
        "last_channel": channel,
        "created_by_event": event.pk if event is not None else None,
        "created_at": now,
        "updated_at": now,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value
