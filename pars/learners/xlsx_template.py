"""The downloadable Excel learner template, and the column guide it shares with the docs.

``write_learner_template(stream)`` writes a workbook with three sheets:

* **Learners** — the header row: Action, then every completion field of the data
  dictionary (`pars.learners.dictionary.COMPLETION_FIELDS`) by its label, which is what
  `pars.learners.parsers.map_header` matches; a drop-down of the allowed values on
  each single-choice and Yes/No column (and on Recipient), text format on the ID and
  birth-date columns (so Excel keeps leading zeros and does not turn 12-10 into a
  date), a date format on Completion Date;
* **Instructions** — how to fill it in, one line per column (what it means, its format,
  its allowed values), and the recipients with the learner identifier each expects;
* **Lists** — the values the drop-downs offer.

The recipients are read from the ``Recipient`` table (staff extend it in the admin);
without a database they are the seeded ones. :func:`columns_markdown` and
:func:`recipients_markdown` render the same guide for ``docs/learner-files.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.db import DatabaseError
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from pars.intake.fields import FieldSpec, Kind
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    HEADER_ALIASES,
    RECORD_ACTIONS,
    SEED_RECIPIENTS,
)
from pars.learners.models import Recipient
from pars.learners.parsers import EXTRA_COLUMNS
from pars.lib.spreadsheets import escape_formula

logger = logging.getLogger(__name__)

__all__ = [
    "ACTION_SPEC",
    "RecipientLine",
    "columns_markdown",
    "recipients_markdown",
    "template_columns",
    "template_recipients",
    "write_learner_template",
]

_LAST_ROW = 1_048_576

ACTION_SPEC = FieldSpec(
    "action",
    EXTRA_COLUMNS["action"],
    Kind.CHOICE,
    "Add (or blank) adds the completion, or corrects it if the same learner, activity, "
    "recipient and date is already in PARS. Delete withdraws it from the recipient.",
    choices=RECORD_ACTIONS,
)

_FORMATS = {
    Kind.TEXT: "Text",
    Kind.DATE: "Date (mm/dd/yyyy or yyyy-mm-dd, or an Excel date)",
    Kind.DECIMAL: "Number, in steps of 0.25",
    Kind.CHOICE: "One of the allowed values",
    Kind.TEXT_LIST: "Names, separated by ';'",
    Kind.BOOLEAN: "Yes or No",
}
_SPECIAL_FORMATS = {
    "birth_date": "MM-DD (text; MM/DD or a full date also work, the year is ignored)",
    "recipient": "Recipient code",
    "accme_activity_id": "9 digits",
    "npi": "10 digits",
    "license_state": "USPS code",
    "practice_state": "USPS code",
}
# Columns Excel must keep as typed text: IDs with leading zeros, 12-10 not a date.
_STATE_COLUMNS = ("license_state", "practice_state")
_TEXT_COLUMNS = {"provider_activity_id", "accme_activity_id", "birth_date", "learner_id", "npi"}


@dataclass(frozen=True)
class RecipientLine:
    """A recipient as the template and the guide describe it."""

    code: str
    name: str
    kind: str
    identifier: str
    credit_types: tuple[str, ...]
    required: tuple[str, ...]


_KIND_NAMES = {
    "moc_board": "Certifying board (MOC)",
    "rems": "FDA Opioid Analgesic REMS",
    "state_board": "State medical board",
}


def _get(row: Any, name: str, default: Any = None) -> Any:
    return row.get(name, default) if isinstance(row, dict) else getattr(row, name, default)


def _line(row: Any) -> RecipientLine:
    def get(name: str, default: Any = None) -> Any:
        return _get(row, name, default)

    required = get("identifier_required", True)
    identifier = get("identifier_label", "")
    hint = get("identifier_hint", "")
    if hint:
        identifier += f" ({hint})"
    if not required and "optional" not in hint:
        identifier += "; optional"
    elif get("accepts_npi", False) and "NPI" not in hint:
        identifier += "; or the NPI"
    return RecipientLine(
        code=get("code"),
        name=get("name"),
        kind=_KIND_NAMES.get(get("kind"), get("kind")),
        identifier=identifier,
        credit_types=tuple(get("credit_types", None) or ()),
        required=tuple(get("completion_fields", None) or ()),
    )


def seed_recipients() -> list[RecipientLine]:
    """The recipients PARS is seeded with (for the guide, and without a database)."""
    return [_line(row) for row in sorted(SEED_RECIPIENTS, key=lambda row: row["sort_order"])]


def template_recipients() -> list[RecipientLine]:
    """The active recipients from the database; the seeded ones if it cannot be read."""
    try:
        return [_line(row) for row in Recipient.objects.filter(active=True)]
    except DatabaseError:
        logger.warning("Recipients unreadable; the learner template lists the seeded ones")
        return seed_recipients()


def template_columns() -> list[FieldSpec]:
    """The template's columns, in order: Action, then the dictionary's completion fields."""
    return [ACTION_SPEC, *COMPLETION_FIELDS]


def allowed_values(spec: FieldSpec, recipients: Sequence[RecipientLine]) -> list[str]:
    """What a column's drop-down offers (nothing: a free column)."""
    if spec.name == "recipient":
        return [recipient.code for recipient in recipients]
    if spec.kind is Kind.BOOLEAN:
        return ["Yes", "No"]
    if spec.kind is not Kind.CHOICE:
        return []
    if spec.name in _STATE_COLUMNS:
        return sorted(spec.choices)
    return list(spec.choices.values())


