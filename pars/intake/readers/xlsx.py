"""A bounded, streaming reader of an Excel workbook's first worksheet.

Usage::

    limits = XlsxLimits.from_settings()
    # source: a path, or a seekable binary file (the storage's, pars.intake.store.open_stored)
    check_xlsx_archive(source, limits)          # from the zip directory alone
    with FirstSheet(source, limits) as sheet:   # FileRejected: not a readable workbook
        for number, values in sheet.rows():     # 1-based sheet row, cell values from column A
            ...

Why not openpyxl's read-only mode: it loads the whole shared-strings table into a list
(and a dict) before the first row, so a 2 MB workbook whose ``sharedStrings.xml``
inflates to 188 MB took a process from 140 MB to 1.1 GB; and its worksheet parser keeps
an (emptied) element per row, about 90 bytes a row. Here every part is read by expat in
small chunks, nothing is kept per row once it has been handed on, and the shared strings
go to a temporary file on disk with only their offsets (8 bytes each) in memory.

What a workbook may hold (besides the zip checks of :func:`check_xlsx_archive`):

* the shared strings: at most ``XlsxLimits.shared_strings`` of them (its declared
  ``uniqueCount`` is checked first, the real count while reading);
* a cell: at most 32,767 characters, Excel's own limit; a row: at most 16,384 columns
  (Excel's) and :data:`MAX_ROW_CHARS` characters of text all cells together;
* no DOCTYPE in any part (so no entity of any kind).

Values come as openpyxl gives them with ``data_only=True``: numbers as int or float,
dates (a number in a date format) as ``datetime`` (or ``timedelta`` for a duration
format), booleans as bool, text as str, formulas as their cached value, error cells as
their text (``#N/A``), empty cells as None. :func:`open_sheet_records` does it all
and hands on the non-blank rows as the parsers take them (:func:`cell_records`).
"""

from __future__ import annotations

import datetime
import os
import posixpath
import re
import tempfile
import zipfile
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from xml.parsers import expat

from django.conf import settings
from openpyxl.styles.numbers import (
    BUILTIN_FORMATS_MAX_SIZE,
    builtin_format_code,
    is_date_format,
    is_timedelta_format,
)
from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel, from_ISO8601

from pars.intake.readers import FileRejected, blank
from pars.lib.spreadsheets import unescape_formula

MiB = 1024 * 1024
MAX_COMPRESSION_RATIO = 100
# Members smaller than this are not held to the ratio (as Apache POI's ZipSecureFile):
# a few KiB of repetitive XML legitimately compresses more than 100:1.
RATIO_GRACE_BYTES = 100 * 1024
MAX_MEMBERS = 10_000
MAX_CELL_CHARS = 32_767  # Excel's limit for one cell
MAX_COLUMNS = 16_384  # Excel's columns A to XFD
MAX_ROW_CHARS = 1_000_000  # text of one row, all cells together
MAX_PADDED_COLUMNS = 1_024  # rows are padded to the declared width up to this many columns
MAX_STYLES = 65_536  # cell formats (Excel allows about 64,000)
CHUNK_BYTES = 64 * 1024

NOT_XLSX = (
    "The file is not an Excel workbook (.xlsx). Save it in Excel as 'Excel Workbook "
    "(.xlsx)' (not .xls, .xlsb or a password-protected workbook) and upload it again."
)
# A workbook is read from a local path (tests, tools) or from a seekable binary file: the
# uploaded file as the storage API opens it, so no worker needs the uploads on its disk.
WorkbookSource = str | Path | IO[bytes]

_SPLIT = "Save it as several smaller workbooks, or as tab-delimited text, and send each."


