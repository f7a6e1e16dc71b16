"""``finished_at`` is when the uploader's changes became visible: the file's transaction
has committed by then (benchmarks and the upload pages time the whole path with it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.intake.models import UploadStatus
from pars.intake.process import process_upload
from pars.intake.store import store_upload
from pars.providers.models import Provider

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "Provider Activity ID\tActivity Title\tActivity Format\tStart Date\tEnd Date"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _run(provider: Provider, editor: User, rows: list[str], monkeypatch: Any) -> Any:
    access = get_provider_access(editor, provider.provider_id)
    content = ("\r\n".join([HEADER, *rows]) + "\r\n").encode()
    upload = store_upload(access, SimpleUploadedFile("a.txt", content), enqueue=False)
    commits: list[Any] = []
    real_commit = connection.commit

    def commit() -> None:
        commits.append(timezone.now())  # the commit starts: nothing is visible before
        real_commit()

    monkeypatch.setattr(connection, "commit", commit)
    process_upload(upload.pk)
    monkeypatch.undo()
    upload.refresh_from_db()
    assert commits, "the file's transaction committed"
    return upload, max(commits)


def test_finished_at_follows_the_commit_of_an_applied_file(
    provider: Provider, editor: User, monkeypatch: Any
) -> None:
    rows = [f"F-{n}\tCardiology {n}\tCourse\t03/01/2026\t03/02/2026" for n in range(3)]
    upload, committed = _run(provider, editor, rows, monkeypatch)
    assert upload.status == UploadStatus.SUCCEEDED
    assert upload.finished_at is not None
    assert upload.finished_at >= committed


def test_finished_at_follows_the_commit_of_a_rejected_file(
    provider: Provider, editor: User, monkeypatch: Any
) -> None:
    rows = ["F-1\tCardiology\tCourse\t03/01/2026\t03/02/2026", "F-2\t\tNo such format\t\t"]
    upload, committed = _run(provider, editor, rows, monkeypatch)
    assert upload.status == UploadStatus.REJECTED
    assert upload.error_count > 0
    assert upload.finished_at is not None
    assert upload.finished_at >= committed
