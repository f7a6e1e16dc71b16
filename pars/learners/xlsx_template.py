"""The downloadable Excel learner template, and the column guide it shares with the docs.

``write_learner_template(stream)`` writes, through the shared writer
(`pars.intake.xlsx_template`), a workbook with three sheets:

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

from pars.intake.fields import FieldSpec, Kind
from pars.intake.xlsx_template import (
    FORMATS,
    SAVING_NOTE,
    GuideTable,
    TemplateColumn,
    WorkbookTemplate,
    allowed_values,
    template_column,
    write_template,
)
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    HEADER_ALIASES,
    RECORD_ACTIONS,
    SEED_RECIPIENTS,
)
from pars.learners.models import Recipient
from pars.learners.parsers import EXTRA_COLUMNS

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

ACTION_SPEC = FieldSpec(
    "action",
    EXTRA_COLUMNS["action"],
    Kind.CHOICE,
    "Add (or blank) adds the completion, or corrects it if the same learner, activity, "
    "recipient and date is already in PARS. Delete withdraws it from the recipient.",
    choices=RECORD_ACTIONS,
)

_FORMATS = {
    **FORMATS,
    Kind.DATE: "Date (mm/dd/yyyy or yyyy-mm-dd, or an Excel date)",
    Kind.DECIMAL: "Number, in steps of 0.25",
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


def _column(spec: FieldSpec, recipients: Sequence[RecipientLine]) -> TemplateColumn:
    """A column of the Learners sheet; Recipient offers the recipients' codes."""
    if spec.name == "recipient":
        codes = [recipient.code for recipient in recipients]
        return template_column(spec.label, spec, values=codes)
    if spec.name in _STATE_COLUMNS:  # both state columns read one list of codes
        shared = ("states", "States")
        return template_column(spec.label, spec, codes=True, shared_list=shared)
    return template_column(spec.label, spec, as_text=spec.name in _TEXT_COLUMNS)


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
    return "; ".join(allowed_values(spec))


def _aliases(spec: FieldSpec) -> str:
    return ", ".join(HEADER_ALIASES.get(spec.name, ()))


def write_learner_template(
    stream: IO[bytes], *, recipients: Sequence[RecipientLine] | None = None
) -> None:
    """Write the learner upload template (.xlsx) to a binary stream."""
    if recipients is None:
        recipients = template_recipients()
    columns = template_columns()
    column_guide = [
        [spec.label, spec.help, _format(spec), _allowed_text(spec, recipients), _aliases(spec)]
        for spec in columns
    ]
    recipient_guide = [
        [line.code, line.name, line.kind, line.identifier, _recipient_needs(line)]
        for line in recipients
    ]
    template = WorkbookTemplate(
        sheet="Learners",
        columns=[_column(spec, recipients) for spec in columns],
        notes=_NOTES,
        tables=[
            GuideTable(
                ["Column", "What it means", "Format", "Allowed values", "Other header names"],
                column_guide,
            ),
            GuideTable(
                ["Recipient code", "Name", "Kind", "Learner ID", "MOC credit types / required"],
                recipient_guide,
            ),
        ],
        guide_widths={"A": 30, "B": 70, "C": 30, "D": 50, "E": 50},
        column_widths=(12, 36),
    )
    write_template(stream, template)


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
    SAVING_NOTE,
    "",
)


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
