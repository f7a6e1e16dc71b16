"""MEMS-based activity XML (reference section 4) -> raw activity rows.

Usage::

    for parsed in read_xml(uploaded_file):   # FileRejected may come at once or mid-file
        ...

The file is an ``ACCMEActivities`` root (any namespace, or none) holding one
``MedicalEducationMetrics`` (MEMS metrics v1 or v2 namespace, or no namespace) per
activity; a bare ``MedicalEducationMetrics`` root is read as a one-activity file. Row
numbers are the 1-based position of the ``MedicalEducationMetrics`` element.

**Matching (README decision 3).** Elements are matched by local name, case-insensitively
(so the 2025 JSON draft's ``city``/``stateOrProvince``/``country`` spellings and its
``Lom``/``healthcareMetadata`` placed beside ``ActivityDescription`` are read too),
within the MEMS namespaces: metrics v1/v2, LOM, the MedBiquitous healthcare LOM
extension (``hx``), the address namespace, or no namespace. Elements of any other
namespace in the MEMS part (LOM custom elements, say) are ignored. The children of
``XtensibleInfo`` are ACCME's extensions: matched by local name in *any* namespace,
since ACCME's own namespace URI is unknown (reference 4.5; ours, used by the export, is
:data:`PARS_EXTENSIONS_NS`).

**Mapping.** See :func:`_activity_data`; values are passed raw (text as written, lists
of raw texts), checked only by `pars.activities.validation.validate_activity`. Besides
the dictionary fields a row may carry ``action`` (``activityRecordAction`` Add, Update or
Delete, lower-cased) and ``status`` (``"closed"`` when ``closeActivityRecord`` is true).
Extensions PARS adds for a lossless export (`pars.activities.xml_export`) are read too:
``ActivityStatus`` (Draft/Active/Closed, the status asked for), ``HoursOfInstruction``,
``LearningFormats/LearningFormat``, ``Competencies/Competency`` and
``InKindSupport/InKindType``, ``InKindSupport/description``.

**Hardening.** The parser never expands entities, never loads a DTD and never touches
the network (lxml ``resolve_entities=False, no_network=True, load_dtd=False,
huge_tree=False, dtd_validation=False``); on top of that any DOCTYPE is refused, so no
entity can be declared (undeclared entity references are a well-formedness error). A
parser *target* watches the prolog and refuses the DOCTYPE the moment libxml2 reads it,
wherever it is (after a long comment too); a cheap pre-scan of the first bytes refuses
``<!DOCTYPE``/``<!ENTITY`` before any parsing. Activities are streamed (an
``XMLPullParser`` sees only the ``MedicalEducationMetrics`` end events) and each is
cleared with its preceding siblings once read, so memory stays flat for a 500,000-activity
file; more than :data:`MAX_GAP_BYTES` read without completing an activity (one enormous
activity, or bulk outside the activities) is refused, so no input can grow the tree
without bound. Malformed or truncated XML, NUL bytes and bad encodings raise
:class:`FileRejected` with libxml2's line number -- possibly after earlier rows were
yielded: the caller must then treat the whole file as rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from lxml import etree  # type: ignore[import-untyped]

from pars.intake.coerce import NO_WORDS, YES_WORDS
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.readers.xml import (
    CHUNK_BYTES,
    HARDENED_OPTIONS,
    Prolog,
    check_docinfo,
    feed,
    local_name,
    namespace,
    prescan,
    release,
    syntax_error,
)

METRICS_V1_NS = "http://ns.medbiq.org/metrics/v1/"
METRICS_V2_NS = "http://ns.medbiq.org/metrics/v2/"
LOM_NS = "http://ltsc.ieee.org/xsd/LOM"
HX_NS = "http://ns.medbiq.org/lom/extend/v1/"
ADDRESS_NS = "http://ns.medbiq.org/address/v1/"
# Our namespace for ACCME's XtensibleInfo extensions (ACCME's own URI is unknown), used
# by the export; on input, extensions are accepted in any namespace.
PARS_EXTENSIONS_NS = "urn:pars:accme-extensions:v1"

METRICS_NAMESPACES = frozenset({METRICS_V1_NS, METRICS_V2_NS})
# Where MEMS elements may be: the MedBiquitous namespaces, or none (a lenient file).
MEMS_NAMESPACES = frozenset({METRICS_V1_NS, METRICS_V2_NS, LOM_NS, HX_NS, ADDRESS_NS, ""})

ROOT_NAME = "ACCMEActivities"
ACTIVITY_NAME = "MedicalEducationMetrics"

# The most XML read without completing an activity (real activities take a few KB).
MAX_GAP_BYTES = 16 * 1024 * 1024

# ---------------------------------------------------------------------------
# Streaming the activities


def _lower_name(element: Any) -> str:
    tag = element.tag
    return _key(tag)[0] if isinstance(tag, str) else ""


def _check_root(tag: str) -> None:
    name = tag.rpartition("}")[2]
    if name not in (ROOT_NAME, ACTIVITY_NAME):
        raise FileRejected(
            f"The root element is <{name}>; a PARS activity XML file has <{ROOT_NAME}> "
            f"with one <{ACTIVITY_NAME}> per activity."
        )


def iter_metrics(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """Yield (row, element) for each ``MedicalEducationMetrics`` of the file, hardened.

    The element is cleared (with its preceding siblings) once the consumer asks for the
    next one: use it before that. Raises :class:`FileRejected` as described above.
    """
    main = etree.XMLPullParser(events=("end",), tag=f"{{*}}{ACTIVITY_NAME}", **HARDENED_OPTIONS)
    prolog = Prolog()
    probe: Any = etree.XMLParser(target=prolog, **HARDENED_OPTIONS)
    total = 0
    unread = 0  # bytes read since the last activity was completed
    row = 0
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if total == 0:
            prescan(chunk)
        if not chunk:
            break
        total += len(chunk)
        unread += len(chunk)
        if probe is not None:
            # The probe reads the prolog first: a DOCTYPE or a wrong root is refused
            # before the main parser sees the chunk.
            feed(probe, chunk)
            if prolog.root is not None:
                _check_root(prolog.root)
                probe = None
        feed(main, chunk)
        for _event, element in main.read_events():
            row = _next_row(element, row)
            yield row, element
            release(element)
            unread = 0
        if unread > MAX_GAP_BYTES:
            raise FileRejected(
                f"More than {MAX_GAP_BYTES // (1024 * 1024)} MB of XML without a complete "
                f"<{ACTIVITY_NAME}> (around byte {total}): an activity is far too large, or "
                f"the file holds something else."
            )
    if total == 0:
        raise FileRejected("The file is empty.")
    try:
        main.close()
    except etree.XMLSyntaxError as error:
        raise syntax_error(error) from None
    for _event, element in main.read_events():  # pragma: no cover (all seen before close)
        row = _next_row(element, row)
        yield row, element
        release(element)


def _next_row(element: Any, row: int) -> int:
    if row == 0:
        check_docinfo(element)
    parent = element.getparent()
    if parent is None:
        return 1  # a bare MedicalEducationMetrics document
    if parent.getparent() is not None:
        raise FileRejected(
            f"Line {element.sourceline}: <{ACTIVITY_NAME}> must be a direct child of the "
            f"root <{ROOT_NAME}>; it is inside <{local_name(parent)}>."
        )
    return row + 1


def read_xml(stream: BinaryIO) -> Iterator[ParsedRow]:
    """Parse an activity XML file into raw rows (see the module docstring)."""
    for row, element in iter_metrics(stream):
        yield activity_row(element, row)


# ---------------------------------------------------------------------------
# One activity


def activity_row(element: Any, row: int) -> ParsedRow:
    """The raw row of one ``MedicalEducationMetrics`` element."""
    space = namespace(element)
    if space not in METRICS_NAMESPACES and space != "":
        return ParsedRow(
            row,
            problem=f"<{ACTIVITY_NAME}> is in the namespace {space!r}; expected "
            f"{METRICS_V1_NS} or {METRICS_V2_NS}.",
        )
    data, problem = _activity_data(element)
    return ParsedRow(row, data, problem)


_Index = dict[str, list[Any]]
_NOTHING: _Index = {}
# tag -> (lower-case local name, in a MEMS namespace?); bounded, a file may invent tags.
_KEYS: dict[str, tuple[str, bool]] = {}


def _key(tag: str) -> tuple[str, bool]:
    key = _KEYS.get(tag)
    if key is None:
        space, name = tag[1:].split("}", 1) if tag[0] == "{" else ("", tag)
        key = (name.lower(), space in MEMS_NAMESPACES)
        if len(_KEYS) < 4096:
            _KEYS[tag] = key
    return key


def _index(parent: Any, any_namespace: bool = False) -> _Index:
    """The children of `parent` by lower-case local name.

    Only children in the MEMS namespaces (or none) count, unless `any_namespace`.
    """
    if parent is None:
        return _NOTHING
    found: _Index = {}
    for child in parent:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        name, mems = _key(tag)
        if mems or any_namespace:
            if name in found:
                found[name].append(child)
            else:
                found[name] = [child]
    return found


def _first(index: _Index, name: str) -> Any:
    found = index.get(name)
    return found[0] if found else None


def _either(first: Any, second: Any) -> Any:
    return first if first is not None else second  # (elements without children are falsy)


def _plain(element: Any) -> str | None:
    text = (element.text or "").strip() if element is not None else ""
    return text or None


def _text(element: Any) -> str | None:
    """A simple element's text, or a LOM LangString's (its ``string``, English first)."""
    if element is None:
        return None
    if not len(element):
        return _plain(element)
    strings = [child for child in element if _lower_name(child) == "string"]
    if not strings:
        return _plain(element)
    english = [s for s in strings if (s.get("language") or "").lower().startswith("en")]
    for string in english + strings:
        text = _plain(string)
        if text:
            return text
    return None


_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:T.*)?$")
_YEAR = re.compile(r"^(\d{4})-\d{2}-\d{2}")
_CATALOGS = {
    "provider activity id": "provider_activity_id",
    "accme activity id": "accme_activity_id",
    "url": "activity_url",
}
_INCOME = {
    "advertisingandexhibitincome": "advertising_income",
    "otherincome": "other_income",
    "expenses": "expenses",
}
_FLAGS = {
    "designedtochangecompetence": "designed_to_change_competence",
    "designedtochangeperformance": "designed_to_change_performance",
    "designedtochangepatientoutcomes": "designed_to_change_patient_outcomes",
    "changesincompetencemeasured": "changes_measured_competence",
    "changesinperformancemeasured": "changes_measured_performance",
    "changesinpatientoutcomesmeasured": "changes_measured_patient_outcomes",
}
_EXTENSION_VALUES = {
    "forpubliclist": "listed_on_passport",
    "feeforparticipation": "fee",
    "activityregistration": "registration",
    "ismeritbasedincentivepaymentsystem": "meets_mips",
    "hoursofinstruction": "hours_of_instruction",
}
_EXTENSION_LISTS = {
    "deliverymethods": ("deliverymethod", "delivery_methods"),
    "learningformats": ("learningformat", "learning_formats"),
    "competencies": ("competency", "competencies"),
}
_ACTIONS = {"add", "update", "delete"}


def _date(text: str | None) -> str | None:
    if text is None:
        return None
    match = _DATE.match(text)
    return match.group(1) if match else text


def _is_ama(certification: str | None) -> bool:
    letters = re.sub(r"[^a-z0-9]", "", (certification or "").lower())
    return letters.startswith("amapracategory1")


def _put(data: dict[str, Any], name: str, value: Any) -> None:
    if value is not None and name not in data:
        data[name] = value


def _activity_data(activity: Any) -> tuple[dict[str, Any], str | None]:
    """Map one ``MedicalEducationMetrics`` (reference 4.2, 4.3) to raw dictionary fields."""
    data: dict[str, Any] = {}
    top = _index(activity)
    report = _index(_first(top, "reportdescription"))
    reporting_start = _text(_first(report, "reportingstartdate"))
    if reporting_start is not None:
        match = _YEAR.match(reporting_start)
        data["reporting_year"] = match.group(1) if match else reporting_start

    description = _index(_first(top, "activitydescription"))
    # MEMS nests lom:lom in ActivityDescription; the 2025 JSON draft puts Lom and
    # healthcareMetadata beside it.
    lom = _index(_either(_first(description, "lom"), _first(top, "lom")))
    general = _first(lom, "general")
    metadata = _either(_first(lom, "healthcaremetadata"), _first(top, "healthcaremetadata"))
    education = _first(_index(metadata), "healthcareeducation")

    in_general = _index(general)
    for identifier in in_general.get("identifier", []):
        parts = _index(identifier)
        catalog = (_text(_first(parts, "catalog")) or "").lower()
        if catalog in _CATALOGS:
            _put(data, _CATALOGS[catalog], _text(_first(parts, "entry")))
    _put(data, "title", _text(_first(in_general, "title")))
    _put(data, "description", _text(_first(in_general, "description")))

    _read_education(_index(education), data)
    supporters = _read_amounts(description, data)
    _read_participation(_index(_first(top, "participationmetrics")), data)
    _read_extensions(_first(top, "xtensibleinfo"), data, supporters)
    if supporters:
        data["supporters"] = list(supporters.values())

    problem = None
    if general is None:
        problem = (
            f"The <{ACTIVITY_NAME}> has no lom:general element (in ActivityDescription/lom:lom), "
            "so it has no identifiers or title."
        )
    return data, problem


def _read_education(education: _Index, data: dict[str, Any]) -> None:
    """``hx:healthcareEducation``: credits, joint providers, location, dates, format…"""
    if not education:
        return
    joint: list[str] = []
    for credits in education.get("credits", []):
        parts = _index(credits)
        if _is_ama(_text(_first(parts, "activitycertification"))):
            _put(data, "ama_credits", _text(_first(parts, "numberofcredits")))
        for provider in parts.get("nonaccreditedprovider", []):
            name = _text(provider)
            if name and name not in joint:
                joint.append(name)
    if joint:
        data["joint_providers"] = joint
    location = _index(_first(education, "activitylocation"))
    _put(data, "city", _text(_first(location, "city")))
    _put(data, "state", _text(_first(location, "stateorprovince")))
    country = _first(location, "country")
    if country is not None:
        parts = _index(country)
        code = _text(_first(parts, "countrycode")) or _text(_first(parts, "countryname"))
        _put(data, "country", code or _plain(country))
    _put(data, "start_date", _date(_text(_first(education, "startdatetime"))))
    _put(data, "end_date", _date(_text(_first(education, "enddatetime"))))
    _put(data, "providership", _text(_first(education, "activitysponsorship")))
    # hx:activityFormat (healthcare LOM 2009); hx:activityOrResourceFormat (the edition
    # that goes with metrics v2).
    for name in ("activityformat", "activityorresourceformat"):
        for activity_format in education.get(name, []):
            _put(data, "activity_format", _text(activity_format))
    _put(data, "commercial_support_received", _text(_first(education, "commercialsupport")))


def _supporter(supporters: dict[str, dict[str, Any]], source: str | None) -> dict[str, Any]:
    """The supporter entry of `source`, created on first sight (a source given as an
    amount and as in-kind support is one supporter)."""
    key = source.casefold() if source else f"#{len(supporters)}"
    if key not in supporters:
        supporters[key] = {
            "source": source,
            "monetary_amount": None,
            "in_kind": False,
            "in_kind_description": None,
        }
    return supporters[key]


def _read_amounts(description: _Index, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``ActivityDescription``: commercial support amounts, income, the six flags."""
    supporters: dict[str, dict[str, Any]] = {}
    for amount in description.get("commercialsupportamount", []):
        source = amount.get("supportSource")
        if len(amount):  # the JSON draft's {currency, supportSource, value} as elements
            parts = _index(amount, any_namespace=True)
            source = source or _text(_first(parts, "supportsource"))
            value = _text(_first(parts, "value"))
        else:
            value = _plain(amount)
        source = source.strip() if source and source.strip() else None
        if source is None and value is None:
            continue  # an empty (v2: nil) amount
        supporter = _supporter(supporters, source)
        supporter["monetary_amount"] = _combine(supporter["monetary_amount"], value)
    for name, elements in description.items():
        field_name = _INCOME.get(name) or _FLAGS.get(name)
        if field_name is not None:
            _put(data, field_name, _plain(elements[0]))
    return supporters


