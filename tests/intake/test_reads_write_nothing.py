"""Reading pages writes nothing: the dashboard, the activity list, the upload pages and
the polls of a running upload's progress (page fragment and web service) run no INSERT,
UPDATE or DELETE, so on SQLite they never wait for a running upload's write lock. The
session's idle timeout is renewed at most once a minute (pars.accounts.session)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.intake.models import Upload, UploadStatus
from pars.intake.progress import set_progress
from pars.intake.store import store_upload
from pars.providers.models import Provider

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
TSV = (
    b"ACCME Activity ID\tProvider Activity ID\tActivity Title\tActivity Type\t"
    b"Start Date\tEnd Date\r\n\tR-1\tCardiology update\tCourse\t03/01/2026\t03/02/2026\r\n"
)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _writes(client: Client, urls: list[str], **headers: str) -> list[str]:
    """The write statements the GETs of `urls` ran (each answered 200)."""
    with CaptureQueriesContext(connection) as queries:
        for url in urls:
            response = client.get(url, **headers)  # type: ignore[arg-type]
            assert response.status_code == 200, (url, response.status_code)
    return [query["sql"] for query in queries.captured_queries if WRITE.match(query["sql"])]


def _running_upload(provider: Provider, editor: User) -> Upload:
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("file.txt", TSV), kind="activities")
    # As a worker leaves it mid-file: running, its progress in the cache.
    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING)
    set_progress(upload.pk, 2_000, 20_000, 0)
    return upload


def _pages(provider: Provider, upload: Upload) -> list[str]:
    p = {"provider_id": provider.provider_id}
    return [
        reverse("reporting:dashboard", kwargs=p),
        reverse("activities:list", kwargs=p),
        reverse("uploads:list", kwargs=p),
        reverse("uploads:detail", kwargs={**p, "pk": upload.pk}),
        reverse("uploads:progress", kwargs={**p, "pk": upload.pk}),
    ]


def test_page_views_and_progress_polls_write_nothing(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    upload = _running_upload(provider, editor)
    client = client_as(editor)
    pages = _pages(provider, upload)
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        client.get(pages[0])  # the first request after login renews the session
        assert _writes(client, pages * 3) == []
    # A minute later the session's expiry is renewed: one write, then none again.
    with time_machine.travel("2026-11-01 09:01:05Z", tick=False):
        writes = _writes(client, pages * 2)
    assert len(writes) == 1, writes
    assert "django_session" in writes[0]


def test_the_web_service_poll_of_an_upload_writes_nothing(provider: Provider, editor: User) -> None:
    upload = _running_upload(provider, editor)
    _, secret = create_api_key(provider=provider)
    client = Client()
    url = f"/api/v1/uploads/{upload.pk}"
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        client.get(url, **auth)  # type: ignore[arg-type]  # the key's first use is recorded
        assert _writes(client, [url] * 5, **auth) == []


def test_the_idle_timeout_still_ends_a_session_polled_within_the_minute(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    upload = _running_upload(provider, editor)
    client = client_as(editor)
    progress = _pages(provider, upload)[-1]
    with time_machine.travel("2026-11-01 09:00Z", tick=False) as traveller:
        for _ in range(40):  # a poll every 50 s for over half an hour keeps it alive ...
            assert client.get(progress).status_code == 200
            traveller.shift(50)
        traveller.shift(31 * 60)  # ... then 31 minutes without a request end it
        response = client.get(progress)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_another_providers_user_gets_404_for_the_progress_poll(
    provider: Provider, editor: User, mallory: User, client_as: Callable[[User], Client]
) -> None:
    upload = _running_upload(provider, editor)
    assert client_as(mallory).get(_pages(provider, upload)[-1]).status_code == 404


def test_a_statement_that_takes_the_write_lock_slowly_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """What the browser test reads in the server's log (pars.lib.sqlite_lock): a BEGIN
    or a write outside a transaction that waited for SQLite's lock; never a read."""
    from pars.lib import sqlite_lock

    monkeypatch.setattr(sqlite_lock, "LOCK_WAIT_SECONDS", 0.0)  # every lock taking counts

    class Idle:
        in_atomic_block = False

    wrapper = sqlite_lock._timed(Idle())  # type: ignore[arg-type]
    with caplog.at_level("WARNING", logger="pars.db"):
        for sql in ("SELECT 1", "BEGIN IMMEDIATE", 'UPDATE "django_session" SET x = 1'):
            wrapper(lambda *args: None, sql, [], False, {})
    assert [record.getMessage().split(": ", 1)[1] for record in caplog.records] == [
        "BEGIN IMMEDIATE",
        'UPDATE "django_session" SET x = 1',
    ]
