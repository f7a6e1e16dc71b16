"""How an activity field's raw value is read: the coercion of each kind, and the readers
made once per field from the dictionary that the validator applies to a record's cells.

A file has millions of cells, most of them repeats of a few values: each field's text
reader remembers its readings, and a record's plain fields are read by one function
generated per set of fields (no loop, no reader called per cell). The plain loop,
:func:`_read_each`, is kept because the generated readers must equal it
(tests/activities/test_fast_paths.py). A module of its own so that
pars.activities.validation reads as the rules of a record.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from pars.activities.dictionary import (
    ACCEPTED_FORMATS_TEXT,
    COUNTRY_ALIASES,
    FIELDS,
    FIELDS_BY_NAME,
    FIRST_REPORTING_YEAR,
    LAST_REPORTING_YEAR,
    MAX_WHOLE_NUMBER,
    MEASUREMENT_TYPES,
)
from pars.intake.coerce import (
    DATE_FORMS,
    Invalid,
    choice_codes,
    label_lookup,
    list_items,
    read_boolean,
    read_choice,
    read_date,
    read_decimal,
    read_text,
    read_whole,
    shown,
)
from pars.intake.fields import FieldSpec, Kind

# What a value of each kind must be: the words of the "invalid" rules (the validator's
# rule catalog) and of the readers' messages.
_KIND_FORMS = {
    Kind.TEXT: "text",
    Kind.INTEGER: "a whole number of 0 or more",
    Kind.MONEY: "a whole number of US dollars, 0 or more",
    Kind.DECIMAL: "a number",
    Kind.BOOLEAN: "Yes or No",
    Kind.DATE: DATE_FORMS,
    Kind.YEAR: f"a year from {FIRST_REPORTING_YEAR} to {LAST_REPORTING_YEAR}",
    Kind.URL: "a web address starting with http:// or https://",
}


# ---------------------------------------------------------------------------
# Coercion of raw values


# The shared readers (`pars.intake.coerce`) applied with an activity field's limits.
_url_validator = URLValidator(schemes=["http", "https"])


def _as_text(spec: FieldSpec, value: Any) -> str:
    return read_text(spec.label, value, max_length=spec.max_length)


def _as_date(spec: FieldSpec, value: Any) -> datetime.date:
    return read_date(spec.label, value)


def _as_decimal(spec: FieldSpec, value: Any) -> Decimal:
    number = read_decimal(
        spec.label,
        value,
        max_value=spec.max_value,
        step=spec.step,
        positive=spec.positive,
        places=2,
    )
    return number.normalize() if number == number.to_integral() else number


def _as_whole(spec: FieldSpec, value: Any) -> int:
    return read_whole(
        spec.label,
        value,
        max_value=spec.max_value if spec.max_value is not None else MAX_WHOLE_NUMBER,
        form=_KIND_FORMS[spec.kind],
        prefix="$" if spec.kind is Kind.MONEY else "",
    )


def _as_year(spec: FieldSpec, value: Any) -> int:
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    if (
        not re.fullmatch(r"\d{4}", text)
        or not FIRST_REPORTING_YEAR <= int(text) <= LAST_REPORTING_YEAR
    ):
        raise Invalid(
            "invalid",
            f"{spec.label} must be a year from {FIRST_REPORTING_YEAR} to "
            f"{LAST_REPORTING_YEAR}; got {shown(value)}.",
        )
    return int(text)


def _as_boolean(spec: FieldSpec, value: Any) -> bool:
    return read_boolean(spec.label, value)


def _choice_lookup(spec: FieldSpec) -> dict[str, str]:
    lookup = label_lookup(spec.choices)
    if spec.name == "country":
        lookup.update({alias.lower(): code for alias, code in COUNTRY_ALIASES.items()})
    return lookup


@dataclass(frozen=True)
class _Choices:
    """A code field's readings, made once from the dictionary: `exact` holds the
    spellings cells most often have (each code and label as written, in lower and in
    upper case), each with the code `read_choice` gives it, so it answers without
    normalizing; any other text goes through `read_choice` itself."""

    exact: dict[str, str]
    lookup: dict[str, str]
    allowed: str


def _choices(spec: FieldSpec) -> _Choices:
    lookup, allowed = _choice_lookup(spec), _allowed(spec)
    texts = [*spec.choices, *spec.choices.values(), *lookup]
    exact: dict[str, str] = {}
    for form in {form for text in texts for form in (text, text.lower(), text.upper())}:
        try:
            exact[form] = read_choice(spec.label, form, lookup, allowed)
        except Invalid:
            continue
    return _Choices(exact, lookup, allowed)


_LOOKUPS: dict[int, _Choices] = {}


def _choice(spec: FieldSpec, value: Any) -> str:
    choices = _LOOKUPS.get(id(spec))
    if choices is None:
        choices = _LOOKUPS[id(spec)] = _choices(spec)
    if value.__class__ is str:
        code = choices.exact.get(value)
        if code is not None:
            return code
    return read_choice(spec.label, value, choices.lookup, choices.allowed)


def _allowed(spec: FieldSpec) -> str:
    if spec.name == "country":
        return "Use an ISO 3166 alpha-3 code such as USA or CAN."
    if spec.name == "activity_format":
        return ACCEPTED_FORMATS_TEXT
    return "Allowed: " + ", ".join(spec.choices.values()) + "."


_items = list_items


def _choice_list(spec: FieldSpec, value: Any) -> list[str]:
    return choice_codes(value, lambda item: _choice(spec, item))


def _text_list(spec: FieldSpec, value: Any) -> list[str]:
    return [_as_text(spec, item) for item in _items(value)]


def _outcomes(spec: FieldSpec, value: Any) -> list[dict[str, Any]]:
    outcomes: list[dict[str, Any]] = []
    for item in _items(value):
        if isinstance(item, Mapping):
            outcome_raw, types_raw = item.get("outcome", ""), item.get("measurement_types") or []
        else:
            outcome_raw, _, types_text = str(item).partition(":")
            types_raw = [part for part in types_text.split(",") if part.strip()]
        outcome = _choice(spec, outcome_raw)
        types = []
        for raw_type in types_raw if isinstance(types_raw, list) else [types_raw]:
            code = str(raw_type).strip().lower()
            if code not in MEASUREMENT_TYPES:
                raise Invalid(
                    "measurement_type",
                    f"{spec.label}: measurement type {shown(raw_type)} must be Objective "
                    "or Subjective.",
                )
            types.append(code)
        outcomes.append({"outcome": outcome, "measurement_types": types})
    return outcomes


def _url(spec: FieldSpec, value: Any) -> str:
    text = _as_text(spec, value)
    try:
        _url_validator(text)
    except ValidationError:
        raise Invalid("invalid", f"{spec.label} must be {_KIND_FORMS[Kind.URL]}.") from None
    return text


_COERCE: dict[Kind, Callable[[FieldSpec, Any], Any]] = {
    Kind.TEXT: _as_text,
    Kind.INTEGER: _as_whole,
    Kind.MONEY: _as_whole,
    Kind.DECIMAL: _as_decimal,
    Kind.BOOLEAN: _as_boolean,
    Kind.DATE: _as_date,
    Kind.YEAR: _as_year,
    Kind.CHOICE: _choice,
    Kind.CHOICE_LIST: _choice_list,
    Kind.TEXT_LIST: _text_list,
    Kind.URL: _url,
    Kind.OUTCOMES: _outcomes,
}


# ---------------------------------------------------------------------------
# Reading a field's cells

# Big files repeat the same dates, codes and numbers on many rows: each field remembers
# the reading of a text value (its own dictionary, filled as values come) for the kinds
# whose result is immutable; lists are remembered frozen and handed out as fresh copies.
_MEMO_KINDS = frozenset(
    {Kind.DATE, Kind.DECIMAL, Kind.YEAR, Kind.BOOLEAN, Kind.CHOICE, Kind.INTEGER, Kind.MONEY}
)
_MEMO_LIMIT = 20_000  # distinct values remembered per field
_MISSING: Any = object()


@dataclass(frozen=True)
class _Refusal:
    suffix: str
    message: str
    rule: str | None


def _remembering(read: Callable[[str], Any], memo: dict[str, Any]) -> Callable[[str], Any]:
    """`read` for one field's text values, each distinct value read once (into `memo`)."""

    def remembered(value: str) -> Any:
        result = memo.get(value, _MISSING)
        if result is _MISSING:
            try:
                result = read(value)
            except Invalid as invalid:
                # Keep the words, not the exception: a re-raised exception keeps every
                # earlier row's frame alive through its traceback.
                result = _Refusal(invalid.suffix, invalid.message, invalid.rule)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[value] = result
        if result.__class__ is _Refusal:
            raise Invalid(result.suffix, result.message, result.rule)
        return result

    return remembered


