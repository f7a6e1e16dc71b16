"""Text that cannot travel is refused at the door, and the exports never fail on it.

A control character (a bell, U+0007, pasted from somewhere) in an activity's text used
to be accepted and then made every XML export of the provider answer 500. Every text
field refuses C0 control characters other than tab and line breaks, under the one rule
``text.control_character``, in every channel; text stored before the rule is exported
without them.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from lxml import etree  # type: ignore[import-untyped]

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.dictionary import CONTROL_CHARACTER_RULE, FIELDS, SUPPORTER_FIELDS
from pars.activities.models import Activity, CommercialSupport
from pars.activities.parsers.xml import read_xml
from pars.activities.validation import RULES, validate_activity
from pars.intake.fields import Kind
from pars.lib.text import xml_safe
from pars.providers.models import Provider
from pars.testing import make_activity
from tests.activities.test_activity_api import Api
from tests.activities.test_activity_api import course as json_course
from tests.activities.test_validation import course
from tests.reporting.test_commercial_support_totals import (
    Record,
    _media,  # noqa: F401 (an autouse fixture: uploads go to a temporary directory)
    channel_driver,
)

TODAY = datetime.date(2026, 11, 27)
BELL = "\x07"
TEXT_KINDS = (Kind.TEXT, Kind.TEXT_LIST, Kind.URL)
TEXT_FIELDS = [spec.name for spec in FIELDS if spec.kind in TEXT_KINDS]


def _rules(errors: list[Any]) -> set[tuple[str, str]]:
    return {(error.field, error.rule) for error in errors}


@pytest.mark.parametrize("name", TEXT_FIELDS)
def test_every_text_field_refuses_a_control_character(name: str) -> None:
    value = "https://cme.example.org/a" + BELL if name == "activity_url" else "Lake" + BELL + "side"
    record, errors = validate_activity(course(**{name: value}), today=TODAY)
    assert record is None
    assert (name, CONTROL_CHARACTER_RULE) in _rules(errors)
    message = next(e.message for e in errors if e.rule == CONTROL_CHARACTER_RULE)
    assert "U+0007" in message
    assert BELL not in message


@pytest.mark.parametrize("name", [s.name for s in SUPPORTER_FIELDS if s.kind is Kind.TEXT])
def test_supporter_text_refuses_it_too(name: str) -> None:
    supporter = {"source": "Example Pharma", "monetary_amount": "100", name: "Ex" + BELL}
    _, errors = validate_activity(course(supporters=[supporter]), today=TODAY)
    assert (f"supporters[1].{name}", CONTROL_CHARACTER_RULE) in _rules(errors)


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x08", "\x0b", "\x1b"])
def test_each_c0_control_character_is_refused(character: str) -> None:
    _, errors = validate_activity(course(description=f"a{character}b"), today=TODAY)
    assert _rules(errors) == {("description", CONTROL_CHARACTER_RULE)}


def test_tab_and_line_breaks_are_text() -> None:
    record, errors = validate_activity(
        course(description="Heart failure:\r\n\tdiagnosis\n\ttreatment"), today=TODAY
    )
    assert errors == []
    assert record is not None


def test_the_rule_is_in_the_catalogue() -> None:
    rule = RULES[CONTROL_CHARACTER_RULE]
    assert "control characters" in rule.message
    response = Client().get("/rules/activities/")
    assert f"<code>{CONTROL_CHARACTER_RULE}</code>" in response.text
    assert "Every text field" in response.text


def test_the_api_refuses_it_and_stores_nothing(provider: Provider) -> None:
    response = Api(provider).post(
        json_course(provider_activity_id="C-1", description="Heart" + BELL + " failure")
    )
    assert response.status_code == 400  # the activity API's answer to the validator
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [
        ("description", CONTROL_CHARACTER_RULE)
    ]
    assert not Activity.objects.exists()


@pytest.mark.parametrize("channel", ["web", "api", "api_post", "tsv"])
def test_the_channels_that_can_carry_it_refuse_it_alike(
    channel: str, provider: Provider, editor: User
) -> None:
    """XLSX and XML cannot hold the character at all (their writers refuse it)."""
    sent = channel_driver(channel, provider, editor).write([Record("C-1", title="Cardio" + BELL)])
    assert [(field, rule, message) for _, field, rule, message in sent.errors] == [
        (
            "title",
            CONTROL_CHARACTER_RULE,
            "Activity Title contains a control character (U+0007); only tab and line breaks "
            "are allowed. Remove it: it cannot be stored or exported.",
        )
    ]
    assert not Activity.objects.filter(provider=provider).exists()


@pytest.fixture
def stored(provider: Provider) -> Activity:
    """An activity stored before the rule (or behind the validator's back)."""
    activity = make_activity(
        provider,
        provider_activity_id="OLD" + BELL + "1",
        title="Cardiology" + BELL + " Update\x1f",  # (PostgreSQL refuses U+0000)
        description="Heart failure" + BELL + "\x1b and \ufffe arrhythmia",
        joint_providers=["Lakeside" + BELL + " Clinic"],
        commercial_support_received=True,
    )
    CommercialSupport.objects.create(
        provider=provider,
        activity=activity,
        position=1,
        source="Example\x01 Pharma",  # written as an attribute
        monetary_amount=100,
    )
    return activity


def _read(content: bytes) -> dict[str, Any]:
    etree.fromstring(content)  # well-formed XML 1.0, or this raises
    rows = list(read_xml(io.BytesIO(content)))
    assert len(rows) == 1
    return rows[0].data


def test_the_web_xml_download_leaves_the_characters_out(
    provider: Provider, reader: User, client_as: Callable[[User], Client], stored: Activity
) -> None:
    response = client_as(reader).get(reverse("activities:export_xml", args=[provider.provider_id]))
    assert response.status_code == 200
    data = _read(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert data["provider_activity_id"] == "OLD1"
    assert data["title"] == "Cardiology Update"
    assert data["description"] == "Heart failure and  arrhythmia"


def test_the_api_xml_export_answers_200(provider: Provider, stored: Activity) -> None:
    _, secret = create_api_key(provider=provider)
    response = Client().get("/api/v1/exports/activities.xml", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    data = _read(b"".join(response.streaming_content))  # type: ignore[attr-defined]
    assert data["description"] == "Heart failure and  arrhythmia"
    assert [s["source"] for s in data["supporters"]] == ["Example Pharma"]


def test_xml_safe_keeps_what_xml_can_hold() -> None:
    text = "Tab\tline\nreturn\r é 😀 \u2028"
    assert xml_safe(text) is text
    assert xml_safe("a\x00b\x1fc\ud800d\uffffe") == "abcde"
