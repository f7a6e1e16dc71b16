"""The tab-delimited activity parser and its layouts (no database needed)."""

from __future__ import annotations

import datetime
import io
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from pars.activities import validation
from pars.activities.dictionary import FIELDS_BY_NAME
from pars.activities.parsers.layouts import (
    CURRENT,
    LAYOUTS,
    LEGACY_43,
    TEMPLATE_2011,
    TEMPLATE_C,
    TEMPLATE_D,
    Layout,
    normalise_header,
)
from pars.activities.parsers.tsv import read_tsv
from pars.activities.validation import CleanActivity, validate_activity
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.readers.delimited import TextSource

DATA = Path(__file__).parent / "data"
TODAY = datetime.date(2025, 6, 1)


def parse(content: bytes) -> tuple[Layout, list[ParsedRow]]:
    layout, rows = read_tsv(io.BytesIO(content))
    return layout, list(rows)


def parse_file(name: str) -> tuple[Layout, list[ParsedRow]]:
    with (DATA / name).open("rb") as stream:
        layout, rows = read_tsv(stream)
        return layout, list(rows)


def clean(rows: list[ParsedRow]) -> list[CleanActivity]:
    activities = []
    for parsed in rows:
        assert parsed.problem is None, (parsed.row, parsed.problem)
        activity, errors = validate_activity(parsed.data, row=parsed.row, today=TODAY)
        assert not errors, [error.as_dict() for error in errors]
        assert activity is not None
        activities.append(activity)
    return activities


def tsv(*rows: list[str], newline: str = "\r\n") -> bytes:
    return "".join("\t".join(row) + newline for row in rows).encode()


def lines(name: str) -> list[bytes]:
    return (DATA / name).read_bytes().splitlines(keepends=True)


ALLOWED_KEYS = set(FIELDS_BY_NAME) | {"action", "status"}


# ---------------------------------------------------------------------------
# Layout data


def test_layouts_have_the_documented_widths() -> None:
    assert len(TEMPLATE_C.columns) == 58
    assert len(TEMPLATE_D.columns) == 47
    assert len(TEMPLATE_2011.columns) == 42
    assert len(LEGACY_43.columns) + len(LEGACY_43.supporter_block) == 43
    for layout in LAYOUTS:
        if layout is not CURRENT and not layout.updates_only:  # Learner Counts has none
            assert len(layout.supporter_block) == 8


def test_layout_targets_are_dictionary_fields_or_markers() -> None:
    for layout in LAYOUTS:
        for column in layout.columns:
            assert column.target.startswith("@") or column.target in ALLOWED_KEYS, column


def test_current_layout_is_every_field_but_supporters_by_label() -> None:
    labels = [spec.label for spec in validation.FIELDS if spec.name != "supporters"]
    assert CURRENT.headers(0) == ["Action", "Status", *labels]
    assert CURRENT.headers(2)[-4:] == [
        "Supporter 2 Source",
        "Supporter 2 Monetary Amount",
        "Supporter 2 In-Kind?",
        "Supporter 2 In-Kind Description",
    ]
    keys = [normalise_header(header) for header in CURRENT.headers(3)]
    assert len(keys) == len(set(keys)), "two current headers normalize alike"


def test_header_normalisation() -> None:
    expected = normalise_header("Template (DO NOT ALTER OR DELETE THIS COLUMN)")
    assert normalise_header("1. Template (DO NOT ALTER OR DELETE THIS COLUMN)") == expected
    assert normalise_header("  12.  template (do not alter or delete this column) ") == expected
    assert normalise_header("# of Physicians") == normalise_header("# OF PHYSICIANS ")
    assert normalise_header("Number of AMA PRA Category 1 Credits™ Designated") == (
        normalise_header("Number of AMA PRA Category 1 Credits Designated")
    )


# ---------------------------------------------------------------------------
# The golden current-layout file


