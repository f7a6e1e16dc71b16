"""Parsers of learner files: bytes in, raw completion records out; no business rule.

Learner files carry a header row, and columns are matched by header name (the field's
label, its dictionary name or a documented alias; case, spaces and punctuation do not
matter; a recipient's identifier label heads the learner ID), so column order is free
(decision 2 in ``../shared/domain/README.md``). A guidance row above the header is
skipped, and ACCME's learner template is read with one record per recipient (see
``accme.py``). What a parser reads differently (skipped rows, ignored columns) it says
in plain sentences appended to its ``notices`` list, for the upload result.
Each yields :class:`~pars.activities.parsers.ParsedRow` with dictionary field names
(``pars.learners.dictionary.COMPLETION_FIELDS``, plus ``action``, ``birth_month`` and
``birth_day``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, BinaryIO, cast

from django.core.files import File

from pars.intake.models import Channel, Upload
from pars.intake.readers import FileRejected, ParsedRow, blank
from pars.intake.readers.delimited import TextSource, read_records
from pars.intake.readers.headers import HeaderIndex
from pars.intake.store import open_stored
from pars.learners.dictionary import COMPLETION_FIELDS, COMPLETION_FIELDS_BY_NAME, HEADER_ALIASES
from pars.learners.models import Recipient
from pars.learners.parsers.accme import (
    ACCME_COLUMNS,
    BOARD,
    BOARD_CREDITS,
    BOARD_ID,
    CREDIT_TYPE,
    LICENCE_OR_NPI,
    RECORD_COLUMNS,
    REPEATABLE,
    StateBoards,
    is_accme_header,
    split_row,
    unnumbered,
)

EXTRA_COLUMNS = {"action": "Action", "birth_month": "Birth Month", "birth_day": "Birth Day"}
_LABELS = {**{spec.name: spec.label for spec in COMPLETION_FIELDS}, **EXTRA_COLUMNS}


# Each field's label and name, the extra columns, then the documented aliases.
_NAMES: list[tuple[str, tuple[str, ...]]] = [
    *((name, (label, name)) for name, label in _LABELS.items()),
    *HEADER_ALIASES.items(),
]
HEADERS = HeaderIndex(_NAMES)
# ACCME's learner template: its own columns first (see accme.py).
ACCME_HEADERS = HeaderIndex([*ACCME_COLUMNS, *_NAMES])
_ORDER = {name: index for index, name in enumerate([*EXTRA_COLUMNS, *COMPLETION_FIELDS_BY_NAME])}


# The columns a learner file must name (pre-validation lists need fewer).
FILE_COLUMNS = frozenset({"first_name", "last_name", "completion_date"})
_LISTED = 20  # ignored columns named in the notice
# A column headed by a recipient's identifier label: "@id:<code>" (see own_id()).
OWN_ID = "@id:"


def _label(name: str) -> str:
    spec = COMPLETION_FIELDS_BY_NAME.get(name)
    return spec.label if spec else EXTRA_COLUMNS.get(name, name)


@dataclass(frozen=True)
class LearnerHeader:
    """What a learner header row says: each column's field, the columns read as
    nothing, and whether it is ACCME's template (rows split per recipient)."""

    fields: list[str | None]
    ignored: list[str]
    accme: bool = False
    texts: tuple[str, ...] = ()  # the header cells as written (for the error report)

    def columns(self) -> dict[str, str]:
        """Each field's header as the file writes it ("Title" for title): one dict for
        all the file's rows (ParsedRow.columns)."""
        found: dict[str, str] = {}
        for name, text in zip(self.fields, self.texts, strict=False):
            if name and text:
                for target in _COLUMN_FIELDS.get(name, (name,)):
                    found.setdefault(target, text)
        for name, text in zip(self.fields, self.texts, strict=False):
            if name and name.startswith(OWN_ID) and text:
                found.setdefault("learner_id", text)  # a recipient's own ID column
        return found

    def record_columns(self) -> dict[str, dict[str, str]]:
        """ACCME's template: the columns of each kind of record a row is split into
        (accme.split_row), once per file: a state board's record reads its recipient
        and ID from Licensing State and Licensing ID or NPI, not the board's columns."""
        texts: dict[str, str] = {}
        for name, text in zip(self.fields, self.texts, strict=False):
            if name and text:
                texts.setdefault(name, text)
        shared = self.columns()
        parts = {"": shared}
        for part, sources in RECORD_COLUMNS.items():
            own = parts[part] = dict(shared)
            for source, targets in sources:
                if source in texts:
                    own.update(dict.fromkeys(targets, texts[source]))
        return parts


# The fields ACCME's own columns fill (see accme.split_row).
_COLUMN_FIELDS = {
    BOARD: ("recipient",),
    BOARD_ID: ("learner_id",),
    BOARD_CREDITS: ("moc_points",),
    CREDIT_TYPE: ("moc_credit_types",),
    LICENCE_OR_NPI: ("learner_id", "npi"),
}


