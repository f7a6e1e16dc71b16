"""Hardened XML: the parser options, prolog watch and the one streaming loop of PARS.

The parser never expands entities, never loads a DTD and never touches the network
(lxml ``resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
dtd_validation=False``); on top of that any DOCTYPE is refused, so no entity can be
declared (an undeclared entity reference is a well-formedness error). A parser *target*
(:class:`Prolog`) watches the prolog and refuses the DOCTYPE the moment libxml2 reads it,
wherever it is (after a long comment too); :func:`prescan` refuses ``<!DOCTYPE``/
``<!ENTITY`` in the first bytes before any parsing.

**The streaming loop.** Both record kinds read their XML files through
:func:`stream_records` / :func:`read_records`, each with its own :class:`RecordSpec`:
which root and record elements the file has and how a record element becomes raw
records (`pars.activities.parsers.xml`, `pars.learners.parsers.xml`). The loop feeds
chunks of :data:`CHUNK_BYTES` to an ``XMLPullParser`` that sees only the record
elements' end events; the root is checked as soon as the prolog watch reads it; a record
must be the root or a direct child of it; each record is cleared with its preceding
siblings once used (:func:`release`), so memory stays flat for any number of records;
more than ``max_gap_bytes`` read without completing a record is refused, so no input can
grow the tree without bound. Malformed or truncated XML, NUL bytes and bad encodings raise
:class:`FileRejected` with libxml2's line number -- possibly after earlier rows were
yielded: the caller must then treat the whole file as rejected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from lxml import etree  # type: ignore[import-untyped]

from pars.intake.readers import FileRejected, ParsedRow, refuse_binary

CHUNK_BYTES = 64 * 1024
PRESCAN_BYTES = 64 * 1024
# The most XML read without completing a record (real records take a few KB).
MAX_GAP_BYTES = 16 * 1024 * 1024

# The parser options every XML read in PARS uses (also `pars.activities.xml_schema`).
HARDENED_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
    "remove_comments": True,
    "remove_pis": True,
}

_NO_DTD = (
    "XML files with a DOCTYPE or entity declarations are not accepted (they can hide "
    "references to other files or expand without limit). Remove the <!DOCTYPE …> "
    "declaration and any entities, and upload the file again."
)


def hardened_parser() -> Any:
    """A new lxml parser with :data:`HARDENED_OPTIONS`, for whole small documents."""
    return etree.XMLParser(**HARDENED_OPTIONS)


class Prolog:
    """Parser target that watches the document up to its root element."""

    def __init__(self) -> None:
        self.root: str | None = None

    def doctype(self, name: str | None, pubid: str | None, system: str | None) -> None:
        where = f" (SYSTEM {system!r})" if system else ""
        raise FileRejected(f"The file has a DOCTYPE{where}. {_NO_DTD}")

    def start(self, tag: str, attrib: Any, nsmap: Any = None) -> None:
        if self.root is None:
            self.root = tag

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        return None


_POSITION = re.compile(r",?\s*line \d+, column \d+\s*$")


def syntax_error(error: Any) -> FileRejected:
    line, column = error.position if error.position else (None, None)
    text = " ".join(str(getattr(error, "msg", "") or error).split())
    message = _POSITION.sub("", text).rstrip(" .")
    where = f" at line {line}, column {column}" if line else ""
    return FileRejected(f"The file is not well-formed XML{where}: {message}.")


def feed(parser: Any, chunk: bytes) -> None:
    try:
        parser.feed(chunk)
    except etree.XMLSyntaxError as error:
        raise syntax_error(error) from None


def prescan(chunk: bytes) -> None:
    refuse_binary(chunk, "XML")
    head = chunk[:PRESCAN_BYTES]
    for marker in ("<!DOCTYPE", "<!ENTITY"):
        for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
            if marker.encode(encoding) in head:
                raise FileRejected(f"The file declares {marker}. {_NO_DTD}")


def local_name(element: Any) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def namespace(element: Any) -> str:
    tag = element.tag
    if isinstance(tag, str) and tag.startswith("{"):
        return str(tag[1:].partition("}")[0])
    return ""


def check_docinfo(element: Any) -> None:
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url:
        raise FileRejected(f"The file has a DOCTYPE. {_NO_DTD}")


# An element's children by name (each record mapping chooses the names), for lookups.
ChildIndex = dict[str, list[Any]]


def first_child(index: ChildIndex, name: str) -> Any:
    """The first child called `name`, or None."""
    found = index.get(name)
    return found[0] if found else None


def plain_text(element: Any) -> str | None:
    """The element's own text, stripped; None for no element or no text."""
    text = (element.text or "").strip() if element is not None else ""
    return text or None


