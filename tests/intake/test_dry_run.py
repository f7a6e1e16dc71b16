"""Dry runs ("validate only", issue 16): every write answers with `dry_run=true` exactly
what the real run answers on the same input, and changes nothing of the provider's data."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity, ActivityChange, CommercialSupport
from pars.audit.models import AuditAction, AuditEvent
from pars.intake.models import Upload, UploadError, UploadStatus
from pars.intake.process import DRY_RUN_MESSAGE
from pars.learners import uploads as learner_uploads
from pars.learners.models import (
    ActivityRegistration,
    CompletionEvent,
    DeliveryItem,
    LearnerCompletion,
)
from pars.learners.services import writer
from pars.providers.models import Provider
from pars.testing import learner_json, learner_row, make_activity, register
from tests.activities.test_uploads import GOOD, THREE_GOOD_ONE_BAD
from tests.learners.conftest import TODAY

# What differs between two runs on the same input: ids, addresses and times.
VOLATILE = {
    "id",
    "number",
    "title",
    "url",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
    "changed_at",
    "status_changed_at",
    "dry_run",
}


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


@pytest.fixture(autouse=True)
def _fixed_today() -> Iterator[None]:
    # The learner rules depend on the day (see tests/learners/conftest.py).
    with time_machine.travel(TODAY, tick=True):
        yield


@pytest.fixture
def deliveries(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The deliveries to boards scheduled (once their transaction commits)."""
    scheduled: list[list[str]] = []
    for module in (writer, learner_uploads):
        monkeypatch.setattr(module, "schedule_delivery", lambda codes: scheduled.append(codes))
    return scheduled


class Api:
    def __init__(self, provider: Provider) -> None:
        _, secret = create_api_key(provider=provider)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def send(self, method: str, path: str, body: Any, query: str = "") -> Any:
        return getattr(self.client, method)(
            f"/api/v1{path}{query}", json.dumps(body), content_type="application/json"
        )

    def upload(self, path: str, content: bytes, query: str = "", **data: Any) -> Any:
        file = SimpleUploadedFile("file.txt", content)
        return self.client.post(f"/api/v1{path}{query}", {"file": file, **data})

    def result(self, accepted: Any) -> dict[str, Any]:
        assert accepted.status_code == 202, accepted.content
        answer: dict[str, Any] = self.client.get(accepted["Location"]).json()
        return answer


@pytest.fixture
def api(provider: Provider) -> Api:
    return Api(provider)


def same(answer: Any) -> Any:
    """An answer without what differs between two runs (and the dry run's own words)."""
    if isinstance(answer, dict):
        return {k: same(v) for k, v in answer.items() if k not in VOLATILE}
    if isinstance(answer, list):
        return [same(item) for item in answer]
    if isinstance(answer, str):
        return answer.removeprefix(DRY_RUN_MESSAGE)
    return answer


def data_of(provider: Provider) -> dict[str, Any]:
    """The provider's data as a dry run must leave it: rows and their times."""
    activities = Activity.objects.filter(provider=provider)
    completions = LearnerCompletion.objects.filter(provider=provider)
    return {
        "activities": sorted(activities.values_list("pk", "updated_at")),
        "supporters": CommercialSupport.objects.filter(activity__provider=provider).count(),
        "changes": ActivityChange.objects.count(),
        "completions": sorted(completions.values_list("pk", "updated_at", "status")),
        "completion_events": CompletionEvent.objects.count(),
        "registrations": sorted(
            ActivityRegistration.objects.filter(provider=provider).values_list("pk", "updated_at")
        ),
        "deliveries": DeliveryItem.objects.count(),
        "audit": AuditEvent.objects.exclude(action=AuditAction.DRY_RUN).count(),
        "applied_uploads": Upload.objects.filter(provider=provider, dry_run=False).count(),
    }


def dry_runs_audited(provider: Provider) -> int:
    return AuditEvent.objects.filter(
        provider=provider, action=AuditAction.DRY_RUN, details__dry_run=True
    ).count()


ACTIVITY = {
    "provider_activity_id": "DRY-1",
    "title": "Cardiology update",
    "activity_format": "course",
    "start_date": "2026-03-01",
    "end_date": "2026-03-02",
    "reporting_year": 2026,
}


# ---------------------------------------------------------------------------
# JSON activities


def test_a_dry_run_create_answers_as_the_real_one_and_writes_nothing(
    provider: Provider, api: Api
) -> None:
    before = data_of(provider)
    dry = api.send("post", "/activities", ACTIVITY, "?dry_run=true")
    assert dry.status_code == 201, dry.content
    assert data_of(provider) == before
    assert dry_runs_audited(provider) == 1

    real = api.send("post", "/activities", ACTIVITY)
    assert real.status_code == 201
    assert same(dry.json()) == same(real.json())
    assert dry["Location"] == real["Location"]
    assert Activity.objects.filter(provider=provider).count() == 1


