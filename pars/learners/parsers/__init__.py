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
from typing import BinaryIO, cast

from pars.activities.models import Channel, Upload
from pars.activities.parsers import FileRejected, ParsedRow
from pars.learners.dictionary import COMPLETION_FIELDS, HEADER_ALIASES

EXTRA_COLUMNS = {"action": "Action", "birth_month": "Birth Month", "birth_day": "Birth Day"}


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def _header_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for spec in COMPLETION_FIELDS:
        names[_normal(spec.label)] = spec.name
        names[_normal(spec.name)] = spec.name
    for name, label in EXTRA_COLUMNS.items():
        names[_normal(label)] = name
        names[_normal(name)] = name
    for name, aliases in HEADER_ALIASES.items():
        for alias in aliases:
            names.setdefault(_normal(alias), name)
    return names


HEADER_NAMES = _header_names()


def map_header(cells: Sequence[object]) -> list[str | None]:
    """The field name of each column (None: ignored); FileRejected if it is no learner header."""
    fields: list[str | None] = []
    seen: set[str] = set()
    for cell in cells:
        name = HEADER_NAMES.get(_normal(str(cell or "")))
        if name in seen:
            raise FileRejected(f"The header names the column '{cell}' twice.")
        if name:
            seen.add(name)
        fields.append(name)
    if not {"first_name", "last_name", "completion_date"} <= seen:
        raise FileRejected(
            "The first row must be a header naming the columns (at least First Name, Last "
            "Name and Completion Date; see the learner file guide). Found: "
            + ", ".join(str(cell)[:30] for cell in cells[:12] if str(cell or "").strip())
        )
    return fields


def rows_from_cells(
    records: Iterator[tuple[int, list[str]]], what: str = "file"
) -> Iterator[ParsedRow]:
    """Rows of a header-led table: the first record is the header."""
    first = next(records, None)
    if first is None:
        raise FileRejected(f"The {what} is empty: it has no rows.")
    fields = map_header(first[1])
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
    from pars.activities.parsers.tsv import read_records

    return rows_from_cells(read_records(stream))


@contextmanager
def open_learner_rows(upload: Upload) -> Iterator[tuple[str, Iterator[ParsedRow], BinaryIO | None]]:
    """(layout name, rows, the open stream if any) of a stored learner upload."""
    if upload.file_format == Channel.XLSX:
        from pars.activities.uploads import local_path
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