def _combine(first: str | None, second: str | None) -> str | None:
    """Two counts or amounts given for the same thing: their sum when both are whole."""
    if first is None or second is None:
        return first if second is None else second
    if first.isdigit() and second.isdigit():
        return str(int(first) + int(second))
    # Not both plain numbers: pass both on, so the validator refuses the pair by name
    # rather than one of them being dropped without a word.
    return f"{first} + {second}"


def _read_participation(metrics: _Index, data: dict[str, Any]) -> None:
    """``ParticipantsByCategory`` (v1: ``@category`` and the number as text): physician,
    and everyone else (non-physician, other, the Joint Accreditation professions) as
    other learners."""
    physicians: str | None = None
    others: str | None = None
    for count in metrics.get("participantsbycategory", []):
        category = count.get("category")
        if len(count):  # metrics v2: {CategoryName, Number}; JSON draft: {category,
            # numberOfParticipants}
            parts = _index(count, any_namespace=True)
            category = category or _text(
                _either(_first(parts, "categoryname"), _first(parts, "category"))
            )
            number = _text(_either(_first(parts, "number"), _first(parts, "numberofparticipants")))
        else:
            number = _plain(count)
        category = (category or "").strip().lower()
        if not category or number is None:
            continue
        if category in ("physician", "physicians"):
            physicians = _combine(physicians, number)
        else:
            others = _combine(others, number)
    _put(data, "physician_learners", physicians)
    _put(data, "other_learners", others)


