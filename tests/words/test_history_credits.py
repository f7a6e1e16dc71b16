"""A learner record's history credits whoever did each step: the person (by name) or the
API key (by the name its administrator gave it), with the channel; the recipient for its
answers; never "PARS" as if the system had reported the learner."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_api_access, get_provider_access
from pars.accounts.models import Role, User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.intake.store import store_upload
from pars.learners.models import CompletionEvent, LearnerCompletion
from pars.learners.services import correct_completion, submit_completion
from pars.providers.models import Provider
from pars.testing import learner_json, learner_row, make_activity, make_member, register


@pytest.fixture(autouse=True)
def _fixed_today(settings: Any, tmp_path: Path) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    with time_machine.travel(datetime.datetime(2026, 11, 27, 15, tzinfo=datetime.UTC)):
        yield


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=Decimal(12))
    register(activity, "ABIM")
    return activity


@pytest.fixture
def coordinator(provider: Provider) -> User:
    return make_member(
        provider, Role.EDITOR, email="cora@riverside.example", first_name="Cora", last_name="Diaz"
    )


def _history(client: Client, completion: LearnerCompletion) -> list[list[str]]:
    kwargs = {"provider_id": completion.activity.provider.provider_id, "pk": completion.pk}
    page = client.get(reverse("learners:detail", kwargs=kwargs)).content.decode()
    table = page.split('id="history"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)
    return [
        [re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td>(.*?)</td>", r, re.S)]
        for r in rows
    ]


def test_a_record_added_and_corrected_on_the_web_credits_the_person(
    provider: Provider, coordinator: User, activity: Activity, client_as: Callable[[User], Client]
) -> None:
    access = get_provider_access(coordinator, provider.provider_id)
    completion = submit_completion(access, learner_row(activity), channel="web")
    assert completion is not None
    correct_completion(access, completion, {"cme_credits": "2"}, channel="web")
    history = _history(client_as(coordinator), completion)
    assert [(row[1], row[4]) for row in history] == [
        ("Submitted", "Cora Diaz (Web form)"),
        ("Corrected", "Cora Diaz (Web form)"),
    ]
    assert "PARS" not in str(history)


def test_a_record_sent_by_the_web_service_credits_the_api_key(
    provider: Provider, coordinator: User, activity: Activity, client_as: Callable[[User], Client]
) -> None:
    key, secret = create_api_key(provider=provider, name="CME tracker")
    response = Client().post(
        "/api/v1/learner-completions",
        json.dumps([learner_json(activity)]),
        "application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code in (200, 201, 207), response.content
    completion = LearnerCompletion.objects.get()
    correct_completion(
        get_api_access(provider, key), completion, {"cme_credits": "2"}, channel="api"
    )
    assert CompletionEvent.objects.get(kind="corrected").api_key == key
    history = _history(client_as(coordinator), completion)
    assert [row[4] for row in history] == [
        "API key “CME tracker” (Web service (JSON))",
        "API key “CME tracker” (Web service (JSON))",
    ]


def test_a_record_from_a_file_credits_the_uploader_and_names_the_upload(
    provider: Provider, coordinator: User, activity: Activity, client_as: Callable[[User], Client]
) -> None:
    row = learner_row(activity)
    header = ",".join(row)
    line = ",".join(str(value) for value in row.values())
    access = get_provider_access(coordinator, provider.provider_id)
    upload = store_upload(
        access, SimpleUploadedFile("l.csv", f"{header}\r\n{line}\r\n".encode()), kind="learners"
    )
    upload.refresh_from_db()
    assert upload.added == 1, upload.message
    [first] = _history(client_as(coordinator), LearnerCompletion.objects.get())
    assert first[3] == "in learner upload #1"
    assert first[4].startswith("Cora Diaz (")
