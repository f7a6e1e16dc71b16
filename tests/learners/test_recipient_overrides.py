"""A recipient's rules are data its Recipient row gives: one generic step applies them."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

from pars.learners.dictionary import COMPLETION_FIELDS
from pars.learners.validation import (
    RecipientRules,
    recipient_overrides,
    recipient_specs,
    validate_completion,
    validate_registration,
)

TODAY = datetime.date(2026, 11, 27)
BOARD = RecipientRules(
    code="XB",
    name="Example Board",
    kind="moc_board",
    credit_types=("Accredited CME", "Self-Assessment"),
    registration_fields=("moc_points", "credit_types", "feedback_type"),
    points_step=Decimal("0.5"),
    identifier_required=False,
)


def registration_rules(**raw: object) -> list[str]:
    _, errors = validate_registration(
        {"recipient": "XB", "attest": True, **raw}, recipients={"XB": BOARD}
    )
    return [error.rule for error in errors]


def test_the_boards_points_step_and_credit_types_apply_to_its_registrations() -> None:
    assert registration_rules(moc_points="1.5", credit_types="self-assessment") == []
    assert registration_rules(moc_points="1.25") == ["registration.moc_points.invalid"]
    assert registration_rules(credit_types="Patient Safety") == [
        "registration.credit_types.not_allowed"
    ]


def test_a_feedback_type_longer_than_the_record_holds_is_refused_not_cut() -> None:
    assert registration_rules(feedback_type="x" * 101) == ["registration.feedback_type.invalid"]
    record, _ = validate_registration(
        {"recipient": "XB", "attest": True, "feedback_type": "x" * 100}, recipients={"XB": BOARD}
    )
    assert record is not None
    assert record.values["feedback_type"] == "x" * 100


def completion_rules(**raw: object) -> list[str]:
    row = {
        "provider_activity_id": "GR-1",
        "recipient": "XB",
        "first_name": "Ada",
        "last_name": "Byron",
        "birth_date": "12-10",
        "completion_date": "2026-03-02",
        **raw,
    }
    _, errors = validate_completion(row, recipients={"XB": BOARD}, today=TODAY)
    return [error.rule for error in errors]


def test_the_boards_points_step_and_credit_types_apply_to_its_completions() -> None:
    assert completion_rules(moc_points="2.5", moc_credit_types="ACCREDITED CME") == []
    assert completion_rules(moc_points="2.25") == ["learner.moc_points.step"]
    assert completion_rules(moc_credit_types="Patient Safety") == [
        "learner.moc_credit_types.not_allowed"
    ]


STATE_BOARD = RecipientRules(
    code="XS",
    name="Example State Board",
    kind="state_board",
    state="ME",
    identifier_label="ME license ID",
    identifier_pattern=r"[A-Z]{2}\d{3}",
    identifier_hint="two letters, three digits",
    accepts_npi=True,
    window_years=1,
    _identifier_re=re.compile(r"[A-Z]{2}\d{3}"),
)


def state_errors(**raw: object) -> list[tuple[str, str]]:
    row = {
        "provider_activity_id": "GR-1",
        "recipient": "XS",
        "first_name": "Ada",
        "last_name": "Byron",
        "birth_date": "12-10",
        "completion_date": "2026-03-02",
        "learner_id": "AB123",
        "license_state": "ME",
        **raw,
    }
    _, errors = validate_completion(row, recipients={"XS": STATE_BOARD}, today=TODAY)
    return [(error.rule, error.message) for error in errors]


def test_who_the_learner_is_and_when_are_overrides_of_the_recipients_fields() -> None:
    overrides = recipient_overrides(STATE_BOARD, TODAY)
    specs = recipient_specs(STATE_BOARD, TODAY)
    for name in ("learner_id", "license_state", "completion_date"):
        assert overrides[name]["limits"]
        assert specs[name].limits == overrides[name]["limits"]
    # The dictionary's own fields are not changed by a recipient's reading of them.
    assert all(not spec.limits for spec in COMPLETION_FIELDS)


def test_the_recipients_identity_and_window_limits_apply_from_its_data() -> None:
    assert state_errors() == []
    assert state_errors(learner_id="ab-12") == [
        (
            "learner.learner_id.invalid",
            "ME license ID does not have the form XS uses (two letters, three digits).",
        )
    ]
    assert state_errors(learner_id="") == [
        ("learner.learner_id.required", "ME license ID or the NPI is required for XS.")
    ]
    assert state_errors(learner_id="", npi="1234567893") == []
    assert state_errors(license_state="NC") == [
        ("learner.license_state.mismatch", "Example State Board takes licenses of Maine only.")
    ]
    assert [rule for rule, _ in state_errors(license_state="")] == [
        "learner.license_state.required"
    ]
    assert state_errors(completion_date="2025-12-31") == [
        (
            "learner.completion_date.outside_window",
            "XS accepts completions from 01/01/2026; this one is dated 12/31/2025.",
        )
    ]
