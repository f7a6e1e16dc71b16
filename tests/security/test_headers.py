"""Response headers (issue 11, point 10): nothing Django answers is stored by a browser or
a proxy (``Cache-Control: no-store``), while static files stay cacheable; every response
says which browser features are off (``Permissions-Policy``); every download is an
attachment, never shown inline."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.lib.headers import SecurityHeadersMiddleware
from pars.providers.models import Provider
from pars.reporting.models import ReportingYear
from pars.testing import make_activity

pytestmark = pytest.mark.django_db

YEAR = 2026


def _no_store(response: object) -> bool:
    return "no-store" in response.get("Cache-Control", "")  # type: ignore[attr-defined]


def test_personal_data_is_not_stored_by_caches(
    provider: Provider, admin_user: User, staff: User, client_as: Callable[[User], Client]
) -> None:
    make_activity(provider)
    ReportingYear.objects.create(year=YEAR, deadline=datetime.date(YEAR + 1, 3, 31))
    pid = provider.provider_id
    member = client_as(admin_user)
    pages = {
        "learners": member.get(reverse("learners:list", args=[pid])),
        "activities": member.get(reverse("activities:list", args=[pid])),
        "users": member.get(reverse("accounts:member_list", args=[pid])),
        "activity XML export": member.get(reverse("activities:export_xml", args=[pid])),
        "template download": member.get(reverse("uploads:template", args=[pid])),
        "data report CSV": client_as(staff).get(
            reverse("datareports:data_report_csv", args=[YEAR])
        ),
        "staff learners": client_as(staff).get(reverse("learners:staff_list", args=[pid])),
        "login page": Client().get(reverse("accounts:login")),
    }
    _, token = create_api_key(provider=provider)
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for path in ("/api/v1/learner-completions", "/api/v1/activities", "/api/v1/provider"):
        pages[path] = Client().get(path, **auth)
    pages["API refusal"] = Client().get("/api/v1/learner-completions")
    statuses = {name: response.status_code for name, response in pages.items()}
    assert statuses == {**dict.fromkeys(pages, 200), "API refusal": 401}
    assert [name for name, response in pages.items() if not _no_store(response)] == []


def test_a_response_that_sets_its_own_cache_control_keeps_it() -> None:
    def view(request: object) -> HttpResponse:
        response = HttpResponse("public figures")
        response["Cache-Control"] = "private, max-age=60"
        return response

    response = SecurityHeadersMiddleware(view)(RequestFactory().get("/rules/activities/"))
    assert response["Cache-Control"] == "private, max-age=60"


def test_static_files_stay_cacheable() -> None:
    response = Client().get("/static/pars/pars.css")
    assert response.status_code == 200
    assert not _no_store(response)
    assert "max-age" in response["Cache-Control"]
    assert "camera=()" in response["Permissions-Policy"]


def test_every_response_turns_off_powerful_browser_features(
    provider: Provider, admin_user: User, client_as: Callable[[User], Client]
) -> None:
    responses = [
        Client().get(reverse("accounts:login")),
        Client().get("/api/v1/provider"),
        Client().get("/no/such/page/"),
        client_as(admin_user).get(reverse("reporting:dashboard", args=[provider.provider_id])),
    ]
    for response in responses:
        policy = response["Permissions-Policy"]
        for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
            assert f"{feature}=()" in policy


@pytest.mark.parametrize(
    ("url_name", "args", "filename"),
    [
        ("datareports:data_report_csv", [YEAR], f"data-report-{YEAR}.csv"),
        ("datareports:data_report_xlsx", [YEAR], f"data-report-{YEAR}.xlsx"),
        ("datareports:rems_xlsx", [YEAR], f"rems-report-{YEAR}.xlsx"),
        ("datareports:rems_csv", [YEAR, "activities"], f"rems-report-{YEAR}-activities.csv"),
        ("datareports:rems_csv", [YEAR, "learners"], f"rems-report-{YEAR}-learners.csv"),
    ],
)
def test_reports_are_downloaded_not_shown(
    staff: User, client_as: Callable[[User], Client], url_name: str, args: list, filename: str
) -> None:
    ReportingYear.objects.create(year=YEAR, deadline=datetime.date(YEAR + 1, 3, 31))
    response = client_as(staff).get(reverse(url_name, args=args))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert _no_store(response)
