"""The published rule catalog: a public page and a public JSON list of every rule."""

from django.test import Client
from django.utils.html import escape

from pars.activities.validation import RULES, rules_for_year


def test_the_page_lists_every_rule_without_a_login(db: None) -> None:
    response = Client().get("/rules/activities/")
    assert response.status_code == 200
    for rule in RULES.values():
        assert f"<code>{rule.id}</code>" in response.text
        assert escape(rule.message) in response.text
    assert "2022 onward" in response.text  # reporting years of a year-bound rule
    assert "Commercial Support Source" in response.text  # field labels, not names


def test_the_page_filters_by_reporting_year(db: None) -> None:
    response = Client().get("/rules/activities/", {"year": 2014})
    shown = [row["rule"].id for row in response.context["rows"]]
    assert shown == [rule.id for rule in rules_for_year(2014)]
    assert "activity.delivery_methods.required" not in shown  # collected from 2022
    assert "activity.hours_of_instruction.required" in shown  # collected until 2021
    assert len(Client().get("/rules/activities/", {"year": "junk"}).context["rows"]) == len(RULES)


def test_the_json_lists_every_rule_without_a_key(db: None) -> None:
    response = Client().get("/api/v1/rules/activities")
    assert response.status_code == 200
    assert response.json() == {"rules": [rule.as_dict() for rule in RULES.values()]}
    response = Client().get("/api/v1/rules/activities", {"year": 2023})
    assert response.json()["rules"] == [rule.as_dict() for rule in rules_for_year(2023)]
    assert "activity.competencies.required" not in {r["id"] for r in response.json()["rules"]}


def test_the_json_is_documented_as_public(db: None) -> None:
    spec = Client().get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/rules/activities"]["get"]
    assert not operation.get("security")
    assert spec["paths"]["/api/v1/activities"]["get"]["security"]
