"""Webhooks, issue 15 point 9: "Send test event" (page button and API call) delivers a signed
``webhook.test`` event through the task worker to a real local receiver, and each endpoint
shows its last delivery's outcome ("200 OK", "500 Internal Server Error", "connection
refused") on the page and in the API; other providers get 404, read-only users 403."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from pars.accounts.models import User
from pars.learners import webhooks
from pars.learners.models import WebhookDelivery, WebhookEndpoint
from pars.providers.models import Provider
from tests.learners.test_api import Api
from tests.support.delivery import Received, http_stub, later

Capture = DjangoCaptureOnCommitCallbacks


@pytest.fixture(autouse=True)
def allow_http(settings: Settings) -> None:
    settings.PARS_WEBHOOK_ALLOW_HTTP = True  # the receiver is a local http server


@pytest.fixture
def api(provider: Provider) -> Api:
    return Api(provider)


def page_url(name: str, provider: Provider, **kwargs: Any) -> str:
    return reverse(name, kwargs={"provider_id": provider.provider_id, **kwargs})


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def endpoint_at(provider: Provider, url: str) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(provider=provider, url=url, secret="whsec_test-secret")


def refused_url() -> str:
    """An address on this machine where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def assert_signed_test_event(received: Received, endpoint: WebhookEndpoint) -> dict[str, Any]:
    """The receiver got a webhook.test event, signed with the endpoint's secret, naming
    no record and no person."""
    signature = received.header("X-PARS-Signature")
    assert signature is not None
    assert webhooks.verify_signature(endpoint.secret, signature, received.body)
    assert not webhooks.verify_signature("whsec_other", signature, received.body)
    body = received.json()
    assert received.method == "POST"
    assert received.header("X-PARS-Event-Id") == body["id"]
    assert body["type"] == "webhook.test"
    assert body["provider_id"] == endpoint.provider.provider_id
    assert body["data"] == {
        "test": True,
        "endpoint_id": endpoint.pk,
        "message": "A test event PARS sent on request: no record changed.",
    }
    assert set(body) == {"id", "type", "occurred_at", "provider_id", "data"}
    return body


def local(value: Any) -> str:
    return f"{timezone.localtime(value):%m/%d/%Y %H:%M}"


# ---------------------------------------------------------------------------
# The page's button


