"""Real processes for the fault tests: task workers on the test database, and files."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

IS_POSTGRESQL = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
requires_postgresql = pytest.mark.skipif(
    not IS_POSTGRESQL,
    reason="fault tests need PostgreSQL (a worker process beside the test, row locks, "
    "pg_terminate_backend); set DATABASE_URL=postgres://… (CI does)",
)


def database_url() -> str:
    """The test database as a DATABASE_URL, for processes started by a test."""
    db = connection.settings_dict
    auth = db["USER"] or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def child_env(media: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(),
        PARS_DEBUG="1",
        PARS_MEDIA_ROOT=str(media),
        PARS_CACHE_LOCATION=str(cache),
        PARS_TASKS_BACKEND="pars.jobs.wakeup.NotifyingDatabaseBackend",
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    """Run a management command in its own process; returns its output."""
    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def start_worker(env: dict[str, str], log: Path, **faults: str) -> subprocess.Popen[bytes]:
    """A task worker (``manage.py db_worker``), with optional injected delays."""
    env = {**env, **{f"PARS_FAULT_{name.upper()}": value for name, value in faults.items()}}
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, str(Path(__file__).with_name("fault_worker.py"))],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no cleanup, no rollback by the worker itself."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            kill(process)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def activity_file(path: Path, rows: int) -> list[dict[str, Any]]:
    """A TSV of `rows` deterministic activities (the benchmark's); returns the rows."""
    from activities_upload import raw_rows, write_tsv

    write_tsv(path, rows)
    return list(raw_rows(rows))


def learner_file(path: Path, provider: Any, rows: int) -> None:
    """Activities registered for their recipients, and a TSV of `rows` learner records."""
    from learners_upload import raw_rows, set_up_activities, write_tsv

    today = datetime.date.today()  # noqa: DTZ011 (the benchmark's own dates)
    set_up_activities(provider, 100, today)
    write_tsv(path, raw_rows(rows, 100, 20_000, today))
