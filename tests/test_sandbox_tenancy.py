"""The sandbox is a tenant of its own: the route walker, both ways.

A test key (of the victim's own sandbox) must not read or change the victim's live data
on any route, and a live key (of the sandbox's own provider) must not reach the sandbox.
"""

import pytest

from pars.accounts.models import Role, User
from pars.accounts.services import create_api_key
from pars.activities.sandbox import create_sandbox
from pars.providers.models import Provider
from pars.testing import make_activity, make_member, make_provider
from tests.support.route_walker import Victim, walk_as_outsider
from tests.test_tenancy import SAMPLES, plant_victim


def _sandbox(provider: Provider) -> Provider:
    sandbox = create_sandbox(provider)
    # Named apart from the live provider, whose name the walk looks for in every answer.
    Provider.objects.filter(pk=sandbox.pk).update(name="Rehearsal Tenant")
    sandbox.refresh_from_db()
    return sandbox


@pytest.fixture
def live_victim(db: None) -> Victim:
    return plant_victim(make_provider(name="Victim Health Sciences", provider_id="0000042"))


def test_a_test_key_reaches_no_live_data_on_any_route(live_victim: Victim) -> None:
    sandbox = _sandbox(live_victim.provider)
    make_activity(sandbox, provider_activity_id="REHEARSE-1")
    key, test_key = create_api_key(provider=sandbox, name="rehearsal")
    assert test_key.startswith("pars_test_")
    assert key.environment == "test"
    stranger = make_member(make_provider(name="Elsewhere"), Role.ADMIN)
    assert walk_as_outsider(live_victim, stranger, test_key, SAMPLES) == []


def test_a_live_key_reaches_no_sandbox_data_on_any_route(db: None) -> None:
    live = make_provider(name="Parent Clinic", provider_id="0000077")
    parent_admin = make_member(live, Role.ADMIN, email="admin@parent.example")
    make_activity(live, provider_activity_id="LIVE-1")
    _, live_key = create_api_key(provider=live, name="live")
    sandbox = _sandbox(live)
    Provider.objects.filter(pk=sandbox.pk).update(name="Victim Health Sciences")
    sandbox.refresh_from_db()
    victim = plant_victim(sandbox)
    assert victim.api_key.environment == "test"
    # The live provider's own administrator, with its own live key, is an outsider here.
    assert walk_as_outsider(victim, parent_admin, live_key, SAMPLES) == []


def test_the_walk_would_notice_a_key_that_reaches_the_live_provider(
    live_victim: Victim,
) -> None:
    """Proof the walk can fail: a key bound to the live provider reads its records."""
    _, leaky_key = create_api_key(provider=live_victim.provider)
    stranger: User = make_member(make_provider(name="Elsewhere"), Role.ADMIN)
    problems = walk_as_outsider(live_victim, stranger, leaky_key, SAMPLES)
    assert any(problem.startswith("api-v1:activity (") for problem in problems)
