"""Activities in the web service: create-or-update, read, list, delete, idempotency."""

import json
from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import pytest
from django.test import Client
from django.urls import reverse

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.api_schemas import READ_ONLY_FIELDS
from pars.activities.dictionary import FIELDS, SUPPORTER_FIELDS
from pars.activities.models import Activity
from pars.activities.validation import validate_activity
from pars.intake.models import IdempotencyKey
from pars.providers.models import Provider
from pars.testing import course_json, make_activity
from tests.activities.test_activity_form import course_form, supporter_rows
from tests.support.openapi import inlined


def course(**overrides: Any) -> dict[str, Any]:
    """A complete live course as a JSON client sends it."""
    return course_json(**overrides)


class Api:
    """A client with one provider's API key."""

    def __init__(self, provider: Provider) -> None:
        _, secret = create_api_key(provider=provider)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def put(self, activity_id: str, body: Any, **headers: str) -> Any:
        return self.client.put(
            f"/api/v1/activities/{activity_id}",
            json.dumps(body),
            content_type="application/json",
            headers=headers,
        )

    def post(self, body: Any, **headers: str) -> Any:
        return self.client.post(
            "/api/v1/activities",
            json.dumps(body) if not isinstance(body, bytes) else body,
            content_type="application/json",
            headers=headers,
        )

    def get(self, path: str = "", **params: Any) -> Any:
        return self.client.get(f"/api/v1/activities{path}", params)

    def delete(self, activity_id: str) -> Any:
        return self.client.delete(f"/api/v1/activities/{activity_id}")


@pytest.fixture
def api(provider: Provider) -> Api:
    return Api(provider)


@pytest.fixture
def other_api(other_provider: Provider) -> Api:
    return Api(other_provider)


def rules(response: Any) -> list[str]:
    return [error["rule"] for error in response.json()["errors"]]


def test_put_creates_then_updates(provider: Provider, api: Api) -> None:
    response = api.put("GR-1", course())
    assert response.status_code == 201
    assert response["Location"] == "/api/v1/activities/GR-1"
    body = response.json()
    assert body["provider_activity_id"] == "GR-1"
    assert body["status"] == "closed"
    assert body["last_channel"] == "api"
    assert body["ama_credits"] == 6.5
    assert body["supporters"][1] == {
        "source": "Device Co",
        "monetary_amount": None,
        "in_kind": True,
        "in_kind_types": [],
        "in_kind_description": "Ultrasound units",
    }
    response = api.put("GR-1", course(title="Cardiology Update 2026", status="draft"))
    assert response.status_code == 200
    activity = Activity.objects.get(provider=provider)
    assert (activity.title, activity.status) == ("Cardiology Update 2026", "draft")
    assert activity.supporters.count() == 2


def test_post_creates_or_updates_by_the_id_in_the_body(provider: Provider, api: Api) -> None:
    assert api.post(course(provider_activity_id="GR-2")).status_code == 201
    assert api.post(course(provider_activity_id="GR-2", title="Renamed")).status_code == 200
    assert Activity.objects.get(provider=provider).title == "Renamed"
    response = api.post(course())
    assert response.status_code == 400
    assert rules(response) == ["activity.provider_activity_id.required"]


def test_get_returns_the_full_record_and_it_can_be_sent_back(api: Api) -> None:
    api.put("GR-1", course())
    record = api.get("/GR-1").json()
    assert set(record) >= {spec.name for spec in FIELDS}
    assert record["supporters"][0]["source"] == "Example Pharma"
    assert record["outcome_measures"] == [
        {"outcome": "learner_competence", "measurement_types": ["objective"]}
    ]
    response = api.put("GR-1", {**record, "status": None})
    assert response.status_code == 200
    again = response.json()
    assert {k: v for k, v in again.items() if k != "updated_at"} == {
        k: v for k, v in record.items() if k != "updated_at"
    }


def test_list_is_paginated_and_filtered_by_year(provider: Provider, api: Api) -> None:
    for number in range(5):
        make_activity(provider, provider_activity_id=f"A-{number}", reporting_year=2026)
    make_activity(provider, provider_activity_id="OLD", reporting_year=2025)
    response = api.get(year=2026, limit=2, offset=1)
    assert response["X-Total-Count"] == "5"
    assert [a["provider_activity_id"] for a in response.json()] == ["A-1", "A-2"]
    assert response.json()[0]["supporters"] == []
    assert len(api.get().json()) == 6


def test_invalid_records_answer_400_with_the_validators_errors(api: Api) -> None:
    response = api.put("GR-1", course(end_date="2026-02-01", activity_format="XYZ"))
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "row": None,
        "field": "activity_format",
        "rule": "activity.activity_format.not_allowed",
        "message": response.json()["errors"][0]["message"],
    }
    assert rules(response) == [
        "activity.activity_format.not_allowed",
        "activity.end_date.before_start",
    ]
    assert not Activity.objects.exists()


