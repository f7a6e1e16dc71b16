"""Header matching: which field each column of a header row holds.

Spreadsheets written by hand and by other systems spell the same header many ways
("Date of Birth", "DATE_OF_BIRTH", "1. Date of birth:"), so headers are compared by
:func:`normalise_header`, and each record kind lists, per field, the header texts it
accepts (the dictionary label and name plus documented aliases). A column that names
no field is reported as ignored, so the upload result can say what it did not read.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NUMBER_PREFIX = re.compile(r"^\s*\d+\s*\.\s*")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_header(text: Any) -> str:
    """Header text for comparison: no "n. " prefix, no case, letters and digits only."""
    if text is None:
        return ""
    stripped = _NUMBER_PREFIX.sub("", str(text).replace("\ufeff", ""), count=1)
    return _NOT_ALNUM.sub("", stripped.casefold())


@dataclass(frozen=True)
class HeaderMatch:
    """The field of each column (None: not read), and the header texts of the columns
    that named no field or named one a second time."""

    fields: list[str | None]
    ignored: list[str]
    repeated: list[str]

    @property
    def found(self) -> frozenset[str]:
        return frozenset(name for name in self.fields if name)


class HeaderIndex:
    """The header texts a record kind accepts, by normalized key.

    Built from ``(field name, header texts)`` pairs in order of preference: a key
    claimed by an earlier field is not taken by a later alias.
    """

    def __init__(self, names: Iterable[tuple[str, Iterable[str]]]) -> None:
        self._by_key: dict[str, str] = {}
        for name, texts in names:
            for text in texts:
                key = normalise_header(text)
                if key:
                    self._by_key.setdefault(key, name)

    @classmethod
    def from_labels(
        cls,
        labels: Mapping[str, str],
        aliases: Mapping[str, Sequence[str]] | None = None,
    ) -> HeaderIndex:
        """Each field's label and name first, then its aliases."""
        aliases = aliases or {}
        return cls(
            [(name, (label, name)) for name, label in labels.items()]
            + [(name, tuple(texts)) for name, texts in aliases.items()]
        )

    def extended(self, names: Iterable[tuple[str, Iterable[str]]]) -> HeaderIndex:
        """A copy that also accepts `names` (after every text it accepts already)."""
        copy = HeaderIndex(())
        copy._by_key = dict(self._by_key)
        for name, texts in names:
            for text in texts:
                key = normalise_header(text)
                if key:
                    copy._by_key.setdefault(key, name)
        return copy

    def field(self, text: Any) -> str | None:
        return self._by_key.get(normalise_header(text))

    def match(self, cells: Sequence[Any], repeatable: Collection[str] = ()) -> HeaderMatch:
        """Each column's field; a field in `repeatable` may head several columns."""
        fields: list[str | None] = []
        ignored: list[str] = []
        repeated: list[str] = []
        seen: set[str] = set()
        for cell in cells:
            text = "" if cell is None else str(cell).strip()
            name = self.field(text)
            if name is None:
                if text:
                    ignored.append(text)
                fields.append(None)
                continue
            if name in seen and name not in repeatable:
                repeated.append(text)
            seen.add(name)
            fields.append(name)
        return HeaderMatch(fields, ignored, repeated)
