"""Parsers of learner files: bytes in, raw completion records out; no business rule.

Learner files carry a header row, and columns are matched by header name (the field's
label, its dictionary name or a documented alias; case, spaces and punctuation do not
matter), so column order is free (decision 2 in ``../shared/domain/README.md``).
Each yields :class:`~pars.activities.parsers.ParsedRow` with dictionary field names
(``pars.learners.dictionary.COMPLETION_FIELDS``, plus ``action``, ``birth_month`` and
``birth_day``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

from pars.intake.models import Channel, Upload
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.readers.delimited import read_records
from pars.intake.store import local_path
from pars.learners.dictionary import COMPLETION_FIELDS, COMPLETION_FIELDS_BY_NAME, HEADER_ALIASES

EXTRA_COLUMNS = {"action": "Action", "birth_month": "Birth Month", "birth_day": "Birth Day"}


def normal_header(text: str) -> str:
    """A header cell as it is compared: no case, spaces, underscores or punctuation."""
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def _header_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for spec in COMPLETION_FIELDS:
        names[normal_header(spec.label)] = spec.name
        names[normal_header(spec.name)] = spec.name
    for name, label in EXTRA_COLUMNS.items():
        names[normal_header(label)] = name
        names[normal_header(name)] = name
    for name, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            names.setdefault(normal_header(alias), name)
    return names


HEADER_NAMES = _header_names()
_ORDER = {name: index for index, name in enumerate([*EXTRA_COLUMNS, *COMPLETION_FIELDS_BY_NAME])}


# The columns a learner file must name (pre-validation lists need fewer).
FILE_COLUMNS = frozenset({"first_name", "last_name", "completion_date"})


def _label(name: str) -> str:
    spec = COMPLETION_FIELDS_BY_NAME.get(name)
    return spec.label if spec else EXTRA_COLUMNS.get(name, name)


def map_header(
    cells: Sequence[object], required: frozenset[str] = FILE_COLUMNS
) -> list[str | None]:
    """The field name of each column (None: ignored); FileRejected if it is no learner header."""
    fields: list[str | None] = []
    seen: set[str] = set()
    for cell in cells:
        name = HEADER_NAMES.get(normal_header(str(cell or "")))
        if name in seen:
            raise FileRejected(f"The header names the column '{cell}' twice.")
        if name:
            seen.add(name)
        fields.append(name)
    if not required <= seen:
        wanted = ", ".join(
            _label(name) for name in sorted(required, key=lambda name: _ORDER.get(name, 99))
        )
        raise FileRejected(
            f"The first row must be a header naming the columns (at least {wanted}; see the "
            "learner file guide). Found: "
            + ", ".join(str(cell)[:30] for cell in cells[:12] if str(cell or "").strip())
        )
    return fields


def rows_from_cells(
    records: Iterator[tuple[int, list[Any]]],
    what: str = "file",
    required: frozenset[str] = FILE_COLUMNS,
) -> Iterator[ParsedRow]:
    """Rows of a header-led table: the first record is the header."""
    first = next(records, None)
    if first is None:
        raise FileRejected(f"The {what} is empty: it has no rows.")
    fields = map_header(first[1], required)
    width = len(fields)
    pairs = [(index, name) for index, name in enumerate(fields) if name]
    for number, cells in records:
        if len(cells) > width and any(str(cell).strip() for cell in cells[width:]):
            yield ParsedRow(
                number,
                problem=f"The row has {len(cells)} cells but the header names {width} columns.",
            )
            continue
        count = len(cells)
        yield ParsedRow(number, {name: cells[index] for index, name in pairs if index < count})


def read_learner_tsv(stream: BinaryIO) -> Iterator[ParsedRow]:
    return rows_from_cells(read_records(stream))


@contextmanager
def open_learner_rows(upload: Upload) -> Iterator[tuple[str, Iterator[ParsedRow], BinaryIO | None]]:
    """(layout name, rows, the open stream if any) of a stored learner upload."""
    if upload.file_format == Channel.XLSX:
        # Imported here: the xlsx and xml readers import this package.
        from pars.learners.parsers.xlsx import read_learner_xlsx

        with local_path(upload) as path:
            yield "learners", read_learner_xlsx(path), None
        return
    with upload.file.open("rb") as opened:
        stream = cast(BinaryIO, opened)
        if upload.file_format == Channel.XML:
            from pars.learners.parsers.xml import read_learner_xml

            yield "learner report (XML)", read_learner_xml(stream), stream
        else:
            yield "learners", read_learner_tsv(stream), stream
