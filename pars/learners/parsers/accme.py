"""ACCME's learner Excel template (2024 edition): one row, one record per recipient.

ACCME's template (``docs/learner-files.md``, "ACCME's learner template") puts the state
board's CME credit and a certifying board's MOC credit on one row: Licensing State,
Licensing ID or NPI and Number of CME Credits for the state board; Certifying Board,
Certifying Board ID, Total Board Credits and pairs of Credit Type / Credits Awarded for
Credit Type for the board. PARS stores one completion per recipient, so such a row is
split into one raw record per recipient, each with the row's number; the validator
judges each record as it judges any other (a state without a state board in PARS is
passed on under the state's code, for the validator to report).

The layout is recognized by a column only ACCME's template has (:data:`ACCME_ONLY`);
its columns are matched by name like every learner header, so their order is free.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pars.activities.dictionary import US_STATE_NAMES
from pars.intake.coerce import whole_text
from pars.intake.readers import blank
from pars.intake.readers.headers import normalise_header
from pars.learners.models import Recipient, RecipientKind
from pars.learners.validation import npi_is_valid

# Columns of ACCME's template that are not a dictionary field as they stand.
BOARD = "@board"
BOARD_ID = "@board_id"
BOARD_CREDITS = "@board_credits"
CREDIT_TYPE = "@credit_type"
TYPE_CREDITS = "@type_credits"
LICENCE_OR_NPI = "@licence_or_npi"

# In order of preference: they win over the dictionary's aliases in this layout
# ("Certifying Board" is the board here, not the record's recipient).
ACCME_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("license_state", ("Licensing State",)),
    (LICENCE_OR_NPI, ("Licensing ID or NPI",)),
    ("cme_credits", ("Number of CME Credits",)),
    (BOARD, ("Certifying Board",)),
    (BOARD_ID, ("Certifying Board ID",)),
    (BOARD_CREDITS, ("Total Board Credits",)),
    (CREDIT_TYPE, ("Credit Type", "Additional Credit Type")),
    (
        TYPE_CREDITS,
        ("Credits Awarded for Credit Type", "Credits Awarded for Additional Credit Type"),
    ),
    ("birth_date", ("Date of Birth",)),
)
# A credit type and its credits may repeat (numbered or not: "Additional Credit Type 2").
REPEATABLE = frozenset({CREDIT_TYPE, TYPE_CREDITS})
_NUMBERED = re.compile(r"^((?:creditsawardedfor)?(?:additional)?credittype)\d+$")

# Headers no PARS layout uses: one of them makes a header ACCME's template.
ACCME_ONLY = frozenset(
    normalise_header(text)
    for text in (
        "Licensing State",
        "Licensing ID or NPI",
        "Number of CME Credits",
        "Total Board Credits",
        "Credits Awarded for Credit Type",
        "Additional Credit Type",
        "Credits Awarded for Additional Credit Type",
    )
)

# The record a row is split into (split_row), and the columns each one's fields are read
# from, for the error report: (column, the fields it fills) (see LearnerHeader.columns).
BOARD_RECORD = "board"
STATE_RECORD = "state"
RECORD_COLUMNS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    BOARD_RECORD: (
        (BOARD, ("recipient",)),
        (BOARD_ID, ("learner_id",)),
        (BOARD_CREDITS, ("moc_points",)),
        (CREDIT_TYPE, ("moc_credit_types",)),
    ),
    STATE_RECORD: (
        ("license_state", ("recipient", "license_state")),
        (LICENCE_OR_NPI, ("learner_id", "npi")),
        ("cme_credits", ("cme_credits",)),
    ),
}

_BOARD_PART = (BOARD, BOARD_ID, BOARD_CREDITS, CREDIT_TYPE, TYPE_CREDITS)
_STATE_PART = ("license_state", LICENCE_OR_NPI)
_STATE_CODES = {name.casefold(): code for code, name in US_STATE_NAMES.items()}


def is_accme_header(cells: Sequence[Any]) -> bool:
    return any(canonical_header(cell) in ACCME_ONLY for cell in cells)


def canonical_header(cell: Any) -> str:
    """The header's key, a numbered credit-type column as the unnumbered one."""
    key = normalise_header(cell)
    match = _NUMBERED.match(key)
    return match.group(1) if match else key


