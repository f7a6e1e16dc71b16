"""Delimited text: tab-delimited rows read line by line, with the checks every text file gets.

Accepted: UTF-8 with or without a byte-order mark, CRLF or LF line ends, Excel's
quoting (``"a ""quoted"" cell"``, cells spanning lines). Rejected
(:class:`~pars.intake.readers.FileRejected`): any other encoding (with the line of the
first bad byte), UTF-16 ("Unicode Text"), NUL bytes, a line longer than
:data:`MAX_LINE_BYTES`, a binary file. Row numbers are the 1-based line of the file
where the row starts. Blank rows are skipped. Rows are produced lazily, so memory stays
flat whatever the file size.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import BinaryIO

from pars.intake.readers import FileRejected, blank, refuse_binary

MAX_LINE_BYTES = 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SAVE_AS = (
    "Save the file as UTF-8 (for example, open it in a text editor and save it with the "
    "UTF-8 encoding), or upload the Excel workbook (.xlsx) instead."
)


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