def _text_reader(spec: FieldSpec, memo: dict[str, Any]) -> Callable[[str], Any]:
    """How a non-blank text cell of this field is read, decided once per field: the same
    result (or Invalid) as ``_COERCE[spec.kind](spec, value)``, with less work per cell
    (`memo`: the readings it remembers)."""
    coerce = _COERCE[spec.kind]
    if spec.kind is Kind.TEXT:
        max_length = spec.max_length

        def text(value: str) -> str:
            stripped = value.strip()
            # Printable text (no control character) within the limit: all read_text checks.
            if stripped.isprintable() and (not max_length or len(stripped) <= max_length):
                return stripped
            return coerce(spec, value)

        return text
    if spec.kind in _MEMO_KINDS:
        return _remembering(lambda value: coerce(spec, value), memo)
    if spec.kind is Kind.CHOICE_LIST:
        frozen_codes = _remembering(lambda value: tuple(coerce(spec, value)), memo)
        return lambda value: list(frozen_codes(value))
    if spec.kind is Kind.OUTCOMES:
        frozen_outcomes = _remembering(
            lambda value: tuple(
                (item["outcome"], tuple(item["measurement_types"])) for item in coerce(spec, value)
            ),
            memo,
        )
        return lambda value: [
            {"outcome": outcome, "measurement_types": list(types)}
            for outcome, types in frozen_outcomes(value)
        ]
    return lambda value: coerce(spec, value)


