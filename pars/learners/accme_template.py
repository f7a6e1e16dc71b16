"""ACCME's learner Excel template (2024 edition) as a download beside PARS's own.

Providers who already fill in ACCME's template keep doing so: this workbook has its
layout (a guidance line in row 1, the header in row 2, state board and board credit
on one row) and is read back by ``pars.learners.parsers.accme``, which splits each row
into one record per recipient. It is written by the shared template writer
(`pars.intake.xlsx_template`), with drop-downs from the learner dictionary and the
recipient table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from pars.activities.dictionary import US_STATE_NAMES
from pars.intake.fields import FieldSpec, Kind
from pars.intake.xlsx_template import (
    GuideTable,
    TemplateColumn,
    WorkbookTemplate,
    template_column,
    write_template,
)
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME as FIELDS
from pars.learners.xlsx_template import ACTION_SPEC, RecipientLine, template_recipients

GUIDANCE = (
    "ACCME learner template (2024 edition) for PARS. Keep this line and the header below. "
    "One row per learner and activity: fill in Licensing State, Licensing ID or NPI and "
    "Number of CME Credits for a state board, Certifying Board, Certifying Board ID, Total "
    "Board Credits and Credit Type for a certifying board, or both on one row. "
    "Date of Birth is MM/DD."
)


def _spec(name: str, label: str, kind: Kind, help_text: str) -> FieldSpec:
    return FieldSpec(name, label, kind, help_text)


_BOARD = _spec("board", "Certifying Board", Kind.CHOICE, "The certifying board's code.")
_BOARD_ID = _spec("board_id", "Certifying Board ID", Kind.TEXT, "The learner's board ID.")
_BOARD_CREDITS = _spec(
    "board_credits", "Total Board Credits", Kind.DECIMAL, "MOC points or credits, in all."
)
_CREDIT_TYPE = _spec("credit_type", "Credit Type", Kind.TEXT, "One of the board's credit types.")
_TYPE_CREDITS = _spec(
    "type_credits", "Credits Awarded for Credit Type", Kind.DECIMAL, "Credits of that type."
)
_LICENCE = _spec(
    "licence", "Licensing ID or NPI", Kind.TEXT, "The state medical license number or the NPI."
)


def _columns(recipients: Sequence[RecipientLine]) -> list[TemplateColumn]:
    boards = [line.code for line in recipients if line.kind.startswith("Certifying board")]
    states = ("states", "States")
    return [
        template_column("Record Action", ACTION_SPEC),
        template_column("ACCME Activity ID", FIELDS["accme_activity_id"], as_text=True),
        template_column("Completion Date", FIELDS["completion_date"]),
        template_column("First Name", FIELDS["first_name"]),
        template_column("Last Name", FIELDS["last_name"]),
        template_column("Date of Birth", FIELDS["birth_date"], as_text=True),
        template_column(
            "Licensing State",
            FIELDS["license_state"],
            values=list(US_STATE_NAMES.values()),
            shared_list=states,
        ),
        template_column("Licensing ID or NPI", _LICENCE, as_text=True),
        template_column("Number of CME Credits", FIELDS["cme_credits"]),
        template_column("Certifying Board", _BOARD, values=boards),
        template_column("Certifying Board ID", _BOARD_ID, as_text=True),
        template_column("Total Board Credits", _BOARD_CREDITS),
        template_column("Credit Type", _CREDIT_TYPE),
        template_column("Credits Awarded for Credit Type", _TYPE_CREDITS),
        template_column("Additional Credit Type", _CREDIT_TYPE),
        template_column("Credits Awarded for Additional Credit Type", _TYPE_CREDITS),
    ]


def write_accme_learner_template(
    stream: IO[bytes], *, recipients: Sequence[RecipientLine] | None = None
) -> None:
    """Write ACCME's learner template layout (.xlsx) to a binary stream."""
    if recipients is None:
        recipients = template_recipients()
    columns = _columns(recipients)
    template = WorkbookTemplate(
        sheet="Learners",
        columns=columns,
        notes=(
            "ACCME's learner template, read by PARS",
            "PARS reads this layout as ACCME's template: the guidance line is skipped and a "
            "row with both state-board and board credit becomes one record per recipient. "
            "The learner file guide (Accepted files, on the upload page) describes it.",
            "",
        ),
        tables=[
            GuideTable(
                ["Column", "What it holds"],
                [[column.header, column.spec.help] for column in columns],
            ),
            GuideTable(
                ["Certifying board", "Name", "Credit types"],
                [
                    [line.code, line.name, "; ".join(line.credit_types)]
                    for line in recipients
                    if line.kind.startswith("Certifying board")
                ],
            ),
        ],
        guide_widths={"A": 40, "B": 70, "C": 60},
        column_widths=(12, 30),
        guidance=GUIDANCE,
    )
    write_template(stream, template)