def unnumbered(cell: Any) -> Any:
    """The header cell, a numbered credit-type column's as the unnumbered one's key."""
    key = normalise_header(cell)
    match = _NUMBERED.match(key)
    return match.group(1) if match else cell


def state_code(value: Any) -> str:
    """The USPS code of a state written as a code or a name ("" when blank)."""
    text = whole_text(value) if not blank(value) else ""
    return _STATE_CODES.get(text.casefold(), text.upper())


class StateBoards:
    """Each state's state-board recipient code, read from the Recipient table once per
    file and only when a row needs it."""

    def __init__(self) -> None:
        self._codes: dict[str, str] | None = None

    def code(self, state: str) -> str | None:
        if self._codes is None:
            rows = Recipient.objects.filter(kind=RecipientKind.STATE_BOARD, active=True)
            codes: dict[str, str] = {}
            # The board whose code is the state's wins (several may hold one state's
            # licenses); then the first in the recipients' order.
            for code, state_of in rows.order_by("sort_order", "code").values_list("code", "state"):
                if code.upper() == state_of.upper() or state_of.upper() not in codes:
                    codes[state_of.upper()] = code
            self._codes = codes
        return self._codes.get(state)


def split_row(cells: Mapping[str, Any], boards: StateBoards) -> list[tuple[str, dict[str, Any]]]:
    """The raw records of one row of ACCME's template (see the module docstring), each
    with the kind of record it is (BOARD_RECORD, STATE_RECORD; "" for neither)."""
    common = {name: value for name, value in cells.items() if not name.startswith("@")}
    has_board = any(_given(cells.get(name)) for name in _BOARD_PART)
    has_state = any(_given(cells.get(name)) for name in _STATE_PART)
    records = []
    if has_board:
        records.append((BOARD_RECORD, _board_record(common, cells)))
    if has_state:
        records.append((STATE_RECORD, _state_record(common, cells, boards)))
    return records or [("", common)]


def _given(value: Any) -> bool:
    """A cell with a value (of a repeated column: one of its cells)."""
    if isinstance(value, list):
        return any(not blank(item) for item in value)
    return not blank(value)


def _board_record(common: dict[str, Any], cells: Mapping[str, Any]) -> dict[str, Any]:
    record = dict(common)
    if BOARD in cells:
        record["recipient"] = cells[BOARD]
    if BOARD_ID in cells:
        record["learner_id"] = cells[BOARD_ID]
    record["license_state"] = ""  # the license is the state board's
    types = [value for value in cells.get(CREDIT_TYPE, []) if not blank(value)]
    record["moc_credit_types"] = types
    points = cells.get(BOARD_CREDITS)
    record["moc_points"] = points if not blank(points) else _sum(cells.get(TYPE_CREDITS, []))
    return record


def _sum(values: list[Any]) -> Any:
    """The total of the per-type credits; an unreadable one is passed on as it is, so
    the validator reports it."""
    total = Decimal(0)
    given = [value for value in values if not blank(value)]
    for value in given:
        try:
            total += Decimal(whole_text(value))
        except InvalidOperation:
            return value
    return str(total) if given else ""


def _state_record(
    common: dict[str, Any], cells: Mapping[str, Any], boards: StateBoards
) -> dict[str, Any]:
    record = dict(common)
    identifier = cells.get(LICENCE_OR_NPI)
    text = "" if blank(identifier) else whole_text(identifier)
    if npi_is_valid(text):
        record["npi"], record["learner_id"] = text, ""
    elif LICENCE_OR_NPI in cells:
        record["learner_id"] = identifier
    state = state_code(cells.get("license_state"))
    if state:
        record["recipient"] = boards.code(state) or state
    return record
