"""The JSON channel's contract: a request body checked against the very JSON Schema the
OpenAPI description publishes for it.

The request schemas are generated from the data dictionaries; this module reads them as
they are published, so what the web service accepts is what it documents (the JSON
channel is strict: a number arrives as a JSON number, a list as an array, a code as one
of the codes). It knows the keywords those schemas use (``type``, ``enum``, ``const``,
``pattern``, ``minLength``/``maxLength``, ``minimum``/``maximum``/``exclusiveMinimum``,
``multipleOf``, ``format: date``, ``items``, ``minItems``/``maxItems``, ``properties``,
``required``, ``additionalProperties``, ``anyOf``/``oneOf``/``allOf``).

A :class:`Violation` is either of the value's JSON *type* (``keyword == "type"``: a
malformed request, 422 ``api.field.type``) or of its *value* (a code that is not one of the
codes, a date not written yyyy-mm-dd, a number out of range). Messages never quote the
value (it may be personal data).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

# Errors of the JSON channel itself (not business rules: not in the rule catalogues).
RULE_TYPE = "api.field.type"
RULE_INVALID = "api.field.invalid"

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_JSON_TYPES = {
    "null": "null",
    "boolean": "a boolean (true or false)",
    "integer": "a whole number",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
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


def _type_matches(wanted: str | list[str], actual: str) -> bool:
    names = [wanted] if isinstance(wanted, str) else wanted
    return actual in names or (actual == "integer" and "number" in names)


def _expected(wanted: str | list[str]) -> str:
    names = [wanted] if isinstance(wanted, str) else wanted
    return " or ".join(_JSON_TYPES.get(name, name) for name in names)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_date(text: str) -> bool:
    match = _DATE.match(text)
    if not match:
        return False
    try:
        datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def _schema_types(schema: Mapping[str, Any]) -> list[str] | None:
    """The JSON types a schema (or every branch of its anyOf/oneOf) allows; None: any."""
    if "type" in schema:
        wanted = schema["type"]
        return [wanted] if isinstance(wanted, str) else list(wanted)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        found: list[str] = []
        for branch in branches:
            types = _schema_types(branch)
            if types is None:
                return None
            found.extend(types)
        return found
    return None


def violations(
    schema: Mapping[str, Any], value: Any, path: tuple[str | int, ...] = ()
) -> list[Violation]:
    """Every way `value` breaks `schema` (empty: the value is what the schema describes)."""
    found: list[Violation] = []
    name = field_name(path)
    actual = json_type(value)
    types = _schema_types(schema)
    if types is not None and not _type_matches(types, actual):
        message = f"{name} must be {_expected(types)}, not {_JSON_TYPES.get(actual, actual)}."
        return [Violation(path, "type", message)]

    for key in ("allOf",):
        for branch in schema.get(key, ()):
            found.extend(violations(branch, value, path))
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if branches:
            results = [violations(branch, value, path) for branch in branches]
            matching = sum(1 for result in results if not result)
            if matching == 0 or (key == "oneOf" and matching > 1):
                # The branch of the value's own type says best what is wrong.
                typed = [result for result in results if result and not result[0].is_type]
                found.extend(typed[0] if typed else results[0])

    if "enum" in schema and not any(
        json_type(value) == json_type(option) and value == option for option in schema["enum"]
    ):
        options = schema["enum"]
        listed = ", ".join(str(option) for option in options) if len(options) <= 20 else ""
        found.append(
            Violation(
                path,
                "enum",
                f"{name} must be one of: {listed}."
                if listed
                else f"{name} must be one of the codes of the request schema.",
            )
        )
    if "const" in schema and value != schema["const"]:
        found.append(Violation(path, "const", f"{name} must be {schema['const']!r}."))

    if actual == "string":
        found.extend(_string_violations(schema, value, path, name))
    elif actual in ("integer", "number"):
        found.extend(_number_violations(schema, value, path, name))
    elif actual == "array":
        if "minItems" in schema and len(value) < schema["minItems"]:
            found.append(
                Violation(path, "minItems", f"{name} needs at least {schema['minItems']} items.")
            )
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            found.append(
                Violation(path, "maxItems", f"{name} has at most {schema['maxItems']:,} items.")
            )
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                found.extend(violations(items, item, (*path, index)))
    elif actual == "object":
        found.extend(_object_violations(schema, value, path, name))
    return found


def _string_violations(
    schema: Mapping[str, Any], value: str, path: tuple[str | int, ...], name: str
) -> list[Violation]:
    found = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        found.append(Violation(path, "minLength", f"{name} may not be empty."))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(
            Violation(
                path, "maxLength", f"{name} must be at most {schema['maxLength']} characters."
            )
        )
    if "pattern" in schema and not _compiled(schema["pattern"]).search(value):
        found.append(
            Violation(path, "pattern", f"{name} is not written as the request schema states.")
        )
    if schema.get("format") == "date" and not _is_date(value):
        found.append(Violation(path, "format", f"{name} must be a date written yyyy-mm-dd."))
    return found


def _number_violations(
    schema: Mapping[str, Any], value: Any, path: tuple[str | int, ...], name: str
) -> list[Violation]:
    found = []
    number = _decimal(value)
    if "minimum" in schema and number < _decimal(schema["minimum"]):
        found.append(Violation(path, "minimum", f"{name} must be at least {schema['minimum']}."))
    if "exclusiveMinimum" in schema and number <= _decimal(schema["exclusiveMinimum"]):
        found.append(
            Violation(
                path, "exclusiveMinimum", f"{name} must be more than {schema['exclusiveMinimum']}."
            )
        )
    if "maximum" in schema and number > _decimal(schema["maximum"]):
        found.append(Violation(path, "maximum", f"{name} must be at most {schema['maximum']}."))
    if "multipleOf" in schema and number % _decimal(schema["multipleOf"]):
        found.append(
            Violation(path, "multipleOf", f"{name} must be a multiple of {schema['multipleOf']}.")
        )
    return found


def _object_violations(
    schema: Mapping[str, Any], value: Mapping[str, Any], path: tuple[str | int, ...], name: str
) -> list[Violation]:
    found = []
    properties = schema.get("properties", {})
    for required in schema.get("required", ()):
        if required not in value:
            found.append(Violation((*path, required), "required", f"{required} is required."))
    for key, item in value.items():
        if key in properties:
            found.extend(violations(properties[key], item, (*path, key)))
        elif schema.get("additionalProperties") is False:
            found.append(
                Violation(
                    (*path, str(key)[:60]),
                    "additionalProperties",
                    f"{str(key)[:60]!r} is not a field of {name}.",
                )
            )
    return found


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
