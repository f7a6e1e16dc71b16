"""The one activity validator, used by every channel (web form, TSV, XLSX, XML, JSON).

Parsers hand it a mapping of dictionary field names to raw values: strings from
text formats, native values from JSON and Excel. It returns the clean record or
field-level errors, each carrying a stable rule ID from :data:`RULES`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from pars.activities.dictionary import (
    ACCEPTED_FORMATS_TEXT,
    CONTROL_CHARACTER_RULE,
    COUNTRY_ALIASES,
    FIELDS,
    FIELDS_BY_NAME,
    FIRST_REPORTING_YEAR,
    FORMATS,
    FORMATS_WITH_DELIVERY,
    LAST_REPORTING_YEAR,
    LEGACY_ACTIVITY_TYPE_NAMES,
    LEGACY_ACTIVITY_TYPES,
    LIVE_FORMATS,
    MAX_WHOLE_NUMBER,
    MEASUREMENT_TYPES,
    RECORD_ACTIONS,
    REQUESTED_STATUSES,
    SUPPORTER_FIELDS,
)
from pars.activities.year_lock import LOCKED_RULE, locked_message
from pars.intake.coerce import (
    DATE_FORMS,
    Invalid,
    is_blank,
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
from pars.intake.fields import FieldSpec, Kind, Status
from pars.intake.rules import FieldError, FieldRule, Rule, catalogue, field_rules
from pars.intake.rules import rules_for_year as rules_of_year
from pars.lib.text import (
    CONTROL_CHARACTER_FIELD,
    CONTROL_CHARACTER_MESSAGE,
)

# ---------------------------------------------------------------------------
# The rule catalog

# Refused by the writer: a delete of an activity that learner records depend on.
HAS_LEARNER_RECORDS_RULE = "activity.delete.has_learner_records"
# An ID ending as the addresses of an activity's registrations do (/registrations,
# /registrations/<recipient>): its own address could never be reached (api.py's
# ActivityIdConverter leaves these endings to pars.learners.api_registrations).
RESERVED_ID_RULE = "activity.provider_activity_id.reserved"
RESERVED_ID = re.compile(r"(^|/)registrations(/[^/]*)?/?\Z")
# A Learner Counts row (an update only) names no activity of the provider.
UPDATE_UNKNOWN_RULE = "activity.provider_activity_id.not_found"
UPDATE_UNKNOWN_ACCME_RULE = "activity.accme_activity_id.not_found"


_KIND_FORMS = {
    Kind.TEXT: "text",
    Kind.INTEGER: "a whole number of 0 or more",
    Kind.MONEY: "a whole number of US dollars, 0 or more",
    Kind.DECIMAL: "a number",
    Kind.BOOLEAN: "Yes or No",
    Kind.DATE: DATE_FORMS,
    Kind.YEAR: "a 4-digit year",
    Kind.URL: "a web address starting with http:// or https://",
}


def _status_words(status: Status | None) -> str:
    return {
        Status.DRAFT: "",
        Status.ACTIVE: " for an active activity",
        Status.CLOSED: " to close the activity",
        None: "",
    }[status]


def _implied_rules(spec: FieldSpec) -> list[FieldRule]:
    """The rules an activity field's kind and limits imply."""
    rules = []
    if spec.required_for is not None:
        message = f"{spec.label} is required{_status_words(spec.required_for)}."
        rules.append(FieldRule("required", message, dated=True))
    if spec.kind in _KIND_FORMS and spec.kind is not Kind.TEXT:
        rules.append(FieldRule("invalid", f"{spec.label} must be {_KIND_FORMS[spec.kind]}."))
    if spec.choices:
        rules.append(FieldRule("not_allowed", f"{spec.label} must be one of the allowed values."))
    if spec.max_length:
        message = f"{spec.label} must be at most {spec.max_length} characters."
        rules.append(FieldRule("too_long", message))
    if spec.max_value is not None:
        rules.append(FieldRule("too_large", f"{spec.label} must be at most {spec.max_value}."))
    elif spec.kind in (Kind.INTEGER, Kind.MONEY):
        message = f"{spec.label} must be at most {MAX_WHOLE_NUMBER:,}."
        rules.append(FieldRule("too_large", message))
    if spec.step is not None:
        rules.append(FieldRule("step", f"{spec.label} must be a multiple of {spec.step}."))
    return rules


