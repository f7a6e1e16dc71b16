"""The MEMS v1 export: streamed, schema-valid, and read back to the same values; the
offline MEMS schema resolver."""

from __future__ import annotations

import datetime
import io
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]

from pars.activities.models import Activity, CommercialSupport
from pars.activities.parsers.xml import PARS_EXTENSIONS_NS, read_xml
from pars.activities.validation import validate_activity
from pars.activities.xml_export import write_activities_xml
from pars.activities.xml_schema import (
    SCHEMA_DIR,
    MedbiqResolver,
    SchemaLocationRefused,
    compile_schema,
    mems_schema,
    validate_against_mems,
)
from pars.providers.models import Provider
from pars.testing import make_activity

TODAY = datetime.date(2026, 11, 27)
V1 = "http://ns.medbiq.org/metrics/v1/"


def supporter(activity: Activity, position: int, source: str, **fields: Any) -> None:
    CommercialSupport.objects.create(
        provider=activity.provider, activity=activity, position=position, source=source, **fields
    )


def live_course(provider: Provider) -> Activity:
    activity = make_activity(
        provider,
        provider_activity_id="GOLD-001",
        accme_activity_id="202600001",
        title="Cardiology Update",
        description="Heart failure and arrhythmia, for internists.",
        delivery_methods=["in_person"],
        city="Chicago",
        state="IL",
        country="USA",
        providership="direct",
        ama_credits=Decimal("6.50"),
        physician_learners=120,
        other_learners=35,
        commercial_support_received=True,
        outcome_measures=[{"outcome": "learner_competence", "measurement_types": ["objective"]}],
        listed_on_passport=False,
        status="closed",
    )
    supporter(activity, 1, "Example Pharma", monetary_amount=5000)
    supporter(activity, 2, "Device Co", in_kind=True)
    return activity


def enduring_online(provider: Provider) -> Activity:
    return make_activity(
        provider,
        provider_activity_id="GOLD-002",
        title="Heart Failure Essentials (online)",
        description="Self-paced modules on guideline-directed therapy.",
        activity_format="enduring",
        delivery_methods=["online"],
        start_date=datetime.date(2026, 1, 15),
        end_date=datetime.date(2026, 12, 31),
        providership="direct",
        ama_credits=Decimal("2.00"),
        commercial_support_received=False,
        listed_on_passport=True,
        fee="free",
        registration="open",
        activity_url="https://learn.example.org/hf-essentials",
        status="active",
    )


def joint_series(provider: Provider) -> Activity:
    return make_activity(
        provider,
        provider_activity_id="GOLD-003",
        title="Internal Medicine Grand Rounds & M&M <weekly>",
        description="Weekly case-based rounds, in the auditorium and streamed.",
        activity_format="rss",
        delivery_methods=["in_person", "live_streamed"],
        start_date=datetime.date(2026, 1, 7),
        end_date=datetime.date(2026, 6, 24),
        city="Boston",
        state="MA",
        country="USA",
        providership="joint",
        joint_providers=["Community Hospital Foundation", "Nurses' Guild"],
        ama_credits=Decimal("24.00"),
        physician_learners=1040,
        other_learners=310,
        commercial_support_received=False,
        outcome_measures=[
            {"outcome": "learner_performance", "measurement_types": ["objective", "subjective"]},
            {"outcome": "patient_health", "measurement_types": []},
        ],
        listed_on_passport=False,
        status="closed",
    )


def journal_draft(provider: Provider) -> Activity:
    return make_activity(
        provider,
        provider_activity_id="GOLD-004",
        title="Anticoagulation in Atrial Fibrillation: A Review",
        activity_format="journal",
        start_date=datetime.date(2026, 5, 1),
        end_date=datetime.date(2026, 10, 31),
        ama_credits=Decimal("1.00"),
        meets_mips=True,
        status="draft",
    )


def legacy_enduring(provider: Provider) -> Activity:
    # A 2014 record: legacy type code, hours, competencies, learning formats, the six
    # yes/no flags, activity income, per-supporter in-kind types.
    activity = make_activity(
        provider,
        provider_activity_id="L-2014-7",
        title="Diabetes Self-Study",
        activity_format="enduring",
        legacy_activity_type="IEM",
        delivery_methods=["online"],
        start_date=datetime.date(2014, 2, 1),
        end_date=datetime.date(2014, 12, 31),
        reporting_year=2014,
        providership="direct",
        hours_of_instruction=Decimal("3.50"),
        physician_learners=0,
        other_learners=12,
        designed_to_change_competence=True,
        changes_measured_competence=False,
        designed_to_change_performance=True,
        changes_measured_performance=True,
        designed_to_change_patient_outcomes=False,
        changes_measured_patient_outcomes=False,
        learning_formats=["lecture", "case_based"],
        competencies=["abms_medical_knowledge", "iom_informatics"],
        commercial_support_received=True,
        advertising_income=100,
        other_income=0,
        expenses=4000,
        status="closed",
    )
    supporter(
        activity,
        1,
        "Sim Labs",
        in_kind=True,
        in_kind_types=["facilities", "other"],
        in_kind_description="Simulation lab time",
    )
    supporter(activity, 2, "Example Pharma", monetary_amount=0, in_kind=True)
    return activity


