"""pars_api_key_check(passed): raises SQLSTATE PK401 unless `passed` is true (NULL: no
key found). PostgreSQL only; pars.accounts.key_check sends it first in a new activity's
write, so that a failed check rolls back what was sent with it."""

from typing import Any

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION pars_api_key_check(passed boolean) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF passed IS NOT TRUE THEN
        RAISE EXCEPTION 'the API key check failed' USING ERRCODE = 'PK401';
    END IF;
    RETURN true;
END
$$
"""
DROP = "DROP FUNCTION IF EXISTS pars_api_key_check(boolean)"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_apikey_environment"),
    ]

    operations = [migrations.RunPython(create, drop)]
