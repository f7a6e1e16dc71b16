"""What a field of a record is: its kind and its limits, as a data dictionary states them.

Each record kind has its dictionary of :class:`FieldSpec` (`pars.activities.dictionary`,
`pars.learners.dictionary`); validators, parsers' column maps, forms, the JSON schemas,
the XLSX templates and the rule catalogs all read it.
"""

from __future__ import annotations

import datetime
import enum
import re
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
    """Record statuses, ordered by how much they require; a field required from the lowest
    (DRAFT) is required of every record. A kind without statuses (learner completions)
    uses DRAFT for "always"; activities use all three (draft, active, closed)."""

    DRAFT = 1
    ACTIVE = 2  # ACTIVE and READY_TO_CLOSE need the same fields; the end date decides
    CLOSED = 3


# The clean value of a field left blank, by kind: text-like fields hold "", lists [],
# numbers, dates and Yes/No None (no answer).
_EMPTY_TEXT = frozenset({Kind.TEXT, Kind.CHOICE, Kind.URL})
_EMPTY_LIST = frozenset({Kind.CHOICE_LIST, Kind.TEXT_LIST, Kind.OUTCOMES, Kind.SUPPORTERS})


@dataclass(frozen=True)
class Limit:
    """A further limit on one field, beyond its kind, that a variant of the record sets as
    data (a learner record's recipient: its identifier pattern, its state, its window).

    Broken, it files the rule ``<kind>.<field>.<suffix>`` with ``message`` (which may
    quote the clean value as ``{value}``; None: the catalog's message). A ``required``
    limit refuses a blank value unless the field named by ``unless`` has one; the others
    judge a value that was read: it must match ``pattern``, be one of ``one_of``, not
    come before ``earliest``.
    """

    suffix: str
    message: str | None = None
    required: bool = False
    unless: str = ""
    pattern: re.Pattern[str] | None = None
    one_of: frozenset[str] = frozenset()
    earliest: datetime.date | None = None

    def refuses(self, value: Any, record: Mapping[str, Any]) -> bool:
        """Whether the clean value (among the record's clean values) breaks the limit."""
        if value is None or value == "" or value == []:
            return self.required and not (self.unless and record.get(self.unless))
        if self.pattern is not None and self.pattern.fullmatch(str(value)) is None:
            return True
        if self.one_of and value not in self.one_of:
            return True
        return self.earliest is not None and value < self.earliest

    def message_for(self, value: Any) -> str | None:
        return None if self.message is None else self.message.format(value=value)


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
    # The part of the record the field belongs to (a learner's "learner", "credits"…),
    # for the code that handles a part at once: forms, payloads, corrections.
    group: str = ""
    # The variants of the record the field is for (a learner field's recipient kinds);
    # empty: every variant.
    applies_to: frozenset[str] = frozenset()
    # Limits beyond the kind; a variant adds its own (see Limit).
    limits: tuple[Limit, ...] = ()

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
