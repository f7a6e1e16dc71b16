"""The location rule (reference 2.7, rule 7): a live activity (course, regularly scheduled
series) with a state or country but no city is refused, with the same rule ID from every
channel, instead of being saved as a draft without a word."""

from __future__ import annotations

import csv
import io
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
from pars.activities.models import Activity
from pars.activities.parsers.layouts import CURRENT
from pars.activities.validation import RULES, validate_activity
from pars.intake.models import UploadError, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from tests.activities.test_activity_api import Api
from tests.activities.test_activity_api import course as json_course
from tests.activities.test_activity_form import course_form

RULE = "activity.city.required_with_location"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def test_the_rule_is_in_the_catalogue() -> None:
    assert RULES[RULE].field == "city"


@pytest.mark.parametrize("activity_format", ["course", "rss"])
def test_a_live_activity_with_state_and_country_but_no_city_is_refused(
    activity_format: str,
) -> None:
    raw = {
        "provider_activity_id": "L-1",
        "title": "Grand rounds",
        "activity_format": activity_format,
        "start_date": "2026-03-01",
        "end_date": "2026-03-02",
        "state": "IL",
        "country": "USA",
    }
    record, errors = validate_activity(raw)
    assert record is None
    assert [(error.field, error.rule) for error in errors] == [("city", RULE)]
    # Only a country: the location is still incomplete.
    record, errors = validate_activity({**raw, "state": "", "country": "CAN"})
    assert [(error.field, error.rule) for error in errors] == [("city", RULE)]


def test_no_location_stays_a_draft_and_other_formats_ignore_it() -> None:
    raw = {
        "provider_activity_id": "L-1",
        "title": "Grand rounds",
        "activity_format": "course",
        "start_date": "2026-03-01",
        "end_date": "2026-03-02",
    }
    record, errors = validate_activity(raw)
    assert errors == []
    assert record is not None
    assert record.values["status"] == "draft"
    enduring = {**raw, "activity_format": "enduring", "state": "IL", "country": "USA"}
    record, errors = validate_activity(enduring)
    assert errors == []
    assert record is not None
    assert record.values["country"] == ""


def test_the_web_form_refuses_it(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    form = course_form(provider_activity_id="L-1", city="")
    response = client_as(editor).post(reverse("activities:new", args=[provider.provider_id]), form)
    assert response.status_code in (200, 400)
    rules = {(item.error.field, item.error.rule) for item in response.context["summary"]}
    assert ("city", RULE) in rules
    assert not Activity.objects.exists()


def test_a_file_refuses_it(provider: Provider, editor: User) -> None:
    values = {
        "provider_activity_id": "L-1",
        "title": "Grand rounds",
        "activity_format": "Course",
        "start_date": "03/01/2026",
        "end_date": "03/02/2026",
        "state": "IL",
        "country": "USA",
    }
    text = io.StringIO()
    writer = csv.writer(text, dialect=csv.excel_tab)
    writer.writerow(CURRENT.headers(supporters=0))
    writer.writerow([values.get(column.target, "") for column in CURRENT.columns])
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("a.txt", text.getvalue().encode()))
    upload.refresh_from_db()
    assert upload.status == UploadStatus.REJECTED, upload.message
    errors = list(UploadError.objects.filter(upload=upload).values_list("row", "field", "rule"))
    assert errors == [(2, "city", RULE)]
    assert not Activity.objects.exists()


def test_the_json_api_refuses_it(provider: Provider) -> None:
    response = Api(provider).put("L-1", json_course(city=""))
    assert response.status_code == 400
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [("city", RULE)]
    assert not Activity.objects.exists()
