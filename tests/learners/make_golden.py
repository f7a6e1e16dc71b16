"""Regenerate the learner golden files: ``.venv/bin/python -m tests.learners.make_golden``.

The same five completion records, written the way each channel's users write them:

* ``golden_learners.tsv`` — the template's header labels, text cells;
* ``golden_learners.xlsx`` — the Excel template filled in, with what Excel makes of
  typing: dates as Excel dates (a birth date typed as a full date), numbers as numbers
  (board ID, NPI, credits), Yes/No as text;
* ``golden_learners.xml`` — the XML learner report (``ACCMELearnerReports``), written
  out below by hand: one ``LearnerReport`` per learner, the REMS participant fields in
  the MedBiquitous Activity Report v2 namespace;
* ``golden_learners.json`` — a list of JSON bodies with the dictionary's field names
  and JSON types (numbers, booleans, lists).

The records: an ABIM MOC completion; an ABS completion without a board ID, by ACCME
Activity ID; a REMS completion with the participant fields; a Tennessee board
completion by NPI; a Delete. ``tests/learners/test_learner_files.py`` checks that all
four read to identical validated records, and that these files are up to date. The
XLSX is byte-for-byte reproducible (fixed zip timestamps and document properties).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from tests.activities.make_golden import FIXED_TIME, _reproducible

DATA = Path(__file__).parent / "data"
ACTIVITY_ID = "GR-2026-03"
ACCME_ID = "100200300"

# The records as JSON bodies (field names of pars.learners.dictionary).
JSON_RECORDS: list[dict[str, Any]] = [
    {
        "action": "Add",
        "provider_activity_id": ACTIVITY_ID,
        "recipient": "ABIM",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        "learner_id": "123456",
        "completion_date": "2026-03-02",
        "cme_credits": 10,
        "moc_points": 10,
        "moc_credit_types": ["Medical Knowledge"],
    },
    {
        "accme_activity_id": ACCME_ID,
        "recipient": "abs",
        "first_name": "Grace",
        "last_name": "Hopper",
        "birth_date": "12/09",
        "completion_date": "03/01/2026",
        "cme_credits": 6.25,
        "moc_points": 6.25,
        "moc_credit_types": ["Accredited CME", "Self-Assessment"],
    },
    {
        "provider_activity_id": ACTIVITY_ID,
        "recipient": "REMS",
        "first_name": "José",
        "last_name": "Núñez-O'Brien",
        "birth_date": "02-29",
        "learner_id": "L-0042",
        "completion_date": "2026-03-02",
        "cme_credits": 2,
        "profession": "Physician Assistant",
        "practice_state": "MI",
        "dea_registration": "Individual",
        "practice_area": "Pain",
        "surgical_procedures": False,
        "time_in_practice": "6-10 years",
    },
    {
        "provider_activity_id": ACTIVITY_ID,
        "recipient": "TN",
        "first_name": "Mary",
        "last_name": "Walker",
        "birth_date": "11-26",
        "npi": "1234567893",
        "license_state": "TN",
        "completion_date": "2026-03-02",
        "cme_credits": 10,
    },
    {
        "action": "Delete",
        "provider_activity_id": ACTIVITY_ID,
        "recipient": "ABIM",
        "first_name": "Charles",
        "last_name": "Babbage",
        "birth_date": "12-26",
        "learner_id": "654321",
        "completion_date": "2026-03-01",
    },
]

# The TSV: the template's labels, every cell as text.
TSV_HEADER = [
    "Action",
    "Provider Activity ID",
    "ACCME Activity ID",
    "Recipient",
    "First Name",
    "Last Name",
    "Birth Month and Day",
    "Learner ID",
    "NPI",
    "License State",
    "Completion Date",
    "CME Credits",
    "MOC Points",
    "MOC Credit Types",
    "Profession",
    "State of Primary Practice",
    "DEA Registration",
    "Practice Area",
    "Performs Surgical Procedures?",
    "Time in Practice",
]
TSV_ROWS = [
    ["Add", ACTIVITY_ID, "", "ABIM", "Ada", "Lovelace", "12-10", "123456", "", "",
     "03/02/2026", "10", "10", "Medical Knowledge", "", "", "", "", "", ""],
    ["", "", ACCME_ID, "ABS", "Grace", "Hopper", "1906-12-09", "", "", "", "2026-03-01",
     "6.25", "6.25", "Accredited CME; Self-Assessment", "", "", "", "", "", ""],
    ["", ACTIVITY_ID, "", "REMS", "José", "Núñez-O'Brien", "2-29", "L-0042", "", "",
     "2026-03-02", "2", "", "", "Physician Assistant", "mi", "individual", "Pain", "No",
     "6-10 years"],
    ["", ACTIVITY_ID, "", "TN", "Mary", "Walker", "11/26", "", "1234567893", "TN",
     "2026-03-02", "10.00", "", "", "", "", "", "", "", ""],
    ["Delete", ACTIVITY_ID, "", "ABIM", "Charles", "Babbage", "12-26", "654321", "", "",
     "2026-03-01", "", "", "", "", "", "", "", "", ""],
]  # fmt: skip

# The XLSX: the template's labels as a user leaves them after typing into Excel.
XLSX_ROWS: list[dict[str, Any]] = [
    {
        "Action": "Add",
        "Provider Activity ID": ACTIVITY_ID,
        "Recipient": "ABIM",
        "First Name": "Ada",
        "Last Name": "Lovelace",
        "Birth Month and Day": "12-10",
        "Learner ID": 123456,
        "Completion Date": datetime.date(2026, 3, 2),
        "CME Credits": 10,
        "MOC Points": 10.0,
        "MOC Credit Types": "Medical Knowledge",
    },
    {
        "ACCME Activity ID": int(ACCME_ID),
        "Recipient": "ABS",
        "First Name": "Grace",
        "Last Name": "Hopper",
        "Birth Month and Day": datetime.date(1906, 12, 9),
        "Completion Date": datetime.datetime(2026, 3, 1, 0, 0),  # noqa: DTZ001
        "CME Credits": 6.25,
        "MOC Points": 6.25,
        "MOC Credit Types": "Accredited CME;Self-Assessment",
    },
    {
        "Provider Activity ID": ACTIVITY_ID,
        "Recipient": "REMS",
        "First Name": "José",
        "Last Name": "Núñez-O'Brien",
        "Birth Month and Day": "02-29",
        "Learner ID": "L-0042",
        "Completion Date": datetime.date(2026, 3, 2),
        "CME Credits": 2,
        "Profession": "Physician Assistant",
        "State of Primary Practice": "MI",
        "DEA Registration": "Individual",
        "Practice Area": "Pain",
        "Performs Surgical Procedures?": "No",
        "Time in Practice": "6-10 years",
    },
    {
        "Provider Activity ID": ACTIVITY_ID,
        "Recipient": "TN",
        "First Name": "Mary",
        "Last Name": "Walker",
        "Birth Month and Day": "11-26",
        "NPI": 1234567893,
        "License State": "TN",
        "Completion Date": datetime.date(2026, 3, 2),
        "CME Credits": 10,
    },
    {
        "Action": "Delete",
        "Provider Activity ID": ACTIVITY_ID,
        "Recipient": "ABIM",
        "First Name": "Charles",
        "Last Name": "Babbage",
        "Birth Month and Day": "12-26",
        "Learner ID": "654321",
        "Completion Date": datetime.date(2026, 3, 1),
    },
]

# The XML learner report (the example of docs/learner-files.md is a part of it).
XML = f"""\
<?xml version="1.0" encoding="UTF-8"?>
<ACCMELearnerReports xmlns:ar="http://ns.medbiq.org/activityreport/v2/">
  <DateTimeCreated>2026-11-20T09:00:00-06:00</DateTimeCreated>
  <LearnerReport>
    <Member>
      <UniqueID domain="ABIM">123456</UniqueID>
      <Name><GivenName>Ada</GivenName><FamilyName>Lovelace</FamilyName></Name>
      <PersonalInfo><BirthDate>--12-10</BirthDate></PersonalInfo>
    </Member>
    <Activity activityID="{ACTIVITY_ID}">
      <Module>
        <ModuleName>Grand Rounds: Heart Failure</ModuleName>
        <CompletedDateTime>2026-03-02T16:30:00-06:00</CompletedDateTime>
        <CreditCertificate>
          <CreditReceived>
            <activityCertification>AMA PRA Category 1 Credit™</activityCertification>
            <numberOfCredits>10</numberOfCredits>
          </CreditReceived>
        </CreditCertificate>
        <CreditCertificate>
          <CreditReceived>
            <activityCertification>ABIM</activityCertification>
            <creditUnit>Point</creditUnit>
            <numberOfCredits>10</numberOfCredits>
            <CreditFocus><Description>Medical Knowledge</Description>\
