"""Tab-delimited activity files (ACCME Templates C/D, the 2011+ and 2010-11 layouts,
and our current layout saved as text).

Usage::

    layout, rows = read_tsv(uploaded_file)   # FileRejected if the layout is unknown
    for parsed in rows:                       # FileRejected may also come mid-file
        ...                                   # (bad encoding on line 40 000)

The file is read line by line and rows are produced lazily, so memory stays flat
whatever the file size. ``read_tsv`` reads the first non-blank row eagerly to
recognise the layout (`layouts.recognise`); a header row is then skipped. Errors
that concern the whole file raise :class:`FileRejected`, when ``read_tsv`` is
called or while iterating: the caller must treat the whole file as rejected in
both cases (apply nothing).

Accepted: UTF-8 with or without a byte-order mark, CRLF or LF line ends, Excel's
quoting (``"a ""quoted"" cell"``, cells spanning lines). Rejected: any other
encoding (with the line of the first bad byte), UTF-16 ("Unicode Text"), NUL bytes,
a line longer than :data:`MAX_LINE_BYTES`. Row numbers are the 1-based line of the
file where the row starts (a header is line 1). Blank rows are skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

from pars.activities.parsers import FileRejected, ParsedRow, refuse_binary
from pars.activities.parsers.layouts import Layout, blank, recognise

MAX_LINE_BYTES = 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SAVE_AS = (
    "Save the file as UTF-8 (for example, open it in a text editor and save it with the "
    "UTF-8 encoding), or upload the Excel workbook (.xlsx) instead."
)


def read_tsv(stream: BinaryIO) -> tuple[Layout, Iterator[ParsedRow]]:
    """Recognise the layout of a tab-delimited file and return it with its rows."""
    records = read_records(stream)
    first = next(records, None)
    if first is None:
        raise FileRejected("The file is empty: it has no rows.")
    line, cells = first
    reader, is_header = recognise(cells)

    def rows() -> Iterator[ParsedRow]:
        if not is_header:
            yield reader.read(cells, line)
        for number, row_cells in records:
            yield reader.read(row_cells, number)

    return reader.layout, rows()


def read_records(stream: BinaryIO) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, cells) for each non-blank row."""
    reader = csv.reader(_lines(stream), dialect="excel-tab")
    last_line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileRejected(
                f"Line {last_line + 1} could not be read as tab-delimited text ({error})."
            ) from None
        start, last_line = last_line + 1, reader.line_num
        if all(blank(cell) for cell in cells):
            continue
        yield start, cells


def _lines(stream: BinaryIO) -> Iterator[str]:
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if number == 1:
            refuse_binary(raw, "tab-delimited text")
            if raw.startswith(_UTF16_BOMS):
                raise FileRejected(f"The file is UTF-16 ('Unicode Text'). {_SAVE_AS}")
            raw = raw.removeprefix(_UTF8_BOM)
        if len(raw) > MAX_LINE_BYTES:
            raise FileRejected(
                f"Line {number} is longer than {MAX_LINE_BYTES // 1024} KiB; "
                "this is not an activity file."
            )
        if b"\x00" in raw:
            raise FileRejected(
                f"Line {number} contains NUL bytes: the file is not plain text. {_SAVE_AS}"
            )
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            bad = raw[error.start : error.start + 1].hex()
            raise FileRejected(
                f"Line {number} is not valid UTF-8 (byte 0x{bad} at position {error.start + 1}). "
                f"{_SAVE_AS}"
            ) from None
