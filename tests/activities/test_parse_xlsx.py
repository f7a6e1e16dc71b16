"""The Excel activity parser, the archive checks, the template and the safe writers."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from pars.activities.parsers.layouts import CURRENT, LEGACY_43, TEMPLATE_C, TEMPLATE_D, Layout
from pars.activities.parsers.tsv import read_tsv
from pars.activities.parsers.xlsx import read_xlsx
from pars.activities.validation import CleanActivity, validate_activity
from pars.activities.xlsx_template import column_specs, write_activity_template
from pars.intake.readers import FileRejected, ParsedRow
from pars.lib.spreadsheets import escape_formula, write_rows_csv, write_rows_xlsx
from tests.activities import make_golden

DATA = Path(__file__).parent / "data"
TODAY = datetime.date(2025, 6, 1)


def parse_xlsx(path: Path) -> tuple[Layout, list[ParsedRow]]:
    layout, rows = read_xlsx(path)
    return layout, list(rows)


def parse_tsv(name: str) -> tuple[Layout, list[ParsedRow]]:
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


def write_sheet(path: Path, rows: list[list[Any]], *, start: str = "A1") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    first = sheet[start]
    for offset, row in enumerate(rows):
        for column, value in enumerate(row):
            if value not in ("", None):
                sheet.cell(row=first.row + offset, column=first.column + column, value=value)
    workbook.save(path)
    return path


def tsv_cells(name: str) -> list[list[str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as stream:
        return list(csv.reader(stream, dialect="excel-tab"))


# ---------------------------------------------------------------------------
# The golden workbook


def test_golden_xlsx_is_up_to_date() -> None:
    assert (DATA / "golden_current.xlsx").read_bytes() == make_golden.build()


def test_golden_xlsx_and_tsv_give_the_same_activities() -> None:
    tsv_layout, tsv_rows = parse_tsv("golden_current.tsv")
    xlsx_layout, xlsx_rows = parse_xlsx(DATA / "golden_current.xlsx")
    assert tsv_layout is xlsx_layout is CURRENT
    assert [row.row for row in xlsx_rows] == [2, 3, 4, 5, 6]
    from_tsv = clean(tsv_rows)
    from_xlsx = clean(xlsx_rows)
    assert len(from_xlsx) == 5
    assert from_xlsx == from_tsv


def test_native_values_pass_through() -> None:
    _, rows = parse_xlsx(DATA / "golden_current.xlsx")
    course, enduring = rows[0].data, rows[1].data
    assert course["start_date"] == datetime.date(2025, 3, 14)
    assert course["physician_learners"] == 240
    assert course["ama_credits"] == 12.5
    assert course["supporters"][0]["monetary_amount"] == 25000
    assert course["description"] == (
        "Three-day update on heart failure management.\n"
        "Includes hands-on echocardiography workshops."
    )
    assert enduring["meets_mips"] is True
    # Excel stores numbers as floats; whole ones come out as ints ("123456789", not ".0").
    assert enduring["accme_activity_id"] == 123456789
    assert isinstance(enduring["accme_activity_id"], int)


# ---------------------------------------------------------------------------
# Layouts, header rows and row numbers


@pytest.mark.parametrize(
    ("name", "layout", "has_header"),
    [
        ("template_c.txt", TEMPLATE_C, True),
        ("template_d.txt", TEMPLATE_D, False),
        ("legacy_43.txt", LEGACY_43, False),
        ("golden_current.tsv", CURRENT, True),
    ],
)
def test_layouts_recognised_in_xlsx_with_and_without_header(
    tmp_path: Path, name: str, layout: Layout, has_header: bool
) -> None:
    cells = tsv_cells(name)
    body = cells[1:] if has_header else cells
    _, expected = parse_tsv(name)
    with_header = write_sheet(tmp_path / "with.xlsx", [layout.headers(2), *body])
    found, rows = parse_xlsx(with_header)
    assert found is layout
    assert [row.data for row in rows] == [row.data for row in expected]
    assert [row.row for row in rows] == list(range(2, len(body) + 2))
    if layout is CURRENT:
        with pytest.raises(FileRejected, match="Accepted layouts"):
            read_xlsx(write_sheet(tmp_path / "without.xlsx", body))
        return
    found, rows = parse_xlsx(write_sheet(tmp_path / "without.xlsx", body))
    assert found is layout
    assert [row.data for row in rows] == [row.data for row in expected]
    assert [row.row for row in rows] == list(range(1, len(body) + 1))
    assert clean(rows)


def test_row_numbers_are_sheet_rows(tmp_path: Path) -> None:
    path = write_sheet(
        tmp_path / "rows.xlsx",
        [
            [],
            [],
            ["Provider Activity ID", "Activity Title"],
            ["A-1", "First"],
            [],
            ["A-2", "Second"],
        ],
    )
    _, rows = parse_xlsx(path)
    assert [(row.row, row.data["provider_activity_id"]) for row in rows] == [(4, "A-1"), (6, "A-2")]


def test_columns_keep_their_sheet_position(tmp_path: Path) -> None:
    # Data starting in column B: column A is an empty column, not the first field.
    path = write_sheet(
        tmp_path / "offset.xlsx",
        [["Provider Activity ID", "Activity Title"], ["A-1", "First"]],
        start="B1",
    )
    _, rows = parse_xlsx(path)
    assert rows[0].data == {"provider_activity_id": "A-1", "title": "First"}
    template_d = tsv_cells("template_d.txt")
    with pytest.raises(FileRejected):
        read_xlsx(write_sheet(tmp_path / "legacy.xlsx", template_d, start="B1"))


def test_only_the_first_sheet_is_read(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Provider Activity ID"])
    workbook.active.append(["A-1"])
    workbook.create_sheet("Other").append(["garbage"])
    workbook.save(path)
    _, rows = parse_xlsx(path)
    assert [row.data for row in rows] == [{"provider_activity_id": "A-1"}]


def test_empty_workbook_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(FileRejected, match="empty"):
        read_xlsx(path)


# ---------------------------------------------------------------------------
# Hostile or wrong files


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


WORKBOOK_XML = b'<?xml version="1.0"?><workbook/>'


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    bomb = _zip(
        tmp_path / "bomb.xlsx",
        {"xl/workbook.xml": WORKBOOK_XML, "xl/worksheets/sheet1.xml": b"\0" * 20_000_000},
    )
    assert bomb.stat().st_size < 100_000
    with pytest.raises(FileRejected, match="zip bomb"):
        read_xlsx(bomb)


def test_total_uncompressed_size_limit(tmp_path: Path, settings: Any) -> None:
    golden = DATA / "golden_current.xlsx"
    settings.PARS_MAX_XLSX_UNCOMPRESSED_BYTES = 10_000
    with pytest.raises(FileRejected, match="more than the limit of 10,000"):
        read_xlsx(golden)
    settings.PARS_MAX_XLSX_UNCOMPRESSED_BYTES = 10_000_000
    assert parse_xlsx(golden)[0] is CURRENT


@pytest.mark.parametrize(
    "member", ["../evil.xml", "xl/../../evil.xml", "/etc/evil.xml", "C:/evil.xml", "..\\evil"]
)
def test_unsafe_member_paths_are_refused(tmp_path: Path, member: str) -> None:
    path = tmp_path / "traversal.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("xl/workbook.xml", WORKBOOK_XML)
        archive.writestr(zipfile.ZipInfo(member), b"x")
    with pytest.raises(FileRejected, match="unsafe path"):
        read_xlsx(path)


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "activities.xlsx"
    path.write_bytes((DATA / "template_d.txt").read_bytes())
    with pytest.raises(FileRejected, match=r"not an Excel workbook \(\.xlsx\)"):
        read_xlsx(path)


def test_zip_that_is_not_a_workbook_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "doc.xlsx", {"word/document.xml": b"<document/>"})
    with pytest.raises(FileRejected, match="not an Excel workbook"):
        read_xlsx(path)


def test_broken_workbook_is_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path / "broken.xlsx", {"xl/workbook.xml": b"not xml at all <<<"})
    with pytest.raises(FileRejected, match="not an Excel workbook"):
        read_xlsx(path)


# ---------------------------------------------------------------------------
# The downloadable template


def test_template_header_parses_as_the_current_layout(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    with path.open("wb") as stream:
        write_activity_template(stream)
    layout, rows = parse_xlsx(path)
    assert layout is CURRENT
    assert rows == []

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Activities", "Instructions", "Lists"]
    sheet = workbook["Activities"]
    assert [cell.value for cell in sheet[1]] == CURRENT.headers(3)
    validated = {
        str(validation.sqref).split(":")[0].rstrip("0123456789")
        for validation in sheet.data_validations.dataValidation
    }
    headers = {cell.column_letter: cell.value for cell in sheet[1]}
    with_dropdown = {headers[letter] for letter in validated}
    assert {
        "Action",
        "Status",
        "Activity Format",
        "State",
        "Country",
        "Providership",
        "Fee for Participation",
        "Registration",
        "List on CME Passport?",
        "Supporter 3 In-Kind?",
    } <= with_dropdown
    assert "Delivery Method" not in with_dropdown  # several values: no drop-down
    instructions = [row[0] for row in workbook["Instructions"].iter_rows(values_only=True)]
    for header, spec in column_specs(1):
        assert header.replace("Supporter 1 ", "Supporter N ") in instructions
        if spec.help:
            assert any(
                spec.help in str(cell)
                for row in workbook["Instructions"].iter_rows(values_only=True)
                for cell in row
            )
    lists = workbook["Lists"]
    assert "USA" in [cell.value for cell in lists[get_list_column(lists, "Country")]]


def get_list_column(sheet: Any, title: str) -> str:
    for cell in sheet[1]:
        if cell.value == title:
            return str(cell.column_letter)
    raise AssertionError(title)


def test_filled_template_parses_like_the_golden_file(tmp_path: Path) -> None:
    path = tmp_path / "filled.xlsx"
    with path.open("wb") as stream:
        write_activity_template(stream)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Activities"]
    header = [cell.value for cell in sheet[1]]
    for values in make_golden.ROWS:
        sheet.append([values.get(column) for column in header])
    workbook.save(path)
    _, rows = parse_xlsx(path)
    assert clean(rows) == clean(parse_tsv("golden_current.tsv")[1])


# ---------------------------------------------------------------------------
# Writers that escape formulas


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("=SUM(A1:A2)", "'=SUM(A1:A2)"),
        ("+1", "'+1"),
        ("-5", "'-5"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        ("", ""),
        (-5, -5),
        (None, None),
    ],
)
def test_escape_formula(value: Any, escaped: Any) -> None:
    assert escape_formula(value) == escaped


ROWS: list[list[Any]] = [
    [2, '=HYPERLINK("http://evil")', datetime.date(2025, 3, 14)],
    [3, "-5", ["a", "b"]],
    [4, "\x01=1+1", None],
]


def test_write_rows_xlsx_escapes_formulas() -> None:
    out = io.BytesIO()
    write_rows_xlsx(out, ["Row", "=Value", "Other"], ROWS)
    out.seek(0)
    sheet = openpyxl.load_workbook(out).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values == [
        ["Row", "'=Value", "Other"],
        [2, '\'=HYPERLINK("http://evil")', datetime.datetime(2025, 3, 14)],  # noqa: DTZ001
        [3, "'-5", "a; b"],
        [4, "'=1+1", None],
    ]
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_write_rows_csv_escapes_formulas() -> None:
    out = io.StringIO()
    write_rows_csv(out, ["Row", "=Value", "Other"], ROWS)
    text = out.getvalue()
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text[1:]))) == [
        ["Row", "'=Value", "Other"],
        ["2", '\'=HYPERLINK("http://evil")', "03/14/2025"],  # dates for people: US
        ["3", "'-5", "a; b"],
        ["4", "\x01=1+1", ""],
    ]


def test_a_big_sheet_streams_with_flat_memory(tmp_path: Path) -> None:
    """The reader streams the sheet; it never holds the whole worksheet."""
    import tracemalloc

    from openpyxl import Workbook

    from pars.activities.parsers.layouts import CURRENT

    path = tmp_path / "big.xlsx"
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(CURRENT.headers(supporters=1))
    width = len(CURRENT.headers(supporters=1))
    for number in range(5_000):
        sheet.append(["Add", "", f"BIG-{number:06d}", "", f"Title {number}"] + [""] * (width - 5))
    workbook.save(path)
    tracemalloc.start()
    try:
        _, rows = read_xlsx(path)
        count = sum(1 for _ in rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 5_000
    assert peak < 10 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# ---------------------------------------------------------------------------
# Bounded reading (issue 11, point 5): limits per part and on the shared strings, and
# shared strings resolved from disk rather than held in memory


def _workbook_with_strings(path: Path, count: int, *, declared: bool = True) -> Path:
    """A header row and `count` rows of two distinct texts each, as Excel writes them:
    every text in the shared strings, the cells referring to them by number."""
    strings = [b"Provider Activity ID", b"Activity Title"]
    rows = [b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>']
    for number in range(count):
        strings += [b"S-%07d" % number, b"A title of some length, number %07d" % number]
        row = number + 2
        rows.append(
            b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d" t="s"><v>%d</v></c></row>'
            % (row, row, len(strings) - 2, row, len(strings) - 1)
        )
    unique = b' count="%d" uniqueCount="%d"' % (len(strings), len(strings)) if declared else b""
    return _zip(
        path,
        {
            **PACKAGE,
            "xl/worksheets/sheet1.xml": b"<worksheet "
            + MAIN
            + b"><sheetData>"
            + b"".join(rows)
            + b"</sheetData></worksheet>",
            "xl/sharedStrings.xml": b"<sst "
            + MAIN
            + unique
            + b">"
            + b"".join(b"<si><t>%s</t></si>" % text for text in strings)
            + b"</sst>",
        },
    )


MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
# The parts openpyxl needs as well, so that the same files show what it would do.
PACKAGE = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_SML}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_SML}.worksheet+xml"/>'
        f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SML}.sharedStrings+xml"/>'
        "</Types>"
    ).encode(),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ).encode(),
    "xl/_rels/workbook.xml.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_R}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_R}/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    ).encode(),
    "xl/workbook.xml": (
        f'<workbook {MAIN.decode()} xmlns:r="{_R}">'
        '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ).encode(),
}


def test_shared_strings_are_read_from_disk_not_held(tmp_path: Path) -> None:
    import tracemalloc

    path = _workbook_with_strings(tmp_path / "strings.xlsx", 20_000)
    tracemalloc.start()
    try:
        _, rows = read_xlsx(path)
        count = sum(1 for _ in rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    # 40,000 strings: held in a list (and openpyxl's index of them) they take over 5 MB.
    assert peak < 3 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "counted"])
def test_too_many_shared_strings_are_refused(tmp_path: Path, settings: Any, declared: bool) -> None:
    path = _workbook_with_strings(tmp_path / "strings.xlsx", 1_000, declared=declared)
    settings.PARS_MAX_XLSX_SHARED_STRINGS = 1_500
    with pytest.raises(FileRejected, match=r"shared strings .*more than the limit of 1,500"):
        read_xlsx(path)
    settings.PARS_MAX_XLSX_SHARED_STRINGS = 2_002  # the header's two, and two per row
    assert sum(1 for _ in read_xlsx(path)[1]) == 1_000


def test_part_and_shared_strings_size_limits(tmp_path: Path, settings: Any) -> None:
    path = _workbook_with_strings(tmp_path / "strings.xlsx", 1_000)
    settings.PARS_MAX_XLSX_SHARED_STRINGS_BYTES = 10_000
    with pytest.raises(FileRejected, match=r"its shared strings \('xl/sharedStrings.xml'\)"):
        read_xlsx(path)
    settings.PARS_MAX_XLSX_SHARED_STRINGS_BYTES = 10_000_000
    settings.PARS_MAX_XLSX_PART_BYTES = 20_000
    with pytest.raises(FileRejected, match=r"its part 'xl/worksheets/sheet1.xml' would take"):
        read_xlsx(path)


def test_a_sheet_of_many_rows_keeps_nothing_per_row(tmp_path: Path) -> None:
    """openpyxl keeps an emptied element per row read (about 90 bytes): not this reader."""
    import tracemalloc

    path = tmp_path / "rows.xlsx"
    rows = b"".join(
        b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (n, n, n) for n in range(2, 50_002)
    )
    _zip(
        path,
        {
            **PACKAGE,
            "xl/sharedStrings.xml": b"<sst " + MAIN + b"/>",
            "xl/worksheets/sheet1.xml": b"<worksheet "
            + MAIN
            + b'><sheetData><row r="1"><c r="A1" t="inlineStr">'
            b"<is><t>Provider Activity ID</t></is></c></row>" + rows + b"</sheetData></worksheet>",
        },
    )
    tracemalloc.start()
    try:
        _, parsed = read_xlsx(path)
        last = None
        for row in parsed:
            last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last is not None
    assert last.row == 50_001
    assert last.data == {"provider_activity_id": 50_001}
    assert peak < 3 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"  # openpyxl: over 4.5 MB


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        (b'<c r="A2" t="inlineStr"><is><t>' + b"x" * 40_000 + b"</t></is></c>", "32,767"),
        (b'<c r="XFE2"><v>1</v></c>', "beyond column XFD"),
        (b'<c r="A2" t="s"><v>7</v></c>', "shared string"),
        (b'<c r="A2"><v>12abc</v></c>', "not a number"),
    ],
    ids=["cell over 32,767 characters", "beyond XFD", "unknown shared string", "bad number"],
)
def test_cells_excel_cannot_hold_are_refused(tmp_path: Path, cells: bytes, words: str) -> None:
    path = _zip(
        tmp_path / "cells.xlsx",
        {
            **PACKAGE,
            "xl/worksheets/sheet1.xml": b"<worksheet "
            + MAIN
            + b'><sheetData><row r="1"><c r="A1" t="inlineStr">'
            b'<is><t>Provider Activity ID</t></is></c></row><row r="2">'
            + cells
            + b"</row></sheetData></worksheet>",
        },
    )
    with pytest.raises(FileRejected, match=words):
        list(read_xlsx(path)[1])


def test_a_doctype_in_a_part_is_refused(tmp_path: Path) -> None:
    path = _zip(
        tmp_path / "doctype.xlsx",
        {
            "xl/workbook.xml": b'<!DOCTYPE w [<!ENTITY e "x">]><workbook><sheets>'
            b'<sheet name="S" sheetId="1"/></sheets></workbook>',
            "xl/worksheets/sheet1.xml": b"<worksheet/>",
        },
    )
    with pytest.raises(FileRejected, match="DOCTYPE"):
        read_xlsx(path)
