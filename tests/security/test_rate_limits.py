"""Rate limits (issue 7): the web service per API key and, without a valid key, per
client address; the login form per address. Over the limit: 429 with Retry-After."""

import time
from collections.abc import Iterator

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.providers.models import Provider
from pars.testing import TEST_PASSWORD

MIDDLEWARE = "pars.lib.ratelimit.RateLimitMiddleware"


def with_rate_limits(middleware: list[str]) -> list[str]:
    """The project's middleware with the rate limiter (after authentication), once."""
    if MIDDLEWARE in middleware:
        return list(middleware)
    at = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1
    return [*middleware[:at], MIDDLEWARE, *middleware[at:]]


@pytest.fixture(autouse=True)
def _rate_limited(settings: pytest.FixtureRequest) -> Iterator[None]:
    settings.MIDDLEWARE = with_rate_limits(settings.MIDDLEWARE)
    settings.RATELIMIT_ENABLE = True  # the suite may turn the limits off elsewhere
    cache.clear()
    # Counting windows are fixed (django-ratelimit): a frozen clock keeps a test
    # from straddling the end of one.
    with time_machine.travel(time.time(), tick=False):
        yield
    cache.clear()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def assert_too_many(response: object, *, period: int = 60) -> int:
    assert response.status_code == 429  # type: ignore[attr-defined]
    retry_after = int(response["Retry-After"])  # type: ignore[index]
    assert 1 <= retry_after <= period
    return retry_after


def test_the_api_is_limited_per_key(provider: Provider, settings) -> None:
    settings.PARS_API_RATE = "3/m"
    _, token = create_api_key(provider=provider)
    _, other_token = create_api_key(provider=provider)
    client = Client()
    for _ in range(3):
        assert client.get("/api/v1/provider", **bearer(token)).status_code == 200
    response = client.get("/api/v1/provider", **bearer(token))
    assert_too_many(response)
    assert response["Content-Type"] == "application/json"
    assert "retry in" in response.json()["detail"]
    # Another key (even of the same provider, from the same address) has its own budget.
    assert client.get("/api/v1/provider", **bearer(other_token)).status_code == 200


def test_calls_without_a_valid_key_are_limited_per_address(provider: Provider, settings) -> None:
    settings.PARS_API_ANON_RATE = "3/m"
    _, token = create_api_key(provider=provider)
    here = Client(REMOTE_ADDR="203.0.113.5")
    assert here.get("/api/v1/provider").status_code == 401
    assert here.get("/api/v1/provider", **bearer("pars_aaaa_guess1")).status_code == 401
    assert here.get("/api/v1/provider", **bearer(token[:-2] + "xx")).status_code == 401
    response = here.get("/api/v1/provider", **bearer("pars_bbbb_guess2"))
    assert_too_many(response)
    assert "detail" in response.json()
    # A valid key from the same address is counted per key, not per address.
    assert here.get("/api/v1/provider", **bearer(token)).status_code == 200
    # Another address has its own budget.
    assert Client(REMOTE_ADDR="203.0.113.6").get("/api/v1/provider").status_code == 401


def test_login_attempts_are_limited_per_address(admin_user: User, settings) -> None:
    settings.PARS_LOGIN_RATE = "3/m"
    login = reverse("accounts:login")
    client = Client(REMOTE_ADDR="198.51.100.7")
    # Different emails each time: axes' lockout (per email + address) does not trigger.
    for n in range(3):
        response = client.post(login, {"username": f"who{n}@example.org", "password": "nope"})
        assert response.status_code == 200
    response = client.post(login, {"username": admin_user.email, "password": TEST_PASSWORD})
    assert_too_many(response)
    assert response["Content-Type"].startswith("text/html")
    assert "Too many login attempts" in response.text
    assert "_auth_user_id" not in client.session  # the right password did not get in
    assert client.get(login).status_code == 200  # showing the form is not an attempt
    other = Client(REMOTE_ADDR="198.51.100.8")
    response = other.post(login, {"username": admin_user.email, "password": TEST_PASSWORD})
    assert response.status_code == 302


def test_retry_after_is_when_the_window_ends(provider: Provider, settings) -> None:
    settings.PARS_API_RATE = "1/10s"
    _, token = create_api_key(provider=provider)
    client = Client()
    assert client.get("/api/v1/provider", **bearer(token)).status_code == 200
    assert_too_many(client.get("/api/v1/provider", **bearer(token)), period=10)


def test_an_empty_rate_turns_a_limit_off(provider: Provider, settings) -> None:
    settings.PARS_API_RATE = ""
    _, token = create_api_key(provider=provider)
    client = Client()
    for _ in range(5):
        assert client.get("/api/v1/provider", **bearer(token)).status_code == 200


def test_the_defaults_allow_ordinary_use(provider: Provider) -> None:
    _, token = create_api_key(provider=provider)
    client = Client()
    for _ in range(20):
        assert client.get("/api/v1/provider", **bearer(token)).status_code == 200
