"""The upload job's lease: its claim is its first heartbeat, so a file done within the
heartbeat interval writes no other (and opens no second connection for one); a longer
run renews the lease as before."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.intake import process as process_module
from pars.intake import progress
from pars.intake.process import process_upload
from pars.intake.store import store_upload
from pars.providers.models import Provider

pytestmark = pytest.mark.django_db

HEADER = "Provider Activity ID\tActivity Title\tActivity Format\tStart Date\tEnd Date"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _beats_during_the_job(
    provider: Provider, editor: User, monkeypatch: Any, seconds_later: float
) -> list[object]:
    """The cache heartbeat a beat `seconds_later` than the claim leaves (None: none)."""
    access = get_provider_access(editor, provider.provider_id)
    content = f"{HEADER}\r\nF-1\tCardiology\tCourse\t03/01/2026\t03/02/2026\r\n".encode()
    upload = store_upload(access, SimpleUploadedFile("a.txt", content), enqueue=False)
    clock = [1000.0]
    monkeypatch.setattr(progress, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    seen: list[object] = []

    def job(upload_id: int) -> None:
        clock[0] += seconds_later
        progress.beat(upload_id)
        seen.append(cache.get(progress.heartbeat_key(upload_id)))

    monkeypatch.setattr(process_module, "_process", job)
    process_upload(upload.pk)
    return seen


def test_the_claim_is_the_first_heartbeat(
    provider: Provider, editor: User, monkeypatch: Any
) -> None:
    assert _beats_during_the_job(provider, editor, monkeypatch, 0.1) == [None]


def test_a_longer_run_renews_its_lease(provider: Provider, editor: User, monkeypatch: Any) -> None:
    [beat] = _beats_during_the_job(provider, editor, monkeypatch, progress.HEARTBEAT_SECONDS + 0.1)
    assert beat is not None
