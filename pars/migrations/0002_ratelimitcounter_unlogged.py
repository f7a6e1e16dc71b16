"""Rate-limit counters in an UNLOGGED table on PostgreSQL.

A counter is worth nothing after a crash (the windows are a minute or an hour long), so
its table writes no WAL: the upsert every API request makes then commits without waiting
for a WAL flush (PostgreSQL commits a transaction that wrote only unlogged tables
asynchronously), which was the larger part of the counter's cost per request. After a
crash the table is empty, as if every window had just started.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _set_persistence(logged: bool) -> Any:
    def apply(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return  # SQLite has no such thing; its writes are local anyway
        table = schema_editor.quote_name(apps.get_model("pars", "RateLimitCounter")._meta.db_table)
        schema_editor.execute(f"ALTER TABLE {table} SET {'LOGGED' if logged else 'UNLOGGED'}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("pars", "0001_initial")]

    operations = [
        migrations.RunPython(_set_persistence(logged=False), _set_persistence(logged=True)),
    ]
