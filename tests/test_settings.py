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
        # No .env either (a checkout where `make run` ran has one).
        env={**clean, "DJANGO_SETTINGS_MODULE": "pars.settings", "PARS_ENV_FILE": "", **env},
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


def test_operator_commands_read_the_env_file_make_run_writes(tmp_path: Path) -> None:
    code = (
        "import django; from django.core.management import call_command; "
        "django.setup(); call_command('check')"
    )
    env_file = tmp_path / ".env"
    env_file.write_text("PARS_SECRET_KEY=" + "k" * 50 + "\n")
    assert _python(code, PARS_ENV_FILE=str(env_file)).returncode == 0
    # The environment wins over the file.
    overridden = _python(
        "from django.conf import settings; print(settings.SECRET_KEY)",
        PARS_ENV_FILE=str(env_file),
        PARS_SECRET_KEY="from-the-environment-" + "e" * 40,
    )
    assert overridden.stdout.strip().startswith("from-the-environment-")


def test_make_run_writes_a_private_env_file_once(tmp_path: Path) -> None:
    """bin/run-demo's first lines, in a scratch copy of the checkout's layout."""
    script = (ROOT / "bin" / "run-demo").read_text()
    prologue = script.split("$PY manage.py migrate")[0]
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)
    run = ["sh", "-c", prologue]  # the script's own lines
    first = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, check=True)  # noqa: S603
    written = (tmp_path / ".env").read_text()
    assert written.startswith("PARS_SECRET_KEY=")
    assert len(written.strip()) > 60
    assert (tmp_path / ".env").stat().st_mode & 0o077 == 0  # only its owner reads it
    assert "Wrote .env" in first.stdout
    subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, check=True)  # noqa: S603
    assert (tmp_path / ".env").read_text() == written  # kept, not regenerated
