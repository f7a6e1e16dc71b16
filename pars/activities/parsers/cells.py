"""Cell-level helpers of the activity layouts: Yes/No cells, and rows read one ahead.

:func:`yes_no` reads a legacy Yes/No cell (a layout's flag columns); :class:`Peekable`
lets recognition look at the first data row before it is read (see layouts.recognise).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

from pars.intake.coerce import NO_WORDS, YES_WORDS
from pars.intake.readers import blank


def _read_yes_no(value: Any) -> bool | None:
    if blank(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in YES_WORDS:
        return True
    if text in NO_WORDS:
        return False
    raise ValueError(text)


# The spellings of the Yes/No words a file holds (as typed, upper case, capitalised) and
# the empty cell, each read once here: a legacy row has some 30 flag cells.
_YES_NO_CELLS: dict[str, bool | None] = {
    form: _read_yes_no(form)
    for word in ("", *YES_WORDS, *NO_WORDS)
    for form in (word, word.upper(), word.capitalize())
}


def yes_no(value: Any) -> bool | None:
    """True/False for a Yes/No cell, None when blank; ValueError for anything else."""
    if value.__class__ is str and value in _YES_NO_CELLS:
        return _YES_NO_CELLS[value]
    return _read_yes_no(value)


class Peekable:
    """(row number, cells) records whose next row can be looked at before it is read
    (recognize() asks for the first data row only when a header row differs)."""

    def __init__(self, records: Iterator[tuple[int, list[Any]]]) -> None:
        self._records = records
        self._peeked: list[tuple[int, list[Any]]] = []

    def __iter__(self) -> Peekable:
        return self

    def __next__(self) -> tuple[int, list[Any]]:
        if self._peeked:
            return self._peeked.pop()
        return next(self._records)

    def rest(self) -> Iterator[tuple[int, list[Any]]]:
        """The records not yet read, the one looked at first (no Python call per row)."""
        peeked, self._peeked = self._peeked, []
        return chain(reversed(peeked), self._records)

    def peek_cells(self) -> list[Any] | None:
        if not self._peeked:
            upcoming = next(self._records, None)
            if upcoming is None:
                return None
            self._peeked.append(upcoming)
        return self._peeked[0][1]