def _native_reader(spec: FieldSpec) -> Callable[[Any], Any]:
    coerce = _COERCE[spec.kind]
    return lambda value: coerce(spec, value)


def _plain_field(
    spec: FieldSpec,
) -> tuple[str, Callable[[Any], Any], Callable[[str], Any], dict[str, Any] | None]:
    memo: dict[str, Any] = {}
    # An immutable reading is taken from the memo in the loop itself (no call per cell).
    shared = memo if spec.kind in _MEMO_KINDS else None
    if spec.kind in (Kind.CHOICE_LIST, Kind.OUTCOMES):
        _FROZEN_MEMOS[spec.name] = memo  # the generated reader thaws these itself
    return spec.name, _native_reader(spec), _text_reader(spec, memo), shared


# The memos of the list fields, whose readings are kept frozen (tuples): by field name.
_FROZEN_MEMOS: dict[str, dict[str, Any]] = {}


# (name, reader for native values, reader for text, its memo of immutable readings),
# decided once rather than per cell.
_PLAIN_FIELDS = [
    _plain_field(spec) for spec in FIELDS if spec.name not in ("provider_activity_id", "supporters")
]
_ALL_BUT_FORMAT = [entry for entry in _PLAIN_FIELDS if entry[0] != "activity_format"]
_ALL_BUT_FORMAT_AND_DELIVERY = [
    entry for entry in _ALL_BUT_FORMAT if entry[0] != "delivery_methods"
]
_TEXT_READERS = {name: text for name, _, text, _ in _PLAIN_FIELDS}


def _memoized(spec: FieldSpec, value: str) -> Any:
    """A non-blank text value of a plain field, read as a file's cell is (remembered)."""
    return _TEXT_READERS[spec.name](value)


