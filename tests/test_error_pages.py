"""Refusals and failures get the site's page (navigation, plain words, a way back), never
Django's bare "403 Forbidden" or "Not Found"; the web service keeps its JSON shape."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, reverse

from pars.accounts.models import User
from pars.lib import error_pages
from pars.providers.models import Provider
from pars.testing import make_activity

pytestmark = pytest.mark.django_db


def assert_site_page(response: object, status: int, heading: str) -> str:
    assert response.status_code == status  # type: ignore[attr-defined]
    html = response.content.decode()  # type: ignore[attr-defined]
    assert f"<h1>{heading}</h1>" in html
    assert 'aria-label="Main"' in html  # the site's navigation
    assert "Go back" in html
    assert "PARS home" in html
    return html


def test_an_unknown_page_is_the_sites_404(
    client_as: Callable[[User], Client], editor: User, provider: Provider
) -> None:
    html = assert_site_page(
        client_as(editor).get(f"/providers/{provider.provider_id}/nothing-here/"),
        404,
        "Page not found",
    )
    assert editor.email in html  # the signed-in user's menu


def test_another_providers_record_is_the_same_404(
    client_as: Callable[[User], Client], mallory: User, provider: Provider
) -> None:
    activity = make_activity(provider)
    url = reverse("activities:detail", args=[provider.provider_id, activity.pk])
    html = assert_site_page(client_as(mallory).get(url), 404, "Page not found")
    assert activity.title not in html


def test_a_refused_action_is_the_sites_403(
    client_as: Callable[[User], Client], reader: User, provider: Provider
) -> None:
    response = client_as(reader).get(reverse("activities:new", args=[provider.provider_id]))
    assert_site_page(response, 403, "You do not have access to this page")


def test_an_expired_form_says_so(admin_user: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = client.post(reverse("accounts:logout"))
    html = assert_site_page(response, 403, "This form has expired")
    assert "Forbidden" not in html


def test_go_back_returns_to_the_page_the_user_came_from_on_this_site(
    client_as: Callable[[User], Client], editor: User, provider: Provider
) -> None:
    client = client_as(editor)
    came_from = reverse("activities:list", args=[provider.provider_id])
    here = client.get("/nowhere/", HTTP_REFERER=f"http://testserver{came_from}?year=2026")
    assert f'href="{came_from}?year=2026"' in here.content.decode()
    elsewhere = client.get("/nowhere/", HTTP_REFERER="https://evil.example/phish")
    assert "evil.example" not in elsewhere.content.decode()
    assert 'href="/" role="button">Go back' in elsewhere.content.decode()


def test_a_bad_request_names_the_problem(client_as: Callable[[User], Client], staff: User) -> None:
    provider = Provider.objects.create(provider_id="0004321", name="Lakeside CME")
    url = reverse("review:package", args=[provider.provider_id]) + "?start=someday"
    html = assert_site_page(client_as(staff).get(url), 400, "This review period cannot be shown")
    assert "start must be a date like 2024-01-31." in html


def test_a_server_error_page_needs_no_database() -> None:
    assert get_resolver().resolve_error_handler(500) is error_pages.server_error
    request = RequestFactory().get("/providers/0001234/activities/")
    with CaptureQueriesContext(connection) as queries:
        response = error_pages.server_error(request)
    assert queries.captured_queries == []
    assert_site_page(response, 500, "Something went wrong on our side")


def test_the_web_service_keeps_its_json_errors(client: Client) -> None:
    response = client.get("/api/v1/no-such-operation")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["rule"]