def test_what_the_json_channel_itself_refuses(api: Api) -> None:
    assert rules(api.post(b"{not json")) == ["api.body.invalid"]
    assert rules(api.post(["a", "list"])) == ["api.body.invalid"]
    response = api.put("GR-1", course(titel="Typo"))
    assert rules(response) == ["api.field.unknown"]
    assert response.json()["errors"][0]["field"] == "titel"
    response = api.put("GR-1", course(provider_activity_id="GR-2"))
    assert rules(response) == ["api.provider_activity_id.mismatch"]
    assert api.put("GR-1", course(provider_activity_id="GR-1")).status_code == 201
    assert Activity.objects.count() == 1


def test_delete_answers_204_then_404(provider: Provider, api: Api) -> None:
    make_activity(provider, provider_activity_id="GONE")
    assert api.delete("GONE").status_code == 204
    assert not Activity.objects.exists()
    assert api.delete("GONE").status_code == 404


def test_another_providers_key_cannot_reach_an_activity(
    provider: Provider, other_provider: Provider, other_api: Api
) -> None:
    mine = make_activity(provider, provider_activity_id="SECRET-1", title="Secret")
    assert other_api.get("/SECRET-1").status_code == 404
    assert other_api.delete("SECRET-1").status_code == 404
    # Provider Activity IDs are per provider: the other key's PUT writes an activity of
    # its own provider and never touches (or reveals) ours.
    response = other_api.put("SECRET-1", course(title="Theirs"))
    assert response.status_code == 201
    assert Activity.objects.get(provider=other_provider).title == "Theirs"
    response = other_api.post(course(provider_activity_id="SECRET-1", title="Theirs again"))
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.title == "Secret"
    listing = other_api.get()
    assert [a["title"] for a in listing.json()] == ["Theirs again"]
    assert "Secret" not in listing.text


def test_api_writes_need_a_key(provider: Provider) -> None:
    make_activity(provider, provider_activity_id="A-1")
    client = Client()
    assert client.put("/api/v1/activities/A-1", "{}", "application/json").status_code == 401
    assert client.post("/api/v1/activities", "{}", "application/json").status_code == 401
    assert client.delete("/api/v1/activities/A-1").status_code == 401
    assert Activity.objects.count() == 1


def test_an_idempotent_retry_gets_the_first_answer_without_writing_again(
    provider: Provider, api: Api
) -> None:
    first = api.put("GR-1", course(), **{"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    # Changed behind the API's back: a replay must not write the body again.
    Activity.objects.filter(provider=provider).update(title="Changed since")
    replay = api.put("GR-1", course(), **{"Idempotency-Key": "k-1"})
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert Activity.objects.get().title == "Changed since"
    # Without the key the same request writes (and is now an update).
    assert api.put("GR-1", course()).status_code == 200
    assert Activity.objects.get().title == "Cardiology Update"


def test_an_idempotency_key_reused_for_another_request_is_refused(
    provider: Provider, api: Api, other_api: Api
) -> None:
    api.post(course(provider_activity_id="GR-1"), **{"Idempotency-Key": "k-2"})
    response = api.post(course(provider_activity_id="GR-2"), **{"Idempotency-Key": "k-2"})
    assert response.status_code == 422
    assert rules(response) == ["api.idempotency_key.reused"]
    response = api.put("GR-1", course(), **{"Idempotency-Key": "k-2"})  # other method and path
    assert rules(response) == ["api.idempotency_key.reused"]
    assert list(Activity.objects.values_list("provider_activity_id", flat=True)) == ["GR-1"]
    # Keys are per provider.
    assert other_api.post(course(provider_activity_id="GR-9"), **{"Idempotency-Key": "k-2"})
    assert IdempotencyKey.objects.count() == 2


def test_a_refused_request_is_replayed_too(api: Api) -> None:
    first = api.put("GR-1", course(end_date="2020-01-01"), **{"Idempotency-Key": "k-3"})
    replay = api.put("GR-1", course(end_date="2020-01-01"), **{"Idempotency-Key": "k-3"})
    assert first.status_code == replay.status_code == 400
    assert replay.json() == first.json()
    assert rules(api.put("GR-1", course(), **{"Idempotency-Key": "x" * 201})) == [
        "api.idempotency_key.invalid"
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hours_of_instruction": "2.5"}, "hours_of_instruction"),
        ({"physician_learners": "120"}, "physician_learners"),
        ({"reporting_year": "2026"}, "reporting_year"),
        ({"listed_on_passport": "No"}, "listed_on_passport"),
        ({"delivery_methods": "in_person;online"}, "delivery_methods"),
        (
            {"supporters": [{"source": "X", "monetary_amount": "5000"}]},
            "supporters[1].monetary_amount",
        ),
        ({"outcome_measures": ["Learner Competence:Objective"]}, "outcome_measures[1]"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_malformed_request(
    api: Api, change: dict[str, Any], field: str
) -> None:
    # The JSON channel is strict: numbers, booleans and lists arrive as JSON numbers,
    # booleans and arrays (files and the web form read them as text).
    response = api.post({"provider_activity_id": "T-1", **course(**change)})
    assert response.status_code == 422, response.content
    assert response.json()["errors"] == [
        {"row": None, "field": field, "rule": "api.field.type", "message": ANY}
    ]
    assert field in response.json()["detail"]
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"activity_format": "Course"}, "activity_format"),  # a label, not the code
        ({"start_date": "03/01/2026"}, "start_date"),
        ({"delivery_methods": ["In-Person"]}, "delivery_methods"),
        ({"country": "US"}, "country"),
        ({"status": "Draft"}, "status"),
        ({"joint_providers": [""]}, "joint_providers"),
    ],
)
def test_only_the_documented_spelling_is_read_from_json(
    api: Api, change: dict[str, Any], field: str
) -> None:
    response = api.post({"provider_activity_id": "T-1", **course(**change)})
    assert response.status_code == 400, response.content
    assert [(e["field"].split("[")[0], e["rule"]) for e in response.json()["errors"]] == [
        (field, "api.field.invalid")
    ]
    assert not Activity.objects.exists()


