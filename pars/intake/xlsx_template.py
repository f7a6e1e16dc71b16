"""The downloadable Excel template of a record kind: one writer, fed by the kind's dictionary.

``write_template(stream, template)`` writes a workbook with three sheets:

* the **data sheet** (``template.sheet``): the header row, bold and frozen; a drop-down
  of the allowed values on each column that has them (a warning, not a refusal, for any
  other value), text format on the columns Excel must keep as typed and a date format on
  the dates;
* **Instructions**: the kind's notes, then its tables (one line per column, and whatever
  else the kind describes);
* **Lists**: the values the drop-downs read, one column per list.

Every text cell is escaped (``pars.lib.spreadsheets.escape_formula``): a recipient's name
or a dictionary label that looks like a formula stays text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pars.intake.fields import FieldSpec, Kind
from pars.lib.spreadsheets import escape_formula

LAST_ROW = 1_048_576  # a drop-down covers the whole column below the header
YES_NO = ("yes_no", "Yes/No")  # every Yes/No column shares one list

# How a value of each kind is written, for the Instructions sheet; a record kind may say
# more where its fields take less (learner credits come in quarters).
FORMATS = {
    Kind.TEXT: "Text",
    Kind.INTEGER: "Whole number, 0 or more",
    Kind.MONEY: "Whole US dollars, 0 or more",
    Kind.DECIMAL: "Number",
    Kind.BOOLEAN: "Yes or No",
    Kind.DATE: "Date (mm/dd/yyyy or yyyy-mm-dd)",
    Kind.YEAR: "4-digit year",
    Kind.CHOICE: "One of the allowed values",
    Kind.CHOICE_LIST: "Allowed values, separated by ';'",
    Kind.TEXT_LIST: "Names, separated by ';'",
    Kind.URL: "Web address (http:// or https://)",
    Kind.OUTCOMES: "Outcomes, separated by ';'",
}


# How a filled-in template may be saved: every kind reads the same text formats.
SAVING_NOTE = (
    "Upload the workbook as it is (.xlsx), or save it as text: Excel's 'Text (Tab "
    "delimited)', 'Unicode Text' or 'CSV' all work (tab, comma or semicolon; UTF-8, "
    "UTF-16 or Windows-1252), and the upload result says how the file was read."
)


@dataclass(frozen=True)
class TemplateColumn:
    """A column of the data sheet."""

    header: str
    spec: FieldSpec
    values: tuple[str, ...] = ()  # what its drop-down offers; empty: a free column
    list_key: str = ""  # columns with the same key share one list on the Lists sheet
    list_title: str = ""
    as_text: bool = False  # Excel keeps it as typed: IDs with leading zeros, 12-10 no date


@dataclass(frozen=True)
class GuideTable:
    """A table of the Instructions sheet: a bold header row, then its rows."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass(frozen=True)
class WorkbookTemplate:
    """What a record kind's template holds; :func:`write_template` lays it out."""

    sheet: str  # the data sheet's title
    columns: Sequence[TemplateColumn]
    notes: Sequence[str]  # the opening lines of the Instructions sheet, the first a title
    tables: Sequence[GuideTable]
    guide_widths: Mapping[str, int]  # Instructions column letter: width
    column_widths: tuple[int, int] = (12, 40)  # a data column's least and greatest width
    # A guidance line above the header (row 1), as some published templates have.
    guidance: str = ""


def allowed_values(spec: FieldSpec, *, codes: bool = False) -> list[str]:
    """The dictionary's values of a single-choice or Yes/No field: its labels, or with
    `codes` its codes in order (countries, states); nothing for any other field."""
    if spec.kind is Kind.BOOLEAN:
        return ["Yes", "No"]
    if spec.kind is not Kind.CHOICE:
        return []
    if codes:
        return sorted(spec.choices)
    return list(spec.choices.values())


def template_column(
    header: str,
    spec: FieldSpec,
    *,
    codes: bool = False,
    as_text: bool = False,
    values: Sequence[str] | None = None,
    shared_list: tuple[str, str] | None = None,
) -> TemplateColumn:
    """A column whose drop-down offers `values` (by default the dictionary's, see
    :func:`allowed_values`); `shared_list` (key, title) names a list several columns read."""
    if values is None:
        values = allowed_values(spec, codes=codes)
    if shared_list is None:
        shared_list = YES_NO if spec.kind is Kind.BOOLEAN else (spec.name, spec.label)
    key, title = shared_list
    return TemplateColumn(header, spec, tuple(values), key, title, as_text)


