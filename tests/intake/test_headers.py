"""Header rows as spreadsheets really spell them: both record kinds match them alike."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pars.activities.parsers.layouts import TEMPLATE_D
from pars.activities.parsers.tsv import read_tsv
from pars.activities.parsers.xlsx import read_xlsx
from pars.intake.readers import FileRejected
from pars.intake.readers.headers import HeaderIndex, normalise_header
from pars.learners.models import Recipient
from pars.learners.parsers import map_header, read_learner_tsv


@pytest.mark.parametrize(
    "spelling",
    [
        "Date of Birth",
        "DATE_OF_BIRTH",
        "date-of-birth",
        " 3. Date of birth: ",
        "\ufeffDate of Birth",
    ],
)
def test_spellings_of_one_header_compare_equal(spelling: str) -> None:
    assert normalise_header(spelling) == normalise_header("Date of Birth") == "dateofbirth"


def test_columns_that_name_no_field_are_listed_as_ignored() -> None:
    index = HeaderIndex.from_labels({"first_name": "First Name"}, {"first_name": ("Given",)})
    match = index.match(["First Name", "Specialty", "", None, "Employer"])
    assert match.fields == ["first_name", None, None, None, None]
    assert match.ignored == ["Specialty", "Employer"]
    assert match.repeated == []


def test_the_same_field_twice_is_reported_by_the_text_of_the_second() -> None:
    index = HeaderIndex.from_labels({"first_name": "First Name"}, {"first_name": ("Given",)})
    match = index.match(["First Name", "GIVEN"])
    assert match.repeated == ["GIVEN"]


def test_a_numbered_learner_header_matches_like_an_activity_header() -> None:
    # "1. First Name" is how a numbered template header reads; both kinds accept it.
    fields = map_header(["1. First Name", "2. Last Name", "3. Completion Date", "Employer"])
    assert fields == ["first_name", "last_name", "completion_date", None]


def test_a_learner_header_naming_a_column_twice_is_refused() -> None:
    with pytest.raises(FileRejected, match="'Surname' twice"):
        list(read_learner_tsv(io.BytesIO(b"First Name\tLast Name\tSurname\tCompletion Date\n")))


def test_activity_headers_use_the_same_comparison() -> None:
    tsv = "\t".join(["provider activity id", "ACTIVITY_TITLE", "2. Reporting Year"]) + "\n"
    tsv += "A-1\tTitle\t2026\n"
    _, parsed = read_tsv(io.BytesIO(tsv.encode()))
    rows = [row for row in parsed if row.data]
    assert rows[0].data["provider_activity_id"] == "A-1"
    assert rows[0].data["title"] == "Title"


# ---------------------------------------------------------------------------
# Recipients' own labels, ignored columns (issue 13, point 3)


def test_an_extended_index_keeps_earlier_claims_and_adds_new_texts() -> None:
    index = HeaderIndex.from_labels({"first_name": "First Name"})
    wider = index.extended([("learner_id", ("ABO ID", "First Name"))])
    assert wider.field("abo id") == "learner_id"
    assert wider.field("First Name") == "first_name"  # claimed first, kept
    assert index.field("ABO ID") is None  # the original is unchanged


def test_a_repeatable_field_may_head_several_columns() -> None:
    index = HeaderIndex([("types", ("Credit Type", "Additional Credit Type"))])
    match = index.match(["Credit Type", "Additional Credit Type"], repeatable={"types"})
    assert (match.fields, match.repeated) == (["types", "types"], [])


LEARNER_LINE = "Ada\tLovelace\t12-10\t2026-03-02\tABIM\t{id}\n"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Board ID", "learner_id"),
        ("Certifying Board ID", "learner_id"),
        ("State License Number", "learner_id"),
        ("License Number", "learner_id"),
        ("NPI", "npi"),
        ("National Provider Identifier", "npi"),
    ],
)
def test_an_identifier_header_any_recipient_uses_is_matched(header: str, field: str) -> None:
    text = f"First Name\tLast Name\tDOB\tCompletion Date\tRecipient\t{header}\n"
    (row,) = read_learner_tsv(io.BytesIO((text + LEARNER_LINE.format(id="1234567893")).encode()))
    assert row.data[field] == "1234567893"


def test_each_recipients_own_label_heads_its_learner_ids(db: None) -> None:
    # The labels /api/v1/recipients shows ("ABIM ID", "ABP ID", "ABS ID", "ME license ID"
    # ...), including one staff changed in the admin.
    Recipient.objects.filter(code="ABOS").update(identifier_label="ABOS Diplomate Number")
    labels = list(Recipient.objects.values_list("identifier_label", "code"))
    assert {("ABIM ID", "ABIM"), ("ABS ID", "ABS"), ("ME license ID", "ME")} <= set(labels)
    assert ("ABOS Diplomate Number", "ABOS") in labels
    for label, code in labels:
        text = f"First Name\tLast Name\tCompletion Date\tRecipient\t{label}\tSpecialty\n"
        text += f"Ada\tLovelace\t2026-03-02\t{code}\t123456\tCardiology\n"
        notices: list[str] = []
        (row,) = read_learner_tsv(io.BytesIO(text.encode()), notices=notices)
        assert row.data["learner_id"] == "123456", label
        assert notices == ["Ignored columns: Specialty."], label


def test_a_file_may_carry_several_recipients_id_columns(db: None) -> None:
    # An LMS export with one column per board: each row takes its recipient's.
    text = "First Name\tLast Name\tCompletion Date\tRecipient\tABIM ID\tABP ID\tME license ID\n"
    text += "Ada\tLovelace\t2026-03-02\tABIM\t123456\t654321\tME-1\n"
    text += "Ada\tLovelace\t2026-03-02\tabp\t123456\t654321\tME-1\n"
    text += "Ada\tLovelace\t2026-03-02\tME\t123456\t654321\tME-1\n"
    text += "Ada\tLovelace\t2026-03-02\tABS\t123456\t654321\tME-1\n"
    rows = list(read_learner_tsv(io.BytesIO(text.encode())))
    assert [row.data.get("learner_id") for row in rows] == ["123456", "654321", "ME-1", None]
    assert all(not name.startswith("@") for row in rows for name in row.data)


def test_a_learner_id_column_wins_over_a_recipients_own_label(db: None) -> None:
    text = "First Name\tLast Name\tCompletion Date\tRecipient\tLearner ID\tABIM ID\n"
    text += "Ada\tLovelace\t2026-03-02\tABIM\t111111\t123456\n"
    text += "Ada\tLovelace\t2026-03-02\tABIM\t\t123456\n"
    rows = list(read_learner_tsv(io.BytesIO(text.encode())))
    assert [row.data["learner_id"] for row in rows] == ["111111", "123456"]


def test_the_recipient_labels_are_read_once_per_file(db: None) -> None:
    text = "First Name\tLast Name\tCompletion Date\tME license ID\tSpecialty\n"
    text += "".join(f"Ada\tLovelace\t2026-03-02\t{n}\tX\n" for n in range(50))
    with CaptureQueriesContext(connection) as queries:
        rows = list(read_learner_tsv(io.BytesIO(text.encode())))
    assert len(rows) == 50
    assert len(queries) == 1


def test_columns_that_match_nothing_are_named_in_a_notice(db: None) -> None:
    notices: list[str] = []
    text = "Specialty\tFirst Name\tLast Name\tEmployer\tCompletion Date\n"
    text += "Cardiology\tAda\tLovelace\tRiverside\t2026-03-02\n"
    (row,) = read_learner_tsv(io.BytesIO(text.encode()), notices=notices)
    assert row.data == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "completion_date": "2026-03-02",
    }
    assert notices == ["Ignored columns: Specialty, Employer."]


def test_no_notice_when_every_column_is_read() -> None:
    notices: list[str] = []
    text = "First Name\tLast Name\tCompletion Date\nAda\tLovelace\t2026-03-02\n"
    assert len(list(read_learner_tsv(io.BytesIO(text.encode()), notices=notices))) == 1
    assert notices == []


# ---------------------------------------------------------------------------
# ACCME's positional templates with a header worded differently (issue 13, point 3)

TEMPLATE_D_ROWS = (
    Path(__file__).parents[1] / "activities" / "data" / "template_d.txt"
).read_bytes()


def _near_miss_header() -> list[str]:
    header = TEMPLATE_D.headers(2)
    assert header[16] == "Changes in Competence evaluated?"
    header[16] = "Changes evaluated Competence?"
    header[4] = "ACTIVITY TITLE:"  # punctuation and case alone never mattered
    return header


def test_a_near_miss_header_is_read_by_position_when_the_rows_name_the_template() -> None:
    notices: list[str] = []
    content = ("\t".join(_near_miss_header()) + "\r\n").encode() + TEMPLATE_D_ROWS
    layout, rows = read_tsv(io.BytesIO(content), notices=notices)
    read = list(rows)
    _, plain = read_tsv(io.BytesIO(TEMPLATE_D_ROWS))
    expected = list(plain)
    assert layout is TEMPLATE_D
    assert [(row.row, row.data, row.problem) for row in read] == [
        (row.row + 1, row.data, row.problem) for row in expected
    ]
    assert notices == [
        "The header row differs from the Template D layout's; the rows say 'Template D', so "
        "the columns were read by position.",
        "Column 17 is headed 'Changes evaluated Competence?'; read as "
        "'Changes in Competence evaluated?'.",
    ]


def test_a_near_miss_header_in_excel_is_read_the_same_way(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.active.append(_near_miss_header())
    for line in TEMPLATE_D_ROWS.decode().splitlines():
        workbook.active.append(line.split("\t"))
    workbook.save(tmp_path / "d.xlsx")
    notices: list[str] = []
    layout, rows = read_xlsx(tmp_path / "d.xlsx", notices=notices)
    assert layout is TEMPLATE_D
    assert [row.row for row in rows] == [2, 3, 4]
    assert "Column 17 is headed 'Changes evaluated Competence?'" in notices[1]


@pytest.mark.parametrize(
    "first_row",
    [
        "TD-1\t123456789\tTitle",  # no Template marker
        "Template C",  # another template's marker
        "Template D\tonly\ta few\tcolumns",  # too few columns
        None,  # the header alone
    ],
)
def test_a_near_miss_header_is_refused_when_the_rows_do_not_fit(first_row: str | None) -> None:
    content = "\t".join(_near_miss_header()) + "\r\n"
    if first_row == "Template C":
        first_row = "Template C" + TEMPLATE_D_ROWS.decode().splitlines()[0][len("Template D") :]
    content += f"{first_row}\r\n" if first_row else ""
    with pytest.raises(FileRejected) as caught:
        read_tsv(io.BytesIO(content.encode()))
    assert "column 17 should be 'Changes in Competence evaluated?'" in caught.value.message


def test_a_header_mostly_unlike_the_rows_template_is_refused() -> None:
    header = _near_miss_header()
    for index in range(20, 40):
        header[index] = f"Column {index}"
    content = ("\t".join(header) + "\r\n").encode() + TEMPLATE_D_ROWS
    with pytest.raises(FileRejected, match="closest is the Template D layout"):
        read_tsv(io.BytesIO(content))
