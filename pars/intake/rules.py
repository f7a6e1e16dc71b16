"""Rules and the errors that cite them, shared by every record kind's validator.

Every error carries a stable rule ID from its kind's catalog (``RULES`` of
`pars.activities.validation` and `pars.learners.validation`), published at ``/rules/``.
Each catalog is built here (:func:`catalogue`) from its hand-written rules and the rules
each field's kind and limits imply (:func:`field_rules`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pars.intake.fields import FieldSpec


@dataclass(frozen=True)
class Rule:
    id: str
    field: str
    message: str
    first_year: int | None = None
    last_year: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "field": self.field,
            "message": self.message,
            "first_year": self.first_year,
            "last_year": self.last_year,
        }


@dataclass(frozen=True)
class FieldError:
    row: int | None
    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class FieldRule:
    """A rule a field's spec implies: its ID is ``<kind>.<field>.<suffix>``."""

    suffix: str
    message: str
    # Applies only in the reporting years that collect the field (a "required" rule).
    dated: bool = False


def field_rules(
    prefix: str,
    fields: Iterable[tuple[str, FieldSpec]],
    implied: Callable[[FieldSpec], Iterable[FieldRule]],
) -> list[Rule]:
    """The rules of each (rule field name, spec), as the record kind's ``implied`` derives
    them from the spec's kind and attributes."""
    rules = []
    for name, spec in fields:
        for rule in implied(spec):
            years = (spec.first_year, spec.last_year) if rule.dated else (None, None)
            rules.append(Rule(f"{prefix}.{name}.{rule.suffix}", name, rule.message, *years))
    return rules


def catalogue(*groups: Iterable[Rule]) -> dict[str, Rule]:
    """A record kind's rule catalog by ID; where two groups give an ID, the first wins."""
    rules: dict[str, Rule] = {}
    for group in groups:
        for rule in group:
            rules.setdefault(rule.id, rule)
    return rules


def rules_for_year(rules: Mapping[str, Rule], year: int | None) -> Iterable[Rule]:
    """The rules that apply to records of a reporting year (all rules for None)."""
    for rule in rules.values():
        if year is None:
            yield rule
            continue
        if rule.first_year is not None and year < rule.first_year:
            continue
        if rule.last_year is not None and year > rule.last_year:
            continue
        yield rule