@dataclass(frozen=True)
class XlsxLimits:
    """How far a workbook may expand (bytes uncompressed) and how many shared strings it holds."""

    total_bytes: int = 200 * MiB
    part_bytes: int = 150 * MiB
    shared_strings_bytes: int = 64 * MiB
    shared_strings: int = 1_000_000

    @classmethod
    def from_settings(cls) -> XlsxLimits:
        default = cls()
        return cls(
            total_bytes=getattr(settings, "PARS_MAX_XLSX_UNCOMPRESSED_BYTES", default.total_bytes),
            part_bytes=getattr(settings, "PARS_MAX_XLSX_PART_BYTES", default.part_bytes),
            shared_strings_bytes=getattr(
                settings, "PARS_MAX_XLSX_SHARED_STRINGS_BYTES", default.shared_strings_bytes
            ),
            shared_strings=getattr(
                settings, "PARS_MAX_XLSX_SHARED_STRINGS", default.shared_strings
            ),
        )

    def at_most(self, size: int, strings: int) -> XlsxLimits:
        """These limits, none above ``size`` bytes or ``strings`` shared strings (for the
        small lists read inside a web request)."""
        return replace(
            self,
            total_bytes=min(self.total_bytes, size),
            part_bytes=min(self.part_bytes, size),
            shared_strings_bytes=min(self.shared_strings_bytes, size),
            shared_strings=min(self.shared_strings, strings),
        )


def check_xlsx_archive(source: WorkbookSource, limits: XlsxLimits | None = None) -> None:
    """Refuse a file that is not a safe xlsx zip, from its directory alone (nothing inflated)."""
    limits = limits or XlsxLimits.from_settings()
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
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
        if name.lower().endswith("sharedstrings.xml"):
            _within(
                member.file_size,
                limits.shared_strings_bytes,
                f"its shared strings ({name!r}) would take",
            )
        _within(member.file_size, limits.part_bytes, f"its part {name!r} would take")
    _within(total, limits.total_bytes, "uncompressed it would take")


def _within(size: int, limit: int, what: str) -> None:
    if size > limit:
        raise FileRejected(
            f"The workbook is refused: {what} {size:,} bytes, more than the limit of "
            f"{limit:,}. {_SPLIT}"
        )


# ---------------------------------------------------------------------------
# Streaming XML with expat


def _local(name: str) -> str:
    """A tag or attribute name without its namespace prefix (``x:row`` -> ``row``)."""
    return name.rpartition(":")[2]


def _no_doctype(*_: Any) -> None:
    raise FileRejected(f"{NOT_XLSX} (a part declares a DOCTYPE, which a workbook never does)")


def _parser() -> expat.XMLParserType:
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _no_doctype
    parser.EntityDeclHandler = _no_doctype
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    return parser


def _feed(archive: zipfile.ZipFile, name: str, parser: expat.XMLParserType) -> Iterator[None]:
    """Feed a part to `parser` a chunk at a time, pausing after each chunk."""
    try:
        with archive.open(name) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                parser.Parse(chunk, False)
                yield
            parser.Parse(b"", True)
            yield  # what the end of the input completed
    except expat.ExpatError as error:
        raise FileRejected(
            f"{NOT_XLSX} (its part {name!r} is not well-formed XML: {error})"
        ) from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise FileRejected(f"{NOT_XLSX} (its part {name!r} cannot be read: {error})") from None


def _parse(
    archive: zipfile.ZipFile,
    name: str,
    start: Callable[[str, dict[str, str]], None],
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    """Read a whole part through the handlers (names without their prefix)."""
    parser = _parser()
    parser.StartElementHandler = lambda tag, attrs: start(_local(tag), attrs)
    if end is not None:
        parser.EndElementHandler = lambda tag: end(_local(tag))
    if text is not None:
        parser.CharacterDataHandler = text
    for _ in _feed(archive, name, parser):
        pass


# ---------------------------------------------------------------------------
# The shared strings, on disk


class SharedStrings:
    """The workbook's shared strings in a temporary file; only their offsets stay in memory."""

    def __init__(self) -> None:
        # Closed by close(), which every reader calls (deleted by the system at once).
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="pars-xlsx-")  # noqa: SIM115
        self._offsets = array("q", [0])
        self._end = 0

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def append(self, text: str) -> None:
        data = text.encode("utf-8")
        self._file.write(data)
        self._end += len(data)
        self._offsets.append(self._end)

    def finish(self) -> None:
        self._file.flush()

    def get(self, index: int) -> str:
        if not 0 <= index < len(self):
            raise FileRejected(
                f"{NOT_XLSX} (a cell refers to shared string {index}, which the workbook "
                "does not have)"
            )
        start, end = self._offsets[index], self._offsets[index + 1]
        return os.pread(self._file.fileno(), end - start, start).decode("utf-8")

    def close(self) -> None:
        self._file.close()


