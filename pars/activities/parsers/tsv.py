"""Activity files as delimited text (ACCME Templates C/D, the 2011+ and 2010-11 layouts,
and our current layout saved as text; tab, comma or semicolon).

Usage::

    layout, rows = read_tsv(uploaded_file)   # FileRejected if the layout is unknown
    for parsed in rows:                       # FileRejected may also come mid-file
        ...                                   # (NUL bytes on row 40 000)

The file is read line by line and rows are produced lazily, so memory stays flat
whatever the file size. ``read_tsv`` reads the first non-blank row eagerly to
recognize the layout (`layouts.recognise`); a header row is then skipped. Errors
that concern the whole file raise :class:`FileRejected`, when ``read_tsv`` is
called or while iterating: the caller must treat the whole file as rejected in
both cases (apply nothing).

What is accepted and refused as text (encodings, line length, NUL bytes) is
:mod:`pars.intake.readers.delimited`'s. Row numbers are the rows a spreadsheet shows
(a header is row 1; a cell with a line break does not shift later rows). Blank rows
are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from pars.activities.parsers.cells import Peekable
from pars.activities.parsers.layouts import Layout
from pars.activities.parsers.row_readers import recognise
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.readers.delimited import TextSource, read_records


def read_tsv(
    stream: BinaryIO,
    source: TextSource | None = None,
    *,
    name: str = "",
    notices: list[str] | None = None,
) -> tuple[Layout, Iterator[ParsedRow]]:
    """Recognize the layout of a delimited text file and return it with its rows.

    `source` is filled in with the encoding and delimiter found (see read_records);
    `notices` receives a sentence per header read differently (layouts.recognise)."""
    records = Peekable(read_records(stream, source, name=name))
    first = next(records, None)
    if first is None:
        raise FileRejected("The file is empty: it has no rows.")
    line, cells = first
    reader, is_header = recognise(cells, records.peek_cells, notices)

    def rows() -> Iterator[ParsedRow]:
        if not is_header:
            yield reader.read(cells, line)
        read = reader.read
        for number, row_cells in records.rest():
            yield read(row_cells, number)

    return reader.layout, rows()
