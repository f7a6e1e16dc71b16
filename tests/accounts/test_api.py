"""The web service: API keys, scoping to one provider, the OpenAPI description."""

from collections.abc import Callable
from typing import Any

from django.test import Client
from django.urls import reverse

from pars.accounts.models import ApiKey, User
from pars.accounts.services import create_api_key
from pars.providers.models import Provider
from pars.testing import make_activity


def _bearer(secret: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def test_a_key_reads_its_own_providers_activities(provider: Provider) -> None:
    make_activity(provider, provider_activity_id="RUHS-1", reporting_year=2026)
    make_activity(provider, provider_activity_id="RUHS-0", reporting_year=2025)
    _, secret = create_api_key(provider=provider)
    client = Client()
    response = client.get("/api/v1/provider", **_bearer(secret))
    assert response.json()["provider_id"] == "0001234"
    response = client.get("/api/v1/activities", {"year": 2026}, **_bearer(secret))
    assert [a["provider_activity_id"] for a in response.json()] == ["RUHS-1"]
    response = client.get("/api/v1/activities/RUHS-0", **_bearer(secret))
    assert response.json()["reporting_year"] == 2025


def test_another_providers_activity_is_not_found(
    provider: Provider, other_provider: Provider
) -> None:
    make_activity(provider, provider_activity_id="SECRET-1")
    _, other_secret = create_api_key(provider=other_provider)
    response = Client().get("/api/v1/activities/SECRET-1", **_bearer(other_secret))
    assert response.status_code == 404
    listing = Client().get("/api/v1/activities", **_bearer(other_secret))
    assert listing.json() == []


def test_missing_wrong_and_revoked_keys_are_refused(provider: Provider) -> None:
    key, secret = create_api_key(provider=provider)
    client = Client()
    assert client.get("/api/v1/provider").status_code == 401
    assert client.get("/api/v1/provider", **_bearer(secret[:-2] + "xx")).status_code == 401
    assert client.get("/api/v1/provider", **_bearer("pars_nothing_here")).status_code == 401
    assert client.get("/api/v1/provider", **_bearer(secret)).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    from pars.accounts.services import revoke_api_key

    revoke_api_key(key)
    assert client.get("/api/v1/provider", **_bearer(secret)).status_code == 401


def test_keys_are_stored_hashed_and_shown_once(
    provider: Provider, admin_user: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(admin_user)
    response = client.post(reverse("accounts:api_keys", args=["0001234"]), {"name": "sync"})
    secret = response.context["new_key"]
    assert secret in response.text
    key = ApiKey.objects.get()
    assert secret not in (key.secret_hash, key.prefix)
    assert secret.startswith(f"pars_{key.prefix}_")
    assert secret not in client.get(reverse("accounts:api_keys", args=["0001234"])).text
    assert Client().get("/api/v1/provider", **_bearer(secret)).status_code == 200
    client.post(reverse("accounts:api_key_revoke", args=["0001234", key.pk]))
    assert Client().get("/api/v1/provider", **_bearer(secret)).status_code == 401


def test_openapi_description_is_served_with_bearer_security(db: None) -> None:
    spec = Client().get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/activities/{provider_activity_id}" in spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert any(scheme.get("scheme") == "bearer" for scheme in schemes.values())
    docs = Client().get("/api/v1/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower()