def write_template(stream: IO[bytes], template: WorkbookTemplate) -> None:
    """Write the template (.xlsx) to a binary stream."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = template.sheet
    instructions = workbook.create_sheet("Instructions")
    lists = workbook.create_sheet("Lists")

    if template.guidance:
        sheet.append([escape_formula(template.guidance)])
        sheet["A1"].font = Font(italic=True)
    sheet.append([escape_formula(column.header) for column in template.columns])
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = f"A{header_row + 1}"

    least, greatest = template.column_widths
    list_ranges: dict[str, str] = {}
    for index, column in enumerate(template.columns, start=1):
        letter = get_column_letter(index)
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(least, min(greatest, len(column.header) + 4))
        if column.spec.kind is Kind.DATE:
            dimension.number_format = "mm/dd/yyyy"
        elif column.as_text:
            dimension.number_format = "@"
        if not column.values:
            continue
        if column.list_key not in list_ranges:
            list_ranges[column.list_key] = _add_list(lists, column.list_title, column.values)
        drop_down = _drop_down(column, list_ranges[column.list_key], letter, header_row + 1)
        sheet.add_data_validation(drop_down)

    _write_instructions(instructions, template)
    workbook.save(stream)


def _drop_down(
    column: TemplateColumn, source: str, letter: str, first_row: int = 2
) -> DataValidation:
    help_text = column.spec.help
    validation = DataValidation(
        type="list",
        formula1=source,
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="warning",
        errorTitle="Not an allowed value",
        error=f"{column.header}: choose one of the listed values (see the Instructions sheet).",
        showInputMessage=bool(help_text),
        promptTitle=column.header[:32],
        prompt=help_text[:255] or None,
    )
    validation.add(f"{letter}{first_row}:{letter}{LAST_ROW}")
    return validation


def _add_list(lists: Any, title: str, values: Sequence[str]) -> str:
    column = lists.max_column + 1 if lists["A1"].value else 1
    letter = get_column_letter(column)
    lists.cell(row=1, column=column, value=title).font = Font(bold=True)
    for row, value in enumerate(values, start=2):
        lists.cell(row=row, column=column, value=escape_formula(value))
    lists.column_dimensions[letter].width = max(12, min(40, len(title) + 4))
    return f"Lists!${letter}$2:${letter}${len(values) + 1}"


def _write_instructions(sheet: Any, template: WorkbookTemplate) -> None:
    for note in template.notes:
        sheet.append([note])
    sheet["A1"].font = Font(bold=True, size=13)
    bold_rows = []
    for number, table in enumerate(template.tables):
        if number:
            sheet.append([])
        sheet.append(list(table.header))
        bold_rows.append(sheet.max_row)
        for row in table.rows:
            sheet.append([escape_formula(value) for value in row])
    for row in bold_rows:
        for cell in sheet[row]:
            cell.font = Font(bold=True)
    for letter, width in template.guide_widths.items():
        sheet.column_dimensions[letter].width = width
    if bold_rows:
        for row in sheet.iter_rows(min_row=bold_rows[0] + 1):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")


def write_filled(
    stream: IO[bytes], template: WorkbookTemplate, rows: Iterable[Sequence[Any]]
) -> None:
    """The template (.xlsx) with `rows` under its header: an export that uploads again.

    Streamed (a write-only workbook): memory stays flat however many rows. Text that
    looks like a formula is escaped like every other cell (a leading apostrophe).
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(template.sheet)
    instructions = workbook.create_sheet("Instructions")
    lists = workbook.create_sheet("Lists")

    ranges: dict[str, str] = {}
    list_columns: list[tuple[str, Sequence[str]]] = []
    formats: list[str | None] = []
    header_row = 2 if template.guidance else 1
    least, greatest = template.column_widths
    for index, column in enumerate(template.columns, start=1):
        letter = get_column_letter(index)
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(least, min(greatest, len(column.header) + 4))
        cell_format = "mm/dd/yyyy" if column.spec.kind is Kind.DATE else None
        formats.append(cell_format or ("@" if column.as_text else None))
        if not column.values:
            continue
        if column.list_key not in ranges:
            list_letter = get_column_letter(len(list_columns) + 1)
            ranges[column.list_key] = (
                f"Lists!${list_letter}$2:${list_letter}${len(column.values) + 1}"
            )
            list_columns.append((column.list_title, column.values))
        sheet.data_validations.append(
            _drop_down(column, ranges[column.list_key], letter, header_row + 1)
        )
    sheet.freeze_panes = f"A{header_row + 1}"
    if template.guidance:
        sheet.append([_styled(sheet, template.guidance, Font(italic=True))])
    sheet.append([_styled(sheet, column.header, Font(bold=True)) for column in template.columns])
    for row in rows:
        cells = zip(row, formats, strict=True)
        sheet.append([_data_cell(sheet, value, number_format) for value, number_format in cells])
    _write_lists_rows(lists, list_columns)
    _write_instructions_rows(instructions, template)
    workbook.save(stream)


def _styled(sheet: Any, value: Any, font: Font | None = None, wrap: bool = False) -> Any:
    cell = WriteOnlyCell(sheet, value=escape_formula(value))
    if font is not None:
        cell.font = font
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def _data_cell(sheet: Any, value: Any, number_format: str | None) -> Any:
    if value is None or value == "":
        return None
    cell = WriteOnlyCell(sheet, value=escape_formula(value))
    if number_format is not None:
        cell.number_format = number_format
    return cell


def _write_lists_rows(lists: Any, columns: Sequence[tuple[str, Sequence[str]]]) -> None:
    """The Lists sheet, row by row (a write-only sheet has no columns to fill)."""
    for index, (title, _) in enumerate(columns, start=1):
        lists.column_dimensions[get_column_letter(index)].width = max(12, min(40, len(title) + 4))
    lists.append([_styled(lists, title, Font(bold=True)) for title, _ in columns])
    for position in range(max((len(values) for _, values in columns), default=0)):
        lists.append(
            [
                escape_formula(values[position]) if position < len(values) else None
                for _, values in columns
            ]
        )


def _write_instructions_rows(sheet: Any, template: WorkbookTemplate) -> None:
    for letter, width in template.guide_widths.items():
        sheet.column_dimensions[letter].width = width
    for number, note in enumerate(template.notes):
        sheet.append([_styled(sheet, note, Font(bold=True, size=13)) if not number else note])
    for number, table in enumerate(template.tables):
        if number:
            sheet.append([])
        sheet.append([_styled(sheet, text, Font(bold=True)) for text in table.header])
        for row in table.rows:
            sheet.append([_styled(sheet, value, wrap=True) for value in row])
