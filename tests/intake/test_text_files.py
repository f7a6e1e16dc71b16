"""Text files as real tools write them, read alike for both record kinds.

Windows Excel's "Text (Tab delimited)" writes Windows-1252, its "Unicode Text" UTF-16
with a byte-order mark, and LMS exports are comma-separated; every one must read to
the same values as the UTF-8 tab-delimited file.
"""

from __future__ import annotations

import io

import pytest

from pars.activities.parsers.tsv import read_tsv
from pars.intake.readers import FileRejected, delimited
from pars.intake.readers.delimited import TextSource, read_records
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


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        # ACCME's guidance line, full of commas, above a semicolon header.
        (
            "Enter one row per learner, with board, state, and credits, as below, thanks\r\n"
            "First Name;Last Name;Completion Date\r\nAda;Lovelace;2026-03-01\r\n",
            ";",
        ),
        # A comma inside a name must not outvote the semicolons of a pasted list.
        ("First Name;Last Name\r\nJohn;Smith, Jr., MD\r\n", ";"),
        # A guidance line with commas above a tab header.
        ("Enter learners below, one per row, dates as YYYY-MM-DD\r\nFirst\tLast\r\n", "\t"),
        # A plain CSV with a semicolon inside one cell.
        ("First Name,Last Name\r\nJohn,Smith; MD\r\n", ","),
        ("First Name,Last Name\r\n", ","),
        ("Last Name\r\nSmith\r\n", "\t"),
    ],
)
def test_the_delimiter_is_the_headers_not_a_guidance_lines(text: str, delimiter: str) -> None:
    source = TextSource()
    list(read_records(io.BytesIO(text.encode()), source))
    assert source.delimiter == delimiter


def test_windows_1252_bytes_after_a_utf8_byte_order_mark_are_read_as_windows_1252() -> None:
    content = b"\xef\xbb\xbfFirst Name\tLast Name\r\nAda\tO\x92Neil\r\n"
    source = TextSource()
    rows = list(read_records(io.BytesIO(content), source))
    assert rows == [(1, ["First Name", "Last Name"]), (2, ["Ada", "O\u2019Neil"])]
    assert source.notices == ["read as Windows-1252"]


def test_a_utf16_file_with_a_broken_character_is_refused_by_line() -> None:
    content = "First\tLast\r\n".encode("utf-16") + b"\x00\xd8A\x00\r\x00\n\x00"  # lone surrogate
    with pytest.raises(FileRejected, match=r"starts as UTF-16 but is not valid UTF-16"):
        list(read_records(io.BytesIO(content)))


def test_a_line_at_the_limit_is_read_whatever_its_line_ending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delimited, "MAX_LINE_CHARACTERS", 20)
    at_limit = "a" * 20
    rows = list(read_records(io.BytesIO(f"{at_limit}\r\n{at_limit}\n".encode())))
    assert rows == [(1, [at_limit]), (2, [at_limit])]
    with pytest.raises(FileRejected, match="longer than"):
        list(read_records(io.BytesIO(("a" * 21 + "\r\n").encode())))