def _read_extensions(
    extensions: Any, data: dict[str, Any], supporters: dict[str, dict[str, Any]]
) -> None:
    """``XtensibleInfo``: ACCME's extensions (reference 4.3) and ours, in any namespace."""
    if extensions is None:
        return
    outcomes: list[dict[str, Any]] = []
    lists: dict[str, list[str]] = {}
    for child in extensions:
        name = _lower_name(child)
        if name in _EXTENSION_VALUES:
            _put(data, _EXTENSION_VALUES[name], _text(child))
        elif name in _EXTENSION_LISTS:
            item_name, field_name = _EXTENSION_LISTS[name]
            items = lists.setdefault(field_name, [])
            for item in _index(child, any_namespace=True).get(item_name, []):
                text = _text(item)
                if text is not None:
                    items.append(text)
        elif name == "measuredoutcomes":
            outcomes.extend(_outcomes(child))
        elif name == "inkindsupports":
            for support in _index(child, any_namespace=True).get("inkindsupport", []):
                _read_in_kind(support, supporters)
        elif name == "activityrecordaction":
            action = _text(child)
            if action is not None:
                _put(data, "action", action.lower() if action.lower() in _ACTIONS else action)
        elif name == "activitystatus":
            _put(data, "status", _text(child))
        elif name == "closeactivityrecord":
            close = (_text(child) or "").lower()
            if close in YES_WORDS:
                data["status"] = "closed"  # whatever ActivityStatus says
            elif close not in NO_WORDS:
                data["status"] = _text(child)  # for the validator to report
    data.update(lists)
    if outcomes:
        data["outcome_measures"] = outcomes


