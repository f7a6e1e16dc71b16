"""Excel (.xlsx) learner files: the header-led learner table on the first worksheet.

Usage::

    for parsed in read_learner_xlsx(path):   # FileRejected at once (not a safe xlsx)
        ...                                   # or on the first row (no learner header)

The first worksheet's first non-blank row is the header (or its second, when the first
is guidance text, as in ACCME's learner template); its columns are matched by name
(:func:`pars.learners.parsers.read_header`: label, field name, a documented alias or a
recipient's identifier label, any order), exactly as in tab-delimited learner files.
Row numbers are 1-based sheet rows; blank rows are skipped.

Cell values pass through natively, as the activity Excel reader gives them
(`pars.intake.readers.xlsx.cell_records`): dates as ``datetime.date`` (a date-time
with a time of day stays a ``datetime``), numbers as ``int`` when whole (a board ID
typed as 123456 must not become "123456.0") or ``float``, booleans as ``bool``. The
validator accepts all of them.

The archive is checked before the workbook is opened
(`pars.intake.readers.xlsx.check_xlsx_archive`: zip bombs, unsafe member paths,
the size limits of the whole, of each part and of the shared strings), and the sheet is
streamed by the bounded reader (`pars.intake.readers.xlsx`), so memory stays
flat however many learners, cells or shared strings the sheet holds. ``limits`` lowers
them for lists read inside a web request (pre-validation).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

from pars.intake.readers import ParsedRow
from pars.intake.readers.xlsx import FirstSheet, WorkbookSource, XlsxLimits, open_sheet_records
from pars.learners.parsers import FILE_COLUMNS, rows_from_cells


def read_learner_xlsx(
    source: WorkbookSource,
    required: frozenset[str] = FILE_COLUMNS,
    *,
    limits: XlsxLimits | None = None,
    notices: list[str] | None = None,
) -> Generator[ParsedRow]:
    """The learner rows of the first worksheet (see the module docstring); ``required``:
    the columns its header must name (pre-validation lists need fewer than files);
    ``notices`` receives sentences on what was read differently (a guidance row above
    the header, ignored columns: see rows_from_cells)."""
    sheet, records = open_sheet_records(source, limits)
    return _rows(sheet, rows_from_cells(records, "first worksheet", required, notices))


def _rows(sheet: FirstSheet, rows: Iterator[ParsedRow]) -> Generator[ParsedRow]:
    try:
        yield from rows
    finally:
        sheet.close()  # the shared strings' temporary file and the zip