def test_golden_current_tsv() -> None:
    layout, rows = parse_file("golden_current.tsv")
    assert layout is CURRENT
    # The first activity's description spans two lines (a quoted line break): rows are
    # numbered as a spreadsheet shows them, so it does not shift the rows after it.
    assert [row.row for row in rows] == [2, 3, 4, 5, 6]
    activities = clean(rows)
    assert [(a.provider_activity_id, a.action, a.values.get("status")) for a in activities] == [
        ("CHI-2025-CARD", "upsert", "closed"),
        ("EM-2025-SEPSIS", "upsert", "active"),
        ("RSS-2025-GRAND", "upsert", "closed"),
        ("JN-2025-014", "upsert", "draft"),
        ("CHI-2024-OLD", "delete", None),
    ]
    course, enduring, rss, journal, _ = activities
    assert course.values["city"] == "Chicago"
    assert course.values["delivery_methods"] == ["in_person"]
    assert [s["source"] for s in course.supporters] == [
        "Acme Pharmaceuticals",
        "Northshore Medical Devices",
    ]
    assert course.supporters[0]["monetary_amount"] == 25000
    assert course.supporters[1]["in_kind"] is True
    assert enduring.values["delivery_methods"] == ["online"]
    assert enduring.values["start_date"] == datetime.date(2025, 1, 15)
    assert rss.values["joint_providers"] == [
        "Boston Heart Associates",
        "New England Cardiology Society",
    ]
    assert rss.values["delivery_methods"] == ["in_person", "live_streamed"]
    assert journal.values["activity_format"] == "journal"


def test_raw_values_come_out_under_dictionary_names() -> None:
    _, rows = parse_file("golden_current.tsv")
    first = rows[0].data
    assert set(first) - {"supporters"} <= ALLOWED_KEYS
    assert first["action"] == "Add"
    assert first["status"] == "Closed"
    assert first["title"] == 'Cardiology Update 2025: "Heart Failure" in Practice'
    assert first["description"].endswith(
        "management.\nIncludes hands-on echocardiography workshops."
    )
    assert first["start_date"] == "03/14/2025"
    assert first["ama_credits"] == "12.50"
    assert first["delivery_methods"] == "In-Person"  # lists stay raw; the validator splits
    # Three supporter blocks in the header; the empty third one is dropped.
    assert first["supporters"] == [
        {
            "source": "Acme Pharmaceuticals",
            "monetary_amount": "25,000",
            "in_kind": "No",
            "in_kind_description": "",
        },
        {
            "source": "Northshore Medical Devices",
            "monetary_amount": "",
            "in_kind": "Yes",
            "in_kind_description": "Loaned ultrasound machines for the workshops",
        },
    ]
    assert rows[-1].data["action"] == "Delete"


def test_bom_and_line_endings_do_not_matter() -> None:
    content = (DATA / "golden_current.tsv").read_bytes()
    assert b"\r\n" in content
    _, expected = parse(content)
    for variant in (b"\xef\xbb\xbf" + content, content.replace(b"\r\n", b"\n")):
        _, rows = parse(variant)
        assert rows == expected


def test_current_layout_columns_in_any_order_and_optional() -> None:
    content = tsv(
        ["Activity Title", "provider activity id", " START DATE ", "End Date", "Activity Format"],
        ["A title", "X-1", "2025-01-02", "2025-01-02", "C"],
    )
    layout, rows = parse(content)
    assert layout is CURRENT
    assert rows[0].data == {
        "title": "A title",
        "provider_activity_id": "X-1",
        "start_date": "2025-01-02",
        "end_date": "2025-01-02",
        "activity_format": "C",
    }
    (activity,) = clean(rows)
    assert activity.values["activity_format"] == "course"
    assert activity.values["legacy_activity_type"] == "C"


def test_current_layout_requires_a_header() -> None:
    without_header = b"".join(lines("golden_current.tsv")[1:])
    with pytest.raises(FileRejected, match="Accepted layouts"):
        parse(without_header)


def test_current_layout_unknown_or_repeated_column_is_refused() -> None:
    with pytest.raises(FileRejected, match="unknown columns: 'Titel'"):
        parse(tsv(["Provider Activity ID", "Titel"], ["X-1", "A"]))
    with pytest.raises(FileRejected, match="repeated columns"):
        parse(tsv(["Provider Activity ID", "Activity Title", "activity title"], ["X", "A", "B"]))


