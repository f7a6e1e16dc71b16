"""Both record kinds' Excel templates come out of the one writer (pars/intake/xlsx_template.py),
each with the drop-downs its data dictionary's code lists call for."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

import openpyxl
import pytest

from pars.activities.xlsx_template import column_specs, write_activity_template
from pars.intake import xlsx_template
from pars.intake.fields import FieldSpec, Kind
from pars.learners.xlsx_template import seed_recipients, template_columns, write_learner_template

RECIPIENTS = seed_recipients()
# Columns whose drop-down offers the dictionary's codes rather than its labels.
CODE_COLUMNS = {"country", "state", "license_state", "practice_state"}


def _expected(spec: FieldSpec) -> list[str]:
    """What the dictionary says a column's drop-down offers (nothing: a free column)."""
    if spec.name == "recipient":
        return [recipient.code for recipient in RECIPIENTS]
    if spec.kind is Kind.BOOLEAN:
        return ["Yes", "No"]
    if spec.kind is not Kind.CHOICE:
        return []
    if spec.name in CODE_COLUMNS:
        return sorted(spec.choices)
    return list(spec.choices.values())


def _write(write: Callable[[IO[bytes]], None]) -> openpyxl.Workbook:
    stream = io.BytesIO()
    write(stream)
    stream.seek(0)
    return openpyxl.load_workbook(stream)


def _drop_downs(workbook: openpyxl.Workbook, sheet_name: str) -> dict[str, list[Any]]:
    """Header: the values its drop-down offers, read from the Lists sheet."""
    sheet = workbook[sheet_name]
    headers = {cell.column_letter: cell.value for cell in sheet[1]}
    lists = workbook["Lists"]
    offered = {}
    for validation in sheet.data_validations.dataValidation:
        cells = str(validation.sqref)
        letter = cells.split(":")[0].rstrip("0123456789")
        assert cells == f"{letter}2:{letter}{xlsx_template.LAST_ROW}"
        first, last = validation.formula1.split("!")[1].replace("$", "").split(":")
        offered[headers[letter]] = [cell.value for (cell,) in lists[first:last]]
    return offered


KINDS = {
    "activities": (write_activity_template, "Activities", lambda: column_specs()),
    "learners": (
        lambda stream: write_learner_template(stream, recipients=RECIPIENTS),
        "Learners",
        lambda: [(spec.label, spec) for spec in template_columns()],
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_writes_its_template_with_the_one_writer(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write, sheet_name, columns = KINDS[kind]
    books: list[Any] = []

    def counted_workbook() -> Any:
        books.append(openpyxl.Workbook())
        return books[-1]

    monkeypatch.setattr(xlsx_template, "Workbook", counted_workbook)
    workbook = _write(write)
    assert len(books) == 1, "the kind's template did not come out of the shared writer"
    assert workbook.sheetnames == [sheet_name, "Instructions", "Lists"]
    header = [cell.value for cell in workbook[sheet_name][1]]
    assert header == [name for name, _ in columns()]
    assert all(cell.font.b for cell in workbook[sheet_name][1])
    assert workbook[sheet_name].freeze_panes == "A2"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_drop_downs_offer_what_the_dictionary_allows(kind: str) -> None:
    write, sheet_name, columns = KINDS[kind]
    offered = _drop_downs(_write(write), sheet_name)
    expected = {name: _expected(spec) for name, spec in columns() if _expected(spec)}
    assert offered == expected
    yes_no = [values for name, values in offered.items() if values == ["Yes", "No"]]
    assert yes_no, "no Yes/No column"


def test_every_table_header_of_the_learner_guide_is_bold() -> None:
    instructions = _write(KINDS["learners"][0])["Instructions"]
    headers = {
        row[0].value: row[0].font.b
        for row in instructions.iter_rows()
        if row[0].value in ("Column", "Recipient code")
    }
    assert headers == {"Column": True, "Recipient code": True}
