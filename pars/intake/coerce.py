"""Reading raw values the same way in every validator: blanks, Yes/No words, code lists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

YES_WORDS = frozenset({"yes", "y", "true", "1"})
NO_WORDS = frozenset({"no", "n", "false", "0"})


def is_blank(value: Any) -> bool:
    """No value: None, an empty or all-space string, an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return not value
    return False


def label_lookup(choices: Mapping[str, str]) -> dict[str, str]:
    """Code or label (any case) to code, for a field's allowed values."""
    lookup = {}
    for code, label in choices.items():
        lookup[code.lower()] = code
        lookup[label.lower()] = code
    return lookup
