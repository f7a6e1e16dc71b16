"""Reading raw values the same way in every validator: blanks, Yes/No words, dates,
numbers, code lists and text.

Parsers hand validators strings (text formats) or native values (JSON, Excel). The
readers here turn one raw value into its clean form or raise :class:`Invalid`, naming
the rule by its suffix (``invalid``, ``too_long``...); each validator prefixes its own
record kind (``activity.start_date.invalid``, ``learner.cme_credits.step``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from pars.lib.text import CONTROL_CHARACTER_RULE, control_character, control_character_message

YES_WORDS = frozenset({"yes", "y", "true", "1"})
NO_WORDS = frozenset({"no", "n", "false", "0"})

DATE_FORMS = "a date as mm/dd/yyyy or yyyy-mm-dd"


class Invalid(Exception):
    """A value that cannot be read as its field's kind: the rule suffix (or, for a rule
    shared by many fields, the whole rule ID) and the message."""

    def __init__(self, suffix: str, message: str, rule: str | None = None) -> None:
        self.suffix = suffix
        self.message = message
        self.rule = rule

    def rule_id(self, prefix: str, rule_field: str) -> str:
        return self.rule or f"{prefix}.{rule_field}.{self.suffix}"


def is_blank(value: Any) -> bool:
    """No value: None, an empty or all-space string, an empty list."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple):
        return not value
    return False


def whole_text(value: Any) -> str:
    """A raw value as text; a whole float (a number typed into a spreadsheet cell or a
    JSON number) loses its ``.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def shown(value: Any, limit: int | None = None) -> str:
    """A value as an error message quotes it, the same whichever channel it came from."""
    if isinstance(value, bool):
        value = "Yes" if value else "No"
    text = whole_text(value)
    return f"'{text[:limit] if limit else text}'"


# ---------------------------------------------------------------------------
# Dates: mm/dd/yyyy (one- or two-digit month and day) or ISO yyyy-mm-dd (two-digit
# month and day, as ISO 8601 writes them; an optional time part is ignored).

_DATE_PATTERNS = (
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), ("m", "d", "y")),
    (
        re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$"),
        ("y", "m", "d"),
    ),
)


@lru_cache(maxsize=20_000)
def parse_date(text: str) -> datetime.date | None:
    """A date written as text, or None; big files repeat the same dates, hence the cache."""
    for pattern, order in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            parts = dict(zip(order, (int(group) for group in match.groups()), strict=True))
            try:
                return datetime.date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                return None
    return None


def as_date(value: Any) -> datetime.date | None:
    """A raw value (text, or a date from Excel or JSON) as a date, or None."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return parse_date(str(value).strip())


def read_date(label: str, value: Any, *, limit: int | None = None) -> datetime.date:
    day = as_date(value)
    if day is None:
        raise Invalid("invalid", f"{label} must be {DATE_FORMS}; got {shown(value, limit)}.")
    return day


# ---------------------------------------------------------------------------
# Numbers

# No count, credit or amount PARS takes comes near this; it also keeps "1e2000000" (a valid
# Decimal that would take minutes to expand) from reaching int() or a quantize.
NUMBER_CEILING = Decimal(10) ** 15


_PLACES_WORDS = {0: "no", 1: "one", 2: "two"}


