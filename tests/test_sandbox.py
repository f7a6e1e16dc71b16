"""A sandbox per provider: test keys, the environment header, the sandbox page, and
sandbox data kept out of every cross-provider report and list."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from pars.accounts.models import ApiKey, Role, User
from pars.accounts.services import create_api_key, revoke_api_key
from pars.activities.models import Activity, ActivityStatus, CommercialSupport
from pars.activities.sandbox import create_sandbox, reset_sandbox
from pars.datareports.data_report import data_report
from pars.datareports.rems_report import rems_registrations
from pars.datareports.research import activity_counts
from pars.learners.models import ActivityRegistration
from pars.providers.models import Provider
from pars.testing import course_json, make_activity, make_member, make_provider, register


def bearer(token: str) -> dict[str, Any]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def live(db: None) -> Provider:
    return make_provider(name="Live Clinic", provider_id="0000123")


@pytest.fixture
def sandbox(live: Provider) -> Provider:
    return create_sandbox(live)


def test_a_test_key_acts_on_the_sandbox_and_a_live_key_on_the_live_provider(
    live: Provider, sandbox: Provider
) -> None:
    make_activity(live, provider_activity_id="LIVE-1")
    _, live_key = create_api_key(provider=live)
    _, test_key = create_api_key(provider=sandbox)
    assert test_key.startswith("pars_test_")
    assert not live_key.startswith("pars_test_")
    client = Client()
    url = reverse("api-v1:activities")
    created = client.post(
        url, course_json(provider_activity_id="SBX-1"), "application/json", **bearer(test_key)
    )
    assert created.status_code == 201, created.content
    assert created["X-PARS-Environment"] == "sandbox"
    assert list(Activity.objects.filter(provider=sandbox).values_list("provider_activity_id"))
    assert not Activity.objects.filter(provider=live, provider_activity_id="SBX-1").exists()
    sandbox_list = client.get(url, **bearer(test_key))
    assert "SBX-1" in sandbox_list.text
    assert "LIVE-1" not in sandbox_list.text
    live_list = client.get(url, **bearer(live_key))
    assert live_list["X-PARS-Environment"] == "live"
    assert "LIVE-1" in live_list.text
    assert "SBX-1" not in live_list.text
    one = reverse("api-v1:activity", kwargs={"provider_activity_id": "LIVE-1"})
    assert client.get(one, **bearer(test_key)).status_code == 404


def test_a_key_works_only_in_the_form_of_its_environment(live: Provider, sandbox: Provider) -> None:
    """A test key presented as a live one (or the reverse) is refused: the header and
    the `pars_test_` mark can always be trusted."""
    _, live_key = create_api_key(provider=live)
    _, test_key = create_api_key(provider=sandbox)
    client = Client()
    url = reverse("api-v1:activities")
    as_test = live_key.replace("pars_", "pars_test_", 1)
    as_live = test_key.replace("pars_test_", "pars_", 1)
    for token in (as_test, as_live):
        assert client.get(url, **bearer(token)).status_code == 401


def test_a_revoked_test_key_is_refused_at_once(sandbox: Provider) -> None:
    key, test_key = create_api_key(provider=sandbox)
    client = Client()
    url = reverse("api-v1:activities")
    assert client.get(url, **bearer(test_key)).status_code == 200
    revoke_api_key(key)
    assert client.get(url, **bearer(test_key)).status_code == 401


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/api/v1/openapi.json", None),
        ("/api/v1/activities", None),
        ("/api/v1/no-such-route", "test"),
        ("/api/v1/activities", "test"),
    ],
)
def test_every_api_answer_names_its_environment(
    sandbox: Provider, path: str, key: str | None
) -> None:
    headers: dict[str, Any] = {}
    if key:
        headers = bearer(create_api_key(provider=sandbox)[1])
    response = Client().get(path, **headers)
    assert response["X-PARS-Environment"] == ("sandbox" if key else "live")


def test_pages_outside_the_api_carry_no_environment_header(live: Provider) -> None:
    assert "X-PARS-Environment" not in Client().get(reverse("accounts:login"))


def test_an_administrator_creates_seeds_resets_and_keys_the_sandbox(
    live: Provider, client_as: Any
) -> None:
    admin = make_member(live, Role.ADMIN)
    activity = make_activity(live, provider_activity_id="COPY-ME", accme_activity_id="123456789")
    CommercialSupport.objects.create(
        provider=live, activity=activity, position=1, source="Acme Pharma", monetary_amount=5
    )
    register(activity, "ABIM")
    client = client_as(admin)
    url = reverse("activities:sandbox", kwargs={"provider_id": live.provider_id})
    page = client.get(url)
    assert page.status_code == 200
    assert "Create an empty sandbox" in page.text
    client.post(url, {"action": "seed"})
    sandbox = Provider.objects.get(sandbox_of=live)
    copy = Activity.objects.get(provider=sandbox)
    assert (copy.provider_activity_id, copy.accme_activity_id) == ("COPY-ME", "")
    assert CommercialSupport.objects.filter(provider=sandbox, source="Acme Pharma").exists()
    # Learner data stays live: registrations and completions are not copied.
    assert not ActivityRegistration.objects.filter(provider=sandbox).exists()
    # Seeding again replaces the copies instead of failing on their IDs.
    client.post(url, {"action": "seed"})
    assert Activity.objects.filter(provider=sandbox).count() == 1
    assert Activity.objects.filter(provider=live).count() == 1

    created = client.post(url, {"action": "key", "name": "LMS rehearsal"})
    test_key = created.context["new_key"]
    assert test_key.startswith("pars_test_")
    assert test_key in created.text
    assert ApiKey.objects.get(name="LMS rehearsal").provider == sandbox
    assert "Test" in client.get(url).text

    client.post(url, {"action": "reset"})
    assert not Activity.objects.filter(provider=sandbox).exists()
    assert Activity.objects.filter(provider=live).count() == 1
    api = Client().get(reverse("api-v1:activities"), **bearer(test_key))
    assert api.status_code == 200  # the test key survives a reset

    key = ApiKey.objects.get(name="LMS rehearsal")
    client.post(url, {"action": "revoke", "key": key.pk})
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_only_administrators_manage_the_sandbox(live: Provider, client_as: Any) -> None:
    editor = make_member(live, Role.EDITOR)
    url = reverse("activities:sandbox", kwargs={"provider_id": live.provider_id})
    assert client_as(editor).post(url, {"action": "create"}).status_code == 403
    assert not Provider.objects.filter(sandbox_of=live).exists()


def test_a_test_key_of_another_provider_cannot_be_revoked_from_my_sandbox_page(
    live: Provider, sandbox: Provider, client_as: Any
) -> None:
    other_sandbox = create_sandbox(make_provider(name="Other"))
    other_key, _ = create_api_key(provider=other_sandbox)
    live_key, _ = create_api_key(provider=live)
    admin = make_member(live, Role.ADMIN)
    url = reverse("activities:sandbox", kwargs={"provider_id": live.provider_id})
    for key in (other_key, live_key):
        assert client_as(admin).post(url, {"action": "revoke", "key": key.pk}).status_code == 404
        key.refresh_from_db()
        assert key.revoked_at is None


def test_the_sandbox_is_in_no_workspace_list(
    live: Provider, sandbox: Provider, staff: User, client_as: Any
) -> None:
    admin = make_member(live, Role.ADMIN)
    listing = client_as(staff).get(reverse("providers:staff_list")).text
    assert "Live Clinic" in listing
    assert sandbox.provider_id not in listing
    # No one reaches the sandbox's pages, not even the live provider's administrator.
    for user in (staff, admin):
        page = reverse("activities:list", kwargs={"provider_id": sandbox.provider_id})
        assert client_as(user).get(page).status_code == 404


def test_sandbox_data_never_reaches_reports(live: Provider) -> None:
    year = 2026
    activity = make_activity(live, reporting_year=year, status=ActivityStatus.ACTIVE)
    register(activity, "REMS")
    before = (
        data_report(year),
        activity_counts(year, year),
        list(rems_registrations(year).values_list("pk", flat=True)),
    )
    sandbox = create_sandbox(live, seed=True)
    copy = Activity.objects.get(provider=sandbox)
    register(copy, "REMS")
    after = (
        data_report(year),
        activity_counts(year, year),
        list(rems_registrations(year).values_list("pk", flat=True)),
    )
    assert after == before
    reset_sandbox(sandbox)
    assert not Activity.objects.filter(provider=sandbox).exists()


def test_test_keys_work_and_are_counted_with_rate_limits_on(
    live: Provider, sandbox: Provider, settings: Any
) -> None:
    """With the limits on (PostgreSQL: one statement finds and counts the key)."""
    settings.RATELIMIT_ENABLE = True
    settings.PARS_API_RATE = "2/m"
    _, test_key = create_api_key(provider=sandbox)
    client = Client()
    url = reverse("api-v1:activities")
    assert [client.get(url, **bearer(test_key)).status_code for _ in range(3)] == [200, 200, 429]
    wrong_form = test_key.replace("pars_test_", "pars_", 1)
    assert client.get(url, **bearer(wrong_form)).status_code == 401
