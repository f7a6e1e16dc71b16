"""The downloadable Excel template of the current activity layout.

``write_activity_template(stream)`` writes, through the shared writer
(`pars.intake.xlsx_template`), a workbook with three sheets:

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

from typing import IO

from pars.activities.dictionary import (
    FIELDS_BY_NAME,
    RECORD_ACTIONS,
    REQUESTED_STATUSES,
    STATUS_CODES,
    SUPPORTER_FIELDS_BY_NAME,
)
from pars.activities.parsers.layouts import CURRENT, learner_counts_columns
from pars.intake.fields import FieldSpec, Kind, Status
from pars.intake.xlsx_template import (
    FORMATS,
    SAVING_NOTE,
    GuideTable,
    WorkbookTemplate,
    allowed_values,
    template_column,
    write_template,
)
from pars.lib.spreadsheets import write_rows_xlsx

__all__ = [
    "TEMPLATE_SUPPORTERS",
    "activity_workbook",
    "column_specs",
    "learner_counts_workbook",
    "write_activity_template",
    "write_rows_xlsx",
]

TEMPLATE_SUPPORTERS = 3
# Columns Excel must keep as typed text (IDs with leading zeros); country and state offer codes.
_TEXT_COLUMNS = ("provider_activity_id", "accme_activity_id")
_CODE_COLUMNS = ("country", "state")

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
    write_template(stream, activity_workbook(supporters))


def activity_workbook(supporters: int = TEMPLATE_SUPPORTERS) -> WorkbookTemplate:
    """The template's sheets, columns and guide (an export fills its rows, see file_export)."""
    columns = column_specs(supporters)
    return WorkbookTemplate(
        sheet="Activities",
        columns=[
            template_column(
                header,
                spec,
                codes=spec.name in _CODE_COLUMNS,
                as_text=spec.name in _TEXT_COLUMNS,
            )
            for header, spec in columns
        ],
        notes=_notes(supporters),
        tables=[GuideTable(_GUIDE_HEADER, _guide_rows(columns, supporters))],
        guide_widths={"A": 34, "B": 70, "C": 30, "D": 60, "E": 22, "F": 20},
        column_widths=(14, 40),
    )


def _notes(supporters: int) -> list[str]:
    return [
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
        SAVING_NOTE,
        "",
    ]


_GUIDE_HEADER = (
    "Column",
    "What it means",
    "Format",
    "Allowed values",
    "Reporting years collected",
    "Required for status",
)


def _guide_rows(columns: list[tuple[str, FieldSpec]], supporters: int) -> list[list[str]]:
    """One line per column; the supporter block once, as "Supporter N …"."""
    block_size = len(CURRENT.supporter_block)
    first_block_column = len(columns) - block_size * supporters
    rows = []
    for header, spec in columns[: first_block_column + block_size]:
        meaning = spec.help
        if spec.legacy:
            meaning += " (A field of the earlier PARS, kept for its reporting years.)"
        rows.append(
            [
                header.replace("Supporter 1 ", "Supporter N ", 1),
                meaning.strip(),
                FORMATS.get(spec.kind, ""),
                _allowed_text(spec),
                spec.years,
                _needed_for(spec),
            ]
        )
    return rows


def learner_counts_workbook(year: int | None) -> WorkbookTemplate:
    """The Learner Counts template of a reporting year: the columns that identify each
    activity and the fields closing needs that year, with their drop-downs (an export
    fills its rows with the year's open activities, see file_export)."""
    columns = [
        (column.header, FIELDS_BY_NAME[column.target]) for column in learner_counts_columns(year)
    ]
    return WorkbookTemplate(
        sheet="Learner Counts",
        columns=[
            template_column(header, spec, as_text=spec.name in _TEXT_COLUMNS)
            for header, spec in columns
        ],
        notes=_learner_counts_notes(year),
        tables=[GuideTable(_GUIDE_HEADER, _guide_rows(columns, 0))],
        guide_widths={"A": 34, "B": 70, "C": 30, "D": 60, "E": 22, "F": 20},
        column_widths=(14, 40),
    )


def _learner_counts_notes(year: int | None) -> list[str]:
    which = f"the {year} activities" if year else "your activities"
    return [
        "How to fill in the Learner Counts sheet",
        f"Each row is one of {which} that are not closed yet. Enter # of Physicians and "
        "# of Other Learners (0 is a count), and the other columns closing needs; the "
        "activity becomes Closed when nothing is missing, and otherwise the upload result "
        "says what it still lacks.",
        "This file only updates existing activities: a row is found by its Provider "
        "Activity ID (or, when that cell is blank, its ACCME Activity ID), and a row whose "
        "activity does not exist is an error. Fields without a column here (dates, format, "
        "supporters…) keep their stored values; an empty cell in a column clears that field.",
        "Rows may be removed; columns may be removed or reordered (the header text "
        "identifies each column). Joint Provider(s) is needed only for a jointly provided "
        "activity.",
        SAVING_NOTE,
        "",
    ]