class _StringsHandler:
    """Expat handlers that write each ``<si>``'s text to `strings` (hot code, as the sheet's)."""

    def __init__(self, strings: SharedStrings, limit: int) -> None:
        self.strings = strings
        self.limit = limit
        self.names: dict[str, str] = {}
        self.capture = 0  # inside a <t>
        self.phonetic = 0  # inside an <rPh>
        self.parts: list[str] = []
        self.size = 0

    def too_many(self, count: int) -> FileRejected:
        return FileRejected(
            f"The workbook is refused: it holds {count:,} shared strings (different texts), "
            f"more than the limit of {self.limit:,}. {_SPLIT}"
        )

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = self.names.get(tag)
        if name is None:
            name = self.names[tag] = _local(tag)
        if name == "t":
            self.capture += 1
        elif name == "si":
            if len(self.strings) >= self.limit:
                raise self.too_many(len(self.strings) + 1)
            self.parts, self.size = [], 0
        elif name == "rPh":
            self.phonetic += 1
        elif name == "sst":
            declared = attrs.get("uniqueCount") or ""
            if declared.isdigit() and int(declared) > self.limit:
                raise self.too_many(int(declared))

    def end(self, tag: str) -> None:
        name = self.names.get(tag) or _local(tag)
        if name == "t":
            self.capture -= 1
        elif name == "si":
            self.strings.append(unescape("".join(self.parts)))
            self.parts = []
        elif name == "rPh":
            self.phonetic -= 1

    def text(self, data: str) -> None:
        if self.capture and not self.phonetic:
            self.size += len(data)
            if self.size > MAX_CELL_CHARS:
                raise FileRejected(
                    f"The workbook is refused: shared string {len(self.strings) + 1:,} holds "
                    f"more than {MAX_CELL_CHARS:,} characters, more than an Excel cell can."
                )
            self.parts.append(data)


# OOXML writes a character XML cannot hold (a control character Excel was given) as
# "_xHHHH_", and the underscore of a literal "_xHHHH_" as "_x005F_". Read back as the
# character, a control character meets the validator's rule as in every other channel.
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def unescape(text: str) -> str:
    """A cell's text (shared or inline) with its ``_xHHHH_`` escapes read back."""
    if "_x" not in text:
        return text
    return _ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), text)


def read_shared_strings(archive: zipfile.ZipFile, name: str, limits: XlsxLimits) -> SharedStrings:
    """The shared strings part, written to disk as it is read (FileRejected over the limits)."""
    strings = SharedStrings()
    handler = _StringsHandler(strings, limits.shared_strings)
    parser = _parser()
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    try:
        for _ in _feed(archive, name, parser):
            pass
        strings.finish()
    except BaseException:
        strings.close()
        raise
    return strings


# ---------------------------------------------------------------------------
# The workbook: which part is the first sheet, its shared strings and date formats


@dataclass
class _Parts:
    sheet: str
    shared_strings: str | None
    styles: str | None
    epoch: datetime.datetime


def _find(names: dict[str, str], name: str) -> str | None:
    return names.get(name.lower())


def _target(base: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base, target))


