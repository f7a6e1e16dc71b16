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
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from pars.lib.dates import us_date, us_datetime

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


# Dates in a workbook show month/day/year, as on the pages (pars.lib.dates); the cells
# stay real dates, which Excel sorts and filters.
XLSX_DATE_FORMAT = "mm/dd/yyyy"
XLSX_DATETIME_FORMAT = "mm/dd/yyyy hh:mm"


def _xlsx_row(sheet: Any, values: Iterable[Any]) -> list[Any]:
    row = []
    for value in values:
        value = _cell(value, xlsx=True)
        if isinstance(value, datetime.date):
            cell = WriteOnlyCell(sheet, value)
            is_datetime = isinstance(value, datetime.datetime)
            cell.number_format = XLSX_DATETIME_FORMAT if is_datetime else XLSX_DATE_FORMAT
            value = cell
        row.append(value)
    return row


def _csv_cell(value: Any, *, iso_dates: bool) -> Any:
    """A CSV cell: a date as people read it (12/31/2026; a date and time in the site's
    time zone, 12/31/2026 14:05), or with `iso_dates` as ISO 8601 for programs."""
    if not iso_dates and isinstance(value, datetime.datetime):
        return us_datetime(value)
    if not iso_dates and isinstance(value, datetime.date):
        return us_date(value)
    return _cell(value)


def write_rows_csv(
    stream: TextWriter,
    header: Iterable[Any],
    rows: Iterable[Iterable[Any]],
    *,
    bom: bool = True,
    iso_dates: bool = False,
) -> None:
    """Write a CSV (Excel dialect) to a text stream.

    With `bom`, a UTF-8 byte-order mark starts the file, so that Excel reads it as
    UTF-8. For a binary stream wrap it: ``io.TextIOWrapper(raw, "utf-8", newline="")``.
    Dates are written mm/dd/yyyy, as the pages show them (a CSV cell has no number
    format to carry a date); `iso_dates` writes ISO 8601 instead, for a file meant for
    statistical software rather than people.
    """
    if bom:
        stream.write("\ufeff")
    writer = csv.writer(stream)
    writer.writerow([_csv_cell(value, iso_dates=iso_dates) for value in header])
    for row in rows:
        writer.writerow([_csv_cell(value, iso_dates=iso_dates) for value in row])


def write_rows_xlsx(
    stream: IO[bytes], header: Iterable[Any], rows: Iterable[Iterable[Any]], *, title: str = "Rows"
) -> None:
    """Write a one-sheet workbook, streaming (openpyxl write-only mode)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append(_xlsx_row(sheet, header))
    for row in rows:
        sheet.append(_xlsx_row(sheet, row))
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
        sheet.append(_xlsx_row(sheet, header))
        for row in rows:
            sheet.append(_xlsx_row(sheet, row))
    workbook.save(stream)