def _outcomes(wrapper: Any) -> list[dict[str, Any]]:
    """``MeasuredOutcomes``: {MeasuredOutcome, MeasurementType*}, or several in sequence
    (each MeasurementType belongs to the MeasuredOutcome before it)."""
    outcomes: list[dict[str, Any]] = []
    loose: list[str] = []
    for child in wrapper:
        name = _lower_name(child)
        if name == "measuredoutcome":
            outcomes.append({"outcome": _text(child) or "", "measurement_types": []})
        elif name == "measurementtype":
            kind = _text(child)
            if kind is None:
                continue
            if outcomes:
                outcomes[-1]["measurement_types"].append(kind)
            else:
                loose.append(kind)  # written before its outcome
    if outcomes and loose:
        outcomes[0]["measurement_types"][:0] = loose
    return outcomes


def _read_in_kind(support: Any, supporters: dict[str, dict[str, Any]]) -> None:
    """``InKindSupports/InKindSupport``: {source, description?, InKindType*}."""
    parts = _index(support, any_namespace=True)
    source_element = _first(parts, "source")
    source = _text(source_element) if source_element is not None else _plain(support)
    supporter = _supporter(supporters, source)
    supporter["in_kind"] = True
    description = _either(_first(parts, "description"), _first(parts, "inkinddescription"))
    if description is not None and _text(description) is not None:
        supporter["in_kind_description"] = _text(description)
    types = [text for item in parts.get("inkindtype", []) if (text := _text(item)) is not None]
    if types:
        supporter.setdefault("in_kind_types", []).extend(types)
