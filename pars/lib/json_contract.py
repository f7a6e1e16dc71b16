"""The JSON channel's contract: a request body checked against the very JSON Schema the
OpenAPI description publishes for it.

The request schemas are generated from the data dictionaries; this module reads them as
they are published, so what the web service accepts is what it documents (the JSON
channel is strict: a number arrives as a JSON number, a list as an array, a code as one
of the codes).

The checking is the ``jsonschema`` library's, by the draft OpenAPI 3.1 (what ninja
publishes) writes its schemas in, 2020-12, with ``format: date`` asserted (yyyy-mm-dd, a
real date) and local ``$ref``s resolved by the library. Two of its keywords are told how
JSON numbers read: numbers compare as the decimals their text spells (``0.07`` is a
multiple of ``0.01``; amounts may arrive as ``Decimal``), and NaN/Infinity, which Python
reads but JSON has not, are not numbers. What remains here is PARS's reading of the
library's errors:

- PARS's message per keyword: unlike the library's, it never quotes the value (it may be
  personal data);
- a value of the wrong JSON type is told so, and nothing about its value or fields;
- an ``anyOf``/``oneOf`` no branch matches is told by its most relevant error: a type
  violation naming every type the branches allow when the value is of none of them, else
  the errors of the first branch the value's type fits;
- the errors come in the order the schema's keywords and the body's fields take.

That reading walks the schema in Python, about a third of a millisecond for an activity: a
body is first checked by ``jsonschema_rs`` (the same draft, compiled once per schema, in
Rust, some microseconds), and only a body it does not pass, or cannot read (a NaN, a
number too big for it, a Decimal), is read again by the library to tell what is wrong. The
compiled check is never more lenient than the library's reading above (formats are all
asserted, a NaN is no number, a multipleOf is tested in binary floating point, so 0.07 as a
multiple of 0.01 falls through to the exact reading): a body it passes has no violation.

A :class:`Violation` is either of the value's JSON *type* (``keyword == "type"``: a
malformed request, 422 ``api.field.type``) or of its *value* (a code that is not one of the
codes, a date not written yyyy-mm-dd, a number out of range).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

# Errors of the JSON channel itself (not business rules: not in the rule catalogs).
RULE_TYPE = "api.field.type"
RULE_INVALID = "api.field.invalid"

_JSON_TYPES = {
    "null": "null",
    "boolean": "a boolean (true or false)",
    "integer": "a whole number",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}
# PARS's message per keyword, in the order a node's own errors are told (after its type
# and its branches; then come its fields', the missing ones first).
_MESSAGES: dict[str, Callable[[str, Any], str]] = {
    "enum": lambda name, wanted: (
        f"{name} must be one of: {', '.join(str(option) for option in wanted)}."
        if len(wanted) <= 20
        else f"{name} must be one of the codes of the request schema."
    ),
    "const": lambda name, wanted: f"{name} must be {wanted!r}.",
    "minLength": lambda name, wanted: f"{name} may not be empty.",
    "maxLength": lambda name, wanted: f"{name} must be at most {wanted} characters.",
    "pattern": lambda name, wanted: f"{name} is not written as the request schema states.",
    "format": lambda name, wanted: f"{name} must be a date written yyyy-mm-dd.",
    "minimum": lambda name, wanted: f"{name} must be at least {wanted}.",
    "exclusiveMinimum": lambda name, wanted: f"{name} must be more than {wanted}.",
    "maximum": lambda name, wanted: f"{name} must be at most {wanted}.",
    "multipleOf": lambda name, wanted: f"{name} must be a multiple of {wanted}.",
    "minItems": lambda name, wanted: f"{name} needs at least {wanted} items.",
    "maxItems": lambda name, wanted: f"{name} has at most {wanted:,} items.",
}
_ORDER = ["type", "allOf", "anyOf", "oneOf", *_MESSAGES, "items", "required", "properties"]
_RANK = {keyword: rank for rank, keyword in enumerate(_ORDER)} | {
    "additionalProperties": _ORDER.index("properties")  # the body's fields in its order
}


@dataclass(frozen=True)
class Violation:
    path: tuple[str | int, ...]
    keyword: str
    message: str

    @property
    def is_type(self) -> bool:
        return self.keyword == "type"

    @property
    def field(self) -> str:
        """The path as the validators name nested fields: ``supporters[1].source``
        (list positions from 1), or ``body`` for the body itself."""
        return field_name(self.path)

    @property
    def rule(self) -> str:
        return RULE_TYPE if self.is_type else RULE_INVALID


def field_name(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "body"


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | Decimal):
        number = _decimal(value)
        if not number.is_finite():  # NaN and Infinity: Python reads them, JSON has none
            return "not a number"
        # JSON Schema: a number with a zero fraction is an integer too.
        return "integer" if number == number.to_integral_value() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "unknown"


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:  # pragma: no cover - only finite JSON numbers reach here
        return Decimal("NaN")


# --- the library, told how JSON numbers read --------------------------------------------


def _bound(holds: Any) -> Any:
    def check(validator: Any, bound: Any, value: Any, schema: Any) -> Iterator[ValidationError]:
        if validator.is_type(value, "number") and not holds(_decimal(value), _decimal(bound)):
            yield ValidationError("out of range")  # the message is PARS's: see _placed

    return check


def _multiple_of(validator: Any, step: Any, value: Any, schema: Any) -> Iterator[ValidationError]:
    # Exact: the library divides floats (0.07 / 0.01 is not a whole number there).
    if validator.is_type(value, "number") and Fraction(_decimal(value)) % Fraction(_decimal(step)):
        yield ValidationError("not a multiple")


_Validator = validators.extend(
    Draft202012Validator,
    validators={
        "minimum": _bound(lambda number, bound: number >= bound),
        "exclusiveMinimum": _bound(lambda number, bound: number > bound),
        "maximum": _bound(lambda number, bound: number <= bound),
        "multipleOf": _multiple_of,
    },
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {
            "number": lambda checker, value: json_type(value) in ("integer", "number"),
            "integer": lambda checker, value: json_type(value) == "integer",
        }
    ),
    format_checker=FormatChecker(formats=("date",)),
)


# --- its errors, read as PARS tells them ----------------------------------------------


def violations(
    schema: Mapping[str, Any], value: Any, path: tuple[str | int, ...] = ()
) -> list[Violation]:
    """Every way `value` breaks `schema` (empty: the value is what the schema describes),
    in the order of the schema's keywords and the value's fields; `path` is where `value`
    sits in the body."""
    if _passes_compiled(schema, value):
        return []
    validator = _Validator(schema, format_checker=_Validator.FORMAT_CHECKER)
    return [one for _, one in _collect(validator, validator.iter_errors(value), value, path)]


# The compiled checks, by schema (the object itself kept, so that its id is not reused);
# schemas are module constants, a few dozen at most: more means schemas made per call,
# and the cache starts over rather than grow.
_COMPILED: dict[int, tuple[Mapping[str, Any], Any]] = {}
_MAX_COMPILED = 256


def _compiled(schema: Mapping[str, Any]) -> Any:
    """The compiled check of `schema`, or None when jsonschema_rs cannot compile it."""
    entry = _COMPILED.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    try:
        check = jsonschema_rs.validator_for(dict(schema), validate_formats=True)
    except (ValueError, TypeError, jsonschema_rs.ReferencingError):
        check = None
    if len(_COMPILED) >= _MAX_COMPILED:
        _COMPILED.clear()
    _COMPILED[id(schema)] = (schema, check)
    return check


def _passes_compiled(schema: Mapping[str, Any], value: Any) -> bool:
    """True when the compiled check passes `value`; False also when it cannot tell."""
    check = _compiled(schema)
    if check is None:
        return False
    try:
        return bool(check.is_valid(value))
    except (ValueError, TypeError, OverflowError):  # a value it cannot read: ask the library
        return False


# A violation with its place in the walk the schema makes through the value: per keyword
# its rank at its node, per branch its index, per field its place in the body.
_Placed = tuple[list[tuple[int, ...]], Violation]


def _collect(
    validator: Any, errors: Iterable[ValidationError], node: Any, prefix: tuple[str | int, ...]
) -> list[_Placed]:
    """The errors (their relative paths start at `node`, their paths at `prefix`) as
    violations, in that order."""
    found: list[_Placed] = []
    told: set[tuple[Any, ...]] = set()
    for error in errors:
        # The library tells each missing field of a `required`: PARS tells all at once.
        told_as = (*error.absolute_path, None, *error.relative_schema_path)
        if told_as in told:
            continue
        if error.validator in ("required", "additionalProperties"):
            told.add(told_as)
        place = _place(error, node)
        found.extend(
            (place + more, violation) for more, violation in _placed(validator, error, prefix)
        )
    found.sort(key=lambda placed: placed[0])
    # A value of the wrong type: nothing about its value or fields (and each message once).
    typed = {violation.path for _, violation in found if violation.is_type}
    kept: list[_Placed] = []
    for place, violation in found:
        if any(violation.path[:depth] in typed for depth in range(len(violation.path))):
            continue
        if violation.path in typed and not violation.is_type:
            continue
        if violation.is_type and any(violation == one for _, one in kept):
            continue
        kept.append((place, violation))
    return kept


def _place(error: ValidationError, node: Any) -> list[tuple[int, ...]]:
    """Where the error's keyword sits in the walk from `node` (the schema's keywords
    before it, the value's fields it entered)."""
    place: list[tuple[int, ...]] = []
    steps = list(error.relative_path)
    schema_path = list(error.relative_schema_path)[:-1]
    while schema_path:
        part = schema_path.pop(0)
        if isinstance(part, int):  # a branch of allOf/anyOf/oneOf
            place.append((part,))
            continue
        rank = _RANK.get(part, len(_RANK))
        if part in ("properties", "items", "additionalProperties") and steps:
            if part == "properties":
                schema_path.pop(0)
            step = steps.pop(0)
            place.append((rank, _index(node, step)))
            node = node[step] if isinstance(step, int) or step in node else None
        else:
            place.append((rank,))
    return place