def test_a_dry_run_update_answers_as_the_real_one_and_changes_nothing(
    provider: Provider, api: Api
) -> None:
    make_activity(provider, provider_activity_id="DRY-1", title="Old title")
    changed = {
        **ACTIVITY,
        "title": "New title",
        "supporters": [{"source": "Acme", "in_kind": True}],
    }
    before = data_of(provider)
    dry = api.send("put", "/activities/DRY-1", changed, "?dry_run=true")
    assert dry.status_code == 200, dry.content
    assert dry.json()["title"] == "New title"
    assert data_of(provider) == before
    assert Activity.objects.get(provider=provider).title == "Old title"

    real = api.send("put", "/activities/DRY-1", changed)
    assert real.status_code == 200
    assert same(dry.json()) == same(real.json())
    assert Activity.objects.get(provider=provider).title == "New title"


def test_a_dry_run_with_errors_gives_the_same_rule_ids(provider: Provider, api: Api) -> None:
    bad = {**ACTIVITY, "end_date": "2026-02-01", "title": ""}
    dry = api.send("post", "/activities", bad, "?dry_run=true")
    real = api.send("post", "/activities", bad)
    assert dry.status_code == real.status_code == 400
    assert dry.json() == real.json()
    assert [error["rule"] for error in dry.json()["errors"]]
    assert not Activity.objects.exists()


def test_a_dry_run_reaches_no_other_providers_data(
    provider: Provider, other_provider: Provider, api: Api
) -> None:
    theirs = make_activity(other_provider, provider_activity_id="THEIRS-1", title="Theirs")
    before = data_of(other_provider)
    # The ID names an activity of the caller's provider: there is none, so it would be new.
    mine = {**ACTIVITY, "provider_activity_id": "THEIRS-1", "title": "Mine"}
    dry = api.send("put", "/activities/THEIRS-1", mine, "?dry_run=true")
    assert dry.status_code == 201
    assert data_of(other_provider) == before
    theirs.refresh_from_db()
    assert theirs.title == "Theirs"
    # With If-Match (an update of an existing activity), theirs is not found.
    held = api.client.put(
        "/api/v1/activities/THEIRS-1?dry_run=true",
        json.dumps(mine),
        content_type="application/json",
        headers={"If-Match": "*"},
    )
    assert held.status_code == 412
    # Their dry-run upload is not the caller's to read.
    their_upload = Api(other_provider).upload("/uploads", GOOD, "?dry_run=true")
    assert api.client.get(their_upload["Location"]).status_code == 404


# ---------------------------------------------------------------------------
# Activity files


@pytest.mark.parametrize("how", ["query", "form"])
def test_a_dry_run_upload_has_the_real_result_and_applies_nothing(
    provider: Provider, api: Api, how: str
) -> None:
    make_activity(provider, provider_activity_id="U-1", title="Old title")
    before = data_of(provider)
    asked: dict[str, Any] = {"query": "?dry_run=true"} if how == "query" else {"dry_run": "true"}
    accepted = api.upload("/uploads", GOOD, **asked)
    assert accepted.json()["dry_run"] is True
    dry = api.result(accepted)
    assert dry["dry_run"] is True
    assert dry["status"] == "succeeded"
    assert dry["message"].startswith(DRY_RUN_MESSAGE)
    assert (dry["added"], dry["updated"]) == (2, 1)
    assert data_of(provider) == before
    assert dry_runs_audited(provider) == 1  # on the trail as a dry run

    # The same file for real: not a duplicate of the file only checked.
    real = api.result(api.upload("/uploads", GOOD))
    assert real["dry_run"] is False
    assert same(dry) == same(real)
    assert Activity.objects.filter(provider=provider).count() == 3


def test_a_dry_run_upload_with_errors_lists_the_same_errors(provider: Provider, api: Api) -> None:
    dry = api.result(api.upload("/uploads", THREE_GOOD_ONE_BAD, "?dry_run=true"))
    assert dry_runs_audited(provider) == 1  # a refused dry run is on the trail too
    real = api.result(api.upload("/uploads", THREE_GOOD_ONE_BAD))
    assert dry["status"] == real["status"] == "rejected"
    assert same(dry) == same(real)
    assert [e["rule"] for e in dry["errors"]] == ["activity.activity_format.not_allowed"]


def test_a_dry_run_of_a_file_already_applied_is_a_duplicate_as_the_real_one(
    provider: Provider, api: Api
) -> None:
    applied = api.result(api.upload("/uploads", GOOD))
    dry = api.result(api.upload("/uploads", GOOD, "?dry_run=true"))
    assert dry["status"] == "duplicate"
    assert dry["duplicate_of"] == applied["id"]


