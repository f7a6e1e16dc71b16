"""The completion fields read by their kind alone, with the recipient's overrides
(memoised: credits and REMS values repeat in almost every row of a file)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from pars.intake.coerce import (
    is_blank,
)
from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldError
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
)

from .catalogue import RULES
from .readers import _Errors
from .recipients import RecipientRules

# The fields that identify the activity, the recipient, the learner and the day: each
# has rules of its own in validate_completion() (the birth date: month_day()). Every
# other completion field is read by its kind alone, with the recipient's overrides
# (:func:`_recipient_specs`).
_IDENTITY_FIELDS = frozenset(
    {
        "provider_activity_id",
        "accme_activity_id",
        "recipient",
        "first_name",
        "last_name",
        "birth_date",
        "learner_id",
        "npi",
        "license_state",
        "completion_date",
    }
)
_RECORD_FIELDS = tuple(spec for spec in COMPLETION_FIELDS if spec.name not in _IDENTITY_FIELDS)


def recipient_overrides(rules: RecipientRules) -> dict[str, dict[str, Any]]:
    """What a recipient changes about the dictionary's completion fields (its Recipient
    row, as data): the board's points step and its own list of MOC credit types."""
    return {
        "moc_points": {"step": rules.points_step},
        "moc_credit_types": {
            "kind": Kind.CHOICE_LIST,
            "choices": {name: name for name in rules.credit_types},
        },
    }


_SPECS_BY_RECIPIENT: dict[int, tuple[RecipientRules, tuple[FieldSpec, ...]]] = {}


def _recipient_specs(rules: RecipientRules | None) -> tuple[FieldSpec, ...]:
    """The record fields as this recipient reads them (the dictionary's without one)."""
    if rules is None:
        return _RECORD_FIELDS
    entry = _SPECS_BY_RECIPIENT.get(id(rules))
    if entry is None or entry[0] is not rules:
        overrides = recipient_overrides(rules)
        specs = tuple(replace(spec, **overrides.get(spec.name, {})) for spec in _RECORD_FIELDS)
        if len(_SPECS_BY_RECIPIENT) >= 1_000:
            _SPECS_BY_RECIPIENT.clear()
        # The rules object is kept with the entry, so that its id cannot be reused.
        entry = _SPECS_BY_RECIPIENT[id(rules)] = (rules, specs)
    return entry[1]


_RECORD_MEMO_LIMIT = 20_000
_record_memo: dict[
    tuple[Any, ...], tuple[RecipientRules | None, dict[str, Any], list[FieldError]]
] = {}


def _record_values_memoized(
    raw: Mapping[str, Any], rules: RecipientRules | None, errors: _Errors
) -> dict[str, Any]:
    """The credit and REMS values of a row: they repeat in almost every row of a file."""
    key = (id(rules), *(raw.get(spec.name) for spec in _RECORD_FIELDS))
    try:
        cached = _record_memo.get(key)
    except TypeError:  # a list from JSON: not hashable, not worth caching
        return _record_values(raw, rules, errors)
    if cached is None or cached[0] is not rules:
        found = _Errors(None)
        values = _record_values(raw, rules, found)
        if len(_record_memo) >= _RECORD_MEMO_LIMIT:
            _record_memo.clear()
        # The rules object is kept with the entry, so that its id cannot be reused.
        cached = _record_memo[key] = (rules, values, found.errors)
    for error in cached[2]:
        errors.add(error.field, error.rule, error.message)
    # Lists are mutable: each record gets its own.
    return {
        name: list(value) if isinstance(value, list) else value for name, value in cached[1].items()
    }


def _required_rule(name: str) -> str:
    # A Yes/No field has no "required" rule: a missing answer is not Yes or No.
    required = f"learner.{name}.required"
    return required if required in RULES else f"learner.{name}.invalid"


def _record_values(
    raw: Mapping[str, Any], rules: RecipientRules | None, errors: _Errors
) -> dict[str, Any]:
    """Every record field read by its kind, and required where the recipient asks for it."""
    required = rules.completion_fields if rules is not None else frozenset()
    values: dict[str, Any] = {}
    for spec in _recipient_specs(rules):
        value = raw.get(spec.name)
        if is_blank(value) and spec.name in required:
            assert rules is not None
            rule = _required_rule(spec.name)
            message = (
                f"{spec.label}: required for {rules.code}." if rule.endswith(".required") else None
            )
            errors.add(spec.name, rule, message)
        values[spec.name] = errors.read(spec, value)
    if (
        rules is not None
        and not rules.is_moc
        and (values["moc_points"] is not None or values["moc_credit_types"])
    ):
        errors.add("moc_points", "learner.moc_points.not_for_recipient")
    return values
