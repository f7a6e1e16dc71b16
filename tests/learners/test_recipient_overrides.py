"""A recipient's rules are data its Recipient row gives: one generic step applies them."""

from __future__ import annotations

import datetime
from decimal import Decimal

from pars.learners.validation import RecipientRules, validate_completion, validate_registration

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
