"""Parsers turn uploaded bytes into raw activity rows; they check no business rule.

Each yields :class:`ParsedRow`: the source row number and a mapping of dictionary
field names (`pars.activities.dictionary`) to raw values, plus ``action`` and
``status`` when the format carries them. A problem with the whole file (encoding,
unknown layout, hostile XML or zip) raises :class:`FileRejected`; a row whose
structure cannot be read comes back with ``problem`` set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class FileRejected(Exception):
    """The file as a whole cannot be read; nothing in it is applied."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class ParsedRow:
    row: int
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
