"""Reading values: the shared readers (`pars.intake.coerce`) chosen by a field's kind,
and the errors of one record (never quoting a personal value)."""

from __future__ import annotations

import calendar
import datetime
import re
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pars.activities.dictionary import US_STATE_NAMES
from pars.intake.coerce import (
    Invalid,
    choice_codes,
    is_blank,
    label_lookup,
    list_items,
    parse_date,
    read_boolean,
    read_choice,
    read_date,
    read_decimal,
    read_text,
    whole_text,
)
from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldError

from .catalogue import RULES

_MONTH_DAY = re.compile(r"^(\d{1,2})[-/](\d{1,2})$")


@lru_cache(maxsize=2_000)
def parse_month_day(text: str) -> tuple[int, int] | None:
    match = _MONTH_DAY.match(text)
    if match:
        month, day = int(match.group(1)), int(match.group(2))
    else:
        full = parse_date(text)
        if full is None:
            return None
        month, day = full.month, full.day
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2024, month)[1]:
        return None
    return month, day


def month_day(raw: Mapping[str, Any]) -> tuple[int, int] | bool | None:
    """(month, day); None when invalid; False when not given."""
    value = raw.get("birth_date")
    if isinstance(value, datetime.date):
        return value.month, value.day
    if not is_blank(value):
        return parse_month_day(str(value).strip())
    month, day = raw.get("birth_month"), raw.get("birth_day")
    if is_blank(month) and is_blank(day):
        return False
    if is_blank(month) or is_blank(day):
        return None
    return parse_month_day(f"{whole_text(month)}-{whole_text(day)}")


# A choice field's other names for its codes (a state's name for its USPS code).
_STATE_NAMES = {name.lower(): code for code, name in US_STATE_NAMES.items()}
_CHOICE_ALIASES: dict[str, Mapping[str, str]] = {
    "license_state": _STATE_NAMES,
    "practice_state": _STATE_NAMES,
}
# Personal fields: their messages never quote the value nor its length.
_PERSONAL = frozenset({"learner_id", "npi"})

_LOOKUPS: dict[int, tuple[FieldSpec, dict[str, str], str]] = {}


def _lookup(spec: FieldSpec) -> tuple[dict[str, str], str]:
    """The field's code-or-label lookup and the "Allowed: ..." words, once per spec."""
    entry = _LOOKUPS.get(id(spec))
    if entry is None or entry[0] is not spec:
        lookup = label_lookup(spec.choices) | dict(_CHOICE_ALIASES.get(spec.name, {}))
        words = ", ".join(spec.choices.values()) if len(spec.choices) <= 30 else "a USPS code"
        # The spec is kept with the entry, so that its id cannot be reused.
        entry = _LOOKUPS[id(spec)] = (spec, lookup, f"Allowed: {words or 'none'}.")
    return entry[1], entry[2]


def _choice(spec: FieldSpec, value: Any) -> str:
    lookup, allowed = _lookup(spec)
    return read_choice(spec.label, value, lookup, allowed)


def _choice_list(spec: FieldSpec, value: Any) -> list[str]:
    return choice_codes(value, lambda item: _choice(spec, item))


def _text(spec: FieldSpec, value: Any) -> str:
    return read_text(
        spec.label, value, max_length=spec.max_length, count=spec.name not in _PERSONAL
    )


def _decimal(spec: FieldSpec, value: Any) -> Decimal:
    # The learner catalog files a value over the field's maximum under "invalid".
    return read_decimal(
        spec.label, value, max_value=spec.max_value, too_large="invalid", step=spec.step, limit=20
    )


_READERS: dict[Kind, Callable[[FieldSpec, Any], Any]] = {
    Kind.TEXT: _text,
    Kind.TEXT_LIST: lambda spec, value: [_text(spec, item) for item in list_items(value)],
    Kind.DECIMAL: _decimal,
    Kind.DATE: lambda spec, value: read_date(spec.label, value, limit=20),
    Kind.BOOLEAN: lambda spec, value: read_boolean(spec.label, value),
    Kind.CHOICE: _choice,
    Kind.CHOICE_LIST: _choice_list,
}