def _workbook_parts(archive: zipfile.ZipFile) -> _Parts:
    names = {info.filename.lower(): info.filename for info in archive.infolist()}
    workbook = _find(names, "xl/workbook.xml")
    if workbook is None:
        raise FileRejected(NOT_XLSX)
    found: dict[str, str] = {"epoch": ""}
    sheets: list[str] = []

    def workbook_start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "workbookPr" and attrs.get("date1904", "").lower() in ("1", "true"):
            found["epoch"] = "1904"
        elif tag == "sheet" and not sheets:
            sheets.extend(value for key, value in attrs.items() if _local(key) == "id")
            if not sheets:
                sheets.append("")

    _parse(archive, workbook, workbook_start)
    if not sheets:
        raise FileRejected(f"{NOT_XLSX} (it has no worksheet)")
    relations: dict[str, tuple[str, str]] = {}
    by_type: dict[str, str] = {}
    rels = _find(names, "xl/_rels/workbook.xml.rels")

    def rels_start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "Relationship" and len(relations) < MAX_MEMBERS:
            kind = attrs.get("Type", "").rpartition("/")[2]
            target = _target("xl", attrs.get("Target", ""))
            relations[attrs.get("Id", "")] = (kind, target)
            by_type.setdefault(kind, target)

    if rels is not None:
        _parse(archive, rels, rels_start)
    kind, sheet = relations.get(sheets[0], ("worksheet", "xl/worksheets/sheet1.xml"))
    sheet_name = _find(names, sheet)
    if kind != "worksheet" or sheet_name is None:
        raise FileRejected(f"{NOT_XLSX} (its first worksheet is missing)")
    return _Parts(
        sheet=sheet_name,
        shared_strings=_find(names, by_type.get("sharedStrings", "xl/sharedStrings.xml")),
        styles=_find(names, by_type.get("styles", "xl/styles.xml")),
        epoch=CALENDAR_MAC_1904 if found["epoch"] else WINDOWS_EPOCH,
    )


def _date_styles(archive: zipfile.ZipFile, name: str) -> tuple[set[int], set[int]]:
    """The cell formats (indexes of ``cellXfs``) that hold dates, and those that hold durations."""
    custom: dict[int, str] = {}
    formats: list[int] = []
    where: list[str] = []

    def start(tag: str, attrs: dict[str, str]) -> None:
        if tag == "numFmt" and len(custom) < MAX_STYLES:
            number = attrs.get("numFmtId", "")
            if number.isdigit():
                custom[int(number)] = attrs.get("formatCode", "")[:MAX_CELL_CHARS]
        elif tag in ("cellXfs", "cellStyleXfs", "dxfs"):
            where.append(tag)
        elif tag == "xf" and where and where[-1] == "cellXfs":
            if len(formats) >= MAX_STYLES:
                raise FileRejected(
                    f"The workbook is refused: it has more than {MAX_STYLES:,} cell formats."
                )
            number = attrs.get("numFmtId", "0")
            formats.append(int(number) if number.isdigit() else 0)

    def end(tag: str) -> None:
        if tag in ("cellXfs", "cellStyleXfs", "dxfs") and where:
            where.pop()

    _parse(archive, name, start, end)
    dates: set[int] = set()
    durations: set[int] = set()
    for index, number in enumerate(formats):
        code = custom.get(number) if number in custom else None
        if code is None and number < BUILTIN_FORMATS_MAX_SIZE:
            code = builtin_format_code(number)
        if is_date_format(code):
            dates.add(index)
        if is_timedelta_format(code):
            durations.add(index)
    return dates, durations


# ---------------------------------------------------------------------------
# The first worksheet

_COLUMN = re.compile(r"([A-Za-z]{1,3})(\d*)$")
_DIMENSION = re.compile(r"(?:[A-Za-z]+\d+:)?([A-Za-z]{1,3})\d+$")


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


def _cast_number(value: str) -> int | float:
    if "." in value or "E" in value or "e" in value:
        return float(value)
    return int(value)


