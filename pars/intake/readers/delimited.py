"""Delimited text as spreadsheets and other systems write it, read row by row.

Encodings (:func:`open_text`): UTF-8 with or without a byte-order mark; UTF-16 with a
byte-order mark (Excel's "Unicode Text"); otherwise, when the bytes are not UTF-8,
Windows-1252 (Excel's "Text (Tab delimited)" on Windows), in which every byte
decodes. Which one was used is kept on the :class:`TextSource`, so the upload result
can say "read as Windows-1252". Delimiters: tab, comma or semicolon, chosen from the
first non-blank line (a ``.csv`` name breaks a tie towards commas), with Excel's
quoting (``"a ""quoted"" cell"``, cells spanning lines).

Refused (:class:`~pars.intake.readers.FileRejected`): NUL characters (binary, or
UTF-16 without its byte-order mark), a line longer than :data:`MAX_LINE_CHARACTERS`,
a known binary format. Row numbers are those a spreadsheet shows (a cell with a line
break does not shift them); blank rows are skipped; rows are produced lazily, so memory stays flat
whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import IO, BinaryIO

from pars.intake.readers import FileRejected, refuse_binary
from pars.lib.spreadsheets import unescape_formula

MAX_LINE_CHARACTERS = 1024 * 1024
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_SCAN_CHUNK = 1024 * 1024
_DELIMITERS = {"\t": "tab", ",": "comma", ";": "semicolon"}
ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
}


def _c1_for_unassigned(error: UnicodeError) -> tuple[str, int]:
    # Five bytes have no Windows-1252 character; browsers (WHATWG) read them as the C1
    # control of the same number, so every byte sequence decodes.
    assert isinstance(error, UnicodeDecodeError)
    return chr(error.object[error.start]), error.start + 1


codecs.register_error("pars-c1", _c1_for_unassigned)


@dataclass
class TextSource:
    """What was learnt about a text file while opening it."""

    encoding: str = "utf-8"
    delimiter: str = "\t"
    notices: list[str] = field(default_factory=list)

    @property
    def encoding_name(self) -> str:
        return ENCODING_NAMES.get(self.encoding, self.encoding)

    @property
    def delimiter_name(self) -> str:
        return _DELIMITERS.get(self.delimiter, repr(self.delimiter))


def read_records(
    stream: BinaryIO, source: TextSource | None = None, *, name: str = ""
) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, cells) for each non-blank row.

    `source`, when given, is filled in with the encoding and delimiter found; `name`
    (the uploaded file's name) only breaks a tie between delimiters.
    """
    source = source if source is not None else TextSource()
    text = open_text(stream, source)
    lines = _checked_lines(text)
    leading: list[str] = []
    filled: list[str] = []
    # The first two non-blank lines choose the delimiter: the first may be guidance text
    # above the header (ACCME's learner template), whose commas must not outvote it.
    for line in lines:
        leading.append(line)
        if line.strip():
            filled.append(line)
            if len(filled) == 2:
                break
    if not leading:
        return
    source.delimiter = _delimiter(filled, name)
    if source.delimiter != "\t":
        source.notices.append(f"read as {source.delimiter_name}-separated values")
    reader = csv.reader(chain(leading, lines), dialect="excel", delimiter=source.delimiter)
    # Rows are numbered as a spreadsheet shows them: one per record, blank ones included,
    # so a quoted cell with a line break does not shift the rows after it.
    number = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileRejected(
                f"Row {number + 1} (line {reader.line_num}) could not be read as delimited "
                f"text ({error})."
            ) from None
        number += 1
        # The cells at once: all blank exactly when their text is (csv gives strings).
        joined = "".join(cells)
        if not joined or joined.isspace():
            continue
        if "'" in joined:  # rare enough to look cell by cell only then
            cells = [unescape_formula(cell) for cell in cells]
        yield number, cells


