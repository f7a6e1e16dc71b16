"""What a field of a record is: its kind and its limits, as a data dictionary states them.

Each record kind has its dictionary of :class:`FieldSpec` (`pars.activities.dictionary`,
`pars.learners.dictionary`); validators, parsers' column maps, forms, the JSON schemas,
the XLSX templates and the rule catalogues all read it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class Kind(enum.Enum):
    TEXT = "text"
    INTEGER = "integer"  # whole number >= 0
    MONEY = "money"  # whole US dollars >= 0
    DECIMAL = "decimal"
    BOOLEAN = "boolean"  # Yes/No
    DATE = "date"
    YEAR = "year"
    CHOICE = "choice"
    CHOICE_LIST = "choice list"
    TEXT_LIST = "text list"
    URL = "url"
    OUTCOMES = "outcome measures"
    SUPPORTERS = "commercial supporters"


class Status(enum.IntEnum):
    """Record statuses, ordered by how much they require (an activity: draft, active, closed)."""

    DRAFT = 1
    ACTIVE = 2  # ACTIVE and READY_TO_CLOSE need the same fields; the end date decides
    CLOSED = 3


# The clean value of a field left blank, by kind: text-like fields hold "", lists [],
# numbers, dates and Yes/No None (no answer).
_EMPTY_TEXT = frozenset({Kind.TEXT, Kind.CHOICE, Kind.URL})
_EMPTY_LIST = frozenset({Kind.CHOICE_LIST, Kind.TEXT_LIST, Kind.OUTCOMES, Kind.SUPPORTERS})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: Kind
    help: str = ""
    choices: Mapping[str, str] = field(default_factory=dict)
    max_length: int | None = None
    max_value: Decimal | None = None
    step: Decimal | None = None
    positive: bool = False  # a number that must be more than 0
    # The lowest status that requires the field (None: never required on its own).
    required_for: Status | None = None
    # The reporting years in which PARS collects the field; its requirement applies
    # only in those years, but a value given outside them is kept.
    first_year: int | None = None
    last_year: int | None = None
    # Legacy-only fields (the seed's generation) are kept on the record.
    legacy: bool = False

    @property
    def empty(self) -> Any:
        """The clean value of the field left blank (a new list each time)."""
        if self.kind in _EMPTY_TEXT:
            return ""
        if self.kind in _EMPTY_LIST:
            return []
        return None

    def is_empty(self, value: Any) -> bool:
        """A clean value that holds nothing: None or the kind's empty value."""
        return value is None or value == self.empty

    def collected_in(self, year: int | None) -> bool:
        if year is None:
            return True
        if self.first_year is not None and year < self.first_year:
            return False
        return not (self.last_year is not None and year > self.last_year)

    @property
    def years(self) -> str:
        if self.first_year and self.last_year:
            return f"{self.first_year}–{self.last_year}"
        if self.first_year:
            return f"{self.first_year} onward"
        if self.last_year:
            return f"until {self.last_year}"
        return "all years"