def test_current_layout_values_outside_the_header_are_a_row_problem() -> None:
    _, rows = parse(
        tsv(
            ["Provider Activity ID", "", "Activity Title"],
            ["X-1", "", "A", ""],
            ["X-2", "stray", "B"],
            ["X-3", "", "C", "", "beyond"],
        )
    )
    assert [row.problem for row in rows] == [
        None,
        "Column 2 has a value but no header.",
        "Column 5 has a value but the header row has only 3 columns.",
    ]


def test_current_layout_supporter_blocks_of_any_count() -> None:
    header = ["Provider Activity ID", *CURRENT.headers(5)[-20:]]
    row = ["X-1"] + [""] * 20
    row[1 + 4 * 4] = "Fifth supporter"
    row[1 + 4 * 4 + 1] = "100"
    _, rows = parse(tsv(header, row))
    supporters = rows[0].data["supporters"]
    assert len(supporters) == 5
    assert supporters[4] == {
        "source": "Fifth supporter",
        "monetary_amount": "100",
        "in_kind": "",
        "in_kind_description": "",
    }
    assert all(not any(s.values()) for s in supporters[:4])


def test_bad_rows_are_passed_to_the_validator() -> None:
    layout, rows = parse_file("bad_rows_current.tsv")
    assert layout is CURRENT
    rules = []
    for parsed in rows:
        assert parsed.problem is None
        activity, errors = validate_activity(parsed.data, row=parsed.row, today=TODAY)
        assert activity is None
        assert {error.row for error in errors} == {parsed.row}
        rules.append([error.rule for error in errors])
    assert rules == [
        ["activity.end_date.before_start"],
        ["activity.activity_format.not_allowed"],
        ["activity.physician_learners.invalid"],
        ["activity.supporters.source.required"],
    ]


# ---------------------------------------------------------------------------
# Legacy layouts


def numbered_header(layout: Layout, supporters: int) -> list[str]:
    return [f"{n}. {header}" for n, header in enumerate(layout.headers(supporters), start=1)]


LEGACY_SAMPLES = [
    ("template_c.txt", TEMPLATE_C, True),
    ("template_d.txt", TEMPLATE_D, False),
    ("legacy_43.txt", LEGACY_43, False),
]


@pytest.mark.parametrize(("name", "layout", "has_header"), LEGACY_SAMPLES)
def test_legacy_layout_recognised_with_and_without_header(
    name: str, layout: Layout, has_header: bool
) -> None:
    sample = lines(name)
    data_lines = sample[1:] if has_header else sample
    header = tsv(numbered_header(layout, 2))
    # An unnumbered header in another case, with spaces around, is recognized too.
    plain_header = tsv([f"  {text.upper()} " for text in layout.headers(1)])
    without = b"".join(data_lines)
    results = {
        "none": parse(without),
        "numbered": parse(header + without),
        "plain": parse(plain_header + without),
    }
    for found, rows in results.values():
        assert found is layout
        assert len(rows) == len(data_lines)
    assert [row.row for row in results["none"][1]] == list(range(1, len(data_lines) + 1))
    assert [row.row for row in results["numbered"][1]] == list(range(2, len(data_lines) + 2))
    data = [row.data for row in results["none"][1]]
    assert [row.data for row in results["numbered"][1]] == data
    assert [row.data for row in results["plain"][1]] == data


@pytest.mark.parametrize(("name", "layout", "has_header"), LEGACY_SAMPLES)
def test_legacy_rows_pass_the_validator(name: str, layout: Layout, has_header: bool) -> None:
    found, rows = parse_file(name)
    assert found is layout
    activities = clean(rows)
    assert all(a.values["status"] == "closed" for a in activities)
    for parsed in rows:
        assert "status" not in parsed.data  # the validator picks the highest status
        assert set(parsed.data) - {"supporters"} <= ALLOWED_KEYS