def _index(node: Any, step: str | int) -> int:
    if isinstance(step, int):
        return step
    return list(node).index(step) if isinstance(node, Mapping) and step in node else -1


def _placed(validator: Any, error: ValidationError, prefix: tuple[str | int, ...]) -> list[_Placed]:
    """PARS's violations for one error of the library, placed relative to its keyword."""
    path = (*prefix, *error.relative_path)
    name = field_name(path)
    keyword = str(error.validator)
    wanted: Any = error.validator_value
    value = error.instance
    rank = _RANK.get(keyword, len(_RANK))
    if keyword == "type":
        return [([(rank,)], _type_violation(path, wanted, value))]
    if keyword in ("anyOf", "oneOf"):
        return [
            ([(rank,), *place], one) for place, one in _branch_violations(validator, error, path)
        ]
    if keyword == "required":
        missing = [field for field in wanted if field not in value]
        return [
            ([(rank, index)], Violation((*path, field), keyword, f"{field} is required."))
            for index, field in enumerate(missing)
        ]
    if keyword == "additionalProperties":
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        return [
            (
                [(rank, index)],
                Violation(
                    (*path, str(key)[:60]), keyword, f"{str(key)[:60]!r} is not a field of {name}."
                ),
            )
            for index, key in enumerate(value)
            if key not in known
        ]
    message = _MESSAGES.get(keyword, lambda name, wanted: f"{name} is not as the schema states.")
    return [([(rank,)], Violation(path, keyword, message(name, wanted)))]


