"""Why a record is where it is: its status and what it lacks for the next one, on the
upload's result, the API answer, the detail page and the list (issue 15, point 1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.dictionary import FIELDS_BY_NAME
from pars.activities.models import Activity
from pars.activities.status_needs import activity_needs, status_needs
from pars.activities.validation import validate_activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.testing import course_json
from tests.activities.test_activity_api import Api

PASSPORT_FIELDS = ["fee", "registration", "activity_url"]
PASSPORT_LABELS = ["Fee for Participation", "Registration", "Activity URL"]

# A live course complete for an active activity, but for what a Passport listing asks.
COLUMNS = {
    "provider_activity_id": None,
    "title": "Cardiology update",
    "activity_format": "Course",
    "start_date": "03/01/2026",
    "end_date": "03/02/2026",
    "description": "Heart failure, for internists.",
    "providership": "Direct",
    "ama_credits": "6.5",
    "delivery_methods": "In-Person",
    "city": "Chicago",
    "state": "IL",
    "country": "USA",
    "listed_on_passport": None,
}


def passport_tsv(*rows: tuple[str, str]) -> bytes:
    """A TSV file of (ID, List on CME Passport?) rows, the other columns as COLUMNS."""
    lines = ["\t".join(FIELDS_BY_NAME[name].label for name in COLUMNS)]
    for activity_id, listed in rows:
        values = {**COLUMNS, "provider_activity_id": activity_id, "listed_on_passport": listed}
        lines.append("\t".join(str(value) for value in values.values()))
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _detail(activity: Activity) -> str:
    kwargs = {"provider_id": activity.provider.provider_id, "pk": activity.pk}
    return reverse("activities:detail", kwargs=kwargs)


def test_the_function_answers_from_the_validators_rules() -> None:
    record, errors = validate_activity(
        {**course_json(listed_on_passport=True), "provider_activity_id": "P-1"}
    )
    assert not errors
    assert record is not None
    needs = status_needs(record.values, record.supporters)
    assert (needs.status, needs.next_status) == ("draft", "active")
    assert [(m.field, m.label, m.rule) for m in needs.missing] == [
        (name, label, f"activity.{name}.required_listed")
        for name, label in zip(PASSPORT_FIELDS, PASSPORT_LABELS, strict=True)
    ]
    # Once given, the record reaches the status the validator lets it reach: closed.
    record, _ = validate_activity({**course_json(), "provider_activity_id": "P-1"})
    assert record is not None
    needs = status_needs(record.values, record.supporters)
    assert (needs.status, needs.next_status, needs.missing) == ("closed", None, [])


def test_a_tsv_upload_says_which_rows_were_saved_as_draft_and_what_they_lack(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    content = passport_tsv(("T-1", "Yes"), ("T-2", "No"), ("T-3", "Yes"))
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("file.txt", content))
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    statuses = dict(Activity.objects.values_list("provider_activity_id", "status"))
    assert statuses == {"T-1": "draft", "T-2": "ready_to_close", "T-3": "draft"}
    assert upload.message.startswith("Applied: 3 added")
    assert "2 rows are Drafts: to become Active they lack " in upload.message
    for label in PASSPORT_LABELS:
        assert f"{label} (rows 2, 4)" in upload.message
    # The uploader sees it on the upload's page, an API client in its JSON.
    page = client_as(editor).get(
        reverse("uploads:detail", kwargs={"provider_id": provider.provider_id, "pk": upload.pk})
    )
    assert "Fee for Participation (rows 2, 4)" in page.text
    answer = Api(provider).client.get(f"/api/v1/uploads/{upload.pk}").json()
    assert "Fee for Participation (rows 2, 4)" in answer["message"]


def test_a_big_file_names_a_few_rows_per_field_not_one_line_per_row(
    provider: Provider, editor: User
) -> None:
    content = passport_tsv(*((f"B-{n}", "Yes") for n in range(1, 31)))
    access = get_provider_access(editor, provider.provider_id)
    upload = Upload.objects.get(pk=store_upload(access, SimpleUploadedFile("f.txt", content)).pk)
    assert "30 rows are Drafts" in upload.message
    assert "Fee for Participation (rows 2, 3, 4, 5, 6 and 25 more)" in upload.message
    assert upload.message.count("Fee for Participation") == 1


def test_the_api_answers_what_a_draft_lacks_and_ignores_it_when_sent_back(
    provider: Provider,
) -> None:
    api = Api(provider)
    saved = api.put("P-1", course_json(listed_on_passport=True))
    assert saved.status_code == 201, saved.content
    record = saved.json()
    assert record["status"] == "draft"
    assert record["next_status"] == "active"
    assert record["missing_for_next_status"] == [
        {"field": name, "label": label, "rule": f"activity.{name}.required_listed"}
        for name, label in zip(PASSPORT_FIELDS, PASSPORT_LABELS, strict=True)
    ]
    assert api.get("/P-1").json() == record
    assert [item["missing_for_next_status"] for item in api.get().json()] == [
        record["missing_for_next_status"]
    ]
    # Sent back with the missing fields given: the derived fields sent are ignored.
    completed = {
        **record,
        "fee": "free",
        "registration": "open",
        "activity_url": "https://example.org/p-1",
        "status": "closed",  # a draft sent back as it is asks for a draft
    }
    answer = api.put("P-1", completed)
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "closed"
    assert (answer.json()["next_status"], answer.json()["missing_for_next_status"]) == (None, [])


def test_the_openapi_marks_the_new_fields_read_only(db: None) -> None:
    spec = Client().get("/api/v1/openapi.json").json()
    answer = spec["components"]["schemas"]["Activity"]["properties"]
    assert answer["next_status"]["readOnly"] is True
    assert answer["missing_for_next_status"]["readOnly"] is True


def test_the_detail_page_lists_what_a_draft_lacks_and_nothing_once_closed(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    api = Api(provider)
    api.put("D-1", course_json(listed_on_passport=True))
    api.put("C-1", course_json())
    draft = Activity.objects.get(provider_activity_id="D-1")
    closed = Activity.objects.get(provider_activity_id="C-1")
    assert closed.status == "closed"
    client = client_as(editor)
    page = client.get(_detail(draft)).text
    assert "To make it Active, add:" in page
    for label in PASSPORT_LABELS:
        assert label in page.split("To make it Active, add:")[1].split("</ul>")[0]
    assert "activity.fee.required_listed" in page
    page = client.get(_detail(closed)).text
    assert "add:" not in page
    assert activity_needs(closed).missing == []
    listing = client.get(reverse("activities:list", kwargs={"provider_id": provider.provider_id}))
    assert listing.text.count("needs 3 fields") == 1


def test_another_providers_user_gets_404(
    provider: Provider, mallory: User, client_as: Callable[[User], Client]
) -> None:
    Api(provider).put("D-1", course_json(listed_on_passport=True))
    draft = Activity.objects.get(provider_activity_id="D-1")
    assert client_as(mallory).get(_detail(draft)).status_code == 404
    other = Api(Provider.objects.exclude(pk=provider.pk).get())
    assert other.get("/D-1").status_code == 404