# A raw cell: (column, type, style, text) as read, before shared strings are resolved.
_Cell = tuple[int, str, int, str]


class _SheetHandler:
    """Expat handlers that collect a sheet's rows as raw cells, one row at a time.

    Hot code (a call per element): local names are cached, state is in attributes.
    """

    def __init__(self) -> None:
        self.done: deque[tuple[int, list[_Cell]]] = deque()
        self.names: dict[str, str] = {}
        self.row = 0
        self.column = 0
        self.width = 0
        self.chars = 0  # text of the current row so far
        self.cells: list[_Cell] = []
        self.in_cell = False
        self.kind = "n"
        self.style = 0
        self.capture = 0  # inside a <v>, or an inline string's <t>
        self.phonetic = 0  # inside an <rPh> (phonetic runs are not part of the text)
        self.parts: list[str] = []
        self.size = 0

    def local(self, tag: str) -> str:
        name = self.names.get(tag)
        if name is None:
            name = self.names[tag] = _local(tag)
        return name

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = self.names.get(tag) or self.local(tag)
        if name == "c":
            reference = _COLUMN.match(attrs.get("r", ""))
            column = _column_number(reference.group(1)) if reference else self.column + 1
            if column > MAX_COLUMNS or len(self.cells) >= MAX_COLUMNS:
                raise FileRejected(
                    f"The workbook is refused: row {self.row} has cells beyond column XFD "
                    f"({MAX_COLUMNS:,} columns), more than Excel allows."
                )
            self.column = column
            self.in_cell = True
            self.kind = attrs.get("t", "n")
            style = attrs.get("s")
            self.style = int(style) if style and style.isdigit() else 0
        elif name == "v" or name == "t":
            if self.in_cell:
                self.capture += 1
        elif name == "row":
            number = attrs.get("r", "")
            self.row = int(number) if number.isdigit() else self.row + 1
            self.column = self.chars = 0
            self.cells = []
        elif name == "is":
            if self.in_cell:
                self.kind = "inlineStr"
        elif name == "rPh":
            self.phonetic += 1
        elif name == "dimension":
            match = _DIMENSION.match(attrs.get("ref", ""))
            if match:
                self.width = min(_column_number(match.group(1)), MAX_PADDED_COLUMNS)

    def end(self, tag: str) -> None:
        name = self.names.get(tag) or self.local(tag)
        if name == "c":
            if self.in_cell:
                text = "".join(self.parts) if self.parts else ""
                self.parts = []
                self.size = 0
                self.cells.append((self.column, self.kind, self.style, text))
                self.in_cell = False
        elif name == "v" or name == "t":
            if self.capture:
                self.capture -= 1
        elif name == "row":
            if self.cells:
                self.done.append((self.row, self.cells))
            self.cells = []
        elif name == "rPh":
            self.phonetic -= 1

    def text(self, data: str) -> None:
        if self.capture and not self.phonetic:
            self.size += len(data)
            self.chars += len(data)
            if self.size > MAX_CELL_CHARS:
                raise FileRejected(
                    f"The workbook is refused: cell {_letters(self.column)}{self.row} holds "
                    f"more than {MAX_CELL_CHARS:,} characters, more than an Excel cell can."
                )
            if self.chars > MAX_ROW_CHARS:
                raise _row_too_long(self.row)
            self.parts.append(data)


