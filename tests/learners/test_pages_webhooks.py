"""The webhooks page of a provider's administrators: add (the secret shown once),
deactivate, delete; editors and read-only users may not, other providers get 404."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pars.accounts.models import User
from pars.learners.models import WebhookEndpoint
from pars.providers.models import Provider


def url(name: str, provider: Provider, **kwargs: Any) -> str:
    return reverse(name, kwargs={"provider_id": provider.provider_id, **kwargs})


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_an_administrator_adds_an_endpoint_and_sees_its_secret_once(
    client_as: Callable[[User], Client], provider: Provider, admin_user: User
) -> None:
    client = client_as(admin_user)
    hooks_url = url("learners:webhooks", provider)
    page = text(client.get(hooks_url))
    assert "No endpoints yet." in page
    response = client.post(
        hooks_url, {"url": "https://cme.example.org/pars-hook", "description": "CME tracker"}
    )
    body = text(response)
    endpoint = WebhookEndpoint.objects.get()
    assert response.status_code == 200
    assert endpoint.provider == provider
    assert endpoint.created_by == admin_user
    assert f'data-testid="webhook-secret">{endpoint.secret}</p>' in body
    assert "shown only this once" in body
    again = text(client.get(hooks_url))
    assert endpoint.secret not in again
    assert "https://cme.example.org/pars-hook" in again
    assert "CME tracker" in again
    assert "never" in again  # no success or failure yet


def test_the_list_shows_the_last_success_and_failure(
    client_as: Callable[[User], Client], provider: Provider, admin_user: User
) -> None:
    success = datetime.datetime(2026, 11, 20, 9, 30, tzinfo=datetime.UTC)
    failure = datetime.datetime(2026, 11, 26, 8, 0, tzinfo=datetime.UTC)
    WebhookEndpoint.objects.create(
        provider=provider,
        url="https://cme.example.org/hook",
        secret="s",
        last_success_at=success,
        last_failure_at=failure,
        last_error="HTTP 503 from the endpoint",
    )
    body = text(client_as(admin_user).get(url("learners:webhooks", provider)))
    assert f"Last success: {timezone.localtime(success):%m/%d/%Y %H:%M}" in body
    assert f"last failure: {timezone.localtime(failure):%m/%d/%Y %H:%M}" in body
    assert "HTTP 503 from the endpoint" in body


def test_an_address_pars_will_not_call_is_refused_on_the_field(
    client_as: Callable[[User], Client], provider: Provider, admin_user: User
) -> None:
    client = client_as(admin_user)
    for address, message in (
        ("not a url", "Enter a valid URL."),
        ("http://cme.example.org/hook", "Enter a full https:// address."),
        ("https://127.0.0.1/hook", "The address must be reachable on the internet."),
    ):
        response = client.post(url("learners:webhooks", provider), {"url": address})
        assert response.status_code == 400, address
        assert message in text(response)
    assert not WebhookEndpoint.objects.exists()


def test_deactivate_and_delete(
    client_as: Callable[[User], Client], provider: Provider, admin_user: User
) -> None:
    endpoint = WebhookEndpoint.objects.create(
        provider=provider, url="https://cme.example.org/hook", secret="s"
    )
    client = client_as(admin_user)
    deactivate = url("learners:webhook_deactivate", provider, pk=endpoint.pk)
    assert client.get(deactivate).status_code == 405
    response = client.post(deactivate, follow=True)
    assert "is deactivated" in text(response)
    assert "Inactive" in text(response)
    endpoint.refresh_from_db()
    assert not endpoint.active
    response = client.post(url("learners:webhook_delete", provider, pk=endpoint.pk), follow=True)
    assert "is deleted" in text(response)
    assert not WebhookEndpoint.objects.exists()


def test_editors_and_read_only_users_may_not_manage_webhooks(
    client_as: Callable[[User], Client], provider: Provider, editor: User, reader: User
) -> None:
    endpoint = WebhookEndpoint.objects.create(
        provider=provider, url="https://cme.example.org/hook", secret="s"
    )
    for user in (editor, reader):
        client = client_as(user)
        assert client.get(url("learners:webhooks", provider)).status_code == 403
        response = client.post(url("learners:webhooks", provider), {"url": "https://x.example"})
        assert response.status_code == 403
        for name in ("learners:webhook_deactivate", "learners:webhook_delete"):
            assert client.post(url(name, provider, pk=endpoint.pk)).status_code == 403
        nav = text(client.get(url("learners:list", provider)))
        assert "Webhooks" not in nav
    endpoint.refresh_from_db()
    assert endpoint.active
    assert WebhookEndpoint.objects.count() == 1


def test_another_providers_administrator_gets_404(
    client_as: Callable[[User], Client], provider: Provider, mallory: User
) -> None:
    endpoint = WebhookEndpoint.objects.create(
        provider=provider, url="https://cme.example.org/hook", secret="s"
    )
    client = client_as(mallory)
    assert client.get(url("learners:webhooks", provider)).status_code == 404
    for name in ("learners:webhook_deactivate", "learners:webhook_delete"):
        assert client.post(url(name, provider, pk=endpoint.pk)).status_code == 404
    own = mallory.memberships.get().provider
    for name in ("learners:webhook_deactivate", "learners:webhook_delete"):
        assert client.post(url(name, own, pk=endpoint.pk)).status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.active