def across_years(provider: Provider) -> Activity:
    # Started in December, reported in the following year; still a draft.
    return make_activity(
        provider,
        provider_activity_id="Y-1",
        title="Winter Series",
        activity_format="course",
        start_date=datetime.date(2025, 12, 1),
        end_date=datetime.date(2026, 2, 15),
        reporting_year=2026,
        city="Montréal",
        country="CAN",
        status="draft",
    )


BUILDERS = (
    live_course,
    enduring_online,
    joint_series,
    journal_draft,
    legacy_enduring,
    across_years,
)


def export(activities: Any, **options: Any) -> bytes:
    stream = io.BytesIO()
    write_activities_xml(stream, activities, **options)
    return stream.getvalue()


def exported_activities(provider: Provider) -> list[Activity]:
    for build in BUILDERS:
        build(provider)
    return list(
        Activity.objects.filter(provider=provider)
        .prefetch_related("supporters")
        .order_by("provider_activity_id")
    )


def supporter_values(activity: Activity) -> list[dict[str, Any]]:
    fields = ("source", "monetary_amount", "in_kind", "in_kind_types", "in_kind_description")
    return sorted(
        ({name: getattr(s, name) for name in fields} for s in activity.supporters.all()),
        key=lambda values: values["source"],
    )


@pytest.mark.django_db
def test_export_then_import_gives_the_same_values(provider: Provider) -> None:
    activities = exported_activities(provider)
    rows = list(read_xml(io.BytesIO(export(activities))))
    assert [row.row for row in rows] == list(range(1, len(activities) + 1))
    for activity, row in zip(activities, rows, strict=True):
        assert row.problem is None
        clean, errors = validate_activity(row.data, row=row.row, today=TODAY)
        assert errors == [], activity.provider_activity_id
        assert clean is not None
        assert clean.action == "upsert"
        for name, value in clean.values.items():
            assert getattr(activity, name) == value, (activity.provider_activity_id, name)
        got = sorted(clean.supporters, key=lambda values: values["source"])
        assert got == supporter_values(activity)