def test_template_c_mapping() -> None:
    _, rows = parse_file("template_c.txt")
    first, second, third = (row.data for row in rows)
    assert first["start_date"] == first["end_date"] == "04/12/2014"
    assert first["activity_format"] == "C"
    assert first["providership"] == "Direct"
    assert first["learning_formats"] == ["lecture", "panel"]
    assert first["competencies"] == ["abms_patient_care", "abms_medical_knowledge"]
    assert first["designed_to_change_competence"] == "Yes"
    assert first["ama_credits"] == "7.25"
    assert first["description"] == "Update on type 2 diabetes care"
    assert (first["advertising_income"], first["other_income"], first["expenses"]) == (
        "2000",
        "0",
        "45000",
    )
    # The activity-level totals and in-kind flags are ignored: supporters come from blocks.
    assert first["supporters"] == [
        {"source": "Acme Pharmaceuticals", "monetary_amount": "15000", "in_kind_types": []},
        {
            "source": "Northshore Medical Devices",
            "monetary_amount": "",
            "in_kind_types": ["durable_equipment"],
        },
    ]
    assert second["joint_providers"] == "Boston Oncology Group"
    assert second["supporters"] == []  # two empty trailing blocks
    assert third["supporters"][1] == {
        "source": "MedPrint Inc",
        "monetary_amount": "",
        "in_kind_types": ["other"],
        "in_kind_description": "Printed workbooks",
    }
    activity = clean(rows[2:])[0]
    assert activity.values["activity_format"] == "enduring"
    assert activity.values["delivery_methods"] == ["online"]
    assert activity.values["legacy_activity_type"] == "IEM"


def test_template_d_and_legacy_43_mapping() -> None:
    _, rows = parse_file("template_d.txt")
    first, second, third = (row.data for row in rows)
    assert first["accme_activity_id"] == "123456789"
    assert first["competencies"] == [
        "abms_patient_care",
        "abms_medical_knowledge",
        "iom_evidence_based_practice",
    ]
    assert first["learning_formats"] == []
    assert first["supporters"][1]["in_kind_types"] == ["durable_equipment", "disposable_supplies"]
    assert second["supporters"] == []  # no supporter columns at all
    assert second["start_date"] == "3/1/2017"
    assert third["joint_providers"] == (
        "Twin Cities Pediatric Society; Minnesota Child Health Network"
    )
    d_activities = clean(rows)
    assert d_activities[2].values["joint_providers"] == [
        "Twin Cities Pediatric Society",
        "Minnesota Child Health Network",
    ]

    _, rows = parse_file("legacy_43.txt")
    first, second = (row.data for row in rows)
    assert first["reporting_year"] == "2010"
    assert first["other_learners"] == "25"
    assert first["providership"] == "Direct"
    # The in-kind "Other?" cell saying No adds nothing.
    assert first["supporters"] == [
        {"source": "Acme Pharmaceuticals", "monetary_amount": "20000", "in_kind_types": []}
    ]
    assert second["joint_providers"] == "Desert Nursing Association"
    assert second["learning_formats"] == ["skill_based", "small_group"]
    assert second["supporters"][0]["in_kind_types"] == ["durable_equipment", "animal_parts"]
    legacy = clean(rows)
    assert legacy[1].supporters[0]["in_kind"] is True


def test_template_2011_recognised_by_letter_and_header() -> None:
    row = ["Template B", "", "T11-1", "2012", "Title", "05/05/2012", "", "", ""]
    row += ["Direct", "JN", "1", "10", "2", "No", "", ""] + [""] * 6
    row += ["No"] * 6 + ["No"] * 7 + ["", "1", "", "", "", ""]
    assert len(row) == 42
    layout, rows = parse(tsv(row + [""] * 8))
    assert layout is TEMPLATE_2011
    assert rows[0].data["supporters"] == []
    layout, _ = parse(tsv(numbered_header(TEMPLATE_2011, 1), row))
    assert layout is TEMPLATE_2011
    (activity,) = clean(rows)
    assert activity.values["activity_format"] == "journal"