def read_value(spec: FieldSpec, value: Any) -> Any:
    """A non-blank raw value read as its field's kind; raises :class:`Invalid`."""
    return _READERS[spec.kind](spec, value)


def npi_is_valid(npi: str) -> bool:
    """10 digits whose last is the Luhn check digit over the prefix 80840 + the first 9."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 24  # the constant contribution of the "80840" prefix
    for index, char in enumerate(reversed(npi[:9])):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


class _Errors:
    __slots__ = ("errors", "row")

    def __init__(self, row: int | None) -> None:
        self.row = row
        self.errors: list[FieldError] = []

    def add(self, field_name: str, rule: str, message: str | None = None) -> None:
        if (
            self.errors
            and rule.endswith(".required")
            and any(e.field == field_name for e in self.errors)
        ):
            return  # already reported as unreadable; "required" would say it twice
        self.errors.append(FieldError(self.row, field_name, rule, message or RULES[rule].message))

    def read(self, spec: FieldSpec, value: Any) -> Any:
        """The field's clean value, or its empty value after reporting why not."""
        if is_blank(value):
            return spec.empty
        try:
            return read_value(spec, value)
        except Invalid as invalid:
            self.add(spec.name, invalid.rule_id("learner", spec.name), invalid.message)
            return spec.empty

    def check_limits(self, spec: FieldSpec, value: Any, record: Mapping[str, Any]) -> None:
        """The field's further limits (a recipient's, see Limit) on its clean value; a
        field already refused is not judged again."""
        if not spec.limits or (self.errors and any(e.field == spec.name for e in self.errors)):
            return
        for limit in spec.limits:
            if limit.refuses(value, record):
                self.add(spec.name, f"learner.{spec.name}.{limit.suffix}", limit.message_for(value))
                return


# ---------------------------------------------------------------------------
# Field readers built once per spec. A file's cells are mostly plain text: a cell that
# is a str with no control or other non-printable character, within the length, the
# code list, the dates or the numbers already read, is taken without the general path's
# dispatch; every other value goes through _Errors.read, which decides (and reports)
# exactly as before. tests/learners/test_fast_paths.py checks the two agree.

FieldReader = Callable[[Any, _Errors], Any]
_FIELD_READERS: dict[int, tuple[FieldSpec, FieldReader]] = {}
_KNOWN_LIMIT = 2_000  # numbers remembered per field (credits repeat from row to row)


def field_reader(spec: FieldSpec) -> FieldReader:
    """``reader(value, errors)``: what ``errors.read(spec, value)`` gives, faster."""
    entry = _FIELD_READERS.get(id(spec))
    if entry is None or entry[0] is not spec:
        build = _FAST_BUILDERS.get(spec.kind)
        reader = build(spec) if build is not None else _general_reader(spec)
        if len(_FIELD_READERS) >= 5_000:
            _FIELD_READERS.clear()
        # The spec is kept with the entry, so that its id cannot be reused.
        entry = _FIELD_READERS[id(spec)] = (spec, reader)
    return entry[1]


def _general_reader(spec: FieldSpec) -> FieldReader:
    return lambda value, errors: errors.read(spec, value)


def _fast_text(spec: FieldSpec) -> FieldReader:
    longest = spec.max_length or sys.maxsize  # read_text: no limit when 0 or None

    def read(value: Any, errors: _Errors) -> Any:
        if type(value) is str:
            text = value.strip()
            if not text:
                return ""
            # isprintable(): no control character (and no other one to look at twice).
            if len(text) <= longest and text.isprintable():
                return text
        elif value is None:  # a column the file does not have
            return ""
        return errors.read(spec, value)

    return read


def _fast_choice(spec: FieldSpec) -> FieldReader:
    lookup, _ = _lookup(spec)

    def read(value: Any, errors: _Errors) -> Any:
        if type(value) is str:
            text = value.strip()
            if not text:
                return ""
            code = lookup.get(text.lower())
            if code is not None:
                return code
        elif value is None:
            return ""
        return errors.read(spec, value)

    return read