_CROSS_FIELD_RULES = [
    Rule("activity.action.not_allowed", "action", "Action must be Add, Update or Delete."),
    Rule(
        "activity.status.not_allowed",
        "status",
        "Status must be Draft, Active, Ready to Close or Closed.",
    ),
    Rule("activity.end_date.before_start", "end_date", "End Date is before the Start Date."),
    Rule(
        "activity.end_date.too_long",
        "end_date",
        "An enduring material runs at most 3 years and other formats at most 12 months; "
        "enter a longer activity once per period.",
    ),
    Rule(
        "activity.reporting_year.outside_dates",
        "reporting_year",
        "Reporting Year must be a year in which the activity ran.",
    ),
    Rule(
        "activity.delivery_methods.required",
        "delivery_methods",
        "Delivery Method is required for an active course, series or enduring material.",
        first_year=2022,
    ),
    Rule(
        "activity.city.required_live",
        "city",
        "City is required for an activity held in person.",
    ),
    Rule(
        "activity.city.required_with_location",
        "city",
        "City is required when a State or Country is given for a course or regularly "
        "scheduled series: give the whole location (city, state, country), or none while "
        "the activity is a draft.",
    ),
    Rule(
        "activity.country.required_live",
        "country",
        "Country is required for an activity held in person.",
    ),
    Rule(
        "activity.state.required_usa",
        "state",
        "State is required for an activity held in person in the USA.",
    ),
    Rule(
        "activity.joint_providers.required_joint",
        "joint_providers",
        "Joint Provider(s) is required to close a jointly provided activity.",
        first_year=2015,
    ),
    Rule(
        "activity.supporters.required",
        "supporters",
        "Commercial support was received: name at least one commercial supporter to close.",
        first_year=2015,
    ),
    Rule(
        "activity.supporters.not_allowed",
        "supporters",
        "Commercial support was not received, so no commercial supporter may be listed.",
    ),
    Rule(
        "activity.supporters.source.required",
        "supporters.source",
        "Commercial Support Source is required for each supporter.",
    ),
    Rule(
        "activity.supporters.amount_or_in_kind",
        "supporters.monetary_amount",
        "Each supporter gives a monetary amount above 0 or in-kind support.",
    ),
    Rule(
        "activity.fee.required_listed",
        "fee",
        "Fee for Participation is required when the activity is listed on CME Passport.",
    ),
    Rule(
        "activity.registration.required_listed",
        "registration",
        "Registration is required when the activity is listed on CME Passport.",
    ),
    Rule(
        "activity.activity_url.required_listed",
        "activity_url",
        "Activity URL is required when the activity is listed on CME Passport.",
    ),
    Rule(
        "activity.outcome_measures.measurement_type",
        "outcome_measures",
        "An outcome's measurement type must be Objective or Subjective.",
    ),
    Rule(
        "activity.provider_activity_id.duplicate_in_file",
        "provider_activity_id",
        "This Provider Activity ID appears more than once in the file.",
    ),
    Rule(
        "activity.provider_activity_id.unknown",
        "provider_activity_id",
        "No activity with this Provider Activity ID exists to delete.",
    ),
    Rule(
        UPDATE_UNKNOWN_RULE,
        "provider_activity_id",
        "No activity of this provider has this Provider Activity ID. A Learner Counts file "
        "updates existing activities only: check the ID, or add the activity first (the "
        "activity form, the API or a full activity file).",
    ),
    Rule(
        UPDATE_UNKNOWN_ACCME_RULE,
        "accme_activity_id",
        "No activity of this provider has this ACCME Activity ID (or several have it). A "
        "Learner Counts file updates existing activities only: give the Provider Activity "
        "ID, or add the activity first.",
    ),
    Rule(
        LOCKED_RULE,
        "reporting_year",
        "The reporting year is attested and closed; ask the accreditor's staff to reopen it.",
    ),
    Rule(
        "activity.row.unreadable",
        "row",
        "The row could not be read (wrong number of columns, or bad structure).",
    ),
    Rule(CONTROL_CHARACTER_RULE, CONTROL_CHARACTER_FIELD, CONTROL_CHARACTER_MESSAGE),
    Rule(
        RESERVED_ID_RULE,
        "provider_activity_id",
        "A Provider Activity ID may not end in 'registrations' or 'registrations/<text>' "
        "after a '/': such an ending is the address of an activity's registrations.",
    ),
    Rule(
        HAS_LEARNER_RECORDS_RULE,
        "provider_activity_id",
        "Learner completions or board registrations refer to this activity, so it cannot "
        "be deleted (nor renamed): completions reported to a board are kept, with their "
        "history. Withdraw the completions that should not count (withdrawals are sent to "
        "the board); an activity without completions can be deleted once its "
        "registrations are removed.",
    ),
]


