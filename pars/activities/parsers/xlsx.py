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
with no absolute or ``..`` member path, a total uncompressed size within
``settings.PARS_MAX_XLSX_UNCOMPRESSED_BYTES`` (default 1 GiB), and no member of more
than :data:`RATIO_GRACE_BYTES` expanding more than :data:`MAX_COMPRESSION_RATIO`
times (a zip bomb).
"""

from __future__ import annotations

import datetime
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from pars.activities.parsers import FileRejected, ParsedRow
from pars.activities.parsers.layouts import Layout, blank, recognise

DEFAULT_MAX_UNCOMPRESSED_BYTES = 1024**3
MAX_COMPRESSION_RATIO = 100
# Members smaller than this are not held to the ratio (as Apache POI's ZipSecureFile):
# a few KiB of repetitive XML legitimately compresses more than 100:1.
RATIO_GRACE_BYTES = 100 * 1024
MAX_MEMBERS = 10_000

NOT_XLSX = (
    "The file is not an Excel workbook (.xlsx). Save it in Excel as 'Excel Workbook "
    "(.xlsx)' (not .xls, .xlsb or a password-protected workbook) and upload it again."
)


def read_xlsx(path: str | Path) -> tuple[Layout, Iterator[ParsedRow]]:
    """Recognise the layout of the first worksheet and return it with its rows.

    Read with openpyxl in read-only mode, which streams the sheet's XML: memory stays
    flat however many rows the sheet has (calamine would load the whole sheet first).
    """
    check_xlsx_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        sheet_rows = sheet.iter_rows(min_row=1, min_col=1, values_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise FileRejected(f"{NOT_XLSX} ({error})") from None
    records = cell_records(sheet_rows)
    try:
        first = next(records, None)
    except Exception as error:
        workbook.close()
        raise FileRejected(f"{NOT_XLSX} ({error})") from None
    if first is None:
        workbook.close()
        raise FileRejected("The first worksheet is empty: it has no rows.")
    number, cells = first
    try:
        reader, is_header = recognise(cells)
    except FileRejected:
        workbook.close()
        raise

    def rows() -> Iterator[ParsedRow]:
        try:
            if not is_header:
                yield reader.read(cells, number)
            for row_number, row_cells in records:
                yield reader.read(row_cells, row_number)
        finally:
            workbook.close()  # read-only workbooks keep the file open until closed

    return reader.layout, rows()


def cell_records(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[int, list[Any]]]:
    for number, row in enumerate(rows, start=1):
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


def check_xlsx_archive(path: str | Path) -> None:
    """Refuse a file that is not a safe xlsx zip, from its directory alone."""
    limit = getattr(settings, "PARS_MAX_XLSX_UNCOMPRESSED_BYTES", DEFAULT_MAX_UNCOMPRESSED_BYTES)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise FileRejected(NOT_XLSX) from None
    if len(members) > MAX_MEMBERS:
        raise FileRejected(f"The workbook has more than {MAX_MEMBERS} parts; it is refused.")
    names = {member.filename.lower() for member in members}
    if "xl/workbook.xml" not in names:
        raise FileRejected(NOT_XLSX)
    total = 0
    for member in members:
        name = member.filename
        parts = re.split(r"[\\/]", name)
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            raise FileRejected(
                f"The workbook is refused: it contains a part with an unsafe path ({name!r})."
            )
        total += member.file_size
        if member.file_size > RATIO_GRACE_BYTES and member.file_size > MAX_COMPRESSION_RATIO * max(
            member.compress_size, 1
        ):
            raise FileRejected(
                f"The workbook is refused: its part {name!r} expands more than "
                f"{MAX_COMPRESSION_RATIO} times (a 'zip bomb')."
            )
    if total > limit:
        raise FileRejected(
            f"The workbook is refused: uncompressed it would take {total:,} bytes, "
            f"more than the limit of {limit:,}."
        )
