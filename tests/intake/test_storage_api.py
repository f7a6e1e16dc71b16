"""The upload job reaches a stored file only through Django's storage API (``open``), never
a local path: on several machines the web process that stored it and the worker that reads
it share only the storage (object storage). Every format of both record kinds is applied
from a storage that has no path, from one whose files cannot seek, and from S3 (moto)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.core.files import File
from django.core.files.storage import InMemoryStorage, default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils._os import safe_join
from pytest_django import Settings

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.learners.models import LearnerCompletion
from pars.providers.models import Provider
from pars.testing import make_activity, register
from tests.learners import make_golden

ROOT = Path(__file__).resolve().parents[2]
ACTIVITIES = ROOT / "tests" / "activities" / "data"
LEARNERS = ROOT / "tests" / "learners" / "data"


class ObjectStorage(InMemoryStorage):
    """Like S3: files are opened and read, there is no local path to them."""

    path_calls: ClassVar[list[str]] = []

    def _relative_path(self, name: str) -> str:  # InMemoryStorage finds its nodes by path()
        return os.path.relpath(safe_join(self.location, name), self.location)

    def path(self, name: str) -> str:
        self.path_calls.append(name)
        raise NotImplementedError("This backend doesn't support absolute paths.")


class _Stream(io.RawIOBase):
    """A byte stream that cannot seek (a storage streaming from the network)."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class StreamOnlyStorage(ObjectStorage):
    def open(self, name: str, mode: str = "rb") -> File:
        with super().open(name, mode) as stored:
            data = stored.read()
        return File(io.BufferedReader(_Stream(data)), name=name)


def _s3(settings: Settings) -> Iterator[str]:
    moto = pytest.importorskip("moto", reason="moto is in requirements/dev.txt")
    boto3 = pytest.importorskip("boto3", reason="boto3 is in requirements/scale.txt")

    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="pars-test")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {
                    "bucket_name": "pars-test",
                    "region_name": "us-east-1",
                    "access_key": "test",
                    "secret_key": "test",
                    "file_overwrite": False,
                },
            },
        }
        yield "s3"


@pytest.fixture(params=["no path", "cannot seek", "s3"])
def storage(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The default storage for the test; MEDIA_ROOT is an empty directory that must stay so."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ObjectStorage.path_calls.clear()
    if request.param == "s3":
        yield from _s3(settings)
    else:
        backend = ObjectStorage if request.param == "no path" else StreamOnlyStorage
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {"BACKEND": f"{__name__}.{backend.__name__}"},
        }
        yield request.param
    ObjectStorage.path_calls.clear()


def _store(editor: User, provider: Provider, path: Path, kind: str) -> Upload:
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile(path.name, path.read_bytes()), kind=kind)
    upload.refresh_from_db()
    return upload


def _through_the_storage_only(upload: Upload, tmp_path: Path) -> None:
    assert upload.file.name is not None
    assert default_storage.exists(upload.file.name)  # stored there, not on this disk
    assert not (tmp_path / "media").exists()
    assert ObjectStorage.path_calls == []


@pytest.mark.parametrize("suffix", ["tsv", "xlsx", "xml"])
def test_activity_files_are_read_through_the_storage_api(
    storage: str, provider: Provider, editor: User, tmp_path: Path, suffix: str
) -> None:
    make_activity(provider, provider_activity_id="CHI-2024-OLD")  # the golden file deletes it
    upload = _store(editor, provider, ACTIVITIES / f"golden_current.{suffix}", "activities")
    assert upload.file_format == suffix
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    assert (upload.rows_total, upload.added, upload.deleted) == (5, 4, 1)
    assert Activity.objects.filter(provider=provider).count() == 4
    _through_the_storage_only(upload, tmp_path)


@pytest.mark.parametrize("suffix", ["tsv", "xlsx", "xml"])
def test_learner_files_are_read_through_the_storage_api(
    storage: str, provider: Provider, editor: User, tmp_path: Path, suffix: str
) -> None:
    activity = make_activity(
        provider,
        provider_activity_id=make_golden.ACTIVITY_ID,
        accme_activity_id=make_golden.ACCME_ID,
    )
    register(activity, "ABIM")
    register(activity, "ABS", credit_types=["Accredited CME", "Self-Assessment"])
    register(activity, "REMS")
    register(activity, "TN")
    upload = _store(editor, provider, LEARNERS / f"golden_learners.{suffix}", "learners")
    assert upload.file_format == suffix
    # Four records added; the fifth withdraws a record that does not exist here.
    assert (upload.status, upload.added, upload.rejected) == ("partial", 4, 1), upload.message
    assert LearnerCompletion.objects.filter(provider=provider).count() == 4
    _through_the_storage_only(upload, tmp_path)


def _storage_setting(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PARS_")}
    code = "from django.conf import settings; print(settings.STORAGES['default'])"
    done = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "pars.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_object_storage_is_a_setting() -> None:
    assert "FileSystemStorage" in _storage_setting()
    s3 = _storage_setting(
        PARS_STORAGE_BACKEND="s3",
        PARS_S3_BUCKET="pars-uploads-prod",
        PARS_S3_ENDPOINT_URL="https://objects.example.org",
        PARS_S3_ACCESS_KEY_ID="AKIAEXAMPLE",
    )
    assert "storages.backends.s3.S3Storage" in s3
    assert "'bucket_name': 'pars-uploads-prod'" in s3
    assert "'endpoint_url': 'https://objects.example.org'" in s3
    assert "'access_key': 'AKIAEXAMPLE'" in s3
