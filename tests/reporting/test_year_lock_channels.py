"""An attested year is closed on every channel, until the accreditor's staff reopen it.

The year is set up through the services (closed activities, the program summary,
completed, attested by an administrator). Then each channel -- web form, TSV, XLSX and
XML uploads, JSON API -- tries to add, change, move and delete an activity of that
year: each is refused with rule ``activity.reporting_year.locked`` and a message that
says why, and nothing changes. After staff reopen the year, the same change through
the same channel is applied. Another (open) year stays writable throughout.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity, ActivityChange, CommercialSupport
from pars.activities.services import save_activity
from pars.activities.validation import validate_activity
from pars.audit.models import AuditEvent
from pars.providers.models import Provider
from pars.reporting.locks import LOCKED_RULE, locked_message
from pars.reporting.models import AnnualReport, ReportingYear
from pars.reporting.services import (
    attest,
    complete_program_summary,
    reopen_year,
    save_program_summary,
)
from tests.activities.test_activity_form import course_form
from tests.activities.test_validation import course
from tests.reporting.test_commercial_support_totals import (
    CHANNELS,
    Driver,
    Record,
    Sent,
    Supporter,
    _media,  # noqa: F401 (an autouse fixture: uploads go to a temporary directory)
    _tsv,
    channel_driver,
)

LOCKED = 2025
OPEN = 2026
FIGURES = {
    "advertising_exhibit_income": "12500",
    "registration_fees": "48000",
    "government_grants": "0",
    "private_donations": "2500.50",
}
# The row a refused change is reported on: none for single writes, the data row of a
# file (TSV and XLSX: after the header row; XML: the activity's position).
FIRST_ROW: dict[str, int | None] = {
    "web": None,
    "api": None,
    "api_post": None,
    "tsv": 2,
    "xlsx": 2,
    "xml": 1,
}
FILE_FIRST_ROW = {"tsv": 2, "xlsx": 2, "xml": 1}


def _save(access: ProviderAccess, activity_id: str, year: int, amount: int) -> None:
    clean, errors = validate_activity(
        course(
            provider_activity_id=activity_id,
            start_date=f"05/01/{year}",
            end_date=f"05/02/{year}",
            status="Closed",
            supporters=[{"source": "Example Pharma", "monetary_amount": str(amount)}],
        )
    )
    assert clean is not None, errors
    save_activity(access, clean, channel="web")


@pytest.fixture
def attested(provider: Provider, admin_user: User) -> ProviderAccess:
    """2025 attested by the administrator (with L-1, L-2); 2026 open (with N-1)."""
    ReportingYear.objects.create(year=LOCKED, deadline=datetime.date(LOCKED + 1, 3, 31))
    ReportingYear.objects.create(year=OPEN, deadline=datetime.date(OPEN + 1, 3, 31))
    access = get_provider_access(admin_user, provider.provider_id)
    _save(access, "L-1", LOCKED, 5000)
    _save(access, "L-2", LOCKED, 2500)
    _save(access, "N-1", OPEN, 1000)
    save_program_summary(access, LOCKED, FIGURES, channel="web")
    complete_program_summary(access, LOCKED, channel="web")
    report = attest(access, LOCKED, channel="web")
    assert report.attested_at is not None
    return access


def snapshot(provider: Provider) -> dict[str, list[dict[str, Any]]]:
    """Everything a refused change must leave as it was (the upload's own report aside)."""
    models: tuple[type[Model], ...] = (
        Activity,
        CommercialSupport,
        ActivityChange,
        AuditEvent,
        AnnualReport,
    )
    return {
        model.__name__: [
            dict(row)
            for row in model._default_manager.filter(provider=provider).order_by("pk").values()
        ]
        for model in models
    }


def reopen(provider: Provider, staff: User) -> None:
    reopen_year(
        get_provider_access(staff, provider.provider_id), LOCKED, reason="Two activities missing"
    )


def _activity(provider: Provider, activity_id: str) -> Activity | None:
    return Activity.objects.filter(provider=provider, provider_activity_id=activity_id).first()


# Each change: what it sends, and how to see that it was applied.
CHANGE_SUPPORT = (Supporter("Example Pharma", 7000), Supporter("Device Co", in_kind=True))


def _add(driver: Driver) -> Sent:
    return driver.write([Record("L-NEW", supporters=CHANGE_SUPPORT)])


def _edit(driver: Driver) -> Sent:
    return driver.write([Record("L-1", title="Renamed course", supporters=CHANGE_SUPPORT)])


def _move_out(driver: Driver) -> Sent:  # from the closed year to an open one
    return driver.write([Record("L-1", year=OPEN)])


def _move_in(driver: Driver) -> Sent:  # from an open year into the closed one
    return driver.write([Record("N-1", year=LOCKED)])


def _delete(driver: Driver) -> Sent:
    return driver.delete(["L-1"])


def _added(provider: Provider) -> bool:
    activity = _activity(provider, "L-NEW")
    return activity is not None and activity.supporters.count() == 2


def _edited(provider: Provider) -> bool:
    activity = _activity(provider, "L-1")
    return activity is not None and activity.title == "Renamed course"


def _moved_out(provider: Provider) -> bool:
    activity = _activity(provider, "L-1")
    return activity is not None and activity.reporting_year == OPEN


def _moved_in(provider: Provider) -> bool:
    activity = _activity(provider, "N-1")
    return activity is not None and activity.reporting_year == LOCKED


def _deleted(provider: Provider) -> bool:
    return _activity(provider, "L-1") is None


CHANGES: dict[str, tuple[Callable[[Driver], Sent], Callable[[Provider], bool]]] = {
    "add": (_add, _added),
    "edit": (_edit, _edited),
    "move_out": (_move_out, _moved_out),
    "move_in": (_move_in, _moved_in),
    "delete": (_delete, _deleted),
}


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_refuses_changes_to_an_attested_year_until_it_is_reopened(
    channel: str,
    change: str,
    provider: Provider,
    editor: User,
    staff: User,
    attested: ProviderAccess,
) -> None:
    send, applied = CHANGES[change]
    driver = channel_driver(channel, provider, editor)
    before = snapshot(provider)
    sent = send(driver)
    message = locked_message(LOCKED)
    assert sent.errors == [(FIRST_ROW[channel], "reporting_year", LOCKED_RULE, message)]
    assert "attested and closed" in message
    assert "reopen" in message
    if channel == "web":
        assert escape(message) in sent.page  # shown to the user, not only attached
    assert snapshot(provider) == before
    assert not applied(provider)

    reopen(provider, staff)
    sent = send(driver)
    assert sent.errors == []
    assert applied(provider)


@pytest.mark.parametrize("change", ["add", "edit", "delete"])
@pytest.mark.parametrize("channel", CHANNELS)
def test_another_year_stays_open_while_one_is_attested(
    channel: str, change: str, provider: Provider, editor: User, attested: ProviderAccess
) -> None:
    driver = channel_driver(channel, provider, editor)
    if change == "add":
        sent = driver.write([Record("N-NEW", year=OPEN, supporters=CHANGE_SUPPORT)])
        assert _activity(provider, "N-NEW") is not None
    elif change == "edit":
        sent = driver.write([Record("N-1", year=OPEN, title="Renamed course")])
        activity = _activity(provider, "N-1")
        assert activity is not None
        assert activity.title == "Renamed course"
    else:
        sent = driver.delete(["N-1"])
        assert _activity(provider, "N-1") is None
    assert sent.errors == []
    assert AnnualReport.objects.get(provider=provider).attested_at is not None


@pytest.mark.parametrize("channel", ["tsv", "xlsx", "xml"])
def test_a_file_with_one_row_in_the_attested_year_changes_nothing(
    channel: str, provider: Provider, editor: User, attested: ProviderAccess
) -> None:
    driver = channel_driver(channel, provider, editor)
    before = snapshot(provider)
    sent = driver.write(
        [
            Record("N-NEW", year=OPEN),
            Record("L-1", title="Renamed course"),
            Record("N-1", year=OPEN, title="Renamed course"),
        ]
    )
    second = FILE_FIRST_ROW[channel] + 1
    assert sent.errors == [(second, "reporting_year", LOCKED_RULE, locked_message(LOCKED))]
    assert snapshot(provider) == before  # all or nothing: the open year's rows too


def test_the_web_form_cannot_rename_an_activity_of_the_attested_year(
    provider: Provider, editor: User, attested: ProviderAccess, client_as: Any
) -> None:
    # A rename writes the record under its new ID and deletes the old one: here into
    # an open year, but the delete is still a change to the closed year.
    activity = _activity(provider, "L-1")
    assert activity is not None
    before = snapshot(provider)
    response = client_as(editor).post(
        reverse("activities:edit", args=[provider.provider_id, activity.pk]),
        course_form(
            provider_activity_id="L-1-RENAMED", start_date="2026-05-01", end_date="2026-05-02"
        ),
    )
    assert response.status_code == 400
    assert [i.error.rule for i in response.context["summary"]] == [LOCKED_RULE]
    assert snapshot(provider) == before


def test_the_program_summary_is_closed_in_the_api_until_reopened(
    provider: Provider, admin_user: User, staff: User, attested: ProviderAccess
) -> None:
    _, secret = create_api_key(provider=provider, created_by=admin_user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    summary = f"/api/v1/annual-reports/{LOCKED}/program-summary"
    body = json.dumps({**FIGURES, "registration_fees": "50000"})
    before = snapshot(provider)
    for response in (
        api.put(summary, body, content_type="application/json"),
        api.post(f"{summary}/complete"),
        api.post(
            f"/api/v1/annual-reports/{LOCKED}/attestation",
            json.dumps({"statement_version": 1}),
            content_type="application/json",
        ),
    ):
        assert response.status_code == 400
        assert response.json()["errors"] == [
            {"row": None, "field": "year", "rule": LOCKED_RULE, "message": locked_message(LOCKED)}
        ]
    assert snapshot(provider) == before
    # The open year's summary is still accepted.
    response = api.put(
        f"/api/v1/annual-reports/{OPEN}/program-summary",
        json.dumps(FIGURES),
        content_type="application/json",
    )
    assert response.status_code == 200
    reopen(provider, staff)
    response = api.put(summary, body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["registration_fees"] == "50000.00"
    # Still complete (all four figures entered): the administrator attests again.
    assert response.json()["stage"] == "ready_to_attest"
    response = api.post(
        f"/api/v1/annual-reports/{LOCKED}/attestation",
        json.dumps({"statement_version": 1}),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["stage"] == "attested"


def test_a_file_posted_to_the_upload_api_is_refused_too(
    provider: Provider, attested: ProviderAccess
) -> None:
    _, secret = create_api_key(provider=provider)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    before = snapshot(provider)
    content = _tsv([("upsert", Record("L-1", title="Renamed course"))])
    response = api.post("/api/v1/uploads", {"file": SimpleUploadedFile("a.txt", content)})
    assert response.status_code == 202
    status = api.get(response.json()["url"]).json()
    assert status["status"] == "rejected"
    assert status["errors"] == [
        {
            "row": 2,
            "field": "reporting_year",
            "rule": LOCKED_RULE,
            "message": locked_message(LOCKED),
            "record": "L-1",
            "column": "Reporting Year",
        }
    ]
    assert snapshot(provider) == before


@pytest.mark.parametrize("channel", ["tsv", "xlsx", "xml"])
def test_a_rejected_file_also_reports_its_rows_in_the_attested_year(
    channel: str, provider: Provider, editor: User, attested: ProviderAccess
) -> None:
    driver = channel_driver(channel, provider, editor)
    before = snapshot(provider)
    # Row 1 changes the closed year; row 2 is invalid (an ID over 100 characters).
    sent = driver.write([Record("L-1", title="Renamed course"), Record("X" * 101)])
    assert snapshot(provider) == before
    first = FILE_FIRST_ROW[channel]
    assert (first, "reporting_year", LOCKED_RULE, locked_message(LOCKED)) in sent.errors
