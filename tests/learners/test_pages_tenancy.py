"""The tenancy walks of tests/test_tenancy.py again, with a victim that has learner data:
a registration, a completion and a webhook endpoint, so the learner routes that name a
row are walked with a row that exists (the shared victim has none)."""

from __future__ import annotations

from pars.accounts.models import User
from tests import test_tenancy
from tests.support.route_walker import Victim, walk_as_outsider
from tests.support.tenancy_samples_learners import LEARNER_SAMPLES, add_learner_rows
from tests.test_tenancy import SAMPLES, outsider, victim  # noqa: F401 (fixtures)


def test_every_route_holds_with_learner_data(
    victim: Victim,  # noqa: F811 (the fixture)
    outsider: tuple[User, str],  # noqa: F811
) -> None:
    add_learner_rows(victim)
    for name in ("learners:detail", "learners:webhook_delete"):
        assert LEARNER_SAMPLES[name].kwargs(victim)["pk"] > 0  # a row of the victim's
    user, api_key = outsider
    assert walk_as_outsider(victim, user, api_key, SAMPLES) == []


def test_state_staff_of_another_society_reach_no_learner_data(
    victim: Victim,  # noqa: F811 (the fixture)
    outsider: tuple[User, str],  # noqa: F811
) -> None:
    add_learner_rows(victim)
    test_tenancy.test_state_accreditor_staff_reach_no_provider_of_another_accreditor(
        victim, outsider
    )


def test_a_read_only_member_changes_no_learner_data(
    victim: Victim,  # noqa: F811 (the fixture)
    outsider: tuple[User, str],  # noqa: F811
) -> None:
    add_learner_rows(victim)
    test_tenancy.test_a_read_only_member_changes_nothing_through_any_route(victim, outsider)