@pytest.mark.django_db
def test_exported_activities_are_valid_mems_v1(provider: Provider, tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    with path.open("wb") as stream:
        count = write_activities_xml(stream, exported_activities(provider))
    assert count == len(BUILDERS)
    assert validate_against_mems(path) == []
    # And each MedicalEducationMetrics on its own, straight against the v1 schema.
    tree = etree.parse(str(path))
    metrics = tree.getroot().findall(f"{{{V1}}}MedicalEducationMetrics")
    assert len(metrics) == len(BUILDERS)
    schema = mems_schema("v1")
    for element in metrics:
        assert schema.validate(etree.fromstring(etree.tostring(element))), schema.error_log


@pytest.mark.django_db
def test_export_layout_and_namespaces(provider: Provider) -> None:
    live_course(provider)
    data = export(Activity.objects.prefetch_related("supporters"))
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = etree.fromstring(data)
    assert root.tag == f"{{{V1}}}ACCMEActivities"
    assert root.nsmap["accme"] == PARS_EXTENSIONS_NS == "urn:pars:accme-extensions:v1"
    (metrics,) = root
    assert [etree.QName(child).localname for child in metrics] == [
        "ReportDescription",
        "ActivityDescription",
        "ParticipationMetrics",
        "XtensibleInfo",
    ]
    extensions = metrics.find(f"{{{V1}}}XtensibleInfo")
    assert {etree.QName(child).namespace for child in extensions} == {PARS_EXTENSIONS_NS}
    names = [etree.QName(child).localname for child in extensions]
    assert names[-2:] == ["activityRecordAction", "closeActivityRecord"]
    assert extensions.findtext(f"{{{PARS_EXTENSIONS_NS}}}activityRecordAction") == "Update"
    assert extensions.findtext(f"{{{PARS_EXTENSIONS_NS}}}closeActivityRecord") == "true"
    # The metrics namespaces are declared once, on the root.
    assert data.count(b'xmlns="http://ns.medbiq.org/metrics/v1/"') == 1


@pytest.mark.django_db
def test_export_statuses_and_actions(provider: Provider) -> None:
    journal_draft(provider)
    enduring_online(provider)
    rows = {
        row.data["provider_activity_id"]: row.data
        for row in read_xml(io.BytesIO(export(Activity.objects.all(), action="Add")))
    }
    assert rows["GOLD-004"]["status"] == "Draft"
    assert rows["GOLD-002"]["status"] == "Active"
    assert {data["action"] for data in rows.values()} == {"add"}
    with pytest.raises(ValueError, match="action"):
        export([], action="Delete")


@pytest.mark.django_db
def test_export_streams_from_an_iterator(provider: Provider) -> None:
    for number in range(30):
        make_activity(provider, provider_activity_id=f"S-{number:02d}")
    seen: list[str] = []

    def activities() -> Iterator[Activity]:
        for activity in Activity.objects.order_by("provider_activity_id").iterator(chunk_size=7):
            seen.append(activity.provider_activity_id)
            yield activity

    rows = list(read_xml(io.BytesIO(export(activities()))))
    assert [row.data["provider_activity_id"] for row in rows] == seen
    assert len(rows) == 30


def test_an_empty_export_is_a_valid_empty_file() -> None:
    data = export([])
    assert list(read_xml(io.BytesIO(data))) == []
    assert validate_against_mems(io.BytesIO(data)) == []


# ---------------------------------------------------------------------------
# The offline schema resolver


def test_the_licence_travels_with_the_schemas() -> None:
    assert (SCHEMA_DIR / "LICENSE-MedBiquitous.txt").is_file()
    assert (SCHEMA_DIR / "metrics" / "v1" / "medicaleducationmetrics.xsd").is_file()
    assert (SCHEMA_DIR / "metrics" / "v2" / "medicaleducationmetrics.xsd").is_file()


@pytest.mark.parametrize(
    ("version", "url", "local"),
    [
        ("v1", "http://ns.medbiq.org/lom/healthcarelom.xsd", "lom/healthcarelom.xsd"),
        ("v2", "http://ns.medbiq.org/lom/healthcarelom.xsd", "lomv2/healthcarelom.xsd"),
        ("v1", "http://ns.medbiq.org/address/v1/address.xsd", "address/v1/address.xsd"),
        ("v1", "http://ltsc.ieee.org/xsd/lomv1.0/lom.xsd", "lom/healthcarelom.xsd"),
        ("v1", str(SCHEMA_DIR / "lom" / "common" / "dataTypes.xsd"), "lom/common/dataTypes.xsd"),
    ],
)
def test_medbiq_locations_map_to_the_local_copies(version: str, url: str, local: str) -> None:
    assert MedbiqResolver(version).local(url) == SCHEMA_DIR / local


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/evil.xsd",
        "https://attacker.example/ns.medbiq.org/metrics/v1/medicaleducationmetrics.xsd",
        "http://ns.medbiq.org/../../../../etc/passwd",
        "http://ns.medbiq.org/metrics/v9/unknown.xsd",
        "file:///etc/passwd",
        "/etc/passwd",
        "ftp://ns.medbiq.org/metrics/v1/medicaleducationmetrics.xsd",
    ],
)
def test_every_other_location_is_refused(url: str) -> None:
    with pytest.raises(SchemaLocationRefused):
        MedbiqResolver("v1").local(url)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.usefixtures("no_network")
def test_a_schema_importing_an_unknown_url_is_refused() -> None:
    importing = (
        b'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        b'<xsd:import namespace="urn:evil" schemaLocation="http://attacker.example/evil.xsd"/>'
        b"</xsd:schema>"
    )
    with pytest.raises(SchemaLocationRefused) as refused:
        compile_schema(importing)
    assert refused.value.url == "http://attacker.example/evil.xsd"


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_both_metrics_schemas_compile_offline(version: str) -> None:
    metrics = f"http://ns.medbiq.org/metrics/{version}/"
    driver = (
        '<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
        '<xsd:import namespace="http://www.w3.org/XML/1998/namespace" '
        'schemaLocation="http://www.w3.org/2001/xml.xsd"/>'
        f'<xsd:import namespace="{metrics}" schemaLocation="{metrics}medicaleducationmetrics.xsd"/>'
        "</xsd:schema>"
    )
    schema = compile_schema(driver.encode(), version=version)
    assert not schema.validate(etree.fromstring(f'<MedicalEducationMetrics xmlns="{metrics}"/>'))


def test_schema_problems_name_the_activity_and_line() -> None:
    stream = io.BytesIO(
        b'<ACCMEActivities xmlns="http://ns.medbiq.org/metrics/v1/">\n'
        b"<MedicalEducationMetrics>\n"
        b"<ReportDescription><ReportingStartDate>2026-03-01</ReportingStartDate>"
        b"<ReportingEndDate>2026-03-02</ReportingEndDate></ReportDescription>\n"
        b"<ParticipationMetrics/>\n"
        b"</MedicalEducationMetrics>\n"
        b"</ACCMEActivities>\n"
    )
    problems = validate_against_mems(stream)
    assert len(problems) == 1
    assert problems[0].startswith("Activity 1, line 4: ")
    assert "ActivityDescription" in problems[0]


def test_schema_validation_refuses_hostile_files_without_reading_them() -> None:
    stream = io.BytesIO(
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ACCMEActivities>&x;'
        b"</ACCMEActivities>"
    )
    (problem,) = validate_against_mems(stream)
    assert "DOCTYPE" in problem
