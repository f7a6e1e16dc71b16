from collections.abc import Callable, Iterator

import pytest
from django.test import Client
from playwright.sync_api import Browser, sync_playwright
from pytest_django import Settings

from pars.accounts import key_check
from pars.accounts.models import Role, User
from pars.providers.models import Provider
from pars.testing import make_member, make_provider, make_user
from tests.support.browser import give_authenticator, launch_chromium


@pytest.fixture(autouse=True)
def _immediate_tasks(settings: Settings) -> None:
    # Tests run tasks in-process; the worker path has its own test.
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_rate_limits(settings: Settings) -> None:
    # The limits count in the cache across tests; tests/security turns them on itself.
    settings.RATELIMIT_ENABLE = False


@pytest.fixture(autouse=True)
def _no_remembered_keys() -> Iterator[None]:
    # Verified API keys are remembered per process (pars.accounts.key_check): per test here.
    key_check.forget_all()
    yield
    key_check.forget_all()


@pytest.fixture(autouse=True)
def _reference_data(request: pytest.FixtureRequest) -> None:
    """Rows the migrations seed (recipients, self-studies): a transactional test's flush
    removes them, so every test that uses the database finds them again."""
    uses_db = request.node.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not uses_db:
        return
    from pars.learners.models import Recipient
    from pars.learners.seed import seed_recipients

    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    if not Recipient.objects.exists():
        seed_recipients()
    from django.apps import apps

    from pars.accreditation.models import SelfStudyTemplate
    from pars.accreditation.seed import seed_self_studies

    if not SelfStudyTemplate.objects.exists():
        seed_self_studies(apps)


@pytest.fixture
def provider(db: None) -> Provider:
    return make_provider(name="Riverside Health", provider_id="0001234")


@pytest.fixture
def other_provider(db: None) -> Provider:
    return make_provider(name="Elsewhere Medical", provider_id="0009999")


@pytest.fixture
def admin_user(provider: Provider) -> User:
    return make_member(provider, Role.ADMIN, email="alice@riverside.example")


@pytest.fixture
def editor(provider: Provider) -> User:
    return make_member(provider, Role.EDITOR, email="eddie@riverside.example")


@pytest.fixture
def reader(provider: Provider) -> User:
    return make_member(provider, Role.READONLY, email="rita@riverside.example")


@pytest.fixture
def mallory(other_provider: Provider) -> User:
    """Administrator of another provider: must never see the first provider's data."""
    return make_member(other_provider, Role.ADMIN, email="mallory@elsewhere.example")


@pytest.fixture
def staff(db: None) -> User:
    return make_user("staff@accreditor.example", is_staff=True, is_superuser=True)


@pytest.fixture
def client_as() -> Callable[[User], Client]:
    """A client signed in as the user, past the two-factor step (required for staff)."""

    def login(user: User) -> Client:
        client = Client()
        log_in_verified(client, user)
        return client

    return login


def log_in_verified(client: Client, user: User) -> None:
    """Sign the client in as a user who has an authenticator and entered its code."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = give_authenticator(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture(autouse=True)
def _local_cache(settings: Settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    cache.clear()  # no counts (rate limits) carried over from an earlier test


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """Debian's chromium, for the browser tests (launched only when a test asks)."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls made
    # here while it runs are still synchronous, so Django may allow them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        try:
            yield launched
        finally:
            launched.close()
