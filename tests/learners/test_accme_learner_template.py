"""ACCME's learner Excel template (2024 edition), as providers fill it in (issue 13, point 4).

Row 1 is guidance text, row 2 the header; one row may carry a state board's CME credit
and a certifying board's MOC credit together, and PARS stores one record per recipient.
The same rows saved as CSV (comma, Windows-1252) read to the same records.
"""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.intake.models import UploadError
from pars.intake.readers import ParsedRow
from pars.intake.store import store_upload
from pars.learners.models import CompletionStatus, LearnerCompletion
from pars.learners.parsers import read_learner_tsv
from pars.learners.parsers.xlsx import read_learner_xlsx
from pars.learners.validation import load_recipients, validate_completion
from pars.testing import make_activity, register

TODAY = datetime.date(2026, 11, 27)
ACCME_ID = "100200300"
GUIDANCE = (
    "Complete one row per learner and activity. Required: Record Action, ACCME Activity ID, "
    "Completion Date, First Name, Last Name, Date of Birth (MM/DD)."
)
HEADER = [
    "Record Action",
    "ACCME Activity ID",
    "Completion Date",
    "First Name",
    "Last Name",
    "Date of Birth",
    "Licensing State",
    "Licensing ID or NPI",
    "Number of CME Credits",
    "Certifying Board",
    "Certifying Board ID",
    "Total Board Credits",
    "Credit Type",
    "Credits Awarded for Credit Type",
    "Additional Credit Type",
    "Credits Awarded for Additional Credit Type",
]
DONE = datetime.date(2026, 3, 2)
# Rows 3 to 7 of the sheet: MOC only (credits per type, no total); CME for Maine by
# its name; both on one row (Maine by its code); an NPI for Tennessee; a state with no
# state board in PARS.
ROWS: list[list[Any]] = [
    ["Add", ACCME_ID, DONE, "Ada", "Lovelace", "12/10", "", "", "", "ABIM", "123456", "",
     "Medical Knowledge", 6, "Patient Safety", 4],
    ["Add", ACCME_ID, DONE, "Grace", "Hopper", "09/10", "Maine", "ME-12345", 2, "", "", "",
     "", "", "", ""],
    ["Add", ACCME_ID, DONE, "Katherine", "O’Neil", "01/31", "ME", "67890", 1.5, "ABIM",
     "654321", 8, "Medical Knowledge", "", "", ""],
    ["Add", ACCME_ID, DONE, "Mary", "Walker", "11/26", "Tennessee", "1234567893", 3, "", "",
     "", "", "", "", ""],
    ["Add", ACCME_ID, DONE, "Rosalind", "Franklin", "07/25", "California", "A12345", 2, "",
     "", "", "", "", "", ""],
]  # fmt: skip

# (row, recipient, first name, last name, birth month, day, learner ID, NPI, license
# state, CME credits, MOC points, credit types): what PARS stores.
EXPECTED = [
    (3, "ABIM", "Ada", "Lovelace", 12, 10, "123456", "", "", None, Decimal(10),
     ["Medical Knowledge", "Patient Safety"]),
    (4, "ME", "Grace", "Hopper", 9, 10, "ME-12345", "", "ME", Decimal(2), None, []),
    (5, "ABIM", "Katherine", "O’Neil", 1, 31, "654321", "", "", Decimal("1.5"), Decimal(8),
     ["Medical Knowledge"]),
    (5, "ME", "Katherine", "O’Neil", 1, 31, "67890", "", "ME", Decimal("1.5"), None, []),
    (6, "TN", "Mary", "Walker", 11, 26, "", "1234567893", "TN", Decimal(3), None, []),
]  # fmt: skip


def accme_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Learners"
    sheet.append([GUIDANCE])
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    workbook.create_sheet("ValidValues").append(["Record Action", "Add", "Delete"])
    workbook.create_sheet("Reference").append(["Licensing State", "Maine", "ME"])
    workbook.save(path)
    return path