def _read_each(
    fields: list[tuple[str, Callable[[Any], Any], Callable[[str], Any], dict[str, Any] | None]],
    get: Callable[[str], Any],
    values: dict[str, Any],
    error: Callable[[str, str, str], None],
) -> None:
    """The fields' clean values into `values`, field by field: what the generated readers
    (_fields_reader) do in one function per set of fields."""
    for name, native, text, memo in fields:
        value = get(name)
        # Most cells of a wide row are empty: skip them cheaply (big files, many rows).
        if value.__class__ is str:
            if not value or value.isspace():
                continue
            if memo is not None:
                result = memo.get(value, _MISSING)
                if result is not _MISSING and result.__class__ is not _Refusal:
                    values[name] = result
                    continue
            read = text
        elif value is None or value == "":
            continue
        else:
            read = native
        try:
            values[name] = read(value)
        except Invalid as invalid:
            error(name, invalid.rule_id("activity", name), invalid.message)


def _field_source(index: int, spec: FieldSpec, memo: bool) -> str:
    """The generated reader's lines for one field: _read_each's steps for it, unrolled. A
    text field's printable text within its limit is kept as is (its text reader's first
    check, _text_reader), a remembered field's text is looked up in its memo first."""
    key = repr(spec.name)

    def reading(reader: str, indent: str) -> str:
        return (
            f"{indent}try:\n"
            f"{indent}    values[{key}] = {reader}{index}(value)\n"
            f"{indent}except Invalid as invalid:\n"
            f"{indent}    error({key}, invalid.rule_id('activity', {key}), invalid.message)\n"
        )

    # A list's frozen reading, thawed as its text reader thaws it (_text_reader).
    thawed = {
        Kind.CHOICE_LIST: "list(result)",
        Kind.OUTCOMES: "[{'outcome': outcome, 'measurement_types': list(types)}"
        " for outcome, types in result]",
    }.get(spec.kind)
    if thawed is not None:
        text = (
            f"            result = frozen{index}.get(value, MISSING)\n"
            "            if result is MISSING or result.__class__ is Refusal:\n"
            + reading("text", " " * 16)
            + "            else:\n"
            f"                values[{key}] = {thawed}\n"
        )
    elif memo:
        text = (
            f"            result = memo{index}.get(value, MISSING)\n"
            "            if result is MISSING or result.__class__ is Refusal:\n"
            + reading("text", " " * 16)
            + "            else:\n"
            f"                values[{key}] = result\n"
        )
    elif spec.kind is Kind.TEXT:
        within = f" and len(stripped) <= {spec.max_length}" if spec.max_length else ""
        text = (
            "            stripped = value.strip()\n"
            f"            if stripped.isprintable(){within}:\n"
            f"                values[{key}] = stripped\n"
            "            else:\n" + reading("text", " " * 16)
        )
    else:
        text = reading("text", " " * 12)
    return (
        f"    value = get({key})\n"
        "    if value.__class__ is str:\n"
        "        if value and not value.isspace():\n"
        + text
        + "    elif value is not None and value != '':\n"
        + reading("native", " " * 8)
    )


def _fields_reader(
    fields: list[tuple[str, Callable[[Any], Any], Callable[[str], Any], dict[str, Any] | None]],
) -> Callable[[Callable[[str], Any], dict[str, Any], Callable[[str, str, str], None]], None]:
    """_read_each for these fields as one generated function, ``read(get, values, error)``:
    no loop, no tuple unpacked and no reader called per cell (a file has millions of
    cells); the fast path equals _read_each (tests/activities/test_fast_paths.py)."""
    namespace: dict[str, Any] = {"Invalid": Invalid, "Refusal": _Refusal, "MISSING": _MISSING}
    body = []
    for index, (name, native, text, memo) in enumerate(fields):
        namespace.update({f"native{index}": native, f"text{index}": text, f"memo{index}": memo})
        namespace[f"frozen{index}"] = _FROZEN_MEMOS.get(name)
        body.append(_field_source(index, FIELDS_BY_NAME[name], memo is not None))
    source = "def read(get, values, error):\n" + "".join(body) + "    return None\n"
    exec(compile(source, "<activity fields reader>", "exec"), namespace)  # noqa: S102 (our own source, from the dictionary)
    return namespace["read"]


_READ_ALL = _fields_reader(_PLAIN_FIELDS)
_READ_ALL_BUT_FORMAT = _fields_reader(_ALL_BUT_FORMAT)
_READ_ALL_BUT_FORMAT_AND_DELIVERY = _fields_reader(_ALL_BUT_FORMAT_AND_DELIVERY)