RULES: dict[str, Rule] = catalogue(
    field_rules(
        "activity",
        ((spec.name, spec) for spec in FIELDS if spec.kind is not Kind.SUPPORTERS),
        _implied_rules,
    ),
    field_rules(
        "activity", ((f"supporters.{spec.name}", spec) for spec in SUPPORTER_FIELDS), _implied_rules
    ),
    _CROSS_FIELD_RULES,
)


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
        raise Invalid("invalid", f"{spec.label} must be a 4-digit year; got {shown(value)}.")
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
    codes: list[str] = []
    for item in _items(value):
        code = _choice(spec, item)
        if code not in codes:
            codes.append(code)
    return codes


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
# The validator

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
    return spec.name, _native_reader(spec), _text_reader(spec, memo), shared


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


# Every plain field blank (None), the start of a record's values.
_BLANKS = dict.fromkeys(name for name, _, _, _ in _PLAIN_FIELDS)
# The fields whose blank is not None: "" for text and codes, [] for lists.
_EMPTY_FILLS = [
    (spec.name, isinstance(spec.empty, list))
    for spec in FIELDS
    if spec.name not in ("provider_activity_id", "supporters") and spec.empty is not None
]
_REQUIRED_FIELDS = [spec for spec in FIELDS if spec.required_for is not None]
# By reporting year: (field, its empty value, lowest status needing it, rule) of the
# fields required that year.
_REQUIRED_BY_YEAR: dict[int | None, list[tuple[str, Any, Status, str]]] = {}


def _required_in(year: int | None) -> list[tuple[str, Any, Status, str]]:
    required = _REQUIRED_BY_YEAR.get(year)
    if required is None:
        required = [
            (spec.name, spec.empty, spec.required_for, f"activity.{spec.name}.required")
            for spec in _REQUIRED_FIELDS
            if spec.collected_in(year) and spec.required_for is not None
        ]
        _REQUIRED_BY_YEAR[year] = required
    return required


# A record read back (Ready to Close) may be sent again: it asks for what Active asks.
_REQUESTED = {
    "draft": Status.DRAFT,
    "active": Status.ACTIVE,
    "ready_to_close": Status.ACTIVE,
    "closed": Status.CLOSED,
}


@dataclass
class CleanActivity:
    """A valid activity: model field values, its supporters, its status and the action."""

    provider_activity_id: str
    action: str  # "upsert" or "delete"
    values: dict[str, Any] = field(default_factory=dict)
    supporters: list[dict[str, Any]] = field(default_factory=list)


class _Checker:
    def __init__(self, row: int | None) -> None:
        self.row = row
        self.errors: list[FieldError] = []

    def has_error(self, field_name: str) -> bool:
        return any(error.field == field_name for error in self.errors)

    def error(self, field_name: str, rule: str, message: str | None = None) -> None:
        self.errors.append(FieldError(self.row, field_name, rule, message or RULES[rule].message))

    def coerce(self, spec: FieldSpec, value: Any, field_name: str, rule_field: str) -> Any:
        if is_blank(value):
            return None
        try:
            return _COERCE[spec.kind](spec, value)
        except Invalid as invalid:
            self.error(field_name, invalid.rule_id("activity", rule_field), invalid.message)
            return None


def _legacy_format(raw_format: Any) -> tuple[str, tuple[str, ...], str] | None:
    """A legacy activity-type code or name -> (format, delivery methods, code)."""
    text = str(raw_format).strip()
    if text in FORMATS:  # a current format code ("rss"), not the legacy "RSS"
        return None
    code = LEGACY_ACTIVITY_TYPE_NAMES.get(text, text.upper())
    if code in LEGACY_ACTIVITY_TYPES and (text.upper() == code or text not in FORMATS.values()):
        activity_format, delivery = LEGACY_ACTIVITY_TYPES[code]
        return activity_format, delivery, code
    return None


def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _action_and_status(check: _Checker, raw: Mapping[str, Any]) -> tuple[str, Status | None]:
    """The record's action ("upsert" or "delete") and the status the provider asked for."""
    action = "upsert"
    if not is_blank(raw.get("action")):
        action_code = str(raw["action"]).strip().lower()
        if action_code not in RECORD_ACTIONS:
            check.error("action", "activity.action.not_allowed")
        elif action_code == "delete":
            action = "delete"
    requested: Status | None = None
    if not is_blank(raw.get("status")):
        status_code = str(raw["status"]).strip().lower().replace(" ", "_")
        if status_code not in REQUESTED_STATUSES:
            check.error("status", "activity.status.not_allowed")
        else:
            requested = _REQUESTED[status_code]
    return action, requested


