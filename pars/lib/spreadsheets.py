"""Writing rows for spreadsheets (CSV and XLSX) without formula injection.

A cell a user typed (an uploaded value echoed in an error report, say) that starts
with ``=``, ``+``, ``-``, ``@`` (or their full-width forms), a tab or a carriage return
could be run as a formula by a spreadsheet program; :func:`escape_formula` prefixes such
text with an apostrophe, and both writers apply it to every text cell, header included.
"""

from __future__ import annotations

import csv
import datetime
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import IO, Any, Protocol

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# With the full-width and small forms of = + - @: spreadsheet programs (Excel with East
# Asian input among them) may read them as the ASCII characters.
FORMULA_PREFIXES = (
    "=",
    "+",
    "-",
    "@",
    "\t",
    "\r",
    "\uff1d",  # FULLWIDTH EQUALS SIGN
    "\uff0b",  # FULLWIDTH PLUS SIGN
    "\uff0d",  # FULLWIDTH HYPHEN-MINUS
    "\uff20",  # FULLWIDTH COMMERCIAL AT
    "\ufe66",  # SMALL EQUALS SIGN
    "\ufe62",  # SMALL PLUS SIGN
    "\ufe63",  # SMALL HYPHEN-MINUS
    "\ufe6b",  # SMALL COMMERCIAL AT
)


class TextWriter(Protocol):
    def write(self, text: str, /) -> Any: ...


def escape_formula(value: Any) -> Any:
    """`value` with a leading apostrophe if it is text that looks like a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def unescape_formula(value: str) -> str:
    """`value` without the apostrophe :func:`escape_formula` put before formula-like text,
    so that a file PARS exported reads back as what was stored."""
    if value[:1] == "'" and value[1:].startswith(FORMULA_PREFIXES):
        return value[1:]
    return value


def _cell(value: Any, *, xlsx: bool = False) -> Any:
    """A value a spreadsheet can hold: numbers and dates as they are, the rest as
    escaped text (for xlsx without the control characters an xlsx cell cannot hold)."""
    if xlsx and isinstance(value, datetime.datetime) and value.tzinfo is not None:
        # An xlsx cell holds no time zone: write the UTC time.
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    if value is None or isinstance(
        value, bool | int | float | Decimal | datetime.date | datetime.datetime
    ):
        return value
    if isinstance(value, list | tuple):
        value = "; ".join(str(item) for item in value)
    text = str(value)
    if xlsx:
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
    return escape_formula(text)


def write_rows_csv(
    stream: TextWriter, header: Iterable[Any], rows: Iterable[Iterable[Any]], *, bom: bool = True
) -> None:
    """Write a CSV (Excel dialect) to a text stream.

    With `bom`, a UTF-8 byte-order mark starts the file, so that Excel reads it as
    UTF-8. For a binary stream wrap it: ``io.TextIOWrapper(raw, "utf-8", newline="")``.
    """
    if bom:
        stream.write("\ufeff")
    writer = csv.writer(stream)
    writer.writerow([_cell(value) for value in header])
    for row in rows:
        writer.writerow([_cell(value) for value in row])


def write_rows_xlsx(
    stream: IO[bytes], header: Iterable[Any], rows: Iterable[Iterable[Any]], *, title: str = "Rows"
) -> None:
    """Write a one-sheet workbook, streaming (openpyxl write-only mode)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append([_cell(value, xlsx=True) for value in header])
    for row in rows:
        sheet.append([_cell(value, xlsx=True) for value in row])
    workbook.save(stream)


def write_sheets_xlsx(
    stream: IO[bytes], sheets: Iterable[tuple[str, Iterable[Any], Iterable[Iterable[Any]]]]
) -> None:
    """Write a workbook of several sheets, each ``(title, header, rows)``, streaming.

    Titles are cut to the 31 characters a sheet name may have, without ``[]:*?/\\``.
    """
    workbook = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(re.sub(r"[\[\]:*?/\\]", " ", title)[:31])
        sheet.append([_cell(value, xlsx=True) for value in header])
        for row in rows:
            sheet.append([_cell(value, xlsx=True) for value in row])
    workbook.save(stream)
