"""Activity uploads and learner uploads are numbered and listed apart: each provider's
activity uploads count 1, 2, 3 … and its learner uploads 1, 2 …, whatever other providers
and the other kind upload in between; each list shows only its own kind."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.intake.models import Upload
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.testing import make_member

ACTIVITIES = b"Provider Activity ID\tActivity Title\tActivity Format\tStart Date\tEnd Date\r\n"
LEARNERS = b"Provider Activity ID,Recipient,First Name\r\nX-1,ABIM,Ada\r\n"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _upload(user: User, provider: Provider, kind: str, n: int) -> Upload:
    access = get_provider_access(user, provider.provider_id)
    content = (
        ACTIVITIES + f"A-{n}\tT\tCourse\t03/01/2026\t03/02/2026\r\n".encode()
        if kind == "activities"
        else LEARNERS.replace(b"Ada", f"Ada{n}".encode())
    )
    return store_upload(access, SimpleUploadedFile(f"{kind}-{n}.csv", content), kind=kind)


def test_each_kind_counts_on_its_own_per_provider(
    provider: Provider,
    other_provider: Provider,
    editor: User,
    client_as: Callable[[User], Client],
) -> None:
    other = make_member(other_provider, email="olga@elsewhere.example")
    made = [
        _upload(editor, provider, "activities", 1),
        _upload(editor, provider, "learners", 1),
        _upload(other, other_provider, "activities", 1),
        _upload(editor, provider, "activities", 2),
        _upload(editor, provider, "learners", 2),
        _upload(editor, provider, "activities", 3),
    ]
    assert [upload.title for upload in made] == [
        "Activity upload #1",
        "Learner upload #1",
        "Activity upload #1",  # the other provider's first
        "Activity upload #2",
        "Learner upload #2",
        "Activity upload #3",
    ]

    client = client_as(editor)
    pid = provider.provider_id
    page = client.get(reverse("uploads:detail", kwargs={"provider_id": pid, "pk": made[4].pk}))
    assert "<h2>Learner upload #2: learners-2.csv</h2>" in page.text
    errors = client.get(
        reverse("uploads:errors_csv", kwargs={"provider_id": pid, "pk": made[4].pk})
    )
    assert 'filename="learner-upload-2-errors.csv"' in errors["Content-Disposition"]
    activity_list = client.get(reverse("uploads:list", kwargs={"provider_id": pid})).text
    assert "<h3>Activity uploads</h3>" in activity_list
    assert "activities-3.csv" in activity_list
    assert "learners-1.csv" not in activity_list
    learner_list = client.get(reverse("learners:uploads", kwargs={"provider_id": pid})).text
    assert "<h3>Learner uploads</h3>" in learner_list
    assert "learners-2.csv" in learner_list
    assert "activities-1.csv" not in learner_list
    # The list's number column is the kind's own number, newest first.
    numbers = [cell.split("</td>")[0] for cell in learner_list.split("<tr>\n      <td>")[1:]]
    assert numbers == ["2", "1"]


def test_the_migration_numbers_existing_uploads_in_order(
    provider: Provider, other_provider: Provider, editor: User
) -> None:
    other = make_member(other_provider, email="olga@elsewhere.example")
    made = [
        _upload(editor, provider, "activities", 1),
        _upload(editor, provider, "learners", 1),
        _upload(other, other_provider, "activities", 1),
        _upload(editor, provider, "activities", 2),
    ]
    Upload.objects.update(number=None)  # as the uploads were before the migration
    migration = importlib.import_module("pars.intake.migrations.0004_upload_number_per_kind")
    migration.number_existing(apps, None)
    assert [Upload.objects.get(pk=u.pk).number for u in made] == [1, 1, 1, 2]
    # New uploads continue each sequence.
    assert _upload(editor, provider, "activities", 3).title == "Activity upload #3"


def test_the_api_answers_name_each_upload_by_its_kinds_number(provider: Provider) -> None:
    from pars.accounts.services import create_api_key

    _, secret = create_api_key(provider=provider)
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    api = Client()

    def post(url: str, name: str, content: bytes) -> dict[str, Any]:
        response = api.post(url, {"file": SimpleUploadedFile(name, content)}, **auth)
        assert response.status_code == 202, response.content
        return dict(response.json())

    first = post(
        "/api/v1/uploads", "a.csv", ACTIVITIES + b"A-1\tT\tCourse\t03/01/2026\t03/02/2026\r\n"
    )
    learners = post("/api/v1/learner-completions/uploads", "l.csv", LEARNERS)
    second = post(
        "/api/v1/uploads", "b.csv", ACTIVITIES + b"A-2\tT\tCourse\t03/01/2026\t03/02/2026\r\n"
    )
    assert (first["number"], first["title"]) == (1, "Activity upload #1")
    assert (learners["number"], learners["title"]) == (1, "Learner upload #1")
    assert (second["number"], second["title"]) == (2, "Activity upload #2")
    polled = api.get(second["url"], **auth).json()
    assert (polled["number"], polled["title"]) == (2, "Activity upload #2")
    assert api.get(learners["url"], **auth).json()["title"] == "Learner upload #1"


def test_the_upload_pages_name_who_uploaded_not_their_email(
    provider: Provider, client_as: Callable[[User], Client]
) -> None:
    from pars.accounts.services import create_api_key

    ada = make_member(provider, email="ada@riverside.example", first_name="Ada", last_name="Byron")
    by_hand = _upload(ada, provider, "activities", 1)
    _, secret = create_api_key(provider=provider, name="LMS nightly")
    response = Client().post(
        "/api/v1/uploads",
        {
            "file": SimpleUploadedFile(
                "lms.csv", ACTIVITIES + b"A-9\tT\tCourse\t03/01/2026\t03/02/2026\r\n"
            )
        },
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    by_key = Upload.objects.get(pk=response.json()["id"])

    client = client_as(ada)
    pid = provider.provider_id
    page = client.get(reverse("uploads:list", kwargs={"provider_id": pid})).text
    assert "<td>Ada Byron</td>" in page
    assert "<td>API key “LMS nightly”</td>" in page
    assert "ada@riverside.example</td>" not in page
    detail = client.get(reverse("uploads:detail", kwargs={"provider_id": pid, "pk": by_hand.pk}))
    assert " by Ada Byron</dd>" in detail.text
    detail = client.get(reverse("uploads:detail", kwargs={"provider_id": pid, "pk": by_key.pk}))
    assert " by API key “LMS nightly”</dd>" in detail.text