def _format(spec: FieldSpec) -> str:
    return _SPECIAL_FORMATS.get(spec.name) or _FORMATS.get(spec.kind, "")


def _allowed_text(spec: FieldSpec, recipients: Sequence[RecipientLine]) -> str:
    if spec.name == "recipient":
        return "; ".join(recipient.code for recipient in recipients) + " (see the recipients)"
    if spec.name == "learner_id":
        return "The recipient's form (see the recipients)"
    if spec.name == "moc_credit_types":
        return "The board's credit types the activity is registered for (see the recipients)"
    if spec.name in _STATE_COLUMNS:
        return "USPS code (AL … WY, DC and the territories)"
    return "; ".join(allowed_values(spec, recipients))


def _aliases(spec: FieldSpec) -> str:
    return ", ".join(HEADER_ALIASES.get(spec.name, ()))


def write_learner_template(
    stream: IO[bytes], *, recipients: Sequence[RecipientLine] | None = None
) -> None:
    """Write the learner upload template (.xlsx) to a binary stream."""
    if recipients is None:
        recipients = template_recipients()
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Learners"
    instructions = workbook.create_sheet("Instructions")
    lists = workbook.create_sheet("Lists")
    columns = template_columns()

    sheet.append([escape_formula(spec.label) for spec in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"

    list_ranges: dict[str, str] = {}
    for index, spec in enumerate(columns, start=1):
        letter = get_column_letter(index)
        dimension = sheet.column_dimensions[letter]
        dimension.width = max(12, min(36, len(spec.label) + 4))
        if spec.kind is Kind.DATE:
            dimension.number_format = "mm/dd/yyyy"
        elif spec.name in _TEXT_COLUMNS:
            dimension.number_format = "@"
        values = allowed_values(spec, recipients)
        if not values:
            continue
        key = spec.name
        if spec.kind is Kind.BOOLEAN:
            key = "yes_no"
        elif spec.name in _STATE_COLUMNS:
            key = "states"
        if key not in list_ranges:
            title = {"yes_no": "Yes/No", "states": "States"}.get(key, spec.label)
            list_ranges[key] = _add_list(lists, title, values)
        validation = DataValidation(
            type="list",
            formula1=list_ranges[key],
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="warning",
            errorTitle="Not an allowed value",
            error=f"{spec.label}: choose one of the listed values (see the Instructions sheet).",
            showInputMessage=bool(spec.help),
            promptTitle=spec.label[:32],
            prompt=spec.help[:255] or None,
        )
        validation.add(f"{letter}2:{letter}{_LAST_ROW}")
        sheet.add_data_validation(validation)

    _write_instructions(instructions, columns, recipients)
    workbook.save(stream)


def _add_list(lists: Any, title: str, values: list[str]) -> str:
    column = lists.max_column + 1 if lists["A1"].value else 1
    letter = get_column_letter(column)
    lists.cell(row=1, column=column, value=title).font = Font(bold=True)
    for row, value in enumerate(values, start=2):
        lists.cell(row=row, column=column, value=escape_formula(value))
    lists.column_dimensions[letter].width = max(12, min(40, len(title) + 4))
    return f"Lists!${letter}$2:${letter}${len(values) + 1}"


_NOTES = (
    "How to fill in the Learners sheet",
    "One completion per row: one learner, one activity, one recipient. A learner who earned "
    "credit for two recipients (ABIM and the Tennessee board, say) takes two rows.",
    "Keep the header row. Columns may be reordered or left out; the header text names each "
    "column (other spellings are accepted: see the learner file guide).",
    "Give the Provider Activity ID or the ACCME Activity ID; the activity must be registered "
    "for the recipient (Activity → Registrations).",
    "The file is applied row by row: valid rows are applied, rows with errors are listed with "
    "the field and the reason. Uploading the corrected file again is safe: rows already in "
    "PARS change nothing and nothing is sent twice.",
    "Learner identifiers and birth dates are personal data: they are only sent to the row's "
    "recipient and never shown in error messages.",
    "",
)


def _write_instructions(
    sheet: Any, columns: list[FieldSpec], recipients: Sequence[RecipientLine]
) -> None:
    for note in _NOTES:
        sheet.append([note])
    sheet["A1"].font = Font(bold=True, size=13)
    bold_rows = [len(_NOTES) + 1]
    sheet.append(["Column", "What it means", "Format", "Allowed values", "Other header names"])
    for spec in columns:
        sheet.append(
            [
                escape_formula(spec.label),
                spec.help,
                _format(spec),
                _allowed_text(spec, recipients),
                _aliases(spec),
            ]
        )
    sheet.append([])
    bold_rows.append(sheet.max_row + 1)
    sheet.append(["Recipient code", "Name", "Kind", "Learner ID", "MOC credit types / required"])
    for recipient in recipients:
        sheet.append(
            [
                recipient.code,
                recipient.name,
                recipient.kind,
                recipient.identifier,
                _recipient_needs(recipient),
            ]
        )
    for row in bold_rows:
        for cell in sheet[row]:
            cell.font = Font(bold=True)
    for letter, width in {"A": 30, "B": 70, "C": 30, "D": 50, "E": 50}.items():
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=len(_NOTES) + 2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


_LABELS = {spec.name: spec.label for spec in COMPLETION_FIELDS}


def _recipient_needs(recipient: RecipientLine) -> str:
    parts = []
    if recipient.credit_types:
        parts.append("Credit types: " + "; ".join(recipient.credit_types))
    if recipient.required:
        parts.append(
            "Requires: " + ", ".join(_LABELS.get(name, name) for name in recipient.required)
        )
    return ". ".join(parts)


# ---------------------------------------------------------------------------
# The same guide in Markdown (docs/learner-files.md, checked by the tests)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def columns_markdown(recipients: Sequence[RecipientLine] | None = None) -> str:
    """The columns table of the learner file guide."""
    recipients = seed_recipients() if recipients is None else recipients
    lines = [
        "| header | field | format | allowed values | other header names | what it means |",
        "|---|---|---|---|---|---|",
    ]
    for spec in template_columns():
        lines.append(
            "| "
            + " | ".join(
                _cell(text)
                for text in (
                    spec.label,
                    f"`{spec.name}`",
                    _format(spec),
                    _allowed_text(spec, recipients),
                    _aliases(spec),
                    spec.help,
                )
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def recipients_markdown(recipients: Sequence[RecipientLine] | None = None) -> str:
    """The recipients table of the learner file guide (the seeded recipients by default)."""
    recipients = seed_recipients() if recipients is None else recipients
    lines = ["| code | recipient | kind | learner ID | notes |", "|---|---|---|---|---|"]
    for recipient in recipients:
        lines.append(
            "| "
            + " | ".join(
                _cell(text)
                for text in (
                    f"`{recipient.code}`",
                    recipient.name,
                    recipient.kind,
                    recipient.identifier,
                    _recipient_needs(recipient),
                )
            )
            + " |"
        )
    return "\n".join(lines) + "\n"
