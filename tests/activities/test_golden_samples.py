"""The golden samples: the same activities as TSV, XLSX, XML and JSON read to identical records."""

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from pars.activities.parsers.tsv import read_tsv
from pars.activities.parsers.xlsx import read_xlsx
from pars.activities.parsers.xml import read_xml
from pars.activities.validation import CleanActivity, validate_activity

DATA = Path(__file__).parent / "data"
TODAY = datetime.date(2026, 11, 27)


def _records(rows: Any) -> dict[str, CleanActivity]:
    records = {}
    for row, data in rows:
        clean, errors = validate_activity(data, row=row, today=TODAY)
        assert errors == [], errors
        assert clean is not None
        records[clean.provider_activity_id] = clean
    return records


def _tsv() -> dict[str, CleanActivity]:
    with (DATA / "golden_current.tsv").open("rb") as stream:
        _, rows = read_tsv(stream)
        return _records((row.row, row.data) for row in rows)


def _xlsx() -> dict[str, CleanActivity]:
    _, rows = read_xlsx(DATA / "golden_current.xlsx")
    return _records((row.row, row.data) for row in rows)


def _xml() -> dict[str, CleanActivity]:
    with (DATA / "golden_current.xml").open("rb") as stream:
        return _records((row.row, row.data) for row in read_xml(stream))


def _json() -> dict[str, CleanActivity]:
    bodies = json.loads((DATA / "golden_current.json").read_text())
    return _records(enumerate(bodies, start=1))


def _comparable(record: CleanActivity) -> tuple[Any, ...]:
    # Supporter order is not meaningful across formats (XML groups money first).
    supporters = sorted(record.supporters, key=lambda supporter: supporter["source"])
    return (record.action, record.values, supporters)


@pytest.mark.parametrize("read", [_xlsx, _xml, _json], ids=["xlsx", "xml", "json"])
def test_each_format_reads_to_the_same_records_as_the_tsv(read: Any) -> None:
    expected = {key: _comparable(record) for key, record in _tsv().items()}
    assert len(expected) == 5
    assert {key: _comparable(record) for key, record in read().items()} == expected


def test_the_documented_layout_lists_every_column_of_the_template() -> None:
    from pars.activities.parsers.layouts import CURRENT

    doc = (Path(__file__).parents[2] / "docs" / "activity-files.md").read_text()
    for column in CURRENT.columns:
        assert f"| {column.header} | `{column.target}` |" in doc, column.header
