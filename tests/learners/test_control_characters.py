"""Learner text refuses control characters under the activities' rule, never quoting it."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client

from pars.accounts.services import create_api_key
from pars.activities.dictionary import CONTROL_CHARACTER_RULE
from pars.activities.models import Activity
from pars.learners.models import LearnerCompletion
from pars.learners.validation import (
    RULES,
    load_recipients,
    validate_completion,
    validate_registration,
)
from pars.providers.models import Provider
from pars.testing import learner_json, learner_row, make_activity, register

TODAY = datetime.date(2026, 11, 27)
BELL = "\x07"


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    return activity


@pytest.mark.parametrize(
    "name", ["first_name", "last_name", "learner_id", "provider_activity_id", "recipient"]
)
def test_completion_text_refuses_a_control_character(activity: Activity, name: str) -> None:
    value = "1234" + BELL + "56" if name == "learner_id" else "AB" + BELL + "IM"
    record, errors = validate_completion(
        learner_row(activity, **{name: value}), recipients=load_recipients(), today=TODAY
    )
    assert record is None
    # One error for the field: not also "required" because the value was refused.
    assert [(e.field, e.rule) for e in errors if e.field == name] == [
        (name, CONTROL_CHARACTER_RULE)
    ]
    assert value not in " ".join(error.message for error in errors)  # never quoted


def test_registration_text_refuses_it_too(db: None) -> None:
    _, errors = validate_registration(
        {"recipient": "ABIM", "attest": True, "moc_points": "10", "internal_id": "X" + BELL},
        recipients=load_recipients(),
    )
    assert CONTROL_CHARACTER_RULE in {error.rule for error in errors}


def test_the_rule_is_in_the_learner_catalogue(db: None) -> None:
    assert CONTROL_CHARACTER_RULE in RULES
    body = Client().get("/api/v1/rules/learners").json()
    assert CONTROL_CHARACTER_RULE in {rule["id"] for rule in body["rules"]}


def test_the_api_refuses_the_record_and_stores_nothing(
    provider: Provider, activity: Activity
) -> None:
    _, secret = create_api_key(provider=provider)
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").post(
        "/api/v1/learner-completions",
        json.dumps([learner_json(activity, first_name="A" + BELL + "da")]),
        content_type="application/json",
    )
    # The request schema allows no control character: a malformed request (422), with
    # the rule every channel gives.
    assert response.status_code == 422
    assert [(e["row"], e["field"], e["rule"]) for e in response.json()["errors"]] == [
        (0, "first_name", CONTROL_CHARACTER_RULE)
    ]
    assert not LearnerCompletion.objects.exists()