def _status_reached(
    values: Mapping[str, Any],
    missing: Iterable[tuple[Status, str, str]],
    requested: Status | None,
    today: datetime.date,
) -> str:
    """The highest status the record's data allows, capped at the one requested."""
    reached = Status.CLOSED
    for spec_status, _, _ in missing:
        reached = min(reached, Status(spec_status - 1))
    status = min(reached, requested) if requested is not None else reached
    if status == Status.CLOSED:
        return "closed"
    if status == Status.ACTIVE:
        return "ready_to_close" if values["end_date"] < today else "active"
    return "draft"


def validate_activity(
    raw: Mapping[str, Any],
    *,
    row: int | None = None,
    today: datetime.date | None = None,
    closed_years: Collection[int] = (),
) -> tuple[CleanActivity | None, list[FieldError]]:
    """Check one activity record; returns (clean record, []) or (None, errors).

    `closed_years` are the provider's attested reporting years (year_lock.locked_years):
    a record in one of them is refused with the locked-year rule together with every
    other problem it has, so that one answer lists them all (the writer checks the lock
    again, under its own lock, and for an activity moved out of a closed year)."""
    today = today or datetime.date.today()  # noqa: DTZ011 (a calendar date is meant)
    check = _Checker(row)
    action, requested = _action_and_status(check, raw)

    values: dict[str, Any] = {}
    id_spec = FIELDS_BY_NAME["provider_activity_id"]
    values["provider_activity_id"] = check.coerce(
        id_spec, raw.get("provider_activity_id"), "provider_activity_id", "provider_activity_id"
    )
    if values["provider_activity_id"] is None and not check.errors:
        check.error("provider_activity_id", "activity.provider_activity_id.required")
    if action == "delete":  # a reserved ID stored before RESERVED_ID_RULE may still go
        if check.errors:
            return None, check.errors
        return CleanActivity(values["provider_activity_id"], "delete"), []
    if values["provider_activity_id"] and RESERVED_ID.search(values["provider_activity_id"]):
        check.error("provider_activity_id", RESERVED_ID_RULE)

    raw_format = raw.get("activity_format")
    legacy = _legacy_format(raw_format) if not is_blank(raw_format) else None
    _read_fields(check, raw, values, legacy)
    values["legacy_activity_type"] = legacy[2] if legacy is not None else ""

    supporters = _supporters(check, raw.get("supporters"))
    _cross_field_checks(check, values)
    year = values.get("reporting_year")
    if year is not None and year in closed_years and not check.has_error("reporting_year"):
        check.error("reporting_year", LOCKED_RULE, locked_message(year))
    missing = _missing_requirements(values, supporters)
    for spec_status, field_name, rule in missing:
        if check.has_error(field_name):
            continue  # already reported as unreadable; "required" would say it twice
        if spec_status == Status.DRAFT or (requested is not None and spec_status <= requested):
            check.error(field_name, rule)
    if check.errors:
        return None, check.errors

    values["status"] = _status_reached(values, missing, requested, today)
    values["meets_mips"] = bool(values.get("meets_mips"))
    for name, is_list in _EMPTY_FILLS:
        if values[name] is None:
            values[name] = [] if is_list else ""
    return CleanActivity(values["provider_activity_id"], "upsert", values, supporters), []


def _read_fields(
    check: _Checker,
    raw: Mapping[str, Any],
    values: dict[str, Any],
    legacy: tuple[str, tuple[str, ...], str] | None,
) -> None:
    """Each plain field's clean value into `values` (None: blank or unreadable)."""
    values.update(_BLANKS)
    fields = _PLAIN_FIELDS
    if legacy is not None:
        # A legacy activity type stands for the format and, unless one is given, the
        # delivery method: those fields are not read from the record.
        values["activity_format"], legacy_delivery, _ = legacy
        fields = _ALL_BUT_FORMAT
        if is_blank(raw.get("delivery_methods")) and legacy_delivery:
            values["delivery_methods"] = list(legacy_delivery)
            fields = _ALL_BUT_FORMAT_AND_DELIVERY
    get = raw.get
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
            check.error(name, invalid.rule_id("activity", name), invalid.message)