def accme_csv() -> bytes:
    """The same sheet as Excel saves it as CSV on Windows: commas, every row as wide as
    the sheet, dates as the cell shows them, Windows-1252."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([GUIDANCE] + [""] * (len(HEADER) - 1))
    writer.writerow(HEADER)
    for row in ROWS:
        writer.writerow([f"{c:%m/%d/%Y}" if isinstance(c, datetime.date) else c for c in row])
    return out.getvalue().encode("cp1252")


def read_xlsx_rows(tmp_path: Path, notices: list[str] | None = None) -> list[ParsedRow]:
    return list(read_learner_xlsx(accme_workbook(tmp_path / "accme.xlsx"), notices=notices))


def read_csv_rows(notices: list[str] | None = None) -> list[ParsedRow]:
    return list(read_learner_tsv(io.BytesIO(accme_csv()), name="accme.csv", notices=notices))


def stored(record: Any) -> tuple[Any, ...]:
    return (
        record.recipient.code,
        record.first_name,
        record.last_name,
        record.birth_month,
        record.birth_day,
        record.learner_id,
        record.npi,
        record.license_state,
        record.cme_credits,
        record.moc_points,
        record.moc_credit_types,
    )


def validate(rows: list[ParsedRow]) -> list[tuple[int, Any, list[Any]]]:
    recipients = load_recipients()
    out = []
    for parsed in rows:
        assert parsed.problem is None, parsed
        record, errors = validate_completion(
            parsed.data, row=parsed.row, recipients=recipients, today=TODAY
        )
        out.append((parsed.row, record, [error.as_dict() for error in errors]))
    return out


# ---------------------------------------------------------------------------
# The parser


def test_each_row_becomes_one_record_per_recipient(db: None, tmp_path: Path) -> None:
    notices: list[str] = []
    rows = read_xlsx_rows(tmp_path, notices)
    assert [(row.row, row.data["recipient"]) for row in rows] == [
        (3, "ABIM"),
        (4, "ME"),
        (5, "ABIM"),
        (5, "ME"),
        (6, "TN"),
        (7, "CA"),  # no state board for California: the validator reports it
    ]
    abim, maine = rows[2].data, rows[3].data
    # The board's record: its ID, points and credit types; the state's: the license.
    assert (abim["learner_id"], abim["moc_points"], abim["moc_credit_types"]) == (
        "654321",
        8,
        ["Medical Knowledge"],
    )
    assert (maine["learner_id"], maine["license_state"], maine["cme_credits"]) == (
        "67890",
        "ME",
        1.5,
    )
    assert "moc_points" not in maine
    # Per-type credits add up when Total Board Credits is blank.
    assert rows[0].data["moc_points"] == "10"
    # A 10-digit NPI passing its check digit is the NPI, not a license number.
    assert (rows[4].data["npi"], rows[4].data["learner_id"]) == ("1234567893", "")
    assert notices[0] == (
        "Row 1 is not a header: it was read as guidance text and skipped; the header is row 2."
    )
    assert "one record per recipient" in notices[1]


def test_the_validator_reads_state_names_and_month_day_birth_dates(
    db: None, tmp_path: Path
) -> None:
    results = validate(read_xlsx_rows(tmp_path))
    valid = [(row, record) for row, record, errors in results if not errors]
    assert [
        (row, record.recipient, record.first_name, record.last_name, record.birth_month,
         record.birth_day, record.learner_id, record.npi, record.license_state,
         record.cme_credits, record.moc_points, record.moc_credit_types)
        for row, record in valid
    ] == EXPECTED  # fmt: skip
    assert all(record.completion_date == DONE for _, record in valid)


def test_a_state_without_a_state_board_is_a_clear_row_error(db: None, tmp_path: Path) -> None:
    (row, record, errors), *_ = [r for r in validate(read_xlsx_rows(tmp_path)) if r[2]]
    assert (row, record) == (7, None)
    assert [(error["field"], error["rule"]) for error in errors] == [
        ("recipient", "learner.recipient.unknown")
    ]
    assert errors[0]["message"] == (
        "No state board in PARS receives CME credit for California (CA): its learners cannot "
        "be reported to a state board. State boards in PARS: ME, NC, TN."
    )


def test_the_same_rows_as_windows_1252_csv_read_to_the_same_records(
    db: None, tmp_path: Path
) -> None:
    notices: list[str] = []
    from_csv = validate(read_csv_rows(notices))
    assert from_csv == validate(read_xlsx_rows(tmp_path))
    assert notices[0].startswith("Row 1 is not a header")


def test_a_guidance_row_is_skipped_in_text_files_too(db: None) -> None:
    text = "Fill in one row per learner.\nFirst Name\tLast Name\tCompletion Date\n"
    text += "Ada\tLovelace\t2026-03-02\n"
    notices: list[str] = []
    rows = list(read_learner_tsv(io.BytesIO(text.encode()), notices=notices))
    assert [(row.row, row.data["first_name"]) for row in rows] == [(3, "Ada")]
    assert notices == [
        "Row 1 is not a header: it was read as guidance text and skipped; the header is row 2."
    ]


# ---------------------------------------------------------------------------
# Through the real upload job


@pytest.fixture
def accme_activity(provider: Any) -> Any:
    activity = make_activity(provider, accme_activity_id=ACCME_ID)
    register(activity, "ABIM", credit_types=["Medical Knowledge", "Patient Safety"])
    register(activity, "ME")
    register(activity, "TN")
    return activity


@pytest.mark.parametrize("name", ["accme.xlsx", "accme.csv"])
def test_an_upload_of_accmes_template_stores_one_record_per_recipient(
    provider: Any, editor: Any, accme_activity: Any, tmp_path: Path, name: str
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    if name.endswith(".xlsx"):
        content = accme_workbook(tmp_path / name).read_bytes()
    else:
        content = accme_csv()
    upload = store_upload(access, SimpleUploadedFile(name, content), kind="learners")
    upload.refresh_from_db()
    assert (upload.status, upload.added, upload.rejected) == ("partial", 5, 1), upload.message
    saved = LearnerCompletion.objects.select_related("recipient", "activity").order_by("id")
    assert {record.activity_id for record in saved} == {accme_activity.pk}
    assert {record.status for record in saved} == {CompletionStatus.QUEUED}
    assert {record.completion_date for record in saved} == {DONE}
    assert sorted(stored(record) for record in saved) == sorted(
        expected[1:] for expected in EXPECTED
    )
    errors = list(UploadError.objects.filter(upload=upload).values_list("row", "field", "rule"))
    assert errors == [(7, "recipient", "learner.recipient.unknown")]
    # What the parser read differently reaches the upload result; a split row counts
    # one per record, and the result says so.
    assert upload.rows_total == 6
    assert any("the counts are of records, not rows" in notice for notice in upload.notices)
    # What the parser read differently reaches the upload result.
    assert (
        "Row 1 is not a header: it was read as guidance text and skipped; the header is row 2."
        in upload.notices
    )


def test_the_guides_example_reads_as_it_says(db: None) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "learner-files.md").read_text(encoding="utf-8")
    section = doc.split("### ACCME's learner template", 1)[1]
    example = section.split("```text\n", 1)[1].split("```", 1)[0]
    results = validate(list(read_learner_tsv(io.BytesIO(example.encode()))))
    assert [(row, record.recipient, record.last_name) for row, record, _ in results] == [
        (3, "ABIM", "Lovelace"),
        (4, "ME", "Hopper"),
        (5, "ABIM", "Johnson"),
        (5, "ME", "Johnson"),
        (6, "TN", "Walker"),
    ]
    johnson_abim, johnson_me = results[2][1], results[3][1]
    assert (johnson_abim.learner_id, johnson_abim.moc_points) == ("654321", Decimal(8))
    assert johnson_abim.moc_credit_types == ["Medical Knowledge"]
    assert (johnson_me.learner_id, johnson_me.license_state) == ("67890", "ME")
    assert johnson_abim.cme_credits == johnson_me.cme_credits == Decimal("1.5")


def test_a_guidance_line_does_not_choose_the_delimiter(db: None) -> None:
    # A semicolon in the guidance text; the header below it is tab-delimited.
    text = "Enter one row per learner; see the Reference sheet.\n"
    text += "\t".join(HEADER) + "\n" + "\t".join(str(cell) for cell in ROWS[1]) + "\n"
    (row,) = read_learner_tsv(io.BytesIO(text.encode()))
    assert (row.row, row.data["recipient"], row.data["learner_id"]) == (3, "ME", "ME-12345")


def test_the_accme_template_download_filled_in_uploads_as_it_says(
    provider: Any, editor: Any, accme_activity: Any, client_as: Any
) -> None:
    """The layout PARS offers for download is the one it reads: fill in the downloaded
    workbook below its header and upload it."""
    response = client_as(editor).get(
        reverse("learners:accme_template", kwargs={"provider_id": provider.provider_id})
    )
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook["Learners"]
    assert [cell.value for cell in sheet[2]] == HEADER  # row 1 is the guidance line
    assert sheet.freeze_panes == "A3"
    drop_downs = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    assert any(ref.startswith("J3") for ref in drop_downs)  # Certifying Board, from row 3
    for row in ROWS:
        sheet.append(row)
    filled = io.BytesIO()
    workbook.save(filled)
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(
        access, SimpleUploadedFile("filled.xlsx", filled.getvalue()), kind="learners"
    )
    upload.refresh_from_db()
    assert (upload.status, upload.added, upload.rejected) == ("partial", 5, 1), upload.message
    saved = LearnerCompletion.objects.select_related("recipient")
    assert sorted(stored(record) for record in saved) == sorted(
        expected[1:] for expected in EXPECTED
    )


def test_errors_on_a_split_row_name_their_own_record_and_column(provider: Any, editor: Any) -> None:
    """Row 5 is an ABIM and a Maine record: the ABIM record's error is reported under its
    own key, and California's under Licensing State, not the certifying board's column."""
    activity = make_activity(provider, accme_activity_id=ACCME_ID)
    register(activity, "ME")
    register(activity, "TN")  # not ABIM: rows 3 and 5's board records are refused
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("accme.csv", accme_csv()), kind="learners")
    errors = UploadError.objects.filter(upload=upload).order_by("row", "id")
    assert list(errors.values_list("row", "record", "column", "rule")) == [
        (3, f"ACCME {ACCME_ID} · ABIM · 03/02/2026", "Certifying Board",
         "learner.activity.not_registered"),
        (5, f"ACCME {ACCME_ID} · ABIM · 03/02/2026", "Certifying Board",
         "learner.activity.not_registered"),
        (7, f"ACCME {ACCME_ID} · CA · 03/02/2026", "Licensing State",
         "learner.recipient.unknown"),
    ]  # fmt: skip
