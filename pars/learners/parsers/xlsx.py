"""Excel (.xlsx) learner files: the header-led learner table on the first worksheet.

Usage::

    for parsed in read_learner_xlsx(path):   # FileRejected at once (not a safe xlsx)
        ...                                   # or on the first row (no learner header)

The first worksheet's first non-blank row is the header; its columns are matched by
name (:func:`pars.learners.parsers.map_header`: label, field name or a documented
alias, any order), exactly as in tab-delimited learner files. Row numbers are 1-based
sheet rows; blank rows are skipped.

Cell values pass through natively, as the activity Excel reader gives them
(`pars.activities.parsers.xlsx.cell_records`): dates as ``datetime.date`` (a date-time
with a time of day stays a ``datetime``), numbers as ``int`` when whole (a board ID
typed as 123456 must not become "123456.0") or ``float``, booleans as ``bool``. The
validator accepts all of them.

The archive is checked before the workbook is opened
(`pars.activities.parsers.xlsx.check_xlsx_archive`: zip bombs, unsafe member paths,
size limit), and the sheet is streamed by openpyxl in read-only mode, so memory stays
flat however many learners the sheet holds.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from pars.activities.parsers import FileRejected, ParsedRow
from pars.activities.parsers.xlsx import NOT_XLSX, cell_records, check_xlsx_archive
from pars.learners.parsers import FILE_COLUMNS, rows_from_cells


def read_learner_xlsx(
    path: str | Path, required: frozenset[str] = FILE_COLUMNS
) -> Iterator[ParsedRow]:
    """The learner rows of the first worksheet (see the module docstring); ``required``:
    the columns its header must name (pre-validation lists need fewer than files)."""
    check_xlsx_archive(path)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        sheet_rows = sheet.iter_rows(min_row=1, min_col=1, values_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise FileRejected(f"{NOT_XLSX} ({error})") from None
    return _rows(workbook, rows_from_cells(cell_records(sheet_rows), "first worksheet", required))


def _rows(workbook: Any, rows: Iterator[ParsedRow]) -> Iterator[ParsedRow]:
    try:
        yield from rows
    except FileRejected:
        raise
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        OSError,
        SyntaxError,  # xml.etree's ParseError: the sheet's XML breaks off
    ) as error:
        # A sheet whose XML breaks off or holds what openpyxl cannot read.
        raise FileRejected(f"{NOT_XLSX} ({error})") from None
    finally:
        workbook.close()  # read-only workbooks keep the file open until closed
