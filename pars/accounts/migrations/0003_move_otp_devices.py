"""Move two-factor devices out of django-otp's TOTP and static plugins, then drop their tables.

The plugins kept TOTP seeds and recovery codes in clear. Each seed is encrypted into an
``AuthenticatorDevice`` and each unused recovery code stored as new codes are (a salted
password hash and a keyed lookup tag) in a ``RecoveryCode``, so the old 8-letter codes
keep working. The plugins are no longer installed, so their tables are read with SQL
where they exist, then dropped (with their rows in ``django_migrations``): no copy of a
secret stays behind in clear.
Signed-in users enter a code again, as their session named a device that is gone.
"""

from datetime import UTC, datetime
from typing import Any

from django.db import migrations
from django.utils import timezone

from pars.accounts import recovery_codes
from pars.lib import field_crypto

TOTP_TABLE = "otp_totp_totpdevice"
STATIC_DEVICE_TABLE = "otp_static_staticdevice"
STATIC_TOKEN_TABLE = "otp_static_statictoken"
_DEVICE_COLUMNS = (
    "id, user_id, name, confirmed, throttling_failure_timestamp, throttling_failure_count, "
    "created_at, last_used_at"
)


def _aware(value: datetime | None) -> datetime | None:
    # Read with plain SQL, SQLite may give naive datetimes: Django stores them in UTC.
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, UTC)
    return value


def move_otp_devices(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    tables = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        if TOTP_TABLE in tables:
            _move_authenticators(apps, cursor)
        if STATIC_DEVICE_TABLE in tables and STATIC_TOKEN_TABLE in tables:
            _move_recovery_codes(apps, cursor)
        for table in (STATIC_TOKEN_TABLE, STATIC_DEVICE_TABLE, TOTP_TABLE):
            if table in tables:
                cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
        if "django_migrations" in tables:
            cursor.execute(
                "DELETE FROM django_migrations WHERE app IN (%s, %s)", ["otp_totp", "otp_static"]
            )


def _move_authenticators(apps: Any, cursor: Any) -> None:
    device_model = apps.get_model("accounts", "AuthenticatorDevice")
    cursor.execute(
        f"SELECT {_DEVICE_COLUMNS}, key, step, t0, digits, tolerance, drift, last_t "
        f"FROM {TOTP_TABLE} ORDER BY id"
    )
    for row in cursor.fetchall():
        _, user_id, name, confirmed, failed_at, failures, created_at, used_at, *totp = row
        key, step, t0, digits, tolerance, drift, last_t = totp
        device = device_model.objects.create(
            user_id=user_id,
            name=name,
            confirmed=bool(confirmed),
            encrypted_key=field_crypto.encrypt(bytes.fromhex(key)),
            step=step,
            t0=t0,
            digits=digits,
            tolerance=tolerance,
            drift=drift,
            last_t=last_t,
            throttling_failure_timestamp=_aware(failed_at),
            throttling_failure_count=failures,
            last_used_at=_aware(used_at),
        )
        if created_at is not None:  # auto_now_add set "now" on create
            device_model.objects.filter(pk=device.pk).update(created_at=_aware(created_at))


def _move_recovery_codes(apps: Any, cursor: Any) -> None:
    device_model = apps.get_model("accounts", "RecoveryCodeDevice")
    code_model = apps.get_model("accounts", "RecoveryCode")
    cursor.execute(f"SELECT device_id, token FROM {STATIC_TOKEN_TABLE}")
    tokens: dict[int, list[str]] = {}
    for device_id, token in cursor.fetchall():
        tokens.setdefault(device_id, []).append(token)
    cursor.execute(f"SELECT {_DEVICE_COLUMNS} FROM {STATIC_DEVICE_TABLE} ORDER BY id")
    for (
        old_id,
        user_id,
        name,
        confirmed,
        failed_at,
        failures,
        created_at,
        used_at,
    ) in cursor.fetchall():
        device = device_model.objects.create(
            user_id=user_id,
            name=name,
            confirmed=bool(confirmed),
            throttling_failure_timestamp=_aware(failed_at),
            throttling_failure_count=failures,
            last_used_at=_aware(used_at),
        )
        if created_at is not None:
            device_model.objects.filter(pk=device.pk).update(created_at=_aware(created_at))
        stored = (recovery_codes.for_storage(token) for token in tokens.get(old_id, []))
        code_model.objects.bulk_create(
            code_model(device=device, lookup=lookup, code_hash=code_hash)
            for lookup, code_hash in stored
        )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_mfa_devices")]

    operations = [
        # Backwards changes nothing: the plaintext is gone for good.
        migrations.RunPython(move_otp_devices, migrations.RunPython.noop, elidable=False),
    ]
