"""A learner file's finish time is its commit's: the delivery its rows need is queued
after the time is stamped, never before (the stamp would count the queueing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.models import UploadStatus
from pars.intake.process import process_upload
from pars.intake.store import store_upload
from pars.learners import uploads as learner_uploads
from pars.providers.models import Provider

pytestmark = pytest.mark.django_db(transaction=True)  # the on-commit hooks run

HEADER = ["Provider Activity ID", "Recipient", "First Name", "Last Name", "Birth Month and Day"]
HEADER += ["Learner ID", "Completion Date", "CME Credits", "MOC Points", "MOC Credit Types"]


def _file(rows: int) -> bytes:
    fixed = ["03/02/2026", "10", "10", "Medical Knowledge"]
    lines = [
        "\t".join(["GR-1", "ABIM", "Ada", f"Learner{n:06d}", "12-10", f"{n:06d}", *fixed])
        for n in range(1, rows + 1)
    ]
    return "".join(line + "\r\n" for line in ["\t".join(HEADER), *lines]).encode()


def _run(provider: Provider, editor: User, monkeypatch: Any, *, dry_run: bool = False) -> Any:
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(
        access,
        SimpleUploadedFile("learners.txt", _file(3)),
        enqueue=False,
        kind="learners",
        dry_run=dry_run,
    )
    queued: list[tuple[list[str], Any]] = []
    monkeypatch.setattr(
        learner_uploads,
        "schedule_delivery",
        lambda codes: queued.append((codes, timezone.now())),
    )
    process_upload(upload.pk)
    upload.refresh_from_db()
    return upload, queued


def test_the_finish_time_is_stamped_before_the_delivery_is_queued(
    provider: Provider,
    editor: User,
    activity: Activity,
    settings: Any,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload, queued = _run(provider, editor, monkeypatch)
    assert (upload.status, upload.added) == (UploadStatus.SUCCEEDED, 3)
    [(codes, when)] = queued  # once per file
    assert codes == ["ABIM"]
    assert upload.finished_at is not None
    assert upload.finished_at <= when


def test_a_dry_run_queues_no_delivery(
    provider: Provider,
    editor: User,
    activity: Activity,
    settings: Any,
    tmp_path: Path,
    monkeypatch: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload, queued = _run(provider, editor, monkeypatch, dry_run=True)
    assert upload.status == UploadStatus.SUCCEEDED
    assert queued == []
