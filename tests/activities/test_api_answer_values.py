"""The web service answers an activity with JSON values only, built once: the write's
answer and GET's are the dicts the idempotency store keeps and the ETag hashes, with no
round trip through an encoder (issue 14: that round trip was a tenth of a POST's own
work). A date, timestamp or decimal that reached the answer as a Python object would be
written differently by each encoder and could not be stored for an idempotent replay."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pars.accounts.access import get_api_access
from pars.accounts.services import create_api_key
from pars.activities import api
from pars.activities.models import Activity
from pars.providers.models import Provider
from pars.testing import course_json
from tests.activities.test_activity_api import Api

pytestmark = pytest.mark.django_db

# Stored as a date, a timestamp or a decimal: answered as text or a number.
CONVERTED = ("start_date", "end_date", "created_at", "updated_at", "ama_credits")


def non_json_values(value: Any, where: str = "") -> list[str]:
    """Where `value` holds something that is not a JSON value (as json.loads gives them)."""
    if value is None or isinstance(value, str | bool | int | float):
        return []
    if isinstance(value, list):
        return [
            bad for n, item in enumerate(value) for bad in non_json_values(item, f"{where}[{n}]")
        ]
    if isinstance(value, dict):
        return [
            bad for key, item in value.items() for bad in non_json_values(item, f"{where}.{key}")
        ]
    return [f"{where}: {type(value).__name__}"]


def test_the_written_and_the_read_activity_are_json_values_and_agree(provider: Provider) -> None:
    access = get_api_access(provider, create_api_key(provider=provider)[0])
    status, written = api._write(
        access, json.dumps(course_json(provider_activity_id="J-1")).encode(), None
    )
    assert status == 201
    read = api.activities_json(Activity.objects.filter(provider=provider))[0]
    for answer in (written, read):
        assert non_json_values(answer) == []
        assert [name for name in CONVERTED if answer[name] is None] == []
        assert answer["supporters"]
        assert answer["supporters"][0]["monetary_amount"] == 5000
    assert written == read
    assert json.loads(json.dumps(written)) == written


def test_post_and_get_answer_the_same_body_and_version(provider: Provider) -> None:
    client = Api(provider)
    created = client.post(course_json(provider_activity_id="J-2"))
    read = client.get("/J-2")
    assert created.status_code == 201
    assert created.json() == read.json()
    assert created["ETag"] == read["ETag"]
    assert read.json()["start_date"] == course_json()["start_date"]


def test_an_idempotent_replay_answers_the_first_body_and_version(provider: Provider) -> None:
    client = Api(provider)
    first = client.post(course_json(provider_activity_id="J-3"), **{"Idempotency-Key": "k-1"})
    again = client.post(course_json(provider_activity_id="J-3"), **{"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["ETag"] == first["ETag"] == client.get("/J-3")["ETag"]
