"""Partial activity files on request: all or nothing stays the default; the uploader may
choose "apply the valid rows and report the others" per upload, on the page and with
``policy=partial`` on the web service."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadError, UploadPolicy, UploadStatus
from pars.providers.models import Provider
from pars.testing import make_activity
from tests.activities.test_uploads import THREE_GOOD_ONE_BAD, row, tsv
from tests.support.openapi import inlined

URL = "/api/v1/uploads"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _ids(provider: Provider) -> list[str]:
    return sorted(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", flat=True)
    )


def _post_page(client: Client, provider: Provider, content: bytes, **extra: str) -> Upload:
    url = reverse("uploads:list", kwargs={"provider_id": provider.provider_id})
    data = {"file": SimpleUploadedFile("a.txt", content), "file_format": "", **extra}
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:500]
    return Upload.objects.order_by("-pk").first()  # type: ignore[return-value]


def _post_api(provider: Provider, content: bytes, **data: str) -> Any:
    _, secret = create_api_key(provider=provider)
    return Client().post(
        URL,
        {"file": SimpleUploadedFile("a.txt", content), **data},
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def _assert_partly_applied(upload: Upload, provider: Provider) -> None:
    upload.refresh_from_db()
    assert upload.policy == UploadPolicy.PARTIAL
    assert upload.status == UploadStatus.PARTIAL, upload.message
    assert (upload.rows_total, upload.added, upload.rejected) == (4, 3, 1)
    assert _ids(provider) == ["U-1", "U-2", "U-3"]
    errors = UploadError.objects.filter(upload=upload)
    assert [(e.row, e.record, e.rule) for e in errors] == [
        (5, "U-4", "activity.activity_format.not_allowed")
    ]
    assert upload.message.startswith("Applied 3 of 4 rows")


def test_the_page_offers_the_choice_and_applies_the_valid_rows(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(editor)
    page = client.get(reverse("uploads:list", kwargs={"provider_id": provider.provider_id}))
    assert 'name="policy"' in page.text
    assert "Apply the valid rows and report the others" in page.text
    assert "All or nothing" in page.text
    upload = _post_page(client, provider, THREE_GOOD_ONE_BAD, policy="partial")
    _assert_partly_applied(upload, provider)
    result = client.get(
        reverse("uploads:detail", kwargs={"provider_id": provider.provider_id, "pk": upload.pk})
    ).text
    assert "Valid rows applied" in result
    assert "nothing in it is changed" not in result  # the page does not contradict itself


def test_the_default_is_still_all_or_nothing(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    upload = _post_page(client_as(editor), provider, THREE_GOOD_ONE_BAD)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.REJECTED
    assert _ids(provider) == []
    result = client_as(editor).get(
        reverse("uploads:detail", kwargs={"provider_id": provider.provider_id, "pk": upload.pk})
    )
    assert "otherwise nothing" in result.text
    upload = _post_page(client_as(editor), provider, THREE_GOOD_ONE_BAD, policy="all_or_nothing")
    upload.refresh_from_db()
    assert upload.status == UploadStatus.REJECTED
    response = _post_api(provider, THREE_GOOD_ONE_BAD)
    assert response.status_code == 202
    assert Upload.objects.get(pk=response.json()["id"]).status == UploadStatus.REJECTED
    assert _ids(provider) == []


def test_the_api_takes_policy_partial(provider: Provider) -> None:
    response = _post_api(provider, THREE_GOOD_ONE_BAD, policy="partial")
    assert response.status_code == 202, response.content
    upload = Upload.objects.get(pk=response.json()["id"])
    _assert_partly_applied(upload, provider)


def test_an_unknown_policy_is_refused_with_the_one_error_shape(provider: Provider) -> None:
    response = _post_api(provider, THREE_GOOD_ONE_BAD, policy="some")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert body["errors"] == [
        {
            "row": None,
            "field": "policy",
            "rule": "upload.policy.unknown",
            "message": body["detail"],
        }
    ]
    assert not Upload.objects.exists()


def test_a_rejected_file_sent_again_with_partial_is_not_a_duplicate(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(editor)
    first = _post_page(client, provider, THREE_GOOD_ONE_BAD)
    first.refresh_from_db()
    assert first.status == UploadStatus.REJECTED
    second = _post_page(client, provider, THREE_GOOD_ONE_BAD, policy="partial")
    assert second.sha256 == first.sha256
    _assert_partly_applied(second, provider)


def test_a_refused_delete_is_reported_and_the_other_rows_applied(provider: Provider) -> None:
    """The writer's own refusals (a delete of an unknown ID) are reported per row too."""
    make_activity(provider, provider_activity_id="OLD-1")
    content = tsv(row("U-1"), ["Delete", "NOPE-1", "", "", "", ""], row("U-2"))
    response = _post_api(provider, content, policy="partial")
    upload = Upload.objects.get(pk=response.json()["id"])
    assert upload.status == UploadStatus.PARTIAL, upload.message
    assert (upload.added, upload.rejected) == (2, 1)
    assert [(e.row, e.record) for e in UploadError.objects.filter(upload=upload)] == [(3, "NOPE-1")]
    assert _ids(provider) == ["OLD-1", "U-1", "U-2"]


def test_the_api_description_documents_the_policy(client: Client) -> None:
    description = inlined(client.get("/api/v1/openapi.json").json())
    operation = description["paths"][URL]["post"]
    assert "policy=partial" in operation["description"]
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["properties"]["policy"]["enum"] == ["", "all_or_nothing", "partial"]