def recipient_labels() -> list[tuple[str, str]]:
    """(identifier label, code) of each recipient ("ABIM ID", "ABIM"), the labels
    /api/v1/recipients shows: a column so headed holds that recipient's learner IDs."""
    rows = Recipient.objects.order_by("sort_order", "code").values_list("identifier_label", "code")
    return [(label, code) for label, code in rows if label]


def read_header(
    cells: Sequence[object],
    required: frozenset[str] = FILE_COLUMNS,
    labels: Callable[[], Iterable[tuple[str, str]]] | None = recipient_labels,
) -> LearnerHeader:
    """The learner header in `cells`; FileRejected if it is no learner header.

    `labels`: (header, recipient code) of columns holding one recipient's learner IDs,
    asked for only when a column matches nothing else (by default the recipients'
    identifier labels; see own_id())."""
    accme = is_accme_header(cells)
    index = ACCME_HEADERS if accme else HEADERS
    texts = tuple("" if cell is None else str(cell).strip() for cell in cells)
    if accme:
        cells = [unnumbered(cell) for cell in cells]
    match = index.match(cells, REPEATABLE if accme else ())
    if match.ignored and match.found and labels is not None:
        # The recipients' own labels, read once per header row, only when a row that
        # names some field (not a guidance row) has columns naming none.
        index = index.extended((f"{OWN_ID}{code.upper()}", (label,)) for label, code in labels())
        match = index.match(cells, REPEATABLE if accme else ())
    if match.repeated:
        raise FileRejected(f"The header names the column '{match.repeated[0]}' twice.")
    if not required <= match.found:
        wanted = ", ".join(
            _label(name) for name in sorted(required, key=lambda name: _ORDER.get(name, 99))
        )
        raise FileRejected(
            f"The first row must be a header naming the columns (at least {wanted}; see the "
            "learner file guide). Found: "
            + ", ".join(str(cell)[:30] for cell in cells[:12] if str(cell or "").strip())
        )
    return LearnerHeader(match.fields, match.ignored, accme, texts)


def map_header(
    cells: Sequence[object], required: frozenset[str] = FILE_COLUMNS
) -> list[str | None]:
    """The field name of each column (None: ignored) by the dictionary's names and
    aliases alone; FileRejected if it is no learner header."""
    return read_header(cells, required, labels=None).fields


def _find_header(
    first: tuple[int, list[Any]],
    records: Iterator[tuple[int, list[Any]]],
    required: frozenset[str],
    notices: list[str] | None,
) -> LearnerHeader:
    """The header in the first row, or in the second when the first is guidance text
    (ACCME's template has a line of instructions above its header)."""
    try:
        return read_header(first[1], required)
    except FileRejected as refused:
        second = next(records, None)
        if second is None:
            raise
        try:
            header = read_header(second[1], required)
        except FileRejected:
            raise refused from None
    _notify(
        notices,
        f"Row {first[0]} is not a header: it was read as guidance text and skipped; "
        f"the header is row {second[0]}.",
    )
    return header


def _notify(notices: list[str] | None, sentence: str) -> None:
    if notices is not None:
        notices.append(sentence)


def rows_from_cells(
    records: Iterator[tuple[int, list[Any]]],
    what: str = "file",
    required: frozenset[str] = FILE_COLUMNS,
    notices: list[str] | None = None,
) -> Iterator[ParsedRow]:
    """Rows of a header-led table: the first record is the header (or the second, after
    a guidance row). `notices` receives sentences on what was read differently."""
    first = next(records, None)
    if first is None:
        raise FileRejected(f"The {what} is empty: it has no rows.")
    header = _find_header(first, records, required, notices)
    if header.ignored:
        more = len(header.ignored) - _LISTED
        _notify(
            notices,
            "Ignored columns: "
            + ", ".join(header.ignored[:_LISTED])
            + (f" and {more} more" if more > 0 else "")
            + ".",
        )
    if header.accme:
        _notify(
            notices,
            "Read as ACCME's learner template: a row with both state-board and "
            "certifying-board credit becomes one record per recipient, each with the row's "
            "number, so the counts are of records, not rows.",
        )
    yield from _rows(records, header)


