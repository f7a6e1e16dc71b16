"""Every problem at once (issue 15, point 2): a learner record with four independent
problems gets the four errors in one answer, through the web form (one POST), a learner
file's error report and the JSON web service, not one group per try.

The problems: the learner ID breaks ABIM's pattern and the credit type is not one ABIM
takes (the validator's), the completion date is outside the activity's dates and the
points exceed the registration's (the writer's checks against the stored activity)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pars.learners.models import LearnerCompletion
from pars.testing import LEARNER_ROW
from tests.learners.test_channels_agree import World, via_form, via_json, via_tsv
from tests.learners.test_channels_agree import world as world

FOUR_PROBLEMS = {
    "learner_id": "12AB",
    "completion_date": "2026-02-01",
    "moc_points": "12",
    "moc_credit_types": "Lifelong Learning",
}
EXPECTED = {
    ("learner_id", "learner.learner_id.invalid"),
    ("completion_date", "learner.completion_date.outside_activity"),
    ("moc_points", "learner.moc_points.over_registered"),
    ("moc_credit_types", "learner.moc_credit_types.not_allowed"),
}


def _records() -> dict[str, dict[str, Any]]:
    """The record with four problems, and a good one (a file with no good row is refused
    as a whole; the harness expects a partial upload)."""
    return {
        "good": {"provider_activity_id": "GR-1", **LEARNER_ROW, "last_name": "Hopper"},
        "four": {
            "provider_activity_id": "GR-1",
            **LEARNER_ROW,
            **FOUR_PROBLEMS,
        },
    }


@pytest.mark.parametrize("channel", [via_form, via_tsv, via_json], ids=["form", "tsv", "json"])
def test_four_independent_problems_come_back_together(
    world: World,
    channel: Callable[[World, dict[str, dict[str, Any]]], Any],
) -> None:
    outcome = channel(world, _records())
    found = {(field, rule) for field, rule, _ in outcome.errors["four"]}
    assert found == EXPECTED
    assert set(outcome.errors) == {"four"}
    assert list(LearnerCompletion.objects.values_list("last_name", flat=True)) == ["Hopper"]


def test_a_readable_date_is_judged_against_the_activity_but_an_unreadable_one_is_not(
    world: World,
) -> None:
    records = _records()
    records["four"]["completion_date"] = "2026-02-30"  # no such day: nothing to compare
    outcome = via_tsv(world, records)
    found = {(field, rule) for field, rule, _ in outcome.errors["four"]}
    assert ("completion_date", "learner.completion_date.invalid") in found
    assert ("completion_date", "learner.completion_date.outside_activity") not in found
    assert ("moc_points", "learner.moc_points.over_registered") in found


def test_an_unregistered_activity_still_has_its_dates_checked(world: World) -> None:
    # GR-2 is not registered for ABIM: its points and credit types cannot be judged, but
    # its dates can (the writer used to stop at the registration).
    records = _records()
    records["four"] = {
        "provider_activity_id": "GR-2",
        **LEARNER_ROW,
        "last_name": "Lamarr",
        "completion_date": "2026-02-01",
    }
    outcome = via_json(world, records)
    found = {(field, rule) for field, rule, _ in outcome.errors["four"]}
    assert found == {
        ("recipient", "learner.activity.not_registered"),
        ("completion_date", "learner.completion_date.outside_activity"),
    }
