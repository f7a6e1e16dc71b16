"""A model's rows as ``bulk_create`` sends them to the database, built without model
instances.

The SQLite writers (the activity upsert, the learner completions' insert) run while
SQLite's one write lock is held, and building a model instance and the SQL of each of
its values cost most of that time. :class:`PreparedRows` prepares each value with the
field's own ``get_db_prep_save`` (a value of the column's plain type, and JSON without a
custom encoder, directly), a missing value is the field's default (``get_default``, as
the model's constructor does), and the rows go to one prepared statement.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models

_PLAIN_TYPES = {"CharField": str, "TextField": str, "BooleanField": bool}


def _preparer(field: models.Field[Any, Any]) -> Callable[[Any, Any], Any]:
    """How the field's value goes to the database (given the connection)."""
    if isinstance(field, models.JSONField) and field.encoder is None:
        return lambda value, _: value if value is None else json.dumps(value)
    if type(field) is models.DateField:  # what the backends' adapt_datefield_value gives
        return lambda value, db: (
            value.isoformat() if type(value) is datetime.date else field.get_db_prep_save(value, db)
        )
    target = field.target_field if isinstance(field, models.ForeignKey) else field
    plain = _PLAIN_TYPES.get(
        target.get_internal_type(), int if isinstance(target, models.IntegerField) else None
    )

    def prepare(value: Any, db: Any) -> Any:
        if value is None or type(value) is plain:
            return value
        return field.get_db_prep_save(value, db)

    return prepare


class PreparedRows:
    """The columns of `model` but its primary key, and its rows from values by field name."""

    def __init__(self, model: type[models.Model]) -> None:
        meta = model._meta
        self.fields = [f for f in meta.concrete_fields if not f.primary_key]
        self._columns = [(f.name, f.get_default, _preparer(f)) for f in self.fields]
        self.table = meta.db_table
        self.names = ", ".join(str(f.column) for f in self.fields)
        self.placeholders = "({})".format(", ".join(["%s"] * len(self.fields)))

    def rows(
        self, records: Iterable[Mapping[str, Any]], fixed: Mapping[str, Any]
    ) -> list[list[Any]]:
        """A row per record (its values by field name); the values in `fixed` are the same
        in every row (prepared once)."""
        db = connections[DEFAULT_DB_ALIAS]  # not the proxy: it costs a lookup per value
        template = [
            prepare(fixed[name], db) if name in fixed else None
            for name, _, prepare in self._columns
        ]
        varying = [
            (at, name, default, prepare)
            for at, (name, default, prepare) in enumerate(self._columns)
            if name not in fixed
        ]
        rows = []
        for values in records:
            row = template.copy()
            for at, name, default, prepare in varying:
                row[at] = prepare(values[name] if name in values else default(), db)
            rows.append(row)
        return rows


# PostgreSQL checks Django's foreign keys (DEFERRABLE INITIALLY DEFERRED) at COMMIT: for
# a big file, a check per row and key, all after the last row, while nothing else can
# run. Inside checked_at_once() they are checked at the end of each statement instead
# (the same checks, the same answers), so a file's writer, which runs beside the reading
# of the next rows (pars/intake/background.py), does them while the rows are read.
_DEFERRED_KEYS: dict[str, str] = {}


def _deferred_keys(cursor: Any, table: str) -> str:
    """The table's deferred foreign keys, as SET CONSTRAINTS names them ("" if none)."""
    names = _DEFERRED_KEYS.get(table)
    if names is None:
        cursor.execute(
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.conname) "
            "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.conrelid = %s::regclass AND c.contype = 'f' AND c.condeferred "
            "ORDER BY c.conname",
            [table],
        )
        names = _DEFERRED_KEYS[table] = ", ".join(name for (name,) in cursor.fetchall())
    return names


@contextmanager
def checked_at_once(cursor: Any, table: str) -> Iterator[None]:
    """The statements inside check `table`'s deferred foreign keys as they end, not at
    COMMIT (PostgreSQL; `cursor` a Django cursor). The keys are deferred again after."""
    names = _deferred_keys(cursor, table)
    if not names:
        yield
        return
    cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
    yield
    cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")