def open_text(stream: BinaryIO, source: TextSource) -> IO[str]:
    """The stream as text in the encoding its bytes show (see the module docstring)."""
    seekable = _seekable(stream)
    head = seekable.read(4)
    seekable.seek(0)
    refuse_binary(head, "delimited text (tab, comma or semicolon)")
    if head.startswith(_UTF16_BOMS):
        source.encoding = "utf-16"
    elif _is_utf8(seekable):
        source.encoding = "utf-8-sig" if head.startswith(_UTF8_BOM) else "utf-8"
    else:
        source.encoding = "cp1252"
        if head.startswith(_UTF8_BOM):  # a byte-order mark, then Windows-1252 bytes
            seekable.seek(len(_UTF8_BOM))
    if source.encoding not in ("utf-8", "utf-8-sig"):
        source.notices.append(f"read as {source.encoding_name}")
    # Only Windows-1252 needs the lenient handler; a UTF-16 file with a bad character
    # is refused (FileRejected, from _checked_lines) rather than read out of step.
    errors = "pars-c1" if source.encoding == "cp1252" else "strict"
    return io.TextIOWrapper(seekable, encoding=source.encoding, errors=errors, newline="")


def _seekable(stream: BinaryIO) -> BinaryIO:
    if stream.seekable():
        return stream
    # The encoding is known only after reading every byte: keep a copy to read again.
    copy = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 (closed with the text)
    shutil.copyfileobj(stream, copy)
    copy.seek(0)
    return copy  # type: ignore[return-value]


def _is_utf8(stream: BinaryIO) -> bool:
    """Whether every byte of the stream is UTF-8 (one pass in C, then back to the start)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := stream.read(_SCAN_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        stream.seek(0)
    return True


def _checked_lines(text: IO[str]) -> Iterator[str]:
    number = 0
    while True:
        try:
            line = text.readline(MAX_LINE_CHARACTERS + 3)
        except UnicodeDecodeError:
            name = str(getattr(text, "encoding", "text"))
            encoding = ENCODING_NAMES.get(name, name)
            # Decoding runs ahead of the lines, so the bad byte's line is not known.
            raise FileRejected(
                f"The file starts as {encoding} but is not valid {encoding} throughout (after "
                f"line {number}): save it again as UTF-8, or upload the Excel workbook "
                "(.xlsx) instead."
            ) from None
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_CHARACTERS and len(line.rstrip("\r\n")) > MAX_LINE_CHARACTERS:
            raise FileRejected(
                f"Line {number} is longer than {MAX_LINE_CHARACTERS // 1024} K characters; "
                "this is not a record file."
            )
        if "\x00" in line:
            raise FileRejected(
                f"Line {number} contains NUL bytes: the file is not plain text. Save it as "
                "text (tab-delimited or CSV, in UTF-8, UTF-16 or Windows-1252), or upload the "
                "Excel workbook (.xlsx) instead."
            )
        yield line


def _counts(line: str) -> dict[str, int]:
    """How often the line holds each delimiter outside quotes."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for character in line:
        if character == '"':
            quoted = not quoted
        elif not quoted and character in counts:
            counts[character] += 1
    return counts


def _delimiter(lines: list[str], name: str) -> str:
    """Tab, comma or semicolon, from the first (up to two) non-blank lines.

    A tab anywhere wins (tab-delimited files often have commas inside cells). Otherwise
    a delimiter both lines hold beats one only a line holds (a comma in a guidance line
    or in a name like "Smith, Jr." must not outvote the header's semicolons); between
    two both lines hold, the one with as many in each line (a table's columns) wins;
    a `.csv` name breaks a tie towards commas.
    """
    counts = [_counts(line) for line in lines]
    if not counts or any(count["\t"] for count in counts):
        return "\t"
    candidates = [d for d in (",", ";") if all(count[d] for count in counts)]
    if len(candidates) == 2:
        even = [d for d in candidates if len({count[d] for count in counts}) == 1]
        candidates = even if len(even) == 1 else candidates
    if not candidates:  # only one line holds any: the later one, the header or a row
        candidates = [d for d in (",", ";") if counts[-1][d]] or [
            d for d in (",", ";") if counts[0][d]
        ]
    if not candidates:
        return "\t"  # one column: nothing to split
    if len(candidates) == 1:
        return candidates[0]
    if name.lower().endswith(".csv"):
        return ","
    return max(candidates, key=lambda d: counts[0][d])