def test_supporter_blocks_any_count_and_partial_last_block() -> None:
    data_line = lines("template_d.txt")[1].rstrip(b"\r\n").split(b"\t")[:47]
    blocks = [
        [f"Supporter {n}".encode(), str(n * 100).encode()] + [b"No"] * 5 + [b""]
        for n in (1, 2, 3, 4, 5)
    ]
    cells = data_line + [cell for block in blocks for cell in block]
    cells += [b"Sixth", b"600"]  # Excel dropped the trailing empty cells
    _, rows = parse(b"\t".join(cells) + b"\r\n")
    supporters = rows[0].data["supporters"]
    assert [s["source"] for s in supporters] == [f"Supporter {n}" for n in range(1, 6)] + ["Sixth"]
    assert supporters[5] == {"source": "Sixth", "monetary_amount": "600", "in_kind_types": []}


def test_unreadable_rows_get_a_problem() -> None:
    content = b"".join(lines("template_d.txt"))
    short = b"Template D\tonly\ta few\tcolumns\r\n"
    other_template = b"Template C" + lines("template_d.txt")[1][len(b"Template D") :]
    _, rows = parse(content + short + other_template)
    assert [row.problem is None for row in rows] == [True, True, True, False, False]
    assert rows[3].problem == (
        "The row has 4 columns; the Template D layout has 47 columns before the commercial "
        "supporter columns."
    )
    assert rows[3].data == {}
    assert rows[4].problem is not None
    assert "'Template C'" in rows[4].problem


def test_flag_with_another_value_is_reported_by_the_validator() -> None:
    cells = lines("template_d.txt")[1].rstrip(b"\r\n").decode().split("\t")
    cells[22] = "Maybe"  # 23rd column: Sub-category: Lecture
    _, rows = parse(tsv(cells))
    assert rows[0].data["learning_formats"] == ["Maybe (Sub-category: Lecture)"]
    activity, errors = validate_activity(rows[0].data, row=1, today=TODAY)
    assert activity is None
    assert [error.rule for error in errors] == ["activity.learning_formats.not_allowed"]


# ---------------------------------------------------------------------------
# Structure of the file


def test_quoting_row_numbers_and_blank_lines() -> None:
    content = (
        b"Provider Activity ID\tActivity Title\tDescription\r\n"
        b"\r\n"
        b'A-1\t"Title with\ta tab and ""quotes"""\t"two\r\nlines"\r\n'
        b"\t\t\r\n"
        b"   \r\n"
        b"A-2\tPlain\t\r\n"
        b"A-3\tNo final newline\tx"
    )
    _, rows = parse(content)
    # Spreadsheet rows: the line break inside A-1's quoted cell does not count.
    assert [row.row for row in rows] == [3, 6, 7]
    assert rows[0].data["title"] == 'Title with\ta tab and "quotes"'
    assert rows[0].data["description"] == "two\r\nlines"
    assert rows[2].data["description"] == "x"


def test_header_only_file_has_no_rows() -> None:
    layout, rows = parse(tsv(CURRENT.headers(1)))
    assert layout is CURRENT
    assert rows == []


def test_windows_1252_bytes_are_read_as_windows_1252() -> None:
    # Excel's "Text (Tab delimited)" on Windows: curly apostrophe, accent, en dash.
    content = tsv(["Provider Activity ID", "Activity Title"], ["A-1", "Caf"]) + (
        "A-2\tDr O\u2019Brien\u2019s Caf\u00e9 \u2013 Grand Rounds\r\n".encode("cp1252")
    )
    source = TextSource()
    _, rows = read_tsv(io.BytesIO(content), source)
    titles = [row.data["title"] for row in rows]
    assert titles == ["Caf", "Dr O\u2019Brien\u2019s Caf\u00e9 \u2013 Grand Rounds"]
    assert source.encoding_name == "Windows-1252"
    assert "read as Windows-1252" in source.notices


