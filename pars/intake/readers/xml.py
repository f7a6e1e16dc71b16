"""Hardened XML: the parser options, prolog watch and checks every XML read in PARS uses.

The parser never expands entities, never loads a DTD and never touches the network
(lxml ``resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
dtd_validation=False``); on top of that any DOCTYPE is refused, so no entity can be
declared. A parser *target* (:class:`Prolog`) watches the prolog and refuses the DOCTYPE
the moment libxml2 reads it; :func:`prescan` refuses ``<!DOCTYPE``/``<!ENTITY`` in the
first bytes before any parsing. Streaming readers feed chunks of :data:`CHUNK_BYTES`
(:func:`feed`) and :func:`release` each record once read, so memory stays flat.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from pars.intake.readers import FileRejected, refuse_binary

CHUNK_BYTES = 64 * 1024
PRESCAN_BYTES = 64 * 1024

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


def release(element: Any) -> None:
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