def _type_violation(path: tuple[str | int, ...], wanted: str | list[str], value: Any) -> Violation:
    names = [wanted] if isinstance(wanted, str) else wanted
    expected = " or ".join(_JSON_TYPES.get(name, name) for name in names)
    actual = json_type(value)
    message = f"{field_name(path)} must be {expected}, not {_JSON_TYPES.get(actual, actual)}."
    return Violation(path, "type", message)


def _schema_types(schema: Any) -> list[str] | None:
    """The JSON types a schema (or every branch of its anyOf/oneOf) allows; None: any."""
    if not isinstance(schema, Mapping):
        return None
    if "type" in schema:
        wanted = schema["type"]
        return [wanted] if isinstance(wanted, str) else list(wanted)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not branches:
        return None
    found: list[str] = []
    for branch in branches:
        types = _schema_types(branch)
        if types is None:
            return None
        found.extend(types)
    return found


def _branch_violations(
    validator: Any, error: ValidationError, path: tuple[str | int, ...]
) -> list[_Placed]:
    """An anyOf/oneOf no branch (or more than one) matches, told by its most relevant
    error: the value's type, when it is of none the branches allow; else the errors of the
    first branch of the value's own type."""
    types = _schema_types(error.schema)
    if types is not None and not any(validator.is_type(error.instance, t) for t in types):
        return [([], _type_violation(path, types, error.instance))]
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    results = [_collect(validator, branches[i], error.instance, path) for i in sorted(branches)]
    typed = [result for result in results if result and not result[0][1].is_type]
    # No branch with an error: a oneOf several branches match (told by none of them).
    return typed[0] if typed else results[0] if results else []


def top_field(name: str) -> str:
    """``supporters[1].source`` -> ``supporters``."""
    return re.split(r"[.\[]", name, maxsplit=1)[0]


def type_violations(found: Sequence[Violation]) -> list[Violation]:
    return [violation for violation in found if violation.is_type]


def unreported(found: Sequence[Violation], reported: Sequence[str]) -> list[Violation]:
    """The value violations on fields the validator did not report an error for (its own
    error, with the rule every channel gives, says it better): a spelling that files may
    use but JSON may not, such as a label for a code or a date written mm/dd/yyyy. Missing
    and unknown fields have rules of their own."""
    fields = {top_field(name) for name in reported}
    first: dict[str, Violation] = {}  # one error per value is enough
    for violation in found:
        if (
            not violation.is_type
            and violation.keyword not in ("required", "additionalProperties")
            and top_field(violation.field) not in fields
        ):
            first.setdefault(violation.field, violation)
    return list(first.values())