class FirstSheet:
    """The first worksheet of a workbook, read row by row in bounded memory (see module doc)."""

    def __init__(self, source: WorkbookSource, limits: XlsxLimits | None = None) -> None:
        self.limits = limits or XlsxLimits.from_settings()
        self.strings: SharedStrings | None = None
        try:
            self.archive = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, ValueError, EOFError, OSError):
            raise FileRejected(NOT_XLSX) from None
        try:
            self.parts = _workbook_parts(self.archive)
            self.dates, self.durations = (
                _date_styles(self.archive, self.parts.styles)
                if self.parts.styles
                else (set(), set())
            )
            if self.parts.shared_strings:
                self.strings = read_shared_strings(
                    self.archive, self.parts.shared_strings, self.limits
                )
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> FirstSheet:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.strings is not None:
            self.strings.close()
        self.archive.close()

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """``(sheet row number, values from column A)`` of each row that has a cell."""
        handler = _SheetHandler()
        parser = _parser()
        parser.StartElementHandler = handler.start
        parser.EndElementHandler = handler.end
        parser.CharacterDataHandler = handler.text
        done = handler.done
        for _ in _feed(self.archive, self.parts.sheet, parser):
            while done:
                number, raw = done.popleft()
                yield number, self._values(number, raw, handler.width)

    def _values(self, row: int, raw: list[_Cell], width: int) -> list[Any]:
        values: list[Any] = [None] * max(width, max(column for column, *_ in raw))
        chars = 0
        for column, kind, style, text in raw:
            value: Any = None
            if kind == "s":
                if self.strings is None or not text.strip().isdigit():
                    raise FileRejected(
                        f"{NOT_XLSX} (cell {_letters(column)}{row} refers to a shared string "
                        "the workbook does not have)"
                    )
                value = self.strings.get(int(text))
                chars += len(value)
                if chars > MAX_ROW_CHARS:
                    raise _row_too_long(row)
            elif kind in ("inlineStr", "str", "e"):
                value = unescape(text) if (text or kind != "inlineStr") else None
                chars += len(text)
                if chars > MAX_ROW_CHARS:
                    raise _row_too_long(row)
            elif not text:
                value = None
            elif kind == "b":
                value = text.strip() not in ("0", "false", "")
            elif kind == "d":
                try:
                    value = from_ISO8601(text.strip())
                except (ValueError, OverflowError):
                    value = "#VALUE!"  # as a number outside the dates
            else:
                value = self._number(text.strip(), style, column, row)
            values[column - 1] = value
        return values

    def _number(self, text: str, style: int, column: int, row: int) -> Any:
        try:
            number = _cast_number(text)
        except ValueError:
            raise FileRejected(
                f"{NOT_XLSX} (cell {_letters(column)}{row} holds {text[:20]!r}, not a number)"
            ) from None
        if style in self.dates:
            try:
                return from_excel(number, self.parts.epoch, timedelta=style in self.durations)
            except (OverflowError, ValueError):
                return "#VALUE!"  # as openpyxl: a serial outside the dates
        return number


def _row_too_long(row: int) -> FileRejected:
    return FileRejected(
        f"The workbook is refused: row {row} holds more than {MAX_ROW_CHARS:,} characters of text."
    )


def _letters(column: int) -> str:
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters or "?"


def open_sheet_records(
    source: WorkbookSource, limits: XlsxLimits | None = None
) -> tuple[FirstSheet, Iterator[tuple[int, list[Any]]]]:
    """The checked, opened first sheet and its non-blank rows; close the sheet when done
    (closing it leaves a file ``source`` open: its opener closes it)."""
    limits = limits or XlsxLimits.from_settings()
    check_xlsx_archive(source, limits)
    sheet = FirstSheet(source, limits)
    return sheet, cell_records(sheet.rows())


def cell_records(rows: Iterable[tuple[int, Sequence[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """The non-blank rows, numbered, with Excel's values as the parsers take them."""
    for number, row in rows:
        if all(blank(value) for value in row):
            continue
        yield number, [_value(value) for value in row]


def _value(value: Any) -> Any:
    if value is None:
        return ""  # an empty cell, as in a tab-delimited file
    if isinstance(value, str):
        return unescape_formula(value)  # text PARS exported as '=…
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime.datetime) and value.time() == datetime.time():
        return value.date()  # Excel keeps dates as midnight date-times
    return value