@lru_cache(maxsize=5_000)
def parse_decimal(text: str) -> Decimal | None:
    """A finite number written as text (thousands commas allowed), or None."""
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def read_decimal(
    label: str,
    value: Any,
    *,
    max_value: Decimal | None = None,
    too_large: str = "too_large",
    step: Decimal | None = None,
    positive: bool = False,
    places: int | None = None,
    limit: int | None = None,
) -> Decimal:
    """A number of 0 or more (more than 0 if ``positive``) within the field's bounds.

    ``too_large`` names the rule suffix for a value above ``max_value`` (a record kind's
    catalog may file it under ``invalid``).
    """
    if isinstance(value, bool):
        raise Invalid("invalid", f"{label} must be a number.")
    number = parse_decimal(whole_text(value))
    if number is None:
        raise Invalid("invalid", f"{label} must be a number; got {shown(value, limit)}.")
    if number < 0 or number > NUMBER_CEILING or (positive and number == 0):
        least = "more than 0" if positive else "0 or more"
        raise Invalid("invalid", f"{label} must be a number of {least}; got {shown(value, limit)}.")
    if max_value is not None and number > max_value:
        raise Invalid(too_large, f"{label} must be at most {max_value}.")
    if places is not None and number != number.quantize(Decimal(1).scaleb(-places)):
        decimals = _PLACES_WORDS.get(places, str(places))
        raise Invalid("invalid", f"{label} has at most {decimals} decimals; got {shown(value)}.")
    if step and number % step:
        raise Invalid("step", f"{label} must be a multiple of {step}; got {number}.")
    return number


def read_whole(
    label: str,
    value: Any,
    *,
    max_value: Decimal | int = NUMBER_CEILING,
    form: str = "a whole number of 0 or more",
    prefix: str = "",
) -> int:
    """A whole number of 0 or more (``prefix``, such as ``$``, may precede it)."""
    text = whole_text(value).removeprefix(prefix) if prefix else whole_text(value)
    number = None if isinstance(value, bool) else parse_decimal(text)
    if number is None or number < 0 or number != number.to_integral():
        raise Invalid("invalid", f"{label} must be {form}; got {shown(value)}.")
    # Compare before int(): "1e2000000" is a valid Decimal that would take minutes to expand.
    if number > max_value:
        raise Invalid("too_large", f"{label} must be at most {max_value:,}.")
    return int(number)


# ---------------------------------------------------------------------------
# Yes/No, code lists, text


def read_boolean(label: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES_WORDS:
        return True
    if text in NO_WORDS:
        return False
    raise Invalid("invalid", f"{label} must be Yes or No; got {shown(value)}.")


def label_lookup(choices: Mapping[str, str]) -> dict[str, str]:
    """Code or label (any case) to code, for a field's allowed values."""
    lookup = {}
    for code, label in choices.items():
        lookup[code.lower()] = code
        lookup[label.lower()] = code
    return lookup


def read_choice(label: str, value: Any, lookup: Mapping[str, str], allowed: str) -> str:
    """The code a value (code or label, any case) names in ``lookup``; ``allowed`` ends
    the message that refuses it."""
    text = str(value).strip()
    code = lookup.get(text.lower())
    if code is None:
        raise Invalid("not_allowed", f"{label}: {shown(text, 40)} is not allowed. {allowed}")
    return code


def choice_codes(value: Any, read_one: Callable[[Any], str]) -> list[str]:
    """A choice-list field's codes (each item read by ``read_one``), in the order given, each
    once."""
    codes: list[str] = []
    for item in list_items(value):
        code = read_one(item)
        if code not in codes:
            codes.append(code)
    return codes


def list_items(value: Any) -> list[Any]:
    """A list field's items: a JSON list, or text separated by semicolons."""
    if isinstance(value, list | tuple):
        return [item for item in value if not is_blank(item)]
    return [part.strip() for part in str(value).split(";") if part.strip()]


def read_text(label: str, value: Any, *, max_length: int | None = None, count: bool = False) -> str:
    """Text without control characters (see `pars.lib.text`), within ``max_length``;
    ``count`` says how long the text is (not for personal fields, whose length is kept out
    of error reports)."""
    text = whole_text(value)
    character = control_character(text)
    if character is not None:
        raise Invalid(
            "control_character",
            control_character_message(label, character),
            rule=CONTROL_CHARACTER_RULE,
        )
    if max_length and len(text) > max_length:
        said = f"; it has {len(text)}." if count else "."
        raise Invalid("too_long", f"{label} must be at most {max_length} characters{said}")
    return text