def test_the_button_delivers_a_signed_test_event_and_the_page_shows_200_ok(
    client_as: Callable[[User], Client],
    provider: Provider,
    admin_user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    client = client_as(admin_user)
    with http_stub(default=(200, {})) as stub:
        endpoint = endpoint_at(provider, stub.url + "/pars-hook")
        page = text(client.get(page_url("learners:webhooks", provider)))
        assert "No delivery yet" in page
        assert '<button type="submit" data-testid="webhook-test">Send test event</button>' in page
        with django_capture_on_commit_callbacks(execute=True):
            posted = client.post(page_url("learners:webhook_test", provider, pk=endpoint.pk))
        assert posted.status_code == 302
        response = client.get(posted["Location"])  # the worker has sent it by now
    (received,) = stub.received
    assert received.path == "/pars-hook"
    assert_signed_test_event(received, endpoint)
    endpoint.refresh_from_db()
    assert (endpoint.last_status_code, endpoint.last_outcome) == (200, "200 OK")
    body = text(response)
    assert f"A test event is queued for {endpoint.url}" in body
    assert f"Last delivery: 200 OK, {local(endpoint.last_attempt_at)}" in body
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


def test_the_button_needs_the_pages_csrf_token(
    provider: Provider, admin_user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    from tests.conftest import log_in_verified

    client = Client(enforce_csrf_checks=True)
    log_in_verified(client, admin_user)
    with http_stub() as stub:
        endpoint = endpoint_at(provider, stub.url)
        test_url = page_url("learners:webhook_test", provider, pk=endpoint.pk)
        assert client.post(test_url).status_code == 403  # no token
        assert stub.received == []
        page = client.get(page_url("learners:webhooks", provider)).content.decode()
        form = re.search(
            rf'action="{re.escape(test_url)}".*?name="csrfmiddlewaretoken" value="([^"]+)"', page
        )
        assert form is not None, "the button's form carries a CSRF token"
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(test_url, {"csrfmiddlewaretoken": form.group(1)})
    assert response.status_code == 302
    assert len(stub.received) == 1


def test_a_500_and_a_refused_connection_show_as_failures_on_the_page(
    client_as: Callable[[User], Client],
    provider: Provider,
    admin_user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    client = client_as(admin_user)
    refused = endpoint_at(provider, refused_url())
    with http_stub(default=(500, {"error": "boom"})) as stub:
        failing = endpoint_at(provider, stub.url + "/hook")
        for endpoint in (failing, refused):
            with django_capture_on_commit_callbacks(execute=True):
                client.post(page_url("learners:webhook_test", provider, pk=endpoint.pk))
        page = text(client.get(page_url("learners:webhooks", provider)))
    failing.refresh_from_db()
    refused.refresh_from_db()
    assert len(stub.received) == 1
    assert (
        f"Last delivery failed: 500 Internal Server Error, {local(failing.last_attempt_at)}" in page
    )
    assert f"Last delivery failed: connection refused, {local(refused.last_attempt_at)}" in page
    assert "Last delivery: " not in page
    # Retried as every notification: pending, with its next attempt set.
    for delivery in WebhookDelivery.objects.all():
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert delivery.next_attempt_at is not None


def test_a_failed_test_event_is_retried_and_its_success_replaces_the_failure(
    client_as: Callable[[User], Client],
    provider: Provider,
    admin_user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    client = client_as(admin_user)
    with http_stub((503, {}), default=(204, None)) as stub:
        endpoint = endpoint_at(provider, stub.url)
        with django_capture_on_commit_callbacks(execute=True):
            client.post(page_url("learners:webhook_test", provider, pk=endpoint.pk))
        assert "Last delivery failed: 503 Service Unavailable" in text(
            client.get(page_url("learners:webhooks", provider))
        )
        with later(minutes=2):
            assert webhooks.send_due_webhooks() == 1
    first, retry = stub.received
    assert first.body == retry.body  # the same event, signed again
    assert_signed_test_event(retry, endpoint)
    page = text(client.get(page_url("learners:webhooks", provider)))
    assert "Last delivery: 204 No Content" in page


def test_a_new_test_event_gives_up_the_one_still_waiting_for_a_retry(
    client_as: Callable[[User], Client],
    provider: Provider,
    admin_user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    client = client_as(admin_user)
    with http_stub((500, {}), default=(200, {})) as stub:
        endpoint = endpoint_at(provider, stub.url)
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                client.post(page_url("learners:webhook_test", provider, pk=endpoint.pk))
        assert webhooks.send_due_webhooks() == 0
        with later(hours=1):
            assert webhooks.send_due_webhooks() == 0  # nothing left to retry
    assert len(stub.received) == 2
    first, second = WebhookDelivery.objects.order_by("pk")
    assert (first.status, first.last_error) == ("failed", "A newer test event replaced it.")
    assert second.status == "delivered"


def test_an_inactive_endpoint_has_no_button_and_is_not_called(
    client_as: Callable[[User], Client],
    provider: Provider,
    admin_user: User,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    client = client_as(admin_user)
    with http_stub() as stub:
        endpoint = endpoint_at(provider, stub.url)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
        page = text(client.get(page_url("learners:webhooks", provider)))
        assert "Inactive" in page
        assert 'data-testid="webhook-test"' not in page
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                page_url("learners:webhook_test", provider, pk=endpoint.pk), follow=True
            )
    assert "This endpoint is deactivated: PARS does not call it." in text(response)
    assert stub.received == []
    assert not WebhookDelivery.objects.exists()


def test_editors_and_read_only_users_get_403_on_the_button(
    client_as: Callable[[User], Client], provider: Provider, editor: User, reader: User
) -> None:
    with http_stub() as stub:
        endpoint = endpoint_at(provider, stub.url)
        for user in (reader, editor):  # the page's other actions are administrators' too
            response = client_as(user).post(
                page_url("learners:webhook_test", provider, pk=endpoint.pk)
            )
            assert response.status_code == 403, user
    assert stub.received == []
    assert not WebhookDelivery.objects.exists()


def test_another_providers_administrator_gets_404_on_the_button(
    client_as: Callable[[User], Client], provider: Provider, mallory: User
) -> None:
    with http_stub() as stub:
        endpoint = endpoint_at(provider, stub.url)
        client = client_as(mallory)
        own = mallory.memberships.get().provider
        for owner in (provider, own):
            response = client.post(page_url("learners:webhook_test", owner, pk=endpoint.pk))
            assert response.status_code == 404, owner
    assert stub.received == []
    assert not WebhookDelivery.objects.exists()


# ---------------------------------------------------------------------------
# The API call


def test_the_api_call_answers_202_with_the_event_it_delivers(
    provider: Provider, api: Api, django_capture_on_commit_callbacks: Capture
) -> None:
    with http_stub(default=(200, {})) as stub:
        endpoint = endpoint_at(provider, stub.url + "/hook")
        before = api.get("/webhooks").json()[0]
        assert (before["last_attempt_at"], before["last_status_code"], before["last_outcome"]) == (
            None,
            None,
            "",
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(f"/webhooks/{endpoint.pk}/test")
    assert response.status_code == 202, response.content
    answer = response.json()
    (received,) = stub.received
    body = assert_signed_test_event(received, endpoint)
    assert answer == {
        "endpoint_id": endpoint.pk,
        "event_id": body["id"],
        "type": "webhook.test",
        "event": body,
    }
    (listed,) = api.get("/webhooks").json()
    endpoint.refresh_from_db()
    assert listed["last_status_code"] == 200
    assert listed["last_outcome"] == "200 OK"
    assert endpoint.last_attempt_at is not None
    assert listed["last_attempt_at"] == endpoint.last_attempt_at.isoformat()


def test_the_api_shows_a_500_and_a_refused_connection(
    provider: Provider, api: Api, django_capture_on_commit_callbacks: Capture
) -> None:
    refused = endpoint_at(provider, refused_url())
    with http_stub(default=(500, {})) as stub:
        failing = endpoint_at(provider, stub.url)
        for endpoint in (failing, refused):
            with django_capture_on_commit_callbacks(execute=True):
                assert api.post(f"/webhooks/{endpoint.pk}/test").status_code == 202
    outcomes = {
        row["id"]: (row["last_status_code"], row["last_outcome"])
        for row in api.get("/webhooks").json()
    }
    assert outcomes == {
        failing.pk: (500, "500 Internal Server Error"),
        refused.pk: (None, "connection refused"),
    }
    assert len(stub.received) == 1


def test_the_api_refuses_an_inactive_endpoint_and_another_providers_one(
    provider: Provider,
    other_provider: Provider,
    api: Api,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    with http_stub() as stub:
        theirs = endpoint_at(other_provider, stub.url + "/theirs")
        inactive = endpoint_at(provider, stub.url + "/inactive")
        WebhookEndpoint.objects.filter(pk=inactive.pk).update(active=False)
        with django_capture_on_commit_callbacks(execute=True):
            other = api.post(f"/webhooks/{theirs.pk}/test")
            refused = api.post(f"/webhooks/{inactive.pk}/test")
    assert other.status_code == 404
    assert other.json()["errors"][0]["rule"] == "api.not_found"
    assert refused.status_code == 400
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("endpoint_id", "webhook.endpoint.inactive")
    ]
    assert stub.received == []
    assert not WebhookDelivery.objects.exists()


def test_the_openapi_document_describes_the_call_and_the_last_delivery_fields(db: None) -> None:
    description = Client().get("/api/v1/openapi.json").json()
    operation = description["paths"]["/api/v1/webhooks/{endpoint_id}/test"]["post"]
    assert {"202", "400", "401", "404"} <= set(operation["responses"])
    schemas = description["components"]["schemas"]
    fields = schemas["Webhook"]["properties"]
    for name in ("last_attempt_at", "last_status_code", "last_outcome"):
        assert fields[name]["description"], name
        assert name in schemas["Webhook"]["required"]
    assert set(schemas["WebhookTest"]["properties"]) == {
        "endpoint_id",
        "event_id",
        "type",
        "event",
    }
