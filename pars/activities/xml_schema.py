"""Validation of activity XML against the official MedBiquitous MEMS schemas, offline.

The schemas are the MedBiquitous originals, unmodified, in ``schemas/medbiq/`` with
their license (``LICENSE-MedBiquitous.txt``, which must travel with them). Their
``schemaLocation``s name ``http://ns.medbiq.org/…``; :class:`MedbiqResolver` maps those
(and ``http://ltsc.ieee.org/xsd/…``) to the local copies and refuses everything else by
raising :class:`SchemaLocationRefused`, so validation never touches the network or any
file outside ``schemas/medbiq/``.

Two details of the copies:

- ``http://ns.medbiq.org/lom/healthcarelom.xsd`` is imported by both metrics versions but
  exists in two editions: ``lom/`` (2009, used for metrics v1) and ``lomv2/`` (which adds
  Dublin Core and ``common/v2``, used for metrics v2). The resolver is built for one
  metrics version and picks the edition.
- Metrics v2 (through ``common/v2`` and ``lomv2``) imports three non-MedBiquitous schemas:
  the W3C ``xml.xsd`` and XOP ``include`` and the DCMI ``dcterms.xsd``. We do not ship
  copies of those; the resolver answers their three exact locations with built-in stubs
  (:data:`_STUBS`) declaring only the components MedBiquitous refers to (``xml:lang``,
  ``xop:Include``, ``dcterms:format/license/bibliographicCitation``, content unchecked);
  PARS data uses none of them. (``common.xsd`` writes ``"http://www.w3.org/2001/xml.xsd "``
  with a trailing space, which libxml2 does not load at all, so the v2 schema is compiled
  through a small driver document that imports the XML namespace first.)

**Where schema validation applies.** A PARS file wraps its activities in
``ACCMEActivities``, which is not in MEMS, so each ``MedicalEducationMetrics`` subtree is
serialized as its own document and validated against ``medicaleducationmetrics.xsd`` of
its namespace (:func:`validate_metrics_element`, :func:`validate_against_mems`).

- **Exports must validate**: `pars.activities.xml_export` writes MEMS v1, and the tests
  check every exported ``MedicalEducationMetrics`` against the v1 schema.
- **Uploads are not gated on the schema.** ACCME's profile departs from strict MEMS (the
  wrapper; the 2025 JSON draft's spellings and placements, reference 4.4; real files
  with elements out of order or a location without a country) and the data that matter
  are checked field by field by `pars.activities.validation.validate_activity`, with
  messages and rule IDs a provider can act on -- XSD messages ("Element '{…}City': This
  element is not expected") are not. So an upload reports as row errors only what the
  parser itself cannot read (`pars.activities.parsers.xml`: an activity in a foreign
  namespace, one without ``lom:general``; a malformed file is rejected whole). Schema
  problems of an uploaded file are available on demand (:func:`validate_against_mems`,
  e.g. for support staff or a "check my file" tool), as warnings, never as rejections.
"""

from __future__ import annotations

import functools
import os
import threading
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote

from lxml import etree  # type: ignore[import-untyped]

from pars.activities.parsers.xml import METRICS_V1_NS, METRICS_V2_NS, iter_metrics
from pars.intake.readers import FileRejected
from pars.intake.readers.xml import hardened_parser, namespace

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas" / "medbiq"
METRICS_VERSIONS = {METRICS_V1_NS: "v1", METRICS_V2_NS: "v2"}
_LOM_EDITIONS = {"v1": "lom", "v2": "lomv2"}
_MEDBIQ_HOSTS = ("http://ns.medbiq.org/", "https://ns.medbiq.org/")
_LTSC_HOSTS = ("http://ltsc.ieee.org/xsd/", "https://ltsc.ieee.org/xsd/")
_XS = "http://www.w3.org/2001/XMLSchema"


def _stub(target: str, body: str) -> str:
    return (
        f'<xsd:schema xmlns:xsd="{_XS}" targetNamespace="{target}" '
        f'elementFormDefault="qualified">{body}</xsd:schema>'
    )


_ANY = (
    '<xsd:complexType mixed="true"><xsd:sequence><xsd:any processContents="skip" '
    'minOccurs="0" maxOccurs="unbounded"/></xsd:sequence>'
    '<xsd:anyAttribute processContents="skip"/></xsd:complexType>'
)
# Third-party schemas imported by metrics v2, answered locally (see the module docstring).
_STUBS = {
    "http://www.w3.org/2001/xml.xsd": _stub(
        "http://www.w3.org/XML/1998/namespace",
        '<xsd:attribute name="lang" type="xsd:language"/>'
        '<xsd:attribute name="space"/><xsd:attribute name="base" type="xsd:anyURI"/>'
        '<xsd:attribute name="id" type="xsd:ID"/>',
    ),
    "http://www.w3.org/2004/08/xop/include": _stub(
        "http://www.w3.org/2004/08/xop/include", f'<xsd:element name="Include">{_ANY}</xsd:element>'
    ),
    "http://www.dublincore.org/schemas/xmls/qdc/dcterms.xsd": _stub(
        "http://purl.org/dc/terms/",
        "".join(
            f'<xsd:element name="{name}">{_ANY}</xsd:element>'
            for name in ("format", "license", "bibliographicCitation")
        ),
    ),
}