<NumberOfCredits>10</NumberOfCredits></CreditFocus>
          </CreditReceived>
        </CreditCertificate>
      </Module>
    </Activity>
    <XtensibleInfo><LearnerRecordAction>Add</LearnerRecordAction></XtensibleInfo>
  </LearnerReport>
  <LearnerReport>
    <Member>
      <Name><GivenName>Grace</GivenName><FamilyName>Hopper</FamilyName></Name>
      <PersonalInfo><BirthDate>1906-12-09</BirthDate></PersonalInfo>
    </Member>
    <Activity>
      <Module>
        <ModuleName moduleID="{ACCME_ID}">Grand Rounds: Heart Failure</ModuleName>
        <CompletedDateTime>2026-03-01</CompletedDateTime>
        <CreditCertificate>
          <CreditReceived>
            <activityCertification>AMA PRA Category 1 Credit</activityCertification>
            <numberOfCredits>6.25</numberOfCredits>
          </CreditReceived>
        </CreditCertificate>
        <CreditCertificate>
          <CreditReceived>
            <activityCertification>ABS</activityCertification>
            <numberOfCredits>6.25</numberOfCredits>
            <MOCCreditType>Accredited CME</MOCCreditType>
            <MOCCreditType>Self-Assessment</MOCCreditType>
          </CreditReceived>
        </CreditCertificate>
      </Module>
    </Activity>
  </LearnerReport>
  <LearnerReport>
    <Member>
      <Name><GivenName>José</GivenName><FamilyName>Núñez-O'Brien</FamilyName></Name>
      <PersonalInfo><BirthDate>02-29</BirthDate></PersonalInfo>
    </Member>
    <ar:Participants>
      <ar:Participant>
        <ar:LocalIdentifier domain="idd:riverside.example:learner">L-0042</ar:LocalIdentifier>
        <ar:StateOfPrimaryPractice>MI</ar:StateOfPrimaryPractice>
        <ar:DEARegistration>Individual</ar:DEARegistration>
        <ar:Profession>Physician Assistant</ar:Profession>
        <ar:PracticeArea>Pain</ar:PracticeArea>
        <ar:SurgicalProcedures>false</ar:SurgicalProcedures>
        <ar:TimeInPractice>6-10 years</ar:TimeInPractice>
      </ar:Participant>
    </ar:Participants>
    <Activity activityID="{ACTIVITY_ID}">
      <Module>
        <ModuleName>Grand Rounds: Heart Failure</ModuleName>
        <CompletedDateTime>2026-03-02</CompletedDateTime>
        <CreditCertificate>
          <CreditReceived>
            <activityCertification>AMA PRA Category 1 Credit</activityCertification>
            <numberOfCredits>2</numberOfCredits>
          </CreditReceived>
        </CreditCertificate>
        <CreditCertificate>
          <CreditReceived><activityCertification>REMS</activityCertification></CreditReceived>
        </CreditCertificate>
      </Module>
    </Activity>
  </LearnerReport>
  <LearnerReport>
    <Member>
      <UniqueID domain="NPI">1234567893</UniqueID>
      <Name><GivenName>Mary</GivenName><FamilyName>Walker</FamilyName></Name>
      <PersonalInfo>
        <BirthDate>11-26</BirthDate>
        <Licensure><StateOfLicensure>TN</StateOfLicensure></Licensure>
      </PersonalInfo>
    </Member>
    <Activity activityID="{ACTIVITY_ID}">
      <Module>
        <ModuleName>Grand Rounds: Heart Failure</ModuleName>
        <CompletedDateTime>2026-03-02</CompletedDateTime>
        <CreditCertificate>
          <CreditReceived>
            <activityCertification>AMA PRA Category 1 Credit</activityCertification>
            <numberOfCredits>10</numberOfCredits>
          </CreditReceived>
        </CreditCertificate>
        <CreditCertificate>
          <CreditReceived><activityCertification>TN</activityCertification></CreditReceived>
        </CreditCertificate>
      </Module>
    </Activity>
  </LearnerReport>
  <LearnerReport>
    <Member>
      <UniqueID domain="ABIM">654321</UniqueID>
      <Name><GivenName>Charles</GivenName><FamilyName>Babbage</FamilyName></Name>
      <PersonalInfo><BirthDate>12-26</BirthDate></PersonalInfo>
    </Member>
    <Activity activityID="{ACTIVITY_ID}">
      <Module>
        <ModuleName>Grand Rounds: Heart Failure</ModuleName>
        <CompletedDateTime>2026-03-01</CompletedDateTime>
        <CreditCertificate>
          <CreditReceived><activityCertification>ABIM</activityCertification></CreditReceived>
        </CreditCertificate>
      </Module>
    </Activity>
    <XtensibleInfo><LearnerRecordAction>Delete</LearnerRecordAction></XtensibleInfo>
  </LearnerReport>