def test_a_byte_windows_1252_leaves_unassigned_still_decodes() -> None:
    # 0x81 has no Windows-1252 character: read as U+0081 (as browsers do), not refused.
    content = tsv(["Provider Activity ID", "Activity Title"]) + b"A-1\tX\x81Y\r\n"
    _, rows = read_tsv(io.BytesIO(content))
    assert [row.data["title"] for row in rows] == ["X\x81Y"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-8"])
def test_unicode_text_and_utf8_read_the_same(encoding: str) -> None:
    text = "Provider Activity ID\tActivity Title\r\nA-1\tCaf\u00e9 \u2013 \u00c5ngstr\u00f6m\r\n"
    source = TextSource()
    _, rows = read_tsv(io.BytesIO(text.encode(encoding)), source)
    assert [row.data["title"] for row in rows] == ["Caf\u00e9 \u2013 \u00c5ngstr\u00f6m"]
    assert source.encoding_name == ("UTF-16" if encoding == "utf-16" else "UTF-8")


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        ('Provider Activity ID,Activity Title\r\nA-1,"Cardiology, ""advanced"""\r\n', ","),
        ("Provider Activity ID;Activity Title\r\nA-1;Cardiology, advanced\r\n", ";"),
    ],
)
def test_comma_and_semicolon_separated_files(line: str, delimiter: str) -> None:
    source = TextSource()
    _, rows = read_tsv(io.BytesIO(line.encode()), source)
    assert [row.data["title"] for row in rows] == [
        'Cardiology, "advanced"' if delimiter == "," else "Cardiology, advanced"
    ]
    assert source.delimiter == delimiter


def test_nul_bytes_are_refused() -> None:
    with pytest.raises(FileRejected, match="NUL"):
        parse(b"Template D\tA\x00B\r\n")
    # UTF-16 without its byte-order mark cannot be told from binary.
    with pytest.raises(FileRejected, match="NUL"):
        parse("Template D\tA\r\n".encode("utf-16-le"))


@pytest.mark.parametrize(
    "content",
    [
        b"a\tb\tc\r\n1\t2\t3\r\n",
        b"Template E\tx\r\n",
        b"2010\ttoo few fields\r\n",
        b"",
        b"\r\n\t\t\r\n",
    ],
)
def test_unknown_layout_is_refused(content: bytes) -> None:
    with pytest.raises(FileRejected) as caught:
        parse(content)
    if content.strip():
        for layout in LAYOUTS:
            assert layout.description in caught.value.message


def test_near_miss_header_names_the_column() -> None:
    header = numbered_header(TEMPLATE_D, 1)
    header[15] = "16. Designed to change Competency?"
    with pytest.raises(FileRejected) as caught:
        parse(tsv(header))
    assert "Template D layout" in caught.value.message
    assert "column 16 should be 'Designed to change Competence?'" in caught.value.message


# ---------------------------------------------------------------------------
# Memory


def _golden_course_row() -> list[str]:
    _, rows = parse_file("golden_current.tsv")
    header = CURRENT.headers(3)
    data: dict[str, Any] = dict(rows[0].data)
    data["description"] = "One line."
    supporters = data.pop("supporters")
    by_header = {column.header: data.get(column.target, "") for column in CURRENT.columns}
    cells = [by_header.get(label, "") for label in header[: len(CURRENT.columns)]]
    for supporter in [*supporters, {}]:
        cells += [str(supporter.get(c.target, "")) for c in CURRENT.supporter_block]
    assert len(cells) == len(header)
    return cells


def test_large_file_parses_with_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.tsv"
    cells = _golden_course_row()
    count = 100_000
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("\t".join(CURRENT.headers(3)) + "\r\n")
        for number in range(count):
            cells[2] = f"ACT-{number:06d}"
            out.write("\t".join(cells) + "\r\n")
    assert path.stat().st_size > 30 * 1024 * 1024

    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            layout, rows = read_tsv(stream)
            seen = 0
            last = None
            for parsed in rows:
                seen += 1
                last = parsed
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert layout is CURRENT
    assert seen == count
    assert last is not None
    assert last.row == count + 1
    assert last.data["provider_activity_id"] == f"ACT-{count - 1:06d}"
    assert peak < 30 * 1024 * 1024, f"peak {peak / 1024 / 1024:.1f} MiB"
