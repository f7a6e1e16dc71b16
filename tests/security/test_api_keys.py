"""API keys (issue 7): shown once, stored hashed, scoped to one provider, revocable at
once, with a last-used time written at most once a minute."""

import hashlib
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pars.accounts.models import ApiKey, User
from pars.accounts.services import create_api_key
from pars.providers.models import Provider
from pars.testing import make_activity


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def keys_page(provider: Provider) -> str:
    return reverse("accounts:api_keys", args=[provider.provider_id])


def test_the_secret_is_shown_only_in_the_answer_that_creates_the_key(
    admin_user: User, client_as: Callable[[User], Client], keys_page: str
) -> None:
    client = client_as(admin_user)
    created = client.post(keys_page, {"name": "CME tracker"})
    token = created.context["new_key"]
    assert token in created.text
    later = client.get(keys_page)
    assert later.status_code == 200
    assert token not in later.text
    secret = token.split("_", 2)[2]
    assert secret not in later.text
    assert ApiKey.objects.get().prefix in later.text  # the key is listed by its prefix


def test_the_database_never_holds_the_secret(provider: Provider) -> None:
    key, token = create_api_key(provider=provider, name="sync")
    secret = token.split("_", 2)[2]
    assert Client().get("/api/v1/provider", **bearer(token)).status_code == 200
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)  # every table
    assert secret not in dump.getvalue()
    assert token not in dump.getvalue()
    key.refresh_from_db()
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_a_key_reaches_only_its_own_provider(provider: Provider, other_provider: Provider) -> None:
    make_activity(provider, provider_activity_id="MINE-1")
    _, token = create_api_key(provider=provider)
    _, other_token = create_api_key(provider=other_provider)
    assert Client().get("/api/v1/activities/MINE-1", **bearer(token)).status_code == 200
    response = Client().get("/api/v1/activities/MINE-1", **bearer(other_token))
    assert response.status_code == 404
    assert Client().get("/api/v1/provider", **bearer(other_token)).json()["provider_id"] == (
        other_provider.provider_id
    )
    assert Client().get("/api/v1/activities", **bearer(other_token)).json() == []


def test_a_revoked_key_is_refused_at_once(
    provider: Provider,
    admin_user: User,
    client_as: Callable[[User], Client],
    keys_page: str,
) -> None:
    key, token = create_api_key(provider=provider)
    api = Client()
    assert api.get("/api/v1/provider", **bearer(token)).status_code == 200
    client_as(admin_user).post(
        reverse("accounts:api_key_revoke", args=[provider.provider_id, key.pk])
    )
    key.refresh_from_db()
    assert key.revoked_at is not None
    response = api.get("/api/v1/provider", **bearer(token))
    assert response.status_code == 401
    assert api.get("/api/v1/activities", **bearer(token)).status_code == 401


@pytest.mark.parametrize(
    "token",
    ["", "pars_", "pars__", "nonsense", "pars_abc_def", "Basic dXNlcjpwYXNz"],
)
def test_malformed_and_unknown_tokens_are_refused(db: None, token: str) -> None:
    assert Client().get("/api/v1/provider", **bearer(token)).status_code == 401


def test_a_wrong_secret_with_a_real_prefix_is_refused(provider: Provider) -> None:
    _, token = create_api_key(provider=provider)
    assert Client().get("/api/v1/provider", **bearer(token[:-3] + "abc")).status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(provider: Provider) -> None:
    key, token = create_api_key(provider=provider)
    assert key.last_used_at is None
    api = Client()
    assert api.get("/api/v1/provider", **bearer(token)).status_code == 200
    key.refresh_from_db()
    first = key.last_used_at
    assert first is not None
    assert timezone.now() - first < timedelta(seconds=10)

    with CaptureQueriesContext(connection) as queries:
        assert api.get("/api/v1/provider", **bearer(token)).status_code == 200
    writes = [q["sql"] for q in queries if q["sql"].upper().startswith("UPDATE")]
    assert not [sql for sql in writes if "apikey" in sql.lower()]
    key.refresh_from_db()
    assert key.last_used_at == first

    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    assert api.get("/api/v1/provider", **bearer(token)).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert timezone.now() - key.last_used_at < timedelta(seconds=10)


def test_a_refused_key_does_not_touch_last_used(provider: Provider) -> None:
    key, token = create_api_key(provider=provider)
    Client().get("/api/v1/provider", **bearer(token[:-3] + "abc"))
    key.refresh_from_db()
    assert key.last_used_at is None