</ACCMELearnerReports>
"""


def build_tsv() -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, dialect=csv.excel_tab, lineterminator="\r\n")  # as Excel saves
    writer.writerow(TSV_HEADER)
    writer.writerows(TSV_ROWS)
    return out.getvalue().encode("utf-8")


def build_xlsx() -> bytes:
    from pars.learners.xlsx_template import template_columns

    header = [spec.label for spec in template_columns()]
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Learners"
    sheet.append(header)
    for values in XLSX_ROWS:
        unknown = set(values) - set(header)
        assert not unknown, unknown
        sheet.append([values.get(column) for column in header])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, datetime.date):
                cell.number_format = "mm/dd/yyyy"
    workbook.properties.creator = "PARS tests"
    workbook.properties.created = FIXED_TIME
    raw = io.BytesIO()
    workbook.save(raw)
    return _reproducible(raw.getvalue())


def build_json() -> bytes:
    return (json.dumps(JSON_RECORDS, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def build_all() -> dict[str, bytes]:
    """The golden files by name."""
    return {
        "golden_learners.tsv": build_tsv(),
        "golden_learners.xlsx": build_xlsx(),
        "golden_learners.xml": XML.encode("utf-8"),
        "golden_learners.json": build_json(),
    }


def main() -> None:
    import django

    django.setup()
    DATA.mkdir(exist_ok=True)
    for name, content in build_all().items():
        (DATA / name).write_bytes(content)
        print(f"wrote {DATA / name}")


if __name__ == "__main__":
    main()
