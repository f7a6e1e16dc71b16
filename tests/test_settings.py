"""Settings come from the environment, and production refuses an unsafe secret key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from pars.checks import check_secret_key, refuse_insecure_secret_key

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PARS_", "DATABASE_URL"))}
    return subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "pars.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_default_secret_key_is_an_error_when_debug_is_off(settings: Settings) -> None:
    settings.DEBUG = False
    settings.SECRET_KEY = settings.INSECURE_DEFAULT_SECRET_KEY
    assert [error.id for error in check_secret_key(None)] == ["pars.E001"]
    with pytest.raises(ImproperlyConfigured, match="PARS_SECRET_KEY"):
        refuse_insecure_secret_key()
    settings.DEBUG = True
    assert check_secret_key(None) == []


def test_wsgi_app_refuses_to_start_without_a_secret_key() -> None:
    refused = _python("import pars.wsgi")
    assert refused.returncode != 0
    assert "PARS_SECRET_KEY is not set" in refused.stderr
    started = _python("import pars.wsgi; print('ok')", PARS_SECRET_KEY="x" * 50)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "ok"


def test_management_commands_refuse_without_a_secret_key_when_debug_is_off() -> None:
    code = (
        "import django; from django.core.management import call_command; "
        "django.setup(); call_command('check')"
    )
    refused = _python(code)
    assert refused.returncode != 0
    assert "pars.E001" in refused.stderr
    assert _python(code, PARS_DEBUG="1").returncode == 0


def test_sqlite_by_default_postgres_when_database_url_is_set() -> None:
    code = "from django.conf import settings; print(settings.DATABASES['default']['ENGINE'])"
    assert _python(code).stdout.strip() == "django.db.backends.sqlite3"
    on_postgres = _python(code, DATABASE_URL="postgres://pars@localhost:5432/pars")
    assert on_postgres.stdout.strip() == "django.db.backends.postgresql"


def test_a_malformed_boolean_setting_is_refused_clearly() -> None:
    result = _python("import django; django.setup()", PARS_DEBUG="maybe")
    assert result.returncode != 0
    assert "PARS_DEBUG must be a boolean" in result.stderr
