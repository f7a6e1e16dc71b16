"""The database going away mid-write: an error answer (not a hang), no partial rows, and
the next request (or the job's rerun) works on a new connection."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from pytest_django.live_server_helper import LiveServer

from pars.accounts.access import get_provider_access
from pars.accounts.models import Role
from pars.accounts.services import create_api_key
from pars.activities import small_writes
from pars.activities.models import Activity
from pars.audit.models import AuditEvent
from pars.intake.models import Upload, UploadStatus
from pars.intake.progress import get_progress
from pars.intake.store import store_upload
from pars.testing import make_member, make_provider
from tests.activities.test_activity_api import course
from tests.support.faults import (
    activity_file,
    database_url,
    requires_postgresql,
    start_worker,
    stop,
    wait_for,
)

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def _terminate(pid: int) -> None:
    """pg_terminate_backend from another connection, as an operator or a fail-over would."""
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _send(url: str, secret: str, body: dict[str, Any], method: str = "POST") -> tuple[int, bytes]:
    request = urllib.request.Request(  # noqa: S310 (the loopback live server)
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _kill_own_connection(killed: list[int]) -> None:
    """Terminate the backend of this thread's connection (once)."""
    if killed:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    killed.append(pid)
    _terminate(pid)


def _with_connection_lost_after(
    monkeypatch: pytest.MonkeyPatch, step: str, send: Callable[[], tuple[int, bytes]]
) -> int:
    """The status of `send`, the server's connection terminated right after the write's
    `step` (a function of pars.activities.small_writes) first runs; an answer, not a hang."""
    original = getattr(small_writes, step)
    killed: list[int] = []

    def then_lose_the_database(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        _kill_own_connection(killed)
        return result

    with monkeypatch.context() as patched:
        patched.setattr(small_writes, step, then_lose_the_database)
        started = time.monotonic()
        status, _ = send()
    assert killed, "the fault was not injected"
    assert time.monotonic() - started < 20
    return status


def test_a_request_whose_database_connection_dies_mid_write_fails_and_leaves_nothing(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = make_provider(name="Gone Health", provider_id="0007101")
    _, secret = create_api_key(provider=provider, name="load")
    url = f"{live_server.url}/api/v1/activities"
    assert _send(url, secret, course(provider_activity_id="GONE-0"))[0] == 201
    renamed = course(provider_activity_id="GONE-0", title="Renamed")
    events = AuditEvent.objects.count()

    # An update: the write's statement runs (the row and its audit event written) and the
    # connection dies before the commit.
    status = _with_connection_lost_after(
        monkeypatch, "write_small", lambda: _send(f"{url}/GONE-0", secret, renamed, "PUT")
    )
    assert status in (500, 503)
    assert Activity.objects.get(provider_activity_id="GONE-0").title == course()["title"]
    assert AuditEvent.objects.count() == events  # nothing half-written

    # A new activity (its hold and write sent as one pipeline): the connection dies as the
    # statements are made, before they are sent.
    status = _with_connection_lost_after(
        monkeypatch,
        "_one_statement",
        lambda: _send(url, secret, course(provider_activity_id="GONE-1")),
    )
    assert status in (500, 503)
    assert not Activity.objects.filter(provider_activity_id="GONE-1").exists()
    assert AuditEvent.objects.count() == events

    # The next requests get a new connection and work.
    status, body = _send(url, secret, course(provider_activity_id="GONE-2"))
    assert status == 201, body[:500]
    assert _send(url, secret, course(provider_activity_id="GONE-1"))[0] == 201
    assert _send(f"{url}/GONE-0", secret, renamed, method="PUT")[0] == 200
    assert set(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", flat=True)
    ) == {"GONE-0", "GONE-1", "GONE-2"}
    assert Activity.objects.get(provider_activity_id="GONE-0").title == "Renamed"


def _writing_backend(test_pid: int) -> int | None:
    """The backend with an open write transaction (the worker applying the file)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> %s AND backend_xid IS NOT NULL",
            [test_pid],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_an_upload_whose_database_connection_dies_is_rerun_with_the_same_data(
    env: dict[str, str], tmp_path: Path
) -> None:
    provider = make_provider(name="Gone Files", provider_id="0007102")
    editor = make_member(provider, Role.EDITOR, email="gone@files.example")
    rows = activity_file(tmp_path / "a.txt", 6_000)
    with Path(tmp_path / "a.txt").open("rb") as stream:
        uploaded = SimpleUploadedFile("a.txt", stream.read())
    upload = store_upload(get_provider_access(editor, provider.provider_id), uploaded)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        test_pid = cursor.fetchone()[0]

    worker = start_worker(env, tmp_path / "worker.log")
    try:

        def half_way() -> int | None:
            upload.refresh_from_db()
            if upload.status != UploadStatus.RUNNING or get_progress(upload.pk)["done"] == 0:
                return None
            return _writing_backend(test_pid)

        pid = wait_for(half_way, 120, "the upload to be writing")
        _terminate(pid)
        # The job fails cleanly (nothing written) and is queued again; the same worker,
        # still alive, runs it again from the start.
        wait_for(lambda: Upload.objects.get(pk=upload.pk).is_finished, 120, "the rerun")
        assert worker.poll() is None, "the worker died with its connection"
    finally:
        stop(worker)
    upload.refresh_from_db()
    log = (tmp_path / "worker.log").read_text()
    assert upload.status == UploadStatus.SUCCEEDED, log[-3000:]
    assert upload.attempts == 2
    stored = dict(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", "title")
    )
    assert stored == {row["provider_activity_id"]: row["title"] for row in rows}
