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

**Reading.** The file is streamed by the shared hardened loop
(`pars.intake.readers.xml`, :func:`~pars.intake.readers.xml.read_records` with
:func:`activity_spec`): no DTD, no entities, no network, any DOCTYPE refused; each
activity is cleared once read, so memory stays flat for a 500,000-activity file; more
than :data:`MAX_GAP_BYTES` read without completing an activity is refused. A malformed
file raises :class:`FileRejected`, possibly after earlier rows were yielded: the caller
must then treat the whole file as rejected. This module holds only the mapping of one
``MedicalEducationMetrics`` to a raw row (:func:`activity_record`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from pars.intake.coerce import NO_WORDS, YES_WORDS
from pars.intake.readers import ParsedRow
from pars.intake.readers import xml as hardened
from pars.intake.readers.xml import (
    ChildIndex,
    RecordSpec,
    first_child,
    namespace,
    plain_text,
    read_records,
    stream_records,
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

# The most XML read without completing an activity (looked up at each read).
MAX_GAP_BYTES = hardened.MAX_GAP_BYTES

# ---------------------------------------------------------------------------
# Streaming the activities


def _lower_name(element: Any) -> str:
    tag = element.tag
    return _key(tag)[0] if isinstance(tag, str) else ""


def activity_spec() -> RecordSpec:
    """How the shared XML loop reads an activity file (built per read, so that
    :data:`MAX_GAP_BYTES` is looked up when the file is read)."""
    return RecordSpec(
        roots=(ROOT_NAME,),
        records=(ACTIVITY_NAME,),
        layout=f"a PARS activity XML file has <{ROOT_NAME}> with one <{ACTIVITY_NAME}> "
        "per activity.",
        one_record="an activity",
        to_records=lambda element: [activity_record(element)],
        max_gap_bytes=MAX_GAP_BYTES,
        columns=ELEMENTS,
    )


# The element each field is read from (see _activity_data), for the error report.
ELEMENTS: dict[str, str] = {
    "reporting_year": "ReportingStartDate",
    "provider_activity_id": "lom:identifier (Provider Activity ID)",
    "accme_activity_id": "lom:identifier (ACCME Activity ID)",
    "activity_url": "lom:identifier (URL)",
    "title": "lom:title",
    "description": "lom:description",
    "ama_credits": "hx:numberOfCredits",
    "joint_providers": "hx:nonAccreditedProvider",
    "city": "City",
    "state": "StateOrProvince",
    "country": "Country",
    "start_date": "hx:startDateTime",
    "end_date": "hx:endDateTime",
    "providership": "hx:activitySponsorship",
    "activity_format": "hx:activityFormat",
    "commercial_support_received": "hx:commercialSupport",
    "advertising_income": "AdvertisingAndExhibitIncome",
    "other_income": "OtherIncome",
    "expenses": "Expenses",
    "designed_to_change_competence": "DesignedToChangeCompetence",
    "designed_to_change_performance": "DesignedToChangePerformance",
    "designed_to_change_patient_outcomes": "DesignedToChangePatientOutcomes",
    "changes_measured_competence": "ChangesInCompetenceMeasured",
    "changes_measured_performance": "ChangesInPerformanceMeasured",
    "changes_measured_patient_outcomes": "ChangesInPatientOutcomesMeasured",
    "physician_learners": "ParticipantsByCategory (Physician)",
    "other_learners": "ParticipantsByCategory (other learners)",
    "listed_on_passport": "ForPublicList",
    "fee": "FeeForParticipation",
    "registration": "ActivityRegistration",
    "meets_mips": "IsMeritBasedIncentivePaymentSystem",
    "hours_of_instruction": "HoursOfInstruction",
    "delivery_methods": "DeliveryMethods",
    "learning_formats": "LearningFormats",
    "competencies": "Competencies",
    "outcome_measures": "MeasuredOutcomes",
    "action": "activityRecordAction",
    "status": "ActivityStatus",
    "supporters.source": "SupportSource",
    "supporters.monetary_amount": "CommercialSupportAmount",
    "supporters.in_kind_types": "InKindType",
    "supporters.in_kind_description": "InKindDescription",
}


def iter_metrics(stream: BinaryIO) -> Iterator[tuple[int, Any]]:
    """Yield (row, element) for each ``MedicalEducationMetrics`` of the file, hardened.

    The element is cleared (with its preceding siblings) once the consumer asks for the
    next one: use it before that. Raises :class:`FileRejected` as described above.
    """
    return stream_records(stream, activity_spec())


def read_xml(stream: BinaryIO) -> Iterator[ParsedRow]:
    """Parse an activity XML file into raw rows (see the module docstring)."""
    return read_records(stream, activity_spec())


# ---------------------------------------------------------------------------
# One activity


def activity_record(element: Any) -> tuple[dict[str, Any], str | None]:
    """The raw row (values, problem) of one ``MedicalEducationMetrics`` element."""
    space = namespace(element)
    if space not in METRICS_NAMESPACES and space != "":
        return {}, (
            f"<{ACTIVITY_NAME}> is in the namespace {space!r}; expected "
            f"{METRICS_V1_NS} or {METRICS_V2_NS}."
        )
    return _activity_data(element)


_NOTHING: ChildIndex = {}
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


def _index(parent: Any, any_namespace: bool = False) -> ChildIndex:
    """The children of `parent` by lower-case local name.

    Only children in the MEMS namespaces (or none) count, unless `any_namespace`.
    """
    if parent is None:
        return _NOTHING
    found: ChildIndex = {}
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


def _either(first: Any, second: Any) -> Any:
    return first if first is not None else second  # (elements without children are falsy)


def _text(element: Any) -> str | None:
    """A simple element's text, or a LOM LangString's (its ``string``, English first)."""
    if element is None:
        return None
    if not len(element):
        return plain_text(element)
    strings = [child for child in element if _lower_name(child) == "string"]
    if not strings:
        return plain_text(element)
    english = [s for s in strings if (s.get("language") or "").lower().startswith("en")]
    for string in english + strings:
        text = plain_text(string)
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
    report = _index(first_child(top, "reportdescription"))
    reporting_start = _text(first_child(report, "reportingstartdate"))
    if reporting_start is not None:
        match = _YEAR.match(reporting_start)
        data["reporting_year"] = match.group(1) if match else reporting_start

    description = _index(first_child(top, "activitydescription"))
    # MEMS nests lom:lom in ActivityDescription; the 2025 JSON draft puts Lom and
    # healthcareMetadata beside it.
    lom = _index(_either(first_child(description, "lom"), first_child(top, "lom")))
    general = first_child(lom, "general")
    metadata = _either(
        first_child(lom, "healthcaremetadata"), first_child(top, "healthcaremetadata")
    )
    education = first_child(_index(metadata), "healthcareeducation")

    in_general = _index(general)
    for identifier in in_general.get("identifier", []):
        parts = _index(identifier)
        catalog = (_text(first_child(parts, "catalog")) or "").lower()
        if catalog in _CATALOGS:
            _put(data, _CATALOGS[catalog], _text(first_child(parts, "entry")))
    _put(data, "title", _text(first_child(in_general, "title")))
    _put(data, "description", _text(first_child(in_general, "description")))

    _read_education(_index(education), data)
    supporters = _read_amounts(description, data)
    _read_participation(_index(first_child(top, "participationmetrics")), data)
    _read_extensions(first_child(top, "xtensibleinfo"), data, supporters)
    if supporters:
        data["supporters"] = list(supporters.values())

    problem = None
    if general is None:
        problem = (
            f"The <{ACTIVITY_NAME}> has no lom:general element (in ActivityDescription/lom:lom), "
            "so it has no identifiers or title."
        )
    return data, problem


def _read_education(education: ChildIndex, data: dict[str, Any]) -> None:
    """``hx:healthcareEducation``: credits, joint providers, location, dates, format…"""
    if not education:
        return
    joint: list[str] = []
    for credits in education.get("credits", []):
        parts = _index(credits)
        if _is_ama(_text(first_child(parts, "activitycertification"))):
            _put(data, "ama_credits", _text(first_child(parts, "numberofcredits")))
        for provider in parts.get("nonaccreditedprovider", []):
            name = _text(provider)
            if name and name not in joint:
                joint.append(name)
    if joint:
        data["joint_providers"] = joint
    location = _index(first_child(education, "activitylocation"))
    _put(data, "city", _text(first_child(location, "city")))
    _put(data, "state", _text(first_child(location, "stateorprovince")))
    country = first_child(location, "country")
    if country is not None:
        parts = _index(country)
        code = _text(first_child(parts, "countrycode")) or _text(first_child(parts, "countryname"))
        _put(data, "country", code or plain_text(country))
    _put(data, "start_date", _date(_text(first_child(education, "startdatetime"))))
    _put(data, "end_date", _date(_text(first_child(education, "enddatetime"))))
    _put(data, "providership", _text(first_child(education, "activitysponsorship")))
    # hx:activityFormat (healthcare LOM 2009); hx:activityOrResourceFormat (the edition
    # that goes with metrics v2).
    for name in ("activityformat", "activityorresourceformat"):
        for activity_format in education.get(name, []):
            _put(data, "activity_format", _text(activity_format))
    _put(data, "commercial_support_received", _text(first_child(education, "commercialsupport")))


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


def _read_amounts(description: ChildIndex, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``ActivityDescription``: commercial support amounts, income, the six flags."""
    supporters: dict[str, dict[str, Any]] = {}
    for amount in description.get("commercialsupportamount", []):
        source = amount.get("supportSource")
        if len(amount):  # the JSON draft's {currency, supportSource, value} as elements
            parts = _index(amount, any_namespace=True)
            source = source or _text(first_child(parts, "supportsource"))
            value = _text(first_child(parts, "value"))
        else:
            value = plain_text(amount)
        source = source.strip() if source and source.strip() else None
        if source is None and value is None:
            continue  # an empty (v2: nil) amount
        supporter = _supporter(supporters, source)
        supporter["monetary_amount"] = _combine(supporter["monetary_amount"], value)
    for name, elements in description.items():
        field_name = _INCOME.get(name) or _FLAGS.get(name)
        if field_name is not None:
            _put(data, field_name, plain_text(elements[0]))
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


def _read_participation(metrics: ChildIndex, data: dict[str, Any]) -> None:
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
                _either(first_child(parts, "categoryname"), first_child(parts, "category"))
            )
            number = _text(
                _either(first_child(parts, "number"), first_child(parts, "numberofparticipants"))
            )
        else:
            number = plain_text(count)
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
    source_element = first_child(parts, "source")
    source = _text(source_element) if source_element is not None else plain_text(support)
    supporter = _supporter(supporters, source)
    supporter["in_kind"] = True
    description = _either(
        first_child(parts, "description"), first_child(parts, "inkinddescription")
    )
    if description is not None and _text(description) is not None:
        supporter["in_kind_description"] = _text(description)
    types = [text for item in parts.get("inkindtype", []) if (text := _text(item)) is not None]
    if types:
        supporter.setdefault("in_kind_types", []).extend(types)