def _rows(records: Iterator[tuple[int, list[Any]]], header: LearnerHeader) -> Iterator[ParsedRow]:
    fields = header.fields
    width = len(fields)
    pairs = [(index, name) for index, name in enumerate(fields) if name and name not in REPEATABLE]
    # ACCME's credit-type columns repeat: each is read as the list of its cells.
    repeated = {
        name: [index for index, field in enumerate(fields) if field == name]
        for name in REPEATABLE
        if name in fields
    }
    own_ids = [name for name in fields if name and name.startswith(OWN_ID)]
    boards = StateBoards()
    columns = header.columns()  # one dict shared by every row
    split_columns = header.record_columns() if header.accme else {}
    names = tuple(name for _, name in pairs)
    # A row with every column the header names is read by one precompiled getter.
    full = max((index for index, _ in pairs), default=-1) + 1
    pick = itemgetter(*(index for index, _ in pairs)) if len(pairs) > 1 else None
    if pick is not None and not (header.accme or own_ids):
        # Most files (and all big ones): every row read by the one getter, nothing more.
        yield from _plain_rows(records, (width, pairs, pick), columns)
        return
    for number, cells in records:
        count = len(cells)
        if count > width and any(str(cell).strip() for cell in cells[width:]):
            yield ParsedRow(
                number,
                problem=f"The row has {len(cells)} cells but the header names {width} columns.",
                columns=columns,
            )
            continue
        if pick is not None and count >= full:
            data = dict(zip(names, pick(cells), strict=True))
        else:
            data = {name: cells[index] for index, name in pairs if index < count}
        if not (header.accme or own_ids):
            # Most files: nothing more to do (big files).
            yield ParsedRow(number, data, None, columns)
            continue
        for name in repeated:
            data[name] = [cells[index] if index < count else None for index in repeated[name]]
        ids = {name.removeprefix(OWN_ID): data.pop(name, None) for name in own_ids}
        for part, record in split_row(data, boards) if header.accme else [("", data)]:
            parsed = own_id(record, ids) if ids else record
            yield ParsedRow(number, parsed, None, split_columns.get(part, columns))


def _plain_rows(
    records: Iterator[tuple[int, list[Any]]],
    header: tuple[int, list[tuple[int, str]], Callable[[list[Any]], Any]],
    columns: dict[str, str],
) -> Iterator[ParsedRow]:
    """_rows() of a file whose header names two fields or more, none of them ACCME's
    columns or a recipient's own ID column (most files, all big ones): the same rows,
    with less to decide per row."""
    width, pairs, pick = header
    names = tuple(name for _, name in pairs)
    full = max(index for index, _ in pairs) + 1
    for number, cells in records:
        count = len(cells)
        if count == width or (count >= full and count < width):
            yield ParsedRow(number, dict(zip(names, pick(cells), strict=True)), None, columns)
        elif count > width and any(str(cell).strip() for cell in cells[width:]):
            yield ParsedRow(
                number,
                problem=f"The row has {len(cells)} cells but the header names {width} columns.",
                columns=columns,
            )
        elif count >= full:
            yield ParsedRow(number, dict(zip(names, pick(cells), strict=True)), None, columns)
        else:
            data = {name: cells[index] for index, name in pairs if index < count}
            yield ParsedRow(number, data, None, columns)


def own_id(record: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
    """The record with its learner ID from the column headed by its recipient's own label
    ("ABIM ID" for ABIM), when no Learner ID is given; a file may carry several."""
    if blank(record.get("learner_id")):
        value = ids.get(str(record.get("recipient") or "").strip().upper())
        if not blank(value):
            record["learner_id"] = value
    return record


def read_learner_tsv(
    stream: BinaryIO,
    source: TextSource | None = None,
    *,
    name: str = "",
    notices: list[str] | None = None,
) -> Iterator[ParsedRow]:
    """The learner rows of a delimited text file; `notices` as in rows_from_cells."""
    return rows_from_cells(read_records(stream, source, name=name), notices=notices)


@contextmanager
def open_learner_rows(
    upload: Upload, notices: list[str] | None = None
) -> Iterator[tuple[str, Iterator[ParsedRow], BinaryIO | None]]:
    """(layout name, rows, the open stream if any) of a stored learner upload;
    `notices` receives what the parser read differently (see rows_from_cells)."""
    if upload.file_format == Channel.XLSX:
        # Imported here: the xlsx and xml readers import this package.
        from pars.learners.parsers.xlsx import read_learner_xlsx

        with open_stored(upload) as stored:
            yield "learners", read_learner_xlsx(stored, notices=notices), None
        return
    with upload.file.open("rb") as opened:
        stream = cast(BinaryIO, _unwrapped(opened))
        if upload.file_format == Channel.XML:
            from pars.learners.parsers.xml import read_learner_xml

            yield "learner report (XML)", read_learner_xml(stream), stream
        else:
            # The encoding and delimiter found go to the notices too ("read as ...").
            source = TextSource(notices=notices) if notices is not None else None
            rows = read_learner_tsv(stream, source, name=upload.original_name, notices=notices)
            yield "learners", rows, stream


def _unwrapped(opened: Any) -> Any:
    """The file object under Django's File wrappers (the storage's own file: a local
    file, a spooled temporary file): the text reader asks the stream whether it is
    closed at every line, which a wrapper answers in Python (one call per row)."""
    stream = opened
    while isinstance(stream, File) and stream.file is not None:
        stream = stream.file
    return stream
