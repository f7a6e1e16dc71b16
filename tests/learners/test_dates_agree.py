"""Activities and learner completions read a written date the same way (one shared reader)."""

from __future__ import annotations

import datetime

import pytest

from pars.activities.models import Activity
from pars.activities.validation import validate_activity
from pars.learners.validation import load_recipients, validate_completion
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register
from tests.activities.test_validation import course

TODAY = datetime.date(2026, 11, 27)


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    return activity


@pytest.mark.parametrize(
    ("written", "accepted"),
    [
        ("2026-01-05", True),
        ("1/5/2026", True),
        ("01/05/2026", True),
        # ISO 8601 writes the month and day with two digits: a one-digit one is refused.
        ("2026-1-5", False),
        ("2026-01-5", False),
        ("2026-02-30", False),
    ],
)
def test_a_date_is_read_alike_for_activities_and_learners(
    activity: Activity, written: str, accepted: bool
) -> None:
    _, activity_errors = validate_activity(
        course(start_date=written, end_date="2026-01-06"), today=TODAY
    )
    _, learner_errors = validate_completion(
        learner_row(activity, completion_date=written), recipients=load_recipients(), today=TODAY
    )
    activity_rules = [e.rule for e in activity_errors if e.field == "start_date"]
    learner_rules = [e.rule for e in learner_errors if e.field == "completion_date"]
    assert activity_rules == ([] if accepted else ["activity.start_date.invalid"])
    assert learner_rules == ([] if accepted else ["learner.completion_date.invalid"])
    if not accepted:
        # The same words for both kinds, quoting what was written.
        activity_message = next(e.message for e in activity_errors if e.field == "start_date")
        learner_message = next(e.message for e in learner_errors if e.field == "completion_date")
        assert activity_message.replace("Start Date", "") == learner_message.replace(
            "Completion Date", ""
        )
        assert f"'{written}'" in learner_message
