"""US spelling in everything a person reads: templates and emails, the messages and labels
in the code, the docs. Code names (``licence_states``, ``normalise_header``, rule IDs and
API fields) may keep their spelling: renaming them would change a contract or the database.
A header alias marked "British spelling" is input PARS reads, never shown."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

from pars.learners.dictionary import HEADER_ALIASES

ROOT = Path(__file__).parents[2]
# British spelling -> US: a short list of the words PARS's subject uses.
BRITISH = {
    "licence": "license",
    "organisation": "organization",
    "organisational": "organizational",
    "catalogue": "catalog",
    "recognise": "recognize",
    "normalise": "normalize",
    "authorise": "authorize",
    "colour": "color",
    "behaviour": "behavior",
    "centre": "center",
    "honour": "honor",
    "analyse": "analyze",
    "summarise": "summarize",
    "enrolment": "enrollment",
    "cancelled": "canceled",
    "judgement": "judgment",
    "programme": "program",
}
# A word as prose has it: not part of a code name (snake_case, dotted rule IDs, paths, `code`).
WORD = re.compile(
    r"(?<![\w.\-/@#`:])(" + "|".join(BRITISH) + r")(s|d|ed|es|ing|al|ation)?(?![\w\-/`]|\.\w|:\w)",
    re.IGNORECASE,
)
ALLOWED = "British spelling"  # a line that says so holds input PARS reads
# Header names PARS reads in British spelling too (files have them): listed, not prose.
ACCEPTED_INPUT = [
    alias
    for aliases in HEADER_ALIASES.values()
    for alias in aliases
    if WORD.search(alias) and WORD.sub(lambda m: BRITISH[m.group(1).lower()], alias) != alias
]


def _prose_in_python(path: Path) -> list[tuple[int, str]]:
    """The string literals of a module that hold prose (a one-word string is a code)."""
    found = []
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.STRING, tokenize.FSTRING_MIDDLE):
            continue
        inner = token.string.strip("rbfuRBFU").strip("\"'")
        if not any(character.isspace() for character in inner):
            continue
        if ALLOWED in lines[token.start[0] - 1]:
            continue
        found += [(token.start[0], match.group()) for match in WORD.finditer(token.string)]
    return found


def _in_text(path: Path) -> list[tuple[int, str]]:
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        for alias in ACCEPTED_INPUT:  # e.g. the learner guide's "other header names"
            line = line.replace(alias, "")
        found += [(number, match.group()) for match in WORD.finditer(line)]
    return found


def test_the_check_finds_british_spelling() -> None:
    assert "Licence Number" in ACCEPTED_INPUT
    assert WORD.findall("The licence number of the organisation's catalogue.")
    assert not WORD.findall("licence_states, normalise_header(), learner.licence.invalid")


def test_pages_emails_and_docs_use_us_spelling() -> None:
    texts = [
        *ROOT.joinpath("pars").rglob("templates/**/*.html"),
        *ROOT.joinpath("pars").rglob("templates/**/*.txt"),
        *ROOT.joinpath("docs").glob("*.md"),
        ROOT / "README.md",
    ]
    found = {str(path.relative_to(ROOT)): _in_text(path) for path in texts}
    assert {path: words for path, words in found.items() if words} == {}


def test_messages_and_labels_in_the_code_use_us_spelling() -> None:
    modules = [
        path for path in ROOT.joinpath("pars").rglob("*.py") if "migrations" not in path.parts
    ]
    assert len(modules) > 100
    found = {str(path.relative_to(ROOT)): _prose_in_python(path) for path in modules}
    assert {path: words for path, words in found.items() if words} == {}
