"""SQLite: a task worker killed (SIGKILL) while it reads and checks a file, or while it
writes the checked file, leaves nothing half-written; recovery runs the file again and
the data is exactly what a clean run gives.

On SQLite the job reads and checks the whole file first with no write lock held, then
writes it in one short transaction (pars/intake/process.py). It runs on a SQLite file
database of its own, whatever DATABASE_URL says.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from pars.activities.models import Activity
from pars.intake.models import Upload
from tests.support.faults import activity_file, kill, manage, start_worker, stop, wait_for

ROWS = 6_000
PROVIDER_ID = "0007400"
STORE = f"""
from django.core.files.uploadedfile import SimpleUploadedFile
from pars.accounts.access import get_provider_access
from pars.accounts.models import Role
from pars.intake.store import store_upload
from pars.testing import make_member, make_provider
provider = make_provider(name="Kill Health", provider_id="{PROVIDER_ID}")
editor = make_member(provider, Role.EDITOR, email="kill@sqlite.example")
access = get_provider_access(editor, provider.provider_id)
content = open(r"{{path}}", "rb").read()
store_upload(access, SimpleUploadedFile("activities.txt", content), kind="activities")
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    for name in ("media", "cache"):
        (tmp_path / name).mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PARS_DEBUG": "1",
        "PARS_MEDIA_ROOT": str(tmp_path / "media"),
        "PARS_CACHE_LOCATION": str(tmp_path / "cache"),
        "PARS_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--no-input", timeout=120)
    return env


def _query(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        return db.execute(sql).fetchall()


def _upload(tmp_path: Path) -> tuple[str, int, int]:
    ((status, attempts, added),) = _query(
        tmp_path,
        f"SELECT status, attempts, added FROM {Upload._meta.db_table}",  # noqa: S608
    )
    return str(status), int(str(attempts)), int(str(added))


def _activities(tmp_path: Path) -> dict[object, object]:
    table = Activity._meta.db_table
    rows = _query(tmp_path, f"SELECT provider_activity_id, title FROM {table}")  # noqa: S608
    return {row[0]: row[1] for row in rows}


def _kill_when_paused(env: dict[str, str], tmp_path: Path, pause: str, said: str) -> None:
    log = tmp_path / "worker.log"
    worker = start_worker(env, log, **{pause: "60"})
    try:
        wait_for(lambda: said in log.read_text(), 120, f"the worker to say {said!r}")
        kill(worker)
    finally:
        stop(worker)


@pytest.mark.parametrize(
    ("pause", "said"),
    [
        ("pause_mid_upload", "paused mid-upload"),  # reading and checking the file
        ("pause_mid_write", "paused mid-write"),  # writing it: a batch is in
    ],
)
def test_a_worker_killed_mid_upload_on_sqlite_leaves_nothing_and_the_rerun_applies_it(
    env: dict[str, str], tmp_path: Path, pause: str, said: str
) -> None:
    rows = activity_file(tmp_path / "activities.txt", ROWS)
    manage(env, "shell", "-c", STORE.replace("{path}", str(tmp_path / "activities.txt")))
    _kill_when_paused(env, tmp_path, pause, said)
    assert _upload(tmp_path) == ("running", 1, 0)
    assert _activities(tmp_path) == {}, "a killed worker left rows behind"

    out = manage(env, "recover_jobs", "--stale-seconds", "0")
    assert "Uploads queued again: 1" in out
    worker: subprocess.Popen[bytes] = start_worker(env, tmp_path / "worker.log")
    try:
        wait_for(
            lambda: _upload(tmp_path)[0] != "queued" and _upload(tmp_path)[0] != "running",
            120,
            "the rerun",
        )
    finally:
        stop(worker)
    assert _upload(tmp_path) == ("succeeded", 2, ROWS)
    assert _activities(tmp_path) == {row["provider_activity_id"]: row["title"] for row in rows}
