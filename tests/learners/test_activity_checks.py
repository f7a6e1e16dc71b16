"""The writer's quick activity check (lookups.activity_passes) passes exactly the records
the full check (_against_activity) finds no error in, whatever the registration, the
recipient's rules and the record's date, points and credit types, and whatever records
its remembered verdicts were judged on before."""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pars.learners.dictionary import SEED_RECIPIENTS
from pars.learners.models import Recipient
from pars.learners.services.lookups import (
    ActivityVerdicts,
    _ActivityInfo,
    _against_activity,
    _Registered,
    activity_passes,
)
from pars.learners.validation import (
    CleanCompletion,
    RecipientRules,
    rules_from_recipient,
    validate_completion,
)
from pars.testing import LEARNER_ROW

TODAY = datetime.date(2026, 11, 27)
START, END = datetime.date(2026, 3, 1), datetime.date(2026, 3, 31)


def _seeded_rules() -> dict[str, RecipientRules]:
    """Every seeded recipient's rules, without a database."""
    rules = {}
    for row in SEED_RECIPIENTS:
        values = dict(row)
        for name in ("first_completion_date", "earliest_activity_start"):
            if isinstance(values.get(name), str):
                values[name] = datetime.date.fromisoformat(values[name])
        recipient = rules_from_recipient(Recipient(**values))
        rules[recipient.code] = recipient
    return rules


RULES = _seeded_rules()
CODES = sorted(RULES)
TYPES = ["Medical Knowledge", "Patient Safety", "Lifelong Learning"]


def _base_record() -> CleanCompletion:
    raw = {"provider_activity_id": "CHK-1", **LEARNER_ROW}
    record, errors = validate_completion(raw, recipients=RULES, today=TODAY)
    assert record is not None, errors
    return record


BASE: Any = _base_record()  # a dataclass at run time (see CleanCompletion)
POINTS = st.one_of(st.none(), st.sampled_from([Decimal(5), Decimal(10), Decimal("10.0"), 12]))
RECORDS = st.builds(
    lambda code, action, day, points, types: dataclasses.replace(
        BASE,
        recipient=code,
        action=action,
        completion_date=day,
        moc_points=None if points is None else Decimal(points),
        moc_credit_types=types,
    ),
    st.sampled_from(CODES),
    st.sampled_from(["add", "add", "delete"]),
    st.dates(START - datetime.timedelta(days=3), END + datetime.timedelta(days=3)),
    POINTS,
    st.lists(st.sampled_from(TYPES), max_size=2, unique=True),
)
REGISTRATIONS = st.dictionaries(
    st.sampled_from(CODES),
    st.builds(
        lambda pk, points, types, claim: _Registered(
            pk, None if points is None else Decimal(points), frozenset(types), claim
        ),
        st.integers(1, 3),
        POINTS,
        st.lists(st.sampled_from(TYPES), max_size=2, unique=True),
        st.one_of(st.none(), st.sampled_from([TODAY, TODAY - datetime.timedelta(days=1)])),
    ),
    min_size=0,
    max_size=4,
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(registrations=REGISTRATIONS, records=st.lists(RECORDS, min_size=1, max_size=8))
def test_the_quick_check_passes_what_the_full_check_finds_no_error_in(
    registrations: dict[str, _Registered], records: list[CleanCompletion]
) -> None:
    info = _ActivityInfo(1, "CHK-1", START, END, registrations)
    verdicts: ActivityVerdicts = {}  # one batch's, across its records
    for record in records:
        rules = RULES[record.recipient]
        passes = activity_passes(record, info, rules, TODAY, verdicts)
        if record.action == "delete" or rules.records_within_registered_points:
            assert not passes  # left to the full check (a learner's day is read there)
            continue
        errors = _against_activity(2, record, info, rules, TODAY)
        assert passes == (errors == []), [error.rule for error in errors]


def test_most_records_of_a_registered_activity_pass_at_once() -> None:
    registered = _Registered(1, Decimal(10), frozenset(["Medical Knowledge"]), None)
    info = _ActivityInfo(1, "CHK-1", START, END, {"ABIM": registered})
    verdicts: ActivityVerdicts = {}
    record = BASE
    assert activity_passes(record, info, RULES["ABIM"], TODAY, verdicts)
    assert len(verdicts) == 1
    # What a verdict was judged on is remembered with it: another credit type, or other
    # points, are judged again.
    other_type = dataclasses.replace(BASE, moc_credit_types=["Patient Safety"])
    assert not activity_passes(other_type, info, RULES["ABIM"], TODAY, verdicts)
    over = dataclasses.replace(BASE, moc_points=Decimal(11))
    assert not activity_passes(over, info, RULES["ABIM"], TODAY, verdicts)
    assert activity_passes(record, info, RULES["ABIM"], TODAY, verdicts)