def _supporters(check: _Checker, raw_supporters: Any) -> list[dict[str, Any]]:
    if is_blank(raw_supporters):
        return []
    if not isinstance(raw_supporters, list | tuple):
        check.error(
            "supporters", "activity.row.unreadable", "Commercial Supporters must be a list."
        )
        return []
    supporters = []
    for index, raw in enumerate(raw_supporters, start=1):
        if not isinstance(raw, Mapping):
            check.error(f"supporters[{index}]", "activity.row.unreadable")
            continue
        if all(is_blank(value) for value in raw.values()):
            continue  # an empty repeated column block
        supporter: dict[str, Any] = {}
        for spec in SUPPORTER_FIELDS:
            supporter[spec.name] = check.coerce(
                spec,
                raw.get(spec.name),
                f"supporters[{index}].{spec.name}",
                f"supporters.{spec.name}",
            )
        if supporter["in_kind_types"] and supporter["in_kind"] is None:
            supporter["in_kind"] = True
        if supporter["in_kind_description"] and supporter["in_kind"] is None:
            supporter["in_kind"] = True
        supporter["in_kind"] = bool(supporter["in_kind"])
        supporter["in_kind_types"] = supporter["in_kind_types"] or []
        supporter["in_kind_description"] = supporter["in_kind_description"] or ""
        if not supporter["source"]:
            check.error(f"supporters[{index}].source", "activity.supporters.source.required")
        amount_field = f"supporters[{index}].monetary_amount"
        if (
            not supporter["in_kind"]
            and not supporter["monetary_amount"]
            and not check.has_error(amount_field)
        ):
            check.error(amount_field, "activity.supporters.amount_or_in_kind")
        supporters.append(supporter)
    return supporters


def _cross_field_checks(check: _Checker, values: dict[str, Any]) -> None:
    start, end = values.get("start_date"), values.get("end_date")
    if start and end:
        if end < start:
            check.error("end_date", "activity.end_date.before_start")
        else:
            years = 3 if values.get("activity_format") == "enduring" else 1
            if end >= _add_years(start, years):
                check.error("end_date", "activity.end_date.too_long")
    year = values.get("reporting_year")
    if start and year is None:
        values["reporting_year"] = start.year
    elif start and end and year is not None and not start.year <= year <= end.year:
        check.error("reporting_year", "activity.reporting_year.outside_dates")
    if values.get("activity_format") not in LIVE_FORMATS:
        # Location applies to live activities only; other formats ignore it.
        values["city"] = values["state"] = values["country"] = None
    elif (
        not values.get("city")
        and (values.get("state") or values.get("country"))
        and not check.has_error("city")
    ):
        # A location without its city (reference 2.7 rule 7): refused, not kept as a
        # draft, so the provider learns of it ("required_live" only caps the status).
        check.error("city", "activity.city.required_with_location")


def _missing_requirements(
    values: dict[str, Any], supporters: list[dict[str, Any]]
) -> list[tuple[Status, str, str]]:
    """Each requirement the record does not meet: (lowest status needing it, field, rule)."""
    year = values.get("reporting_year")
    missing: list[tuple[Status, str, str]] = []
    for name, empty, required_for, rule in _required_in(year):
        value = values.get(name)
        if value is None or value == empty:
            missing.append((required_for, name, rule))
    activity_format = values.get("activity_format")
    delivery = values.get("delivery_methods") or []
    if (
        activity_format in FORMATS_WITH_DELIVERY
        and not delivery
        and FIELDS_BY_NAME["delivery_methods"].collected_in(year)
    ):
        missing.append((Status.ACTIVE, "delivery_methods", "activity.delivery_methods.required"))
    in_person = activity_format in LIVE_FORMATS and (not delivery or "in_person" in delivery)
    if in_person:
        if not values.get("city"):
            missing.append((Status.ACTIVE, "city", "activity.city.required_live"))
        if not values.get("country"):
            missing.append((Status.ACTIVE, "country", "activity.country.required_live"))
        elif values["country"] == "USA" and not values.get("state"):
            missing.append((Status.ACTIVE, "state", "activity.state.required_usa"))
    if values.get("listed_on_passport"):
        for name in ("fee", "registration", "activity_url"):
            if not values.get(name):
                missing.append((Status.ACTIVE, name, f"activity.{name}.required_listed"))
    if (
        values.get("providership") == "joint"
        and not values.get("joint_providers")
        and (year is None or year >= 2015)
    ):
        missing.append(
            (Status.CLOSED, "joint_providers", "activity.joint_providers.required_joint")
        )
    support = values.get("commercial_support_received")
    # Named supporters are asked for from 2015; before, activity totals stood for them.
    if support is True and not supporters and (year is None or year >= 2015):
        missing.append((Status.CLOSED, "supporters", "activity.supporters.required"))
    if support is False and supporters:
        missing.append((Status.DRAFT, "supporters", "activity.supporters.not_allowed"))
    return missing


def rules_for_year(year: int | None) -> Iterable[Rule]:
    """The rules that apply to activities of a reporting year (all rules for None)."""
    return rules_of_year(RULES, year)
