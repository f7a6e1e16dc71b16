"""The downloadable Excel template of the current activity layout.

``write_activity_template(stream)`` writes a workbook with three sheets:

* **Activities** — the header row of the ``current`` layout
  (`parsers.layouts.CURRENT`: Action, Status, every dictionary field by its label,
  then supporter blocks "Supporter N Source/Monetary Amount/In-Kind?/In-Kind
  Description"), with a drop-down of the allowed values on each single-choice and
  Yes/No column, text format on the ID columns and a date format on the dates;
* **Instructions** — one line per column: what it means, its format, the allowed
  values, the reporting years PARS collects it and the status that needs it;
* **Lists** — the allowed values the drop-downs read (and country codes to look up).

``write_rows_xlsx`` (from `pars.lib.spreadsheets`) writes plain rows, escaping
formula-like text; it is re-exported here for the upload error report.
"""

from __future__ import annotations

from typing import IO, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pars.activities.dictionary import (
    FIELDS_BY_NAME,
    RECORD_ACTIONS,
    REQUESTED_STATUSES,
    STATUS_CODES,
    SUPPORTER_FIELDS_BY_NAME,
)
from pars.activities.parsers.layouts import CURRENT
from pars.intake.fields import FieldSpec, Kind, Status
from pars.lib.spreadsheets import escape_formula, write_rows_xlsx

__all__ = ["TEMPLATE_SUPPORTERS", "column_specs", "write_activity_template", "write_rows_xlsx"]

TEMPLATE_SUPPORTERS = 3
_LAST_ROW = 1_048_576

ACTION_SPEC = FieldSpec(
    "action",
    "Action",
    Kind.CHOICE,
    "Add, Update or Delete. Blank: add the activity, or update it if its Provider "
    "Activity ID exists. A Delete row needs only the Provider Activity ID.",
    choices=RECORD_ACTIONS,
)
STATUS_SPEC = FieldSpec(
    "status",
    "Status",
    Kind.CHOICE,
    "The status you ask for: Draft, Active or Closed. Blank: the highest status the "
    "row's data supports. Active becomes Ready to Close once the end date is past.",
    choices=REQUESTED_STATUSES,
)