def test_null_and_empty_codes_are_no_value(api: Api) -> None:
    body = course(hours_of_instruction=None, fee="", activity_url="", reporting_year=None)
    assert api.put("N-1", body).status_code == 201


def test_openapi_documents_the_activity_body_with_every_dictionary_field(db: None) -> None:
    spec = inlined(Client().get("/api/v1/openapi.json").json())
    paths = spec["paths"]
    for path, method in (
        ("/api/v1/activities/{provider_activity_id}", "put"),
        ("/api/v1/activities", "post"),
    ):
        operation = paths[path][method]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        properties = schema["properties"]
        # The read-only fields of an answer may be sent back as stored (a record read can
        # be sent back); the legacy activity type is taken; any other name is refused.
        assert set(properties) == {spec.name for spec in FIELDS} | {
            "status",
            "legacy_activity_type",
        } | set(READ_ONLY_FIELDS)
        assert all(properties[name]["readOnly"] is True for name in READ_ONLY_FIELDS)
        assert schema["additionalProperties"] is False
        assert properties["start_date"]["format"] == "date"
        assert "course" in properties["activity_format"]["enum"]
        # Optional values may also be null (no value, as GET answers it).
        ama_credits, null = properties["ama_credits"]["anyOf"]
        assert (ama_credits["multipleOf"], null) == (0.25, {"type": "null"})
        assert properties["delivery_methods"]["anyOf"][0]["type"] == "array"
        supporter = properties["supporters"]["anyOf"][0]["items"]["properties"]
        assert set(supporter) == {sub.name for sub in SUPPORTER_FIELDS}
        assert {"200", "201", "400", "422"} <= set(operation["responses"])
    assert "204" in paths["/api/v1/activities/{provider_activity_id}"]["delete"]["responses"]


def test_the_same_bad_record_gets_the_same_errors_from_the_form_and_the_api(
    provider: Provider, api: Api, editor: User, client_as: Callable[[User], Client]
) -> None:
    bad = {"activity_format": "XYZ", "start_date": "2026-03-02", "end_date": "2026-03-01"}
    web = client_as(editor).post(
        reverse("activities:new", args=[provider.provider_id]),
        course_form(
            provider_activity_id="BAD-1",
            **bad,
            supporters=supporter_rows({"monetary_amount": "2500"}),
        ),
    )
    web_errors = {
        (item.error.field, item.error.rule, item.error.message) for item in web.context["summary"]
    }
    response = api.put("BAD-1", course(**bad, supporters=[{"monetary_amount": 2500}]))
    api_errors = {(e["field"], e["rule"], e["message"]) for e in response.json()["errors"]}
    assert web_errors == api_errors
    assert {rule for _, rule, _ in api_errors} == {
        "activity.activity_format.not_allowed",
        "activity.end_date.before_start",
        "activity.supporters.source.required",
    }
    # ... and the same as the validator gives a file row with text values.
    _, file_errors = validate_activity(
        {
            **course(**bad),
            "provider_activity_id": "BAD-1",
            "supporters": [{"monetary_amount": "$2,500"}],
        }
    )
    assert {(e.field, e.rule, e.message) for e in file_errors} == api_errors
