"""Batch uploads through the web service: POST /api/v1/uploads, GET /api/v1/uploads/{id}."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pars.accounts.services import create_api_key
from pars.activities import upload_api
from pars.activities.models import Activity
from pars.intake.models import IdempotencyKey, Upload, UploadStatus
from pars.providers.models import Provider
from tests.activities.test_uploads import GOOD, THREE_GOOD_ONE_BAD, row, tsv

URL = "/api/v1/uploads"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _bearer(provider: Provider) -> dict[str, Any]:
    _, secret = create_api_key(provider=provider)
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _post(auth: dict[str, Any], content: bytes, name: str = "a.txt", **data: Any) -> Any:
    return Client().post(URL, {"file": SimpleUploadedFile(name, content), **data}, **auth)


def test_a_file_is_accepted_with_202_and_its_status_can_be_read(provider: Provider) -> None:
    auth = _bearer(provider)
    response = _post(auth, GOOD)
    assert response.status_code == 202
    upload = Upload.objects.get()
    body = response.json()
    assert body == {
        "id": upload.pk,
        "number": 1,
        "title": "Activity upload #1",
        "status": "queued",
        "url": f"{URL}/{upload.pk}",
        "dry_run": False,
    }
    assert response["Location"] == f"{URL}/{upload.pk}"
    assert upload.via_api
    assert upload.created_by is None

    status = Client().get(response["Location"], **auth)
    assert status.status_code == 200
    data = status.json()
    assert data["status"] == "succeeded"
    assert data["finished"] is True
    assert (data["rows_total"], data["added"], data["updated"], data["deleted"]) == (3, 3, 0, 0)
    assert data["errors"] == []
    assert data["errors_next"] is None
    assert data["layout"] == "current"
    assert data["progress"] is None
    assert Activity.objects.filter(provider=provider, last_channel="tsv").count() == 3


def test_a_file_with_an_error_changes_nothing_and_lists_it(provider: Provider) -> None:
    auth = _bearer(provider)
    response = _post(auth, THREE_GOOD_ONE_BAD)
    data = Client().get(response["Location"], **auth).json()
    assert data["status"] == "rejected"
    assert (data["rows_total"], data["rejected"], data["error_count"]) == (4, 1, 1)
    assert [(e["row"], e["field"], e["rule"]) for e in data["errors"]] == [
        (5, "activity_format", "activity.activity_format.not_allowed")
    ]
    assert not Activity.objects.exists()


def test_errors_page_through_beyond_the_first(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_api, "ERRORS_INLINE", 2)
    auth = _bearer(provider)
    response = _post(auth, tsv(*(row(f"U-{n}", fmt="Bad") for n in range(1, 6))))
    data = Client().get(response["Location"], **auth).json()
    assert [e["row"] for e in data["errors"]] == [2, 3]
    assert data["errors_next"] == f"{URL}/{data['id']}/errors?offset=2&limit=2"
    page = Client().get(data["errors_next"], **auth).json()
    assert [e["row"] for e in page["errors"]] == [4, 5]
    assert page["count"] == page["error_count"] == 5
    last = Client().get(page["next"], **auth).json()
    assert [e["row"] for e in last["errors"]] == [6]
    assert last["next"] is None


def test_the_format_field_overrides_detection(provider: Provider) -> None:
    auth = _bearer(provider)
    response = _post(auth, GOOD, name="a.xml", format="tsv")
    assert response.status_code == 202
    assert Upload.objects.get().file_format == "tsv"
    response = _post(auth, GOOD, kind="pdf")
    assert response.status_code == 400
    assert response.json()["errors"][0]["rule"] == "upload.format.unknown"


def test_a_file_over_the_limit_is_refused_with_413(provider: Provider, settings: Any) -> None:
    settings.PARS_MAX_UPLOAD_BYTES = 10
    response = _post(_bearer(provider), GOOD)
    assert response.status_code == 413
    assert response.json()["errors"][0]["rule"] == "upload.file.too_large"
    assert not Upload.objects.exists()


def test_the_same_file_twice_is_a_duplicate(provider: Provider) -> None:
    auth = _bearer(provider)
    first = _post(auth, GOOD).json()
    second = Client().get(_post(auth, GOOD)["Location"], **auth).json()
    assert second["status"] == "duplicate"
    assert second["duplicate_of"] == first["id"]


def test_an_idempotency_key_makes_a_retry_safe(provider: Provider) -> None:
    auth = _bearer(provider)
    headers = {**auth, "HTTP_IDEMPOTENCY_KEY": "retry-me-1"}
    first = _post(headers, GOOD)
    again = _post(headers, GOOD, name="renamed.txt")
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replayed"] == "true"
    assert Upload.objects.count() == 1
    assert Upload.objects.get().status == UploadStatus.SUCCEEDED

    other_file = _post(headers, tsv(row("X-1")))
    assert other_file.status_code == 422
    assert Upload.objects.count() == 1
    assert IdempotencyKey.objects.filter(provider=provider).count() == 1


def test_another_providers_key_neither_reads_nor_writes_here(
    provider: Provider, other_provider: Provider
) -> None:
    auth = _bearer(provider)
    mine = _post(auth, THREE_GOOD_ONE_BAD).json()
    theirs = _bearer(other_provider)
    assert Client().get(f"{URL}/{mine['id']}", **theirs).status_code == 404
    assert Client().get(f"{URL}/{mine['id']}/errors", **theirs).status_code == 404
    # Their upload lands at their provider, never at this one.
    assert _post(theirs, GOOD).status_code == 202
    assert list(Upload.objects.filter(provider=provider).values_list("pk", flat=True)) == [
        mine["id"]
    ]
    assert not Activity.objects.filter(provider=provider).exists()
    assert Activity.objects.filter(provider=other_provider).count() == 3


def test_no_key_no_upload(provider: Provider) -> None:
    assert _post({}, GOOD).status_code == 401
    assert Client().get(f"{URL}/1").status_code == 401
    assert not Upload.objects.exists()