_FORMATS = {
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
_STATUS_NAMES = {
    Status.DRAFT: STATUS_CODES["draft"],
    Status.ACTIVE: STATUS_CODES["active"],
    Status.CLOSED: STATUS_CODES["closed"],
}


def column_specs(supporters: int = TEMPLATE_SUPPORTERS) -> list[tuple[str, FieldSpec]]:
    """(header, field spec) for each column of the template."""
    headers = CURRENT.headers(supporters)
    specs = [ACTION_SPEC, STATUS_SPEC] + [
        FIELDS_BY_NAME[column.target] for column in CURRENT.columns[2:]
    ]
    block = [SUPPORTER_FIELDS_BY_NAME[column.target] for column in CURRENT.supporter_block]
    specs += block * supporters
    return list(zip(headers, specs, strict=True))


def allowed_values(spec: FieldSpec) -> list[str]:
    """The values of a single-choice or Yes/No column (what its drop-down offers)."""
    if spec.kind is Kind.BOOLEAN:
        return ["Yes", "No"]
    if spec.kind is not Kind.CHOICE:
        return []
    if spec.name in ("country", "state"):
        return sorted(spec.choices)
    return list(spec.choices.values())


def _allowed_text(spec: FieldSpec) -> str:
    if spec.name == "country":
        return "ISO 3166 alpha-3 code, e.g. USA, CAN, GBR (all codes on the Lists sheet)."
    if spec.name == "state":
        return "USPS code: " + "; ".join(sorted(spec.choices))
    if spec.kind is Kind.OUTCOMES:
        return (
            "; ".join(spec.choices.values())
            + " — each optionally followed by ':Objective' or ':Subjective' "
            "(or ':Objective,Subjective')"
        )
    if spec.kind is Kind.CHOICE_LIST:
        return "; ".join(spec.choices.values())
    return "; ".join(allowed_values(spec))


def _needed_for(spec: FieldSpec) -> str:
    if spec.required_for is None:
        return ""
    return f"{_STATUS_NAMES[spec.required_for]} and later"


def write_activity_template(stream: IO[bytes], *, supporters: int = TEMPLATE_SUPPORTERS) -> None:
    """Write the activity upload template (.xlsx) to a binary stream."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Activities"
    instructions = workbook.create_sheet("Instructions")
    lists = workbook.create_sheet("Lists")
    columns = column_specs(supporters)

    bold = Font(bold=True)
    sheet.append([escape_formula(header) for header, _ in columns])
    for cell in sheet[1]:
        cell.font = bold
    sheet.freeze_panes = "A2"

    list_ranges: dict[str, str] = {}
    for index, (header, spec) in enumerate(columns, start=1):
        letter = get_column_letter(index)
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(14, min(40, len(header) + 4))
        if spec.kind is Kind.DATE:
            dimension.number_format = "mm/dd/yyyy"
        elif spec.name in ("provider_activity_id", "accme_activity_id"):
            dimension.number_format = "@"
        values = allowed_values(spec)
        if not values:
            continue
        key = "yes_no" if spec.kind is Kind.BOOLEAN else spec.name
        if key not in list_ranges:
            list_ranges[key] = _add_list(lists, spec, values)
        validation = DataValidation(
            type="list",
            formula1=list_ranges[key],
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle="Not an allowed value",
            error=f"{header}: choose one of the listed values (see the Instructions sheet).",
            showInputMessage=bool(spec.help),
            promptTitle=header[:32],
            prompt=spec.help[:255] or None,
        )
        validation.add(f"{letter}2:{letter}{_LAST_ROW}")
        sheet.add_data_validation(validation)

    _write_instructions(instructions, columns, supporters)
    workbook.save(stream)


def _add_list(lists: Any, spec: FieldSpec, values: list[str]) -> str:
    column = lists.max_column + 1 if lists["A1"].value else 1
    letter = get_column_letter(column)
    title = "Yes/No" if spec.kind is Kind.BOOLEAN else spec.label
    lists.cell(row=1, column=column, value=title).font = Font(bold=True)
    for row, value in enumerate(values, start=2):
        lists.cell(row=row, column=column, value=value)
    lists.column_dimensions[letter].width = max(12, min(40, len(title) + 4))
    return f"Lists!${letter}$2:${letter}${len(values) + 1}"


def _write_instructions(sheet: Any, columns: list[tuple[str, FieldSpec]], supporters: int) -> None:
    notes = [
        "How to fill in the Activities sheet",
        "One activity per row; keep the header row. Empty cells are fine where a value is "
        "not needed yet: each row is saved with the highest status its data supports "
        "(or the Status you ask for).",
        "A row whose Provider Activity ID already exists updates that activity; otherwise "
        "it adds one. Action 'Delete' deletes the activity with that Provider Activity ID.",
        "Several values in one cell are separated by ';'. Dates: mm/dd/yyyy or yyyy-mm-dd, "
        "or Excel dates. Yes/No columns take Yes or No.",
        f"Supporter columns come in blocks of {len(CURRENT.supporter_block)} (Supporter 1 …, "
        f"Supporter 2 …); the template has {supporters}. For more supporters add columns "
        f"'Supporter {supporters + 1} Source' and so on.",
        "Columns may be removed or reordered; the header text identifies each column.",
        "",
    ]
    for note in notes:
        sheet.append([note])
    sheet["A1"].font = Font(bold=True, size=13)
    table_header = [
        "Column",
        "What it means",
        "Format",
        "Allowed values",
        "Reporting years collected",
        "Required for status",
    ]
    sheet.append(table_header)
    header_row = len(notes) + 1
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    block_size = len(CURRENT.supporter_block)
    for position, (header, spec) in enumerate(columns):
        first_block_column = len(columns) - block_size * supporters
        if position >= first_block_column + block_size:
            continue  # describe the supporter block once
        if position >= first_block_column:
            header = header.replace("Supporter 1 ", "Supporter N ", 1)
        meaning = spec.help
        if spec.legacy:
            meaning += " (A field of the earlier PARS, kept for its reporting years.)"
        sheet.append(
            [
                escape_formula(header),
                meaning.strip(),
                _FORMATS.get(spec.kind, ""),
                _allowed_text(spec),
                spec.years,
                _needed_for(spec),
            ]
        )
    widths = {"A": 34, "B": 70, "C": 30, "D": 60, "E": 22, "F": 20}
    for letter, width in widths.items():
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=header_row + 1):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