def release(element: Any) -> None:
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


# ---------------------------------------------------------------------------
# The streaming loop

# One record element -> its raw records: (field values, problem or None) each.
RecordMapping = Callable[[Any], Iterable[tuple[dict[str, Any], str | None]]]


@dataclass(frozen=True)
class RecordSpec:
    """What one record kind's XML file looks like to the streaming loop.

    The first of `roots` and of `records` is the name the messages give; a record
    element may also be the root (a one-record file).
    """

    roots: tuple[str, ...]  # local names of the root that wraps the records
    records: tuple[str, ...]  # local names of a record element
    layout: str  # what a file of this kind holds, said when the root is wrong
    one_record: str  # "an activity", said when a record is far too large
    to_records: RecordMapping
    max_gap_bytes: int = MAX_GAP_BYTES
    # Each field's element, named in the error report (ParsedRow.columns).
    columns: Mapping[str, str] = field(default_factory=dict)


class _RootWatch:
    """Feeds the prolog probe until the root is read, then checks the root's name."""

    def __init__(self, spec: RecordSpec) -> None:
        self.spec = spec
        self.prolog = Prolog()
        self.probe: Any = etree.XMLParser(target=self.prolog, **HARDENED_OPTIONS)

    def feed(self, chunk: bytes) -> None:
        # Fed before the main parser: a DOCTYPE or a wrong root is refused before the
        # main parser sees the chunk.
        if self.probe is None:
            return
        feed(self.probe, chunk)
        if self.prolog.root is not None:
            name = self.prolog.root.rpartition("}")[2]
            if name not in self.spec.roots + self.spec.records:
                raise FileRejected(f"The root element is <{name}>; {self.spec.layout}")
            self.probe = None


def _check_place(element: Any, spec: RecordSpec, first: bool) -> None:
    """A record is the root or a direct child of it (and the first one checks that the
    document has no DOCTYPE, should the prolog guard ever miss one)."""
    if first:
        check_docinfo(element)
    parent = element.getparent()
    if parent is not None and parent.getparent() is not None:
        raise FileRejected(
            f"Line {element.sourceline}: <{local_name(element)}> must be a direct child of "
            f"the root <{spec.roots[0]}>; it is inside <{local_name(parent)}>."
        )


def _too_far(spec: RecordSpec, total: int) -> FileRejected:
    return FileRejected(
        f"More than {spec.max_gap_bytes // (1024 * 1024)} MB of XML without a complete "
        f"<{spec.records[0]}> (around byte {total}): {spec.one_record} is far too large, "
        "or the file holds something else."
    )


def stream_records(stream: BinaryIO, spec: RecordSpec) -> Iterator[tuple[int, Any]]:
    """Yield (position, element) for each record element of the file, hardened.

    Positions count the record elements from 1. The element is cleared (with its
    preceding siblings) once the consumer asks for the next one: use it before that.
    Raises :class:`FileRejected` at once or mid-file (after earlier records).
    """
    main = etree.XMLPullParser(
        events=("end",), tag=[f"{{*}}{name}" for name in spec.records], **HARDENED_OPTIONS
    )
    watch = _RootWatch(spec)
    total = 0
    unread = 0  # bytes read since the last record was completed
    position = 0
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if total == 0:
            prescan(chunk)
        if not chunk:
            break
        total += len(chunk)
        unread += len(chunk)
        watch.feed(chunk)
        feed(main, chunk)
        for _event, element in main.read_events():
            position += 1
            _check_place(element, spec, position == 1)
            yield position, element
            release(element)
            unread = 0
        if unread > spec.max_gap_bytes:
            raise _too_far(spec, total)
    if total == 0:
        raise FileRejected("The file is empty.")
    try:
        main.close()
    except etree.XMLSyntaxError as error:
        raise syntax_error(error) from None
    for _event, element in main.read_events():  # pragma: no cover (all seen before close)
        position += 1
        _check_place(element, spec, position == 1)
        yield position, element
        release(element)


def read_records(stream: BinaryIO, spec: RecordSpec) -> Iterator[ParsedRow]:
    """The raw rows of the file: `spec.to_records` of each record element, numbered from
    1 in document order (one row per raw record, so no two records share a number): an
    XML file's "row" in the error report is the record's ordinal."""
    row = 0
    for _position, element in stream_records(stream, spec):
        for data, problem in spec.to_records(element):
            row += 1
            yield ParsedRow(row, data, problem, spec.columns)
