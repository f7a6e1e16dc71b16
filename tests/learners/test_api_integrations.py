"""Pre-validation (learner matches) and webhook endpoints in the web service."""

import json

import pytest
from django.test import Client

from pars.learners import api_matches
from pars.learners.models import LearnerCompletion, RegistryLearner, WebhookEndpoint
from pars.learners.prevalidation import PrevalidationUnavailable
from pars.providers.models import Provider
from tests.learners.test_api import Api, rules


@pytest.fixture
def api(provider: Provider) -> Api:
    return Api(provider)


@pytest.fixture
def other_api(other_provider: Provider) -> Api:
    return Api(other_provider)


# ---------------------------------------------------------------------------
# Learner matches


@pytest.fixture
def roster(db: None) -> None:
    RegistryLearner.objects.create(
        recipient_code="ABIM",
        learner_id="123456",
        first_name="Ada",
        last_name="Lovelace",
        birth_month=12,
        birth_day=10,
    )


def learner(**overrides: str) -> dict[str, str]:
    return {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        "learner_id": "123456",
        **overrides,
    }


def test_learners_are_matched_against_the_recipients_roster(api: Api, roster: None) -> None:
    response = api.post(
        "/learner-matches",
        {
            "recipient": "abim",
            "learners": [
                learner(),
                learner(birth_date="12-11"),
                learner(learner_id="999999"),
                learner(learner_id="12AB"),
            ],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["recipient"] == "ABIM"
    assert [(r["index"], r["status"]) for r in body["results"]] == [
        (0, "match"),
        (1, "mismatch"),
        (2, "not_found"),
        (3, "invalid"),
    ]
    assert body["results"][1]["fields"] == ["birth_date"]
    assert body["results"][3]["fields"] == ["learner_id"]
    assert body["counts"] == {"match": 1, "mismatch": 1, "not_found": 1, "invalid": 1}
    for value in ("123456", "999999", "12AB", "12-11", "12-10"):
        assert value not in response.text
    assert not LearnerCompletion.objects.exists()
    assert RegistryLearner.objects.count() == 1


def test_what_the_match_endpoint_refuses(api: Api, roster: None) -> None:
    def refused(body: object) -> list[str]:
        response = api.post("/learner-matches", body)
        assert response.status_code == 400, body
        return rules(response.json())

    assert refused({"recipient": "XYZ", "learners": [learner()]}) == ["learner.recipient.unknown"]
    assert refused({"learners": [learner()]}) == ["learner.recipient.required"]
    assert refused({"recipient": "ABIM", "learners": []}) == ["api.body.invalid"]
    assert refused({"recipient": "ABIM"}) == ["api.body.invalid"]
    assert refused([learner()]) == ["api.body.invalid"]
    assert refused({"recipient": "ABIM", "learners": [learner()] * 1001}) == ["api.body.too_many"]
    errors = api.post(
        "/learner-matches", {"recipient": "ABIM", "learners": [learner(), learner(dob="1-1")]}
    ).json()["errors"]
    assert [(e["row"], e["field"], e["rule"]) for e in errors] == [(1, "dob", "api.field.unknown")]
    # A learner that is no JSON object: the request is malformed (422).
    malformed = api.post("/learner-matches", {"recipient": "ABIM", "learners": ["Ada"]})
    assert malformed.status_code == 422
    assert [(e["row"], e["field"], e["rule"]) for e in malformed.json()["errors"]] == [
        (None, "learners[1]", "api.field.type")
    ]
    body = json.dumps({"recipient": "ABIM", "learners": [learner()]})
    assert Client().post("/api/v1/learner-matches", body, "application/json").status_code == 401


def test_a_recipient_that_cannot_match_answers_503(
    api: Api, roster: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*args: object) -> None:
        raise PrevalidationUnavailable("The ABIM registry cannot be reached; try again later.")

    monkeypatch.setattr(api_matches, "prevalidate", unavailable)
    response = api.post("/learner-matches", {"recipient": "ABIM", "learners": [learner()]})
    assert response.status_code == 503
    assert rules(response.json()) == ["api.matching.unavailable"]


# ---------------------------------------------------------------------------
# Webhooks


def test_a_webhook_endpoint_is_created_with_its_secret_shown_once(
    provider: Provider, api: Api
) -> None:
    response = api.post(
        "/webhooks", {"url": "https://hooks.example.org/pars", "description": "CME tracker"}
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.provider, endpoint.url, endpoint.secret) == (
        provider,
        "https://hooks.example.org/pars",
        created["secret"],
    )
    listing = api.get("/webhooks")
    assert listing.status_code == 200
    assert [(e["id"], e["description"], e["active"]) for e in listing.json()] == [
        (endpoint.pk, "CME tracker", True)
    ]
    assert created["secret"] not in listing.text
    assert "secret" not in listing.json()[0]
    assert api.delete(f"/webhooks/{endpoint.pk}").status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert api.delete(f"/webhooks/{endpoint.pk}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"url": "https://localhost/hook"}, "url", "webhook.url.invalid"),
        ({"url": "http://hooks.example.org/pars"}, "url", "webhook.url.invalid"),
        ({"url": "not an address"}, "url", "webhook.url.invalid"),
        ({}, "url", "webhook.url.invalid"),
        (
            {"url": "https://hooks.example.org", "description": "x" * 201},
            "description",
            "webhook.description.invalid",
        ),
        ({"url": "https://hooks.example.org", "secret": "mine"}, "secret", "api.field.unknown"),
        (["https://hooks.example.org"], "body", "api.body.invalid"),
    ],
)
def test_what_the_webhook_endpoint_refuses(api: Api, body: object, field: str, rule: str) -> None:
    response = api.post("/webhooks", body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["field"], e["rule"]) for e in errors] == [(field, rule)]
    assert not WebhookEndpoint.objects.exists()


def test_another_providers_key_reaches_no_webhook(api: Api, other_api: Api) -> None:
    api.post("/webhooks", {"url": "https://hooks.example.org/secret-hook"})
    endpoint = WebhookEndpoint.objects.get()
    assert other_api.get("/webhooks").json() == []
    assert other_api.delete(f"/webhooks/{endpoint.pk}").status_code == 404
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert Client().get("/api/v1/webhooks").status_code == 401
    assert Client().delete(f"/api/v1/webhooks/{endpoint.pk}").status_code == 401
