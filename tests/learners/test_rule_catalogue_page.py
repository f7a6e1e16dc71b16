"""The public learner rule catalog at /rules/learners/: the rules the validator applies
(the same IDs as the JSON catalog) and what each recipient asks, readable signed out."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from pars.learners.validation import RULES

pytestmark = pytest.mark.django_db


def test_anyone_can_read_every_learner_rule(client: Client) -> None:
    response = client.get("/rules/learners/")
    assert response.status_code == 200
    html = response.content.decode()
    for rule in RULES.values():
        assert f'id="{rule.id}"' in html
    json_ids = {rule["id"] for rule in client.get(reverse("api-v1:learner_rules")).json()["rules"]}
    assert json_ids == set(RULES)  # the page and the JSON list the same rules


def test_each_recipient_says_which_identifier_it_needs(client: Client) -> None:
    html = client.get(reverse("learners:rules")).content.decode()
    assert 'id="recipient-ABIM"' in html
    assert "Certifying board (MOC)" in html
    assert "State medical board" in html
    assert "FDA Opioid Analgesic REMS" in html
