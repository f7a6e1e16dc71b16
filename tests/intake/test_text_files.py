"""Text files as real tools write them, read alike for both record kinds.

Windows Excel's "Text (Tab delimited)" writes Windows-1252, its "Unicode Text" UTF-16
with a byte-order mark, and LMS exports are comma-separated; every one must read to
the same values as the UTF-8 tab-delimited file.
"""

from __future__ import annotations

import io

import pytest

from pars.activities.parsers.tsv import read_tsv
from pars.intake.readers.delimited import TextSource
from pars.learners.parsers import read_learner_tsv

# In Windows-1252: U+2019 is 0x92, é 0xE9 and U+2013 0x96.
NAME = "Se\u00e1n O\u2019Brien\u2013Caf\u00e9"


def _text(delimiter: str, rows: list[list[str]]) -> str:
    return "".join(delimiter.join(cells) + "\r\n" for cells in rows)


LEARNER_ROWS = [
    ["First Name", "Last Name", "Completion Date"],
    [NAME, "Smith, Jr.", "2026-03-01"],
]
ACTIVITY_ROWS = [["Provider Activity ID", "Activity Title"], ["A-1", NAME]]


def _quoted(rows: list[list[str]]) -> list[list[str]]:
    return [[f'"{cell}"' if "," in cell else cell for cell in cells] for cells in rows]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "name", "said"),
    [
        ("utf-8", "\t", "learners.txt", []),
        ("utf-8-sig", "\t", "learners.txt", []),
        ("cp1252", "\t", "learners.txt", ["read as Windows-1252"]),
        ("utf-16", "\t", "learners.txt", ["read as UTF-16"]),
        ("cp1252", ",", "export.csv", ["read as Windows-1252", "read as comma-separated values"]),
        ("utf-8", ";", "export.csv", ["read as semicolon-separated values"]),
    ],
)
def test_learner_and_activity_files_read_alike(
    encoding: str, delimiter: str, name: str, said: list[str]
) -> None:
    learners = _text(delimiter, _quoted(LEARNER_ROWS)).encode(encoding)
    source = TextSource()
    rows = list(read_learner_tsv(io.BytesIO(learners), source, name=name))
    assert [(row.row, row.data) for row in rows] == [
        (2, {"first_name": NAME, "last_name": "Smith, Jr.", "completion_date": "2026-03-01"})
    ]
    assert source.notices == said

    activities = _text(delimiter, _quoted(ACTIVITY_ROWS)).encode(encoding)
    source = TextSource()
    _, parsed = read_tsv(io.BytesIO(activities), source, name=name)
    assert [(row.row, row.data["title"]) for row in parsed] == [(2, NAME)]
    assert source.notices == said
