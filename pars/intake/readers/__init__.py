"""Readers turn uploaded bytes into raw rows; they check no business rule.

Each record kind's parsers yield :class:`ParsedRow`: the source row number, a mapping
of its dictionary's field names to raw values, and the file's own header of each field
(``columns``: one dict per file, shared by its rows, for the error report). A problem
with the whole file (encoding, unknown layout, hostile XML or zip) raises
:class:`FileRejected`; a row whose structure cannot be read comes back with ``problem``
set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class FileRejected(Exception):
    """The file as a whole cannot be read; nothing in it is applied."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# The first bytes of binary formats that are sometimes uploaded under the wrong name or
# format; a text or XML parser names the real format rather than a confusing syntax error.
_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an Excel workbook .xlsx?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel (.xls) or Office document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)


def refuse_binary(head: bytes, expected: str) -> None:
    """Raise :class:`FileRejected` naming the format when `head` starts a known binary file."""
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise FileRejected(
                f"The file is {what}, not {expected}. Upload the file in one of the accepted "
                "formats (delimited text, Excel workbook .xlsx or XML), and choose its "
                "format or leave the format to be detected from the file."
            )


@dataclass
class ParsedRow:
    """One record of a file. ``row`` is its number as the uploader finds it: the line of a
    text file where the record starts (a quoted cell with a line break does not shift
    later rows), the sheet row of an Excel file, the ordinal of the record in an XML file.
    ``columns`` maps a field name to the file's header for it ("Title", an XML element):
    a parser shares one mapping among all the rows of a file (big files)."""

    row: int
    data: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)


_SUPPORTER_INDEX = re.compile(r"\[\d+\]")


def column_of(columns: Mapping[str, str], field_name: str) -> str:
    """The file's header for an error's field ("" when unknown): exact, else without the
    list index ("supporters[2].source" -> "supporters.source")."""
    header = columns.get(field_name)
    if header is None and "[" in field_name:
        header = columns.get(_SUPPORTER_INDEX.sub("", field_name))
    return header or ""


def blank(value: Any) -> bool:
    """An empty cell (or an empty list of codes)."""
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return not value
    return value is None
