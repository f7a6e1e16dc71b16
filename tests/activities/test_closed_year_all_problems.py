"""Every problem at once, the closed year included: a record for an attested (closed)
reporting year that also has field errors gets the closed-year refusal together with the
field errors, in one answer, from the form, a file and the API."""

from __future__ import annotations

import csv
import datetime
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
from pars.accounts.models import Role, User
from pars.activities.models import Activity
from pars.intake.models import UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import make_member
from tests.activities.test_activity_api import Api, course
from tests.activities.test_activity_form import course_form

pytestmark = pytest.mark.django_db

# A course in 2025 (closed) with an unknown format and its end before its start.
BAD_2025: dict[str, Any] = {
    "activity_format": "XYZ",
    "start_date": "2025-03-02",
    "end_date": "2025-03-01",
}
EXPECTED = {
    "activity.reporting_year.locked",
    "activity.activity_format.not_allowed",
    "activity.end_date.before_start",
}


@pytest.fixture(autouse=True)
def closed_2025(provider: Provider, settings: Any, tmp_path: Path) -> AnnualReport:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    admin = make_member(provider, Role.ADMIN, email="ada@riverside.example")
    return AnnualReport.objects.create(
        provider=provider,
        reporting_year=ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31)),
        attested_at=datetime.datetime(2026, 2, 10, 15, 30, tzinfo=datetime.UTC),
        attested_by=admin,
    )


def test_the_form_gives_the_closed_year_with_the_field_errors(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    response = client_as(editor).post(
        reverse("activities:new", args=[provider.provider_id]),
        course_form(provider_activity_id="OLD-1", **BAD_2025),
    )
    assert response.status_code == 400
    assert {item.error.rule for item in response.context["summary"]} == EXPECTED
    assert "The 2025 annual report of this provider is attested and closed" in response.text
    assert not Activity.objects.exists()


def test_a_file_row_gets_the_closed_year_with_its_field_errors(
    provider: Provider, editor: User
) -> None:
    header = ["Provider Activity ID", "Activity Title", "Activity Format", "Start Date", "End Date"]
    out = io.StringIO()
    csv.writer(out, dialect="excel-tab").writerows(
        [header, ["OLD-1", "Course", "XYZ", "03/02/2025", "03/01/2025"]]
    )
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(
        access, SimpleUploadedFile("old.txt", out.getvalue().encode()), via_api=False
    )
    assert upload.status == UploadStatus.REJECTED
    errors = list(upload.errors.all())
    assert {error.rule for error in errors} == EXPECTED
    assert {error.row for error in errors} == {2}
    assert not Activity.objects.exists()


def test_the_api_gives_the_closed_year_with_the_field_errors(provider: Provider) -> None:
    response = Api(provider).put("OLD-1", course(**BAD_2025))
    assert response.status_code == 400
    assert {error["rule"] for error in response.json()["errors"]} == EXPECTED
    # A record whose only problem is the closed year still gets that one refusal.
    clean = Api(provider).put("OLD-2", course(start_date="2025-03-01", end_date="2025-03-02"))
    assert clean.status_code == 400
    assert [error["rule"] for error in clean.json()["errors"]] == ["activity.reporting_year.locked"]
    assert not Activity.objects.exists()