def test_the_upload_page_checks_the_file_only(
    client_as: Callable[[User], Client], provider: Provider, editor: User
) -> None:
    client = client_as(editor)
    page = reverse("uploads:list", kwargs={"provider_id": provider.provider_id})
    assert "Check the file only" in client.get(page).content.decode()
    before = data_of(provider)
    response = client.post(page, {"file": SimpleUploadedFile("a.txt", GOOD), "dry_run": "true"})
    assert response.status_code == 302
    upload = Upload.objects.get()
    assert upload.dry_run
    assert upload.status == UploadStatus.SUCCEEDED
    assert upload.added == 3
    assert data_of(provider) == before
    detail = client.get(response["Location"]).content.decode()
    assert "Checked only" in detail
    assert "nothing was changed" in detail
    assert "Checked only" in client.get(page).content.decode()


# ---------------------------------------------------------------------------
# Learner completions


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=12)
    register(activity, "ABIM")
    return activity


def test_a_dry_run_learner_batch_answers_as_the_real_one(
    provider: Provider,
    api: Api,
    activity: Activity,
    deliveries: list[list[str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    records = [
        learner_json(activity),
        learner_json(activity, learner_id="654321", birth_date="13-01"),
        learner_json(activity, learner_id="222222"),
    ]
    before = data_of(provider)
    with django_capture_on_commit_callbacks(execute=True):
        dry = api.send("post", "/learner-completions", records, "?dry_run=true")
    assert dry.status_code == 200, dry.content
    assert dry.json()["counts"]["added"] == 2
    assert data_of(provider) == before
    assert deliveries == []  # nothing goes to the boards
    assert dry_runs_audited(provider) == 1

    with django_capture_on_commit_callbacks(execute=True):
        real = api.send("post", "/learner-completions", records)
    assert same(dry.json()) == same(real.json())
    assert [e["rule"] for e in dry.json()["results"][1]["errors"]] == ["learner.birth_date.invalid"]
    assert deliveries == [["ABIM"]]  # the real run delivers (the test can fail)
    assert LearnerCompletion.objects.count() == 2


def _learner_file(activity: Activity) -> bytes:
    rows = [learner_row(activity, learner_id=f"{100000 + n}", last_name=f"L{n}") for n in range(3)]
    rows[1]["birth_date"] = "13-01"
    header = list(rows[0])
    lines = ["\t".join(header)] + ["\t".join(str(r.get(n, "")) for n in header) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def test_a_dry_run_learner_file_has_the_real_result_and_delivers_nothing(
    provider: Provider,
    api: Api,
    activity: Activity,
    deliveries: list[list[str]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    content = _learner_file(activity)
    before = data_of(provider)
    with django_capture_on_commit_callbacks(execute=True):
        dry = api.result(api.upload("/learner-completions/uploads", content, "?dry_run=true"))
    assert (dry["status"], dry["added"], dry["rejected"], dry["dry_run"]) == (
        "partial",
        2,
        1,
        True,
    )
    assert data_of(provider) == before
    assert deliveries == []
    # Its errors are kept with it (the report a user reads).
    assert UploadError.objects.filter(upload_id=dry["id"]).count() == 1

    with django_capture_on_commit_callbacks(execute=True):
        real = api.result(api.upload("/learner-completions/uploads", content))
    assert same(dry) == same(real)
    assert deliveries == [["ABIM"]]


def test_the_learner_upload_page_checks_the_file_only(
    client_as: Callable[[User], Client], provider: Provider, editor: User, activity: Activity
) -> None:
    client = client_as(editor)
    page = reverse("learners:uploads", kwargs={"provider_id": provider.provider_id})
    assert "Check the file only" in client.get(page).content.decode()
    before = data_of(provider)
    response = client.post(
        page,
        {"file": SimpleUploadedFile("l.txt", _learner_file(activity)), "dry_run": "true"},
    )
    assert response.status_code == 302
    upload = Upload.objects.get()
    assert (upload.kind, upload.dry_run, upload.added) == ("learners", True, 2)
    assert data_of(provider) == before
    assert "Checked only" in client.get(response["Location"]).content.decode()


def test_dry_runs_count_against_the_rate_limit(provider: Provider, settings: Any) -> None:
    from tests.security.test_rate_limits import with_rate_limits

    settings.MIDDLEWARE = with_rate_limits(settings.MIDDLEWARE)
    settings.RATELIMIT_ENABLE = True
    settings.PARS_API_RATE = "2/m"
    api = Api(provider)
    for _ in range(2):
        assert api.send("post", "/activities", ACTIVITY, "?dry_run=true").status_code == 201
    assert api.send("post", "/activities", ACTIVITY, "?dry_run=true").status_code == 429
