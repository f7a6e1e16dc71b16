"""Two-factor secrets at rest: TOTP seeds encrypted with a settings key, recovery codes
kept only as salted password hashes (with a keyed lookup tag), and the devices of
django-otp's plugins moved over."""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import math
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth.hashers import get_hasher, identify_hasher
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from pytest_django import Settings

from pars.accounts import mfa, recovery_codes
from pars.accounts.models import AuthenticatorDevice, RecoveryCode, RecoveryCodeDevice, User
from pars.lib import field_crypto
from pars.testing import TEST_PASSWORD
from tests.support.browser import give_authenticator, totp_code

pytestmark = pytest.mark.django_db

migration = importlib.import_module("pars.accounts.migrations.0003_move_otp_devices")


def _rows(table: str) -> str:
    """Every value of every row of a table, as the database holds it (raw SQL)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        return "\n".join(repr(value) for row in cursor.fetchall() for value in row)


def _forms_of_seed(key: bytes) -> list[str]:
    return [
        key.hex(),
        key.hex().upper(),
        base64.b32encode(key).decode().rstrip("="),
        base64.b64encode(key).decode(),
        repr(key),
    ]


def _sign_in(user: User, code: str) -> Client:
    client = Client()
    client.post(reverse("accounts:login"), {"username": user.email, "password": TEST_PASSWORD})
    client.post(reverse("accounts:mfa_verify"), {"code": code})
    return client


def _signed_in(client: Client) -> bool:
    return client.get(reverse("providers:staff_list")).status_code == 200


def test_the_totp_seed_is_encrypted_in_the_database(staff: User) -> None:
    device = give_authenticator(staff)
    key = device.bin_key
    assert len(key) == AuthenticatorDevice.KEY_BYTES
    stored = _rows("accounts_authenticatordevice")
    assert not [form for form in _forms_of_seed(key) if form in stored]
    assert device.encrypted_key in stored
    # The app still works: a code from the seed signs in, and the enrollment page shows the
    # secret that oathtool and the apps take.
    assert _signed_in(_sign_in(staff, totp_code(device)))
    assert mfa.secret_text(device).replace(" ", "") == base64.b32encode(key).decode().rstrip("=")


def test_enrolment_stores_no_seed_in_clear(staff: User) -> None:
    client = Client()
    client.force_login(staff)
    html = client.get(reverse("accounts:mfa_enrol")).content.decode()
    secret = re.sub(r"\s", "", mfa.secret_text(AuthenticatorDevice.objects.get(user=staff)))
    assert secret in re.sub(r"\s", "", html)
    assert secret not in _rows("accounts_authenticatordevice").upper()


def test_recovery_codes_are_not_in_the_database_in_any_form(staff: User) -> None:
    codes = mfa.new_recovery_codes(staff)
    stored = _rows("accounts_recoverycode") + _rows("accounts_recoverycodedevice")
    for code in codes:
        plain = recovery_codes.normalise(code)
        for form in (code, plain, plain.lower(), code.lower()):
            assert form not in stored
        # Not an unsalted hash either (a stolen database must not confirm a guess cheaply).
        for digest in (hashlib.sha256, hashlib.sha1, hashlib.md5):
            assert digest(plain.encode()).hexdigest() not in stored
    rows = RecoveryCode.objects.filter(device__user=staff)
    assert rows.count() == len(codes)
    for row in rows:
        # A salted hash of the configured password hasher, and a 16-bit tag.
        assert identify_hasher(row.code_hash).algorithm == get_hasher().algorithm
        assert re.fullmatch(r"[0-9a-f]{4}", row.lookup)
    assert recovery_codes.for_storage(codes[0])[1] != recovery_codes.for_storage(codes[0])[1]


def test_recovery_codes_with_the_production_hasher(staff: User, settings: Settings) -> None:
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    give_authenticator(staff)
    codes = mfa.new_recovery_codes(staff)
    assert all(row.code_hash.startswith("argon2$argon2id$") for row in RecoveryCode.objects.all())
    assert mfa.verify_code(staff, codes[3]) is not None


def test_recovery_codes_have_at_least_50_random_bits() -> None:
    codes = [recovery_codes.generate() for _ in range(200)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
        plain = recovery_codes.normalise(code)
        assert set(plain) <= set(recovery_codes.ALPHABET)
        assert len(plain) * math.log2(len(recovery_codes.ALPHABET)) >= 50
    assert len(recovery_codes.ALPHABET) == len(set(recovery_codes.ALPHABET)) == 32


def test_a_recovery_code_signs_in_once_however_it_is_typed(staff: User) -> None:
    give_authenticator(staff)
    code = mfa.new_recovery_codes(staff)[0]
    typed = " ".join(code.replace("-", "").lower())  # spaces, no dashes, lower case
    assert _signed_in(_sign_in(staff, typed))
    RecoveryCodeDevice.objects.filter(user=staff).update(throttling_failure_count=0)
    assert not _signed_in(_sign_in(staff, code))  # used up
    assert mfa.recovery_codes_left(staff) == mfa.RECOVERY_CODE_COUNT - 1


def test_keys_come_from_the_settings_and_rotate(staff: User, settings: Settings) -> None:
    settings.PARS_FIELD_ENCRYPTION_KEYS = ["old-key-" + "x" * 40]
    device = give_authenticator(staff)
    key = device.bin_key
    code = mfa.new_recovery_codes(staff)[0]

    # Another key cannot open the seed, nor match the codes.
    settings.PARS_FIELD_ENCRYPTION_KEYS = ["someone-elses-key-" + "y" * 40]
    device.refresh_from_db()
    with pytest.raises(field_crypto.InvalidToken):
        device.bin_key  # noqa: B018
    assert mfa.verify_code(staff, code) is None
    RecoveryCodeDevice.objects.filter(user=staff).update(throttling_failure_count=0)

    # A new key in front: the old one still opens and matches; the command re-encrypts.
    settings.PARS_FIELD_ENCRYPTION_KEYS = ["new-key-" + "z" * 40, "old-key-" + "x" * 40]
    device.refresh_from_db()
    assert device.bin_key == key
    call_command("reencrypt_secrets", stdout=io.StringIO())
    settings.PARS_FIELD_ENCRYPTION_KEYS = ["new-key-" + "z" * 40]
    device.refresh_from_db()
    assert device.bin_key == key
    assert mfa.verify_code(staff, totp_code(device)) == device


def test_the_default_key_follows_the_secret_key_and_its_fallbacks(
    staff: User, settings: Settings
) -> None:
    settings.PARS_FIELD_ENCRYPTION_KEYS = []
    settings.SECRET_KEY = "first-secret-" + "a" * 40
    device = give_authenticator(staff)
    key = device.bin_key
    settings.SECRET_KEY = "second-secret-" + "b" * 40
    settings.SECRET_KEY_FALLBACKS = ["first-secret-" + "a" * 40]
    device.refresh_from_db()
    assert device.bin_key == key


# --- moving django-otp's devices ---------------------------------------------------------

LEGACY_SEED = "3132333435363738393031323334353637383930"  # RFC 6238's test seed
LEGACY_CODES = ["abcdefgh", "oil7mn2p", "qrstuvwx"]


def _timestamp_type() -> str:
    return "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"


def _make_plugin_tables(user: User) -> None:
    """The three tables of django-otp 1.7's TOTP and static plugins, with one user's rows."""
    ts = _timestamp_type()
    device = (
        "id integer PRIMARY KEY, user_id integer NOT NULL, name varchar(64) NOT NULL, "
        f"confirmed boolean NOT NULL, throttling_failure_timestamp {ts} NULL, "
        f"throttling_failure_count integer NOT NULL, created_at {ts} NULL, "
        f"last_used_at {ts} NULL"
    )
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE otp_totp_totpdevice ({device}, key varchar(80) NOT NULL, "
            "step smallint NOT NULL, t0 bigint NOT NULL, digits smallint NOT NULL, "
            "tolerance smallint NOT NULL, drift smallint NOT NULL, last_t bigint NOT NULL)"
        )
        cursor.execute(f"CREATE TABLE otp_static_staticdevice ({device})")
        cursor.execute(
            "CREATE TABLE otp_static_statictoken (id integer PRIMARY KEY, "
            "device_id integer NOT NULL, token varchar(16) NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO otp_totp_totpdevice VALUES "
            "(7, %s, 'Phone', %s, NULL, 0, %s, NULL, %s, 30, 0, 6, 1, 0, -1)",
            [user.pk, True, created, LEGACY_SEED],
        )
        cursor.execute(
            "INSERT INTO otp_static_staticdevice VALUES (9, %s, 'Backup', %s, NULL, 0, %s, NULL)",
            [user.pk, True, created],
        )
        for number, token in enumerate(LEGACY_CODES, start=1):
            cursor.execute("INSERT INTO otp_static_statictoken VALUES (%s, 9, %s)", [number, token])


def test_the_migration_encrypts_seeds_and_hashes_codes_of_existing_devices(staff: User) -> None:
    _make_plugin_tables(staff)
    migration.move_otp_devices(apps, SimpleNamespace(connection=connection))

    tables = set(connection.introspection.table_names())
    assert not tables & {"otp_totp_totpdevice", "otp_static_staticdevice", "otp_static_statictoken"}
    device = AuthenticatorDevice.objects.get(user=staff)
    assert (device.name, device.confirmed) == ("Phone", True)
    assert device.bin_key == bytes.fromhex(LEGACY_SEED)
    assert device.created_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    stored = _rows("accounts_authenticatordevice") + _rows("accounts_recoverycode")
    assert not [form for form in _forms_of_seed(bytes.fromhex(LEGACY_SEED)) if form in stored]
    assert not [code for code in LEGACY_CODES if code in stored.lower()]
    assert mfa.recovery_codes_left(staff) == len(LEGACY_CODES)

    # The same app and the same old codes still sign in; a used code does not.
    seed_code = TOTP(bytes.fromhex(LEGACY_SEED)).token()
    assert _signed_in(_sign_in(staff, f"{seed_code:06d}"))
    assert _signed_in(_sign_in(staff, LEGACY_CODES[1]))  # with the letters o, i and l
    assert _signed_in(_sign_in(staff, LEGACY_CODES[0].upper()))
    RecoveryCodeDevice.objects.filter(user=staff).update(throttling_failure_count=0)
    assert not _signed_in(_sign_in(staff, LEGACY_CODES[0]))


def test_the_migration_does_nothing_without_the_plugin_tables(staff: User) -> None:
    migration.move_otp_devices(apps, SimpleNamespace(connection=connection))
    assert not AuthenticatorDevice.objects.exists()
    assert not RecoveryCodeDevice.objects.exists()
