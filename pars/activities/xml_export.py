"""Activities -> MEMS-based activity XML, streamed (lxml's incremental ``xmlfile`` writer).

Usage::

    activities = provider.activities.prefetch_related("supporters").iterator(chunk_size=500)
    with open(path, "wb") as stream:
        write_activities_xml(stream, activities)

The document is an ``ACCMEActivities`` root (in the metrics namespace) with one
``MedicalEducationMetrics`` per activity, in the MEMS **metrics v1** namespace
``http://ns.medbiq.org/metrics/v1/`` with the healthcare LOM (``lom``, ``hx``) and address
(``a``) namespaces. Each ``MedicalEducationMetrics`` is valid against the official MEMS v1
schema (`pars.activities.xml_schema`; element order follows the XSD sequences, reference
4.2), and `pars.activities.parsers.xml.read_xml` of the file, fed through
`validate_activity`, gives back the activity's values (the round trip is tested).

**Extensions** (``XtensibleInfo``, which MEMS requires to be in another namespace) are in
``urn:pars:accme-extensions:v1`` (prefix ``accme``): ACCME publishes element names but no
namespace URI (reference 4.3, 4.5), so this URN is ours; the reader accepts the names in
any namespace. ACCME's 2025 draft names used: ``DeliveryMethods/DeliveryMethod``,
``InKindSupports/InKindSupport/source``, ``MeasuredOutcomes/{MeasuredOutcome,
MeasurementType*}`` (one per outcome), ``ForPublicList``, ``FeeForParticipation``,
``ActivityRegistration``, ``IsMeritBasedIncentivePaymentSystem``,
``activityRecordAction``, ``closeActivityRecord``. PARS additions, for fields MEMS and the
draft do not carry: ``ActivityStatus`` (Draft or Active: the status to keep, since the
validator would otherwise close a complete activity), ``HoursOfInstruction``,
``LearningFormats/LearningFormat``, ``Competencies/Competency``,
``InKindSupport/description`` and ``InKindSupport/InKindType``.

Choices: the reporting period is the activity's dates, except that ``ReportingStartDate``
is 1 January of the reporting year when the activity started in an earlier year (the
reader takes the reporting year from it); a legacy activity keeps its legacy type code as
``hx:activityFormat``; labels, not codes, are written for choices (as in the files
providers send); ``ParticipantsByCategory`` uses ``physician`` and ``non-physician``.
Supporters with an amount come back first on re-import (amounts precede the extension
block in MEMS); the order of supporters carries no meaning.

Pass activities with ``prefetch_related("supporters")`` (with ``iterator(chunk_size=…)``
for large sets), or each activity costs a query.
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, BinaryIO

from django.db.models import QuerySet
from django.http import FileResponse
from lxml import etree  # type: ignore[import-untyped]

from pars.activities.dictionary import (
    COMPETENCIES,
    DELIVERY_METHODS,
    FEES,
    FORMATS,
    IN_KIND_TYPES,
    LEARNING_FORMATS,
    MEASUREMENT_TYPES,
    OUTCOMES,
    REGISTRATION,
)
from pars.activities.models import Activity, ActivityStatus, CommercialSupport
from pars.activities.parsers.xml import (
    ADDRESS_NS,
    HX_NS,
    LOM_NS,
    METRICS_V1_NS,
    PARS_EXTENSIONS_NS,
)
from pars.lib.text import xml_safe

NSMAP = {
    None: METRICS_V1_NS,
    "lom": LOM_NS,
    "hx": HX_NS,
    "a": ADDRESS_NS,
    "accme": PARS_EXTENSIONS_NS,
}
_M = f"{{{METRICS_V1_NS}}}"
_LOM = f"{{{LOM_NS}}}"
_HX = f"{{{HX_NS}}}"
_A = f"{{{ADDRESS_NS}}}"
_X = f"{{{PARS_EXTENSIONS_NS}}}"
AMA_CERTIFICATION = "AMA PRA Category 1"
RECORD_ACTIONS = ("Add", "Update")


def write_activities_xml(
    stream: BinaryIO, activities: Iterable[Activity], *, action: str = "Update"
) -> int:
    """Write the activities as one ``ACCMEActivities`` document; returns how many.

    `action` is the ``activityRecordAction`` written for every activity: ``Update``
    (the default: the activities exist in PARS) or ``Add``.
    """
    if action not in RECORD_ACTIONS:
        raise ValueError(f"action must be one of {RECORD_ACTIONS}, not {action!r}")
    count = 0
    with etree.xmlfile(stream, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(f"{_M}ACCMEActivities", nsmap=NSMAP):
            xf.write("\n")
            for activity in activities:
                _write_activity(xf, activity, action)
                xf.write("\n")
                count += 1
    return count


def _attributes(attrib: Mapping[str, str] | None) -> dict[str, str]:
    return {name: xml_safe(value) for name, value in (attrib or {}).items()}


@contextmanager
def _element(xf: Any, tag: str, attrib: Mapping[str, str] | None = None) -> Iterator[None]:
    with xf.element(tag, _attributes(attrib)):
        yield


def _leaf(xf: Any, tag: str, text: Any, attrib: Mapping[str, str] | None = None) -> None:
    with xf.element(tag, _attributes(attrib)):
        xf.write(_lexical(text))


def _lexical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    # Stored text may hold what XML cannot (rows from before the validator refused it):
    # the export leaves it out rather than fail.
    return xml_safe(str(value))


def _lang_string(xf: Any, tag: str, text: str) -> None:
    with _element(xf, tag):
        _leaf(xf, f"{_LOM}string", text, {"language": "en"})


def _supporters(activity: Activity) -> list[CommercialSupport]:
    return list(activity.supporters.all())


def _write_activity(xf: Any, activity: Activity, action: str) -> None:
    supporters = _supporters(activity)
    with _element(xf, f"{_M}MedicalEducationMetrics"):
        _write_report(xf, activity)
        with _element(xf, f"{_M}ActivityDescription"):
            with _element(xf, f"{_LOM}lom"):
                _write_general(xf, activity)
                with (
                    _element(xf, f"{_HX}healthcareMetadata"),
                    _element(xf, f"{_HX}healthcareEducation"),
                ):
                    _write_education(xf, activity)
            _write_amounts(xf, activity, supporters)
        with _element(xf, f"{_M}ParticipationMetrics"):
            if activity.physician_learners is not None:
                _leaf(
                    xf,
                    f"{_M}ParticipantsByCategory",
                    activity.physician_learners,
                    {"category": "physician"},
                )
            if activity.other_learners is not None:
                _leaf(
                    xf,
                    f"{_M}ParticipantsByCategory",
                    activity.other_learners,
                    {"category": "non-physician"},
                )
        with _element(xf, f"{_M}XtensibleInfo"):
            _write_extensions(xf, activity, supporters, action)


def _write_report(xf: Any, activity: Activity) -> None:
    start, end, year = activity.start_date, activity.end_date, activity.reporting_year
    reporting_start = start if start.year >= year else datetime.date(year, 1, 1)
    with _element(xf, f"{_M}ReportDescription"):
        _leaf(xf, f"{_M}ReportingStartDate", reporting_start)
        _leaf(xf, f"{_M}ReportingEndDate", max(end, reporting_start))


def _write_general(xf: Any, activity: Activity) -> None:
    with _element(xf, f"{_LOM}general"):
        for catalog, entry in (
            ("Provider Activity ID", activity.provider_activity_id),
            ("ACCME Activity ID", activity.accme_activity_id),
            ("URL", activity.activity_url),
        ):
            if entry:
                with _element(xf, f"{_LOM}identifier"):
                    _leaf(xf, f"{_LOM}catalog", catalog)
                    _leaf(xf, f"{_LOM}entry", entry)
        _lang_string(xf, f"{_LOM}title", activity.title)
        if activity.description:
            _lang_string(xf, f"{_LOM}description", activity.description)


def _write_education(xf: Any, activity: Activity) -> None:
    # hx:healthcareEducationType is a sequence: credits*, targetAudience?,
    # activityLocation?, startDateTime?, endDateTime?, activitySponsorship?, …,
    # activityFormat*, …, commercialSupport?.
    if activity.ama_credits is not None or activity.joint_providers:
        with _element(xf, f"{_HX}credits"):
            _leaf(xf, f"{_HX}activityCertification", AMA_CERTIFICATION)
            for name in activity.joint_providers:
                _leaf(xf, f"{_HX}nonAccreditedProvider", name)
            if activity.ama_credits is not None:
                _leaf(xf, f"{_HX}numberOfCredits", Decimal(activity.ama_credits))
    if activity.city or activity.state or activity.country:
        # a:AddressType: … City?, StateOrProvince?, …, Country (required).
        with _element(xf, f"{_HX}activityLocation"):
            if activity.city:
                _leaf(xf, f"{_A}City", activity.city)
            if activity.state:
                _leaf(xf, f"{_A}StateOrProvince", activity.state)
            with _element(xf, f"{_A}Country"):
                if activity.country:
                    _leaf(xf, f"{_A}CountryCode", activity.country)
    _leaf(xf, f"{_HX}startDateTime", f"{activity.start_date.isoformat()}T00:00:00")
    _leaf(xf, f"{_HX}endDateTime", f"{activity.end_date.isoformat()}T00:00:00")
    if activity.providership:
        _leaf(xf, f"{_HX}activitySponsorship", activity.providership)
    activity_format = activity.legacy_activity_type or FORMATS.get(
        activity.activity_format, activity.activity_format
    )
    _lang_string(xf, f"{_HX}activityFormat", activity_format)
    if activity.commercial_support_received is not None:
        _leaf(
            xf,
            f"{_HX}commercialSupport",
            "yes" if activity.commercial_support_received else "no",
        )


_FLAGS = (
    ("DesignedToChangeCompetence", "designed_to_change_competence"),
    ("DesignedToChangePerformance", "designed_to_change_performance"),
    ("DesignedToChangePatientOutcomes", "designed_to_change_patient_outcomes"),
    ("ChangesInCompetenceMeasured", "changes_measured_competence"),
    ("ChangesInPerformanceMeasured", "changes_measured_performance"),
    ("ChangesInPatientOutcomesMeasured", "changes_measured_patient_outcomes"),
)


def _write_amounts(xf: Any, activity: Activity, supporters: list[CommercialSupport]) -> None:
    # After lom:lom: CommercialSupportAmount*, the three incomes, the six flags.
    for supporter in supporters:
        if supporter.monetary_amount is not None:
            _leaf(
                xf,
                f"{_M}CommercialSupportAmount",
                supporter.monetary_amount,
                {"currency": "USD", "supportSource": supporter.source},
            )
    for tag, value in (
        ("AdvertisingAndExhibitIncome", activity.advertising_income),
        ("OtherIncome", activity.other_income),
        ("Expenses", activity.expenses),
    ):
        if value is not None:
            _leaf(xf, f"{_M}{tag}", value, {"currency": "USD"})
    for tag, field_name in _FLAGS:
        value = getattr(activity, field_name)
        if value is not None:
            _leaf(xf, f"{_M}{tag}", bool(value))


def _labels(codes: Iterable[str], labels: Mapping[str, str]) -> list[str]:
    return [labels.get(code, code) for code in codes]


def _write_list(xf: Any, wrapper: str, item: str, values: list[str]) -> None:
    if values:
        with _element(xf, f"{_X}{wrapper}"):
            for value in values:
                _leaf(xf, f"{_X}{item}", value)


def _write_extensions(
    xf: Any, activity: Activity, supporters: list[CommercialSupport], action: str
) -> None:
    _write_list(
        xf,
        "DeliveryMethods",
        "DeliveryMethod",
        _labels(activity.delivery_methods, DELIVERY_METHODS),
    )
    in_kind = [supporter for supporter in supporters if supporter.in_kind]
    if in_kind:
        with _element(xf, f"{_X}InKindSupports"):
            for supporter in in_kind:
                with _element(xf, f"{_X}InKindSupport"):
                    _leaf(xf, f"{_X}source", supporter.source)
                    if supporter.in_kind_description:
                        _leaf(xf, f"{_X}description", supporter.in_kind_description)
                    for label in _labels(supporter.in_kind_types, IN_KIND_TYPES):
                        _leaf(xf, f"{_X}InKindType", label)
    for outcome in activity.outcome_measures:
        with _element(xf, f"{_X}MeasuredOutcomes"):
            code = outcome.get("outcome", "")
            _leaf(xf, f"{_X}MeasuredOutcome", OUTCOMES.get(code, code))
            for kind in outcome.get("measurement_types") or []:
                _leaf(xf, f"{_X}MeasurementType", MEASUREMENT_TYPES.get(kind, kind))
    if activity.listed_on_passport is not None:
        _leaf(xf, f"{_X}ForPublicList", bool(activity.listed_on_passport))
    if activity.fee:
        _leaf(xf, f"{_X}FeeForParticipation", FEES.get(activity.fee, activity.fee))
    if activity.registration:
        _leaf(
            xf,
            f"{_X}ActivityRegistration",
            REGISTRATION.get(activity.registration, activity.registration),
        )
    _leaf(xf, f"{_X}IsMeritBasedIncentivePaymentSystem", bool(activity.meets_mips))
    if activity.hours_of_instruction is not None:
        _leaf(xf, f"{_X}HoursOfInstruction", Decimal(activity.hours_of_instruction))
    _write_list(
        xf,
        "LearningFormats",
        "LearningFormat",
        _labels(activity.learning_formats, LEARNING_FORMATS),
    )
    _write_list(xf, "Competencies", "Competency", _labels(activity.competencies, COMPETENCIES))
    closed = activity.status == ActivityStatus.CLOSED
    if not closed:
        _leaf(
            xf,
            f"{_X}ActivityStatus",
            "Draft" if activity.status == ActivityStatus.DRAFT else "Active",
        )
    _leaf(xf, f"{_X}activityRecordAction", action)
    _leaf(xf, f"{_X}closeActivityRecord", closed)


def xml_file_response(activities: QuerySet[Activity], filename: str) -> FileResponse:
    """A download of the activities as XML, spooled to disk for big sets (never all in memory)."""
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    write_activities_xml(
        spool,  # type: ignore[arg-type]
        activities.prefetch_related("supporters").iterator(chunk_size=2000),
    )
    spool.seek(0)  # the response closes it
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type="application/xml"
    )
