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

The workbook is checked and streamed by :mod:`pars.intake.readers.xlsx` (zip bombs,
unsafe member paths, the limits of ``XlsxLimits``), not by openpyxl, so memory stays
flat however many rows, cells or shared strings it has.
"""

from __future__ import annotations

from collections.abc import Iterator

from pars.activities.parsers.cells import Peekable
from pars.activities.parsers.layouts import Layout
from pars.activities.parsers.row_readers import recognise
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.readers.xlsx import WorkbookSource, open_sheet_records


def read_xlsx(
    source: WorkbookSource, *, notices: list[str] | None = None
) -> tuple[Layout, Iterator[ParsedRow]]:
    """Recognize the layout of the first worksheet and return it with its rows.

    The sheet is streamed (see the module doc): memory stays flat however many rows,
    cells or shared strings it has. `notices` receives a sentence per header read
    differently (layouts.recognise).
    """
    sheet, sheet_records = open_sheet_records(source)
    records = Peekable(sheet_records)
    try:
        first = next(records, None)
        if first is None:
            raise FileRejected("The first worksheet is empty: it has no rows.")
        number, cells = first
        reader, is_header = recognise(cells, records.peek_cells, notices)
    except BaseException:
        sheet.close()
        raise

    def rows() -> Iterator[ParsedRow]:
        try:
            if not is_header:
                yield reader.read(cells, number)
            read = reader.read
            for row_number, row_cells in records.rest():
                yield read(row_cells, row_number)
        finally:
            sheet.close()  # the shared strings' temporary file and the zip

    return reader.layout, rows()