def _fast_date(spec: FieldSpec) -> FieldReader:
    def read(value: Any, errors: _Errors) -> Any:
        if type(value) is str:
            text = value.strip()
            if not text:
                return None
            day = parse_date(text)
            if day is not None:
                return day
        elif value is None:
            return None
        return errors.read(spec, value)

    return read


def _fast_decimal(spec: FieldSpec) -> FieldReader:
    # The texts this field read without error, and their numbers (Decimal is immutable).
    known: dict[str, Decimal] = {}

    def read(value: Any, errors: _Errors) -> Any:
        if type(value) is str:
            number = known.get(value)
            if number is not None:
                return number
            if not is_blank(value):
                try:
                    number = read_value(spec, value)
                except Invalid:
                    return errors.read(spec, value)  # reported as the general path does
                if len(known) < _KNOWN_LIMIT:
                    known[value] = number
                return number
        return errors.read(spec, value)

    return read


_FAST_BUILDERS: dict[Kind, Callable[[FieldSpec], FieldReader]] = {
    Kind.TEXT: _fast_text,
    Kind.CHOICE: _fast_choice,
    Kind.DATE: _fast_date,
    Kind.DECIMAL: _fast_decimal,
}


_MAPPING_READERS: dict[int, tuple[Mapping[str, FieldSpec], dict[str, FieldReader]]] = {}


def field_readers(specs: Mapping[str, FieldSpec]) -> dict[str, FieldReader]:
    """Each field's reader (see field_reader) by name, once per mapping of specs (the
    dictionary's, or a recipient's on a day: recipient_specs())."""
    entry = _MAPPING_READERS.get(id(specs))
    if entry is None or entry[0] is not specs:
        if len(_MAPPING_READERS) >= 1_000:
            _MAPPING_READERS.clear()
        readers = {name: field_reader(spec) for name, spec in specs.items()}
        # The mapping is kept with the entry, so that its id cannot be reused.
        entry = _MAPPING_READERS[id(specs)] = (specs, readers)
    return entry[1]


# A field's limits (a recipient's: its identifier's form, its state, its window) judge
# a value that is not blank by the value alone (Limit.refuses): the verdict on each such
# text or date is remembered per field, as IDs, states and dates repeat in big files.
LimitChecker = Callable[[Any, Mapping[str, Any], _Errors], None]
_KNOWN_VERDICTS = 2_000  # per field: dates and states repeat; learner IDs rarely
_MAPPING_CHECKERS: dict[int, tuple[Mapping[str, FieldSpec], dict[str, LimitChecker]]] = {}


def limit_checkers(specs: Mapping[str, FieldSpec]) -> dict[str, LimitChecker]:
    """``check(value, record, errors)`` of each field with limits, by name: what
    ``errors.check_limits(spec, value, record)`` does, faster (once per mapping of specs)."""
    entry = _MAPPING_CHECKERS.get(id(specs))
    if entry is None or entry[0] is not specs:
        if len(_MAPPING_CHECKERS) >= 1_000:
            _MAPPING_CHECKERS.clear()
        checkers = {name: _limit_checker(spec) for name, spec in specs.items() if spec.limits}
        # The mapping is kept with the entry, so that its id cannot be reused.
        entry = _MAPPING_CHECKERS[id(specs)] = (specs, checkers)
    return entry[1]


def _limit_checker(spec: FieldSpec) -> LimitChecker:
    limits = spec.limits
    name = spec.name
    verdicts: dict[Any, int] = {}  # value: the index of the first limit refusing it, or -1

    def check(value: Any, record: Mapping[str, Any], errors: _Errors) -> None:
        kind = type(value)
        if not ((kind is str and value) or kind is datetime.date):
            errors.check_limits(spec, value, record)  # blank, or another type
            return
        if errors.errors and any(error.field == name for error in errors.errors):
            return  # a field already refused is not judged again
        verdict = verdicts.get(value)
        if verdict is None:
            verdict = next(
                (index for index, limit in enumerate(limits) if limit.refuses(value, record)), -1
            )
            if len(verdicts) >= _KNOWN_VERDICTS:
                verdicts.clear()
            verdicts[value] = verdict
        if verdict >= 0:
            limit = limits[verdict]
            errors.add(name, f"learner.{name}.{limit.suffix}", limit.message_for(value))

    return check
