"""Excel (.xlsx) activity files: the same layouts as the tab-delimited files.

Usage::

    layout, rows = read_xlsx(path)   # FileRejected: not an xlsx, unsafe zip, unknown layout
    for parsed in rows:
        ...

Only the first worksheet is read; its first non-blank row is a header row or the
first activity, as in tab-delimited files (`layouts.recognise`). Cell values are
passed through natively (dates as ``datetime.date``/``datetime``, numbers, booleans),
except that whole-number floats become ints (Excel stores every number as a float:
an ID typed as 1004 must not become "1004.0"). Row numbers are 1-based sheet rows.

Before the workbook is opened, the zip archive is inspected without decompressing
anything (:func:`check_xlsx_archive`): it must be a zip holding ``xl/workbook.xml``,
with no absolute or ``..`` member path, no member of more than ``RATIO_GRACE_BYTES``
expanding more than 100 times (a zip bomb), and within the limits of
:class:`~pars.activities.parsers.xlsx_reader.XlsxLimits` (settings
``PARS_MAX_XLSX_UNCOMPRESSED_BYTES`` in total, ``PARS_MAX_XLSX_PART_BYTES`` per part,
``PARS_MAX_XLSX_SHARED_STRINGS_BYTES`` and ``PARS_MAX_XLSX_SHARED_STRINGS`` for the
shared strings). The sheet is then read by the bounded streaming reader of
:mod:`~pars.activities.parsers.xlsx_reader`, not by openpyxl (which holds every shared
string in memory).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pars.activities.parsers import FileRejected, ParsedRow
from pars.activities.parsers.layouts import Layout, blank, recognise
from pars.activities.parsers.xlsx_reader import (
    MAX_COMPRESSION_RATIO,
    NOT_XLSX,
    RATIO_GRACE_BYTES,
    FirstSheet,
    XlsxLimits,
    check_xlsx_archive,
)

__all__ = [
    "MAX_COMPRESSION_RATIO",
    "NOT_XLSX",
    "RATIO_GRACE_BYTES",
    "XlsxLimits",
    "cell_records",
    "check_xlsx_archive",
    "open_sheet_records",
    "read_xlsx",
]


def open_sheet_records(
    path: str | Path, limits: XlsxLimits | None = None
) -> tuple[FirstSheet, Iterator[tuple[int, list[Any]]]]:
    """The checked, opened first sheet and its non-blank rows; close the sheet when done."""
    limits = limits or XlsxLimits.from_settings()
    check_xlsx_archive(path, limits)
    sheet = FirstSheet(path, limits)
    return sheet, cell_records(sheet.rows())


def read_xlsx(path: str | Path) -> tuple[Layout, Iterator[ParsedRow]]:
    """Recognise the layout of the first worksheet and return it with its rows.

    The sheet is streamed (see the module doc): memory stays flat however many rows,
    cells or shared strings it has.
    """
    sheet, records = open_sheet_records(path)
    try:
        first = next(records, None)
        if first is None:
            raise FileRejected("The first worksheet is empty: it has no rows.")
        number, cells = first
        reader, is_header = recognise(cells)
    except BaseException:
        sheet.close()
        raise

    def rows() -> Iterator[ParsedRow]:
        try:
            if not is_header:
                yield reader.read(cells, number)
            for row_number, row_cells in records:
                yield reader.read(row_cells, row_number)
        finally:
            sheet.close()  # the shared strings' temporary file and the zip

    return reader.layout, rows()


def cell_records(rows: Iterable[tuple[int, Sequence[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """The non-blank rows, numbered, with Excel's values as the parsers take them."""
    for number, row in rows:
        if all(blank(value) for value in row):
            continue
        yield number, [_value(value) for value in row]


def _value(value: Any) -> Any:
    if value is None:
        return ""  # an empty cell, as in a tab-delimited file
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date()  # Excel keeps dates as midnight date-times
    return value