class SchemaLocationRefused(Exception):
    """A schema asked for a location that has no local copy; nothing was fetched."""

    def __init__(self, url: str) -> None:
        super().__init__(f"Schema location refused (no local copy, no network): {url!r}")
        self.url = url


class MedbiqResolver(etree.Resolver):
    """Answers MedBiquitous and IEEE LTSC schema locations from ``schemas/medbiq/``.

    Everything else -- another host, a file outside the schema folder, a path escaping
    it -- raises :class:`SchemaLocationRefused` (and is remembered in ``refused``,
    since libxml2 may report the failure as a parse error of its own).
    """

    def __init__(self, version: str = "v1") -> None:
        super().__init__()
        self.lom = _LOM_EDITIONS[version]
        self.refused: list[str] = []

    def local(self, url: str) -> Path | str:
        """The local file (or the stub text) for `url`; raises if there is none."""
        clean = unquote(url).strip()
        if clean in _STUBS:
            return _STUBS[clean]
        relative: str | None = None
        for host in _MEDBIQ_HOSTS:
            if clean.startswith(host):
                relative = clean[len(host) :]
                if relative.startswith("lom/"):
                    relative = f"{self.lom}/{relative[len('lom/') :]}"
        for host in _LTSC_HOSTS:
            if clean.startswith(host):
                rest = clean[len(host) :]
                if rest in ("LOM", "lomv1.0/lom.xsd"):
                    relative = f"{self.lom}/healthcarelom.xsd"
                elif rest.startswith("lomv1.0/"):
                    relative = f"{self.lom}/{rest[len('lomv1.0/') :]}"
        if relative is not None:
            path = (SCHEMA_DIR / relative).resolve()
        elif clean.startswith("file://"):
            path = Path(clean[len("file://") :]).resolve()
        elif "://" not in clean and clean.startswith("/"):
            path = Path(clean).resolve()
        else:
            raise SchemaLocationRefused(url)
        if not path.is_relative_to(SCHEMA_DIR) or not path.is_file():
            raise SchemaLocationRefused(url)
        return path

    def resolve(self, url: str, pubid: str | None, context: Any) -> Any:
        try:
            found = self.local(url)
        except SchemaLocationRefused:
            self.refused.append(url)
            raise
        if isinstance(found, Path):
            return self.resolve_filename(str(found), context)
        return self.resolve_string(found, context, base_url=unquote(url).strip())


def compile_schema(document: bytes, *, version: str = "v1", base_url: str | None = None) -> Any:
    """Compile a schema document whose imports are answered by :class:`MedbiqResolver`."""
    resolver = MedbiqResolver(version)
    parser = hardened_parser()
    parser.resolvers.add(resolver)
    root = etree.fromstring(document, parser, base_url=base_url or str(SCHEMA_DIR / "pars.xsd"))
    try:
        return etree.XMLSchema(root)
    except etree.XMLSchemaParseError:
        if resolver.refused:
            raise SchemaLocationRefused(resolver.refused[0]) from None
        raise


def _driver(version: str) -> bytes:
    metrics = f"http://ns.medbiq.org/metrics/{version}/"
    return (
        f'<xsd:schema xmlns:xsd="{_XS}">'
        '<xsd:import namespace="http://www.w3.org/XML/1998/namespace" '
        'schemaLocation="http://www.w3.org/2001/xml.xsd"/>'
        f'<xsd:import namespace="{metrics}" '
        f'schemaLocation="{metrics}medicaleducationmetrics.xsd"/>'
        "</xsd:schema>"
    ).encode()


_lock = threading.Lock()


@functools.cache
def mems_schema(version: str) -> Any:
    """The compiled MEMS metrics schema, ``"v1"`` or ``"v2"`` (compiled once)."""
    if version not in _LOM_EDITIONS:
        raise ValueError(f"Unknown MEMS metrics version {version!r}.")
    return compile_schema(_driver(version), version=version)


def validate_metrics_element(element: Any) -> list[str]:
    """Schema problems of one ``MedicalEducationMetrics`` element, validated as a document
    of its own against the metrics schema of its namespace (lines are the source file's)."""
    version = METRICS_VERSIONS.get(namespace(element))
    if version is None:
        return [
            f"<MedicalEducationMetrics> is in the namespace {namespace(element)!r}, not "
            f"{METRICS_V1_NS} or {METRICS_V2_NS}."
        ]
    document = etree.fromstring(etree.tostring(element, with_tail=False), hardened_parser())
    schema = mems_schema(version)
    with _lock:  # one validation at a time per process: XMLSchema keeps its error log
        valid = schema.validate(document)
        errors = list(schema.error_log)
    if valid:
        return []
    offset = (element.sourceline or 1) - 1
    return [f"line {error.line + offset}: {error.message}" for error in errors]


def validate_against_mems(source: str | os.PathLike[str] | BinaryIO) -> list[str]:
    """Schema problems of an activity XML file (a path or a binary stream), each naming
    its activity; ``[]`` when every ``MedicalEducationMetrics`` is valid MEMS.

    The file is read with the hardened streaming parser, so a hostile or malformed file
    gives one problem (the parser's refusal) instead of being validated.
    """
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            return validate_against_mems(stream)
    problems: list[str] = []
    try:
        for row, element in iter_metrics(source):
            problems.extend(f"Activity {row}, {p}" for p in validate_metrics_element(element))
    except FileRejected as rejected:
        problems.append(rejected.message)
    return problems
