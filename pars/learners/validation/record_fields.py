"""The completion fields read by their kind alone, with the recipient's overrides
(memoised: credits and REMS values repeat in almost every row of a file)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pars.intake.coerce import (
    is_blank,
)
from pars.intake.fields import FieldSpec
from pars.intake.rules import FieldError
from pars.learners.dictionary import COMPLETION_FIELDS, LINK_GROUPS

from .catalogue import RULES
from .readers import _Errors
from .recipients import RecipientRules

# The fields that identify the activity, the recipient, the learner and the day: each
# has rules of its own in validate_completion() (the birth date: month_day()). Every
# other completion field is read by its kind alone, with the recipient's overrides
# (:func:`~.recipients.recipient_specs`).
_IDENTITY_GROUPS = LINK_GROUPS | {"learner", "completion"}
RECORD_FIELD_NAMES = tuple(
    spec.name for spec in COMPLETION_FIELDS if spec.group not in _IDENTITY_GROUPS
)
# The record fields whose clean value is a list (each record gets its own copy).
_LIST_FIELD_NAMES = tuple(
    spec.name for spec in COMPLETION_FIELDS if spec.name in RECORD_FIELD_NAMES and spec.empty == []
)


# The raw values memoised by value: text (a file's cells) and None (a column it has not).
# Values of other types may be equal without being read alike (True, 1 and 1.0).
PLAIN_TYPES = frozenset({str, type(None)})
_RECORD_MEMO_LIMIT = 20_000
_record_memo: dict[
    tuple[Any, ...], tuple[RecipientRules | None, dict[str, Any], list[FieldError]]
] = {}


def _record_values_memoized(
    raw: Mapping[str, Any],
    rules: RecipientRules | None,
    specs: Mapping[str, FieldSpec],
    errors: _Errors,
) -> dict[str, Any]:
    """The credit and REMS values of a row: they repeat in almost every row of a file.

    ``specs`` are the fields as the recipient reads them (its overrides of the record
    fields do not change with the day, so the memo need not know it)."""
    given = tuple(map(raw.get, RECORD_FIELD_NAMES))
    if not PLAIN_TYPES.issuperset(map(type, given)):
        # JSON's and Excel's values: True, 1 and 1.0 are equal keys but not the same
        # answer (1.0 is no Yes/No), and a list is no key at all.
        return _record_values(raw, rules, specs, errors)
    key = (id(rules), *given)
    cached = _record_memo.get(key)
    if cached is None or cached[0] is not rules:
        found = _Errors(None)
        values = _record_values(raw, rules, specs, found)
        if len(_record_memo) >= _RECORD_MEMO_LIMIT:
            _record_memo.clear()
        # The rules object is kept with the entry, so that its id cannot be reused.
        cached = _record_memo[key] = (rules, values, found.errors)
    for error in cached[2]:
        errors.add(error.field, error.rule, error.message)
    values = dict(cached[1])
    for name in _LIST_FIELD_NAMES:  # lists are mutable: each record gets its own
        values[name] = list(values[name])
    return values


def _required_rule(name: str) -> str:
    # A Yes/No field has no "required" rule: a missing answer is not Yes or No.
    required = f"learner.{name}.required"
    return required if required in RULES else f"learner.{name}.invalid"


def _record_values(
    raw: Mapping[str, Any],
    rules: RecipientRules | None,
    specs: Mapping[str, FieldSpec],
    errors: _Errors,
) -> dict[str, Any]:
    """Every record field read by its kind, and required where the recipient asks for it."""
    required = rules.completion_fields if rules is not None else frozenset()
    values: dict[str, Any] = {}
    for spec in (specs[name] for name in RECORD_FIELD_NAMES):
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
    if rules is not None and rules.separate_credit_types:
        _, mixed = rules.separate_part(values["moc_credit_types"])
        if mixed:
            separate = ", ".join(
                name
                for name in rules.credit_types
                if name.casefold() in rules.separate_credit_types
            )
            errors.add(
                "moc_credit_types",
                "learner.moc_credit_types.separate_record",
                f"{rules.code} takes {separate} in a record of its own: report it and the "
                "other credit types as two records.",
            )
    return values
