"""Registrations: an activity's registration with one recipient, by its rules."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pars.intake.coerce import (
    Invalid,
    is_blank,
    read_decimal,
    read_whole,
    whole_text,
)
from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldError
from pars.learners.dictionary import (
    REGISTRATION_FIELDS,
)

from .catalogue import RULES
from .readers import _Errors, read_value
from .recipients import RecipientRules


@dataclass
class CleanRegistration:
    recipient: str
    values: dict[str, Any]


# Text fields with a form of their own: (pattern, how the value is written before matching).
_TEXT_FORMS: dict[str, tuple[re.Pattern[str], Callable[[str], str]]] = {
    "rems_rpc_id": (re.compile(r"^EG-\d{6}-\d{3}$"), str.upper),
}


def registration_overrides(rules: RecipientRules) -> dict[str, dict[str, Any]]:
    """What a recipient changes about the dictionary's registration fields (its Recipient
    row, as data): its points step and the lists of values it takes."""
    overrides: dict[str, dict[str, Any]] = {
        "moc_points": {"step": rules.points_step},
        "credit_types": {
            "kind": Kind.CHOICE_LIST,
            "choices": {name: name for name in rules.credit_types},
        },
    }
    if rules.practice_areas:
        overrides["practice_areas"] = {
            "kind": Kind.CHOICE_LIST,
            "choices": {name: name for name in rules.practice_areas},
        }
    if rules.feedback_types:
        overrides["feedback_type"] = {
            "kind": Kind.CHOICE,
            "choices": {name: name for name in rules.feedback_types},
        }
    return overrides


def _registration_rule(name: str, suffix: str) -> str:
    # The registration catalog names a refused list value "not_allowed" where the
    # recipient lists its values; every other refusal of a field is its "invalid" rule.
    rule = f"registration.{name}.{suffix}"
    return rule if rule in RULES else f"registration.{name}.invalid"


def validate_registration(
    raw: Mapping[str, Any],
    *,
    recipients: Mapping[str, RecipientRules],
    ama_credits: Decimal | None = None,
) -> tuple[CleanRegistration | None, list[FieldError]]:
    """Check a registration of an activity with one recipient, by that recipient's rules."""
    errors = _Errors(None)
    code = str(raw.get("recipient") or "").strip().upper()
    rules = recipients.get(code)
    if rules is None:
        errors.add(
            "recipient",
            "registration.recipient.unknown",
            f"Recipient '{code[:20]}' is unknown. Allowed: {', '.join(recipients)}.",
        )
        return None, errors.errors
    if raw.get("attest") not in (True, "true", "on", "yes", "1", 1):
        errors.add("attest", "registration.attestation.required")
    asked = set(rules.registration_fields)
    overrides = registration_overrides(rules)
    values: dict[str, Any] = {}
    for base in REGISTRATION_FIELDS:
        if base.name not in asked:
            continue
        spec = replace(base, **overrides.get(base.name, {}))
        value = raw.get(spec.name)
        if is_blank(value):
            if spec.name in rules.required_registration_fields:
                errors.add(
                    spec.name,
                    f"registration.{spec.name}.required",
                    f"{spec.label} is required for {rules.code}.",
                )
            continue
        try:
            values[spec.name] = _registration_value(spec, value)
        except Invalid as invalid:
            rule = invalid.rule or _registration_rule(spec.name, invalid.suffix)
            errors.add(spec.name, rule, invalid.message)
    points = values.get("moc_points")
    if points is not None and ama_credits is not None and points > ama_credits:
        errors.add(
            "moc_points",
            "registration.moc_points.over_credits",
            f"MOC Points ({points}) may not exceed the activity's AMA credits ({ama_credits}).",
        )
    _exclusive_credit_types(rules, values.get("credit_types") or (), errors)
    if errors.errors:
        return None, errors.errors
    return CleanRegistration(rules.code, values), []


def _exclusive_credit_types(
    rules: RecipientRules, credit_types: Iterable[str], errors: _Errors
) -> None:
    """The pairs of credit types the board does not register together (its data)."""
    chosen = {name.casefold() for name in credit_types}
    for first, second in rules.exclusive_credit_types:
        if first.casefold() in chosen and second.casefold() in chosen:
            errors.add(
                "credit_types",
                "registration.credit_types.exclusive",
                f"{rules.code} does not register one activity for both {first} and {second}.",
            )


def registration_activity_errors(
    rules: RecipientRules, start_date: datetime.date | None
) -> list[FieldError]:
    """The recipient's rules about the activity itself (its first day), checked where the
    registration meets its activity (``save_registration``, for every channel)."""
    earliest = rules.earliest_activity_start
    if earliest is None or start_date is None or start_date >= earliest:
        return []
    rule = "registration.activity.starts_too_early"
    message = (
        f"{rules.code} registers activities starting on or after {earliest:%m/%d/%Y}; this "
        f"one starts on {start_date:%m/%d/%Y}."
    )
    return [FieldError(None, "recipient", rule, message)]


def _registration_value(spec: FieldSpec, value: Any) -> Any:
    if spec.kind is Kind.INTEGER:  # a per cent: "80%" is 80
        assert spec.max_value is not None
        return read_whole(spec.label, whole_text(value).rstrip("%"), max_value=spec.max_value)
    if spec.kind is Kind.DECIMAL:
        return read_decimal(
            spec.label, value, max_value=spec.max_value, step=spec.step, positive=spec.positive
        )
    clean = read_value(spec, value)
    form = _TEXT_FORMS.get(spec.name)
    if form is not None:
        pattern, written = form
        clean = written(clean)
        if not pattern.match(clean):
            raise Invalid("invalid", RULES[f"registration.{spec.name}.invalid"].message)
    return clean
