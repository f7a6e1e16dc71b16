"""The one activity validator, used by every channel (web form, TSV, XLSX, XML, JSON).

Parsers hand it a mapping of dictionary field names to raw values: strings from
text formats, native values from JSON and Excel. It returns the clean record or
field-level errors, each carrying a stable rule ID from :data:`RULES`. How each field's
value is read (coercion by kind, the remembering and generated readers of a file's
cells) is `pars.activities.field_readers`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pars.activities.dictionary import (
    CONTROL_CHARACTER_RULE,
    FIELDS,
    FIELDS_BY_NAME,
    FORMATS,
    FORMATS_WITH_DELIVERY,
    LEGACY_ACTIVITY_TYPE_NAMES,
    LEGACY_ACTIVITY_TYPES,
    LIVE_FORMATS,
    MAX_WHOLE_NUMBER,
    RECORD_ACTIONS,
    REQUESTED_STATUSES,
    SUPPORTER_FIELDS,
)
from pars.activities.field_readers import (
    _COERCE,
    _KIND_FORMS,
    _MEMO_LIMIT,
    _MISSING,
    _PLAIN_FIELDS,
    _READ_ALL,
    _READ_ALL_BUT_FORMAT,
    _READ_ALL_BUT_FORMAT_AND_DELIVERY,
    _text_reader,
)
from pars.activities.year_lock import LOCKED_RULE, locked_message
from pars.intake.coerce import Invalid, is_blank
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
# The validator

# The ID is read apart from the plain fields (a delete needs it alone).
_ID_SPEC = FIELDS_BY_NAME["provider_activity_id"]
_ID_TEXT = _text_reader(_ID_SPEC, {})


# The ID and every plain field blank (None): the start of a record's values (a copy of it
# is made at once; filling an empty dict key by key costs more).
_BLANK_VALUES: dict[str, Any] = dict.fromkeys(
    ["provider_activity_id", *(name for name, _, _, _ in _PLAIN_FIELDS)]
)
# The fields whose blank is not None: "" for text and codes, [] for lists.
_EMPTY_FILLS = [
    (spec.name, isinstance(spec.empty, list))
    for spec in FIELDS
    if spec.name not in ("provider_activity_id", "supporters") and spec.empty is not None
]


def _fill_empties_source() -> str:
    """``fill(values)``: each of _EMPTY_FILLS left None takes its blank ("" or a new
    list), one line per field rather than a loop per record."""
    lines = [
        f"    if values[{name!r}] is None:\n"
        f"        values[{name!r}] = {'[]' if is_list else repr('')}\n"
        for name, is_list in _EMPTY_FILLS
    ]
    return "def fill(values):\n" + "".join(lines) + "    return None\n"


def _generated(source: str, name: str, namespace: dict[str, Any]) -> Any:
    """The function `name` that `source` (made here from the dictionary) defines."""
    exec(compile(source, f"<activity {name}>", "exec"), namespace)  # noqa: S102 (our own source)
    return namespace[name]


_fill_empties: Callable[[dict[str, Any]], None] = _generated(_fill_empties_source(), "fill", {})
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


# By reporting year: ``missing(values)``, (lowest status needing it, field, rule) of each
# field required that year that the values leave empty (_required_missing_source).
_MISSING_BY_YEAR: dict[int | None, Callable[[dict[str, Any]], list[tuple[Status, str, str]]]] = {}


def _required_missing(
    year: int | None,
) -> Callable[[dict[str, Any]], list[tuple[Status, str, str]]]:
    missing = _MISSING_BY_YEAR.get(year)
    if missing is None:
        namespace: dict[str, Any] = {}
        source = _required_missing_source(_required_in(year), namespace)
        missing = _MISSING_BY_YEAR[year] = _generated(source, "missing", namespace)
    return missing


def _required_missing_source(
    required: list[tuple[str, Any, Status, str]], namespace: dict[str, Any]
) -> str:
    """``missing(values)``: for each required field, in order, its requirement when the
    value is None or equals the field's empty value; one test per field, no loop."""
    lines = []
    for index, (name, empty, required_for, rule) in enumerate(required):
        namespace[f"need{index}"] = (required_for, name, rule)
        namespace[f"empty{index}"] = empty
        test = "value is None" if empty is None else f"value is None or value == empty{index}"
        lines.append(
            f"    value = get({name!r})\n    if {test}:\n        found.append(need{index})\n"
        )
    return (
        "def missing(values):\n    get = values.get\n    found = []\n"
        + "".join(lines)
        + "    return found\n"
    )


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
    __slots__ = ("errors", "row")

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


# The legacy reading of each activity format text seen (files repeat a handful).
_LEGACY_BY_TEXT: dict[str, tuple[str, tuple[str, ...], str] | None] = {}


def _legacy_of(raw_format: Any) -> tuple[str, tuple[str, ...], str] | None:
    """_legacy_format of a non-blank format (None for a blank one), remembered by text."""
    if raw_format.__class__ is not str:
        return _legacy_format(raw_format) if not is_blank(raw_format) else None
    legacy = _LEGACY_BY_TEXT.get(raw_format, _MISSING)
    if legacy is _MISSING:
        legacy = _legacy_format(raw_format) if not is_blank(raw_format) else None
        if len(_LEGACY_BY_TEXT) >= _MEMO_LIMIT:
            _LEGACY_BY_TEXT.clear()
        _LEGACY_BY_TEXT[raw_format] = legacy
    return legacy


@lru_cache(maxsize=4_096)  # files repeat their start dates
def _add_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _action_and_status(check: _Checker, raw: Mapping[str, Any]) -> tuple[str, Status | None]:
    """The record's action ("upsert" or "delete") and the status the provider asked for:
    the spellings files hold looked up (read once by _read_action_and_status), any other
    value read."""
    action_raw, status_raw = raw.get("action"), raw.get("status")
    if action_raw.__class__ is str and status_raw.__class__ is str:
        action = _ACTION_WORDS.get(action_raw)
        requested = _STATUS_WORDS.get(status_raw, _MISSING)
        if action is not None and requested is not _MISSING:
            return action, requested
    return _read_action_and_status(check, raw)


def _read_action_and_status(check: _Checker, raw: Mapping[str, Any]) -> tuple[str, Status | None]:
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


def _word_readings(name: str, words: Iterable[str]) -> dict[str, Any]:
    """The action's (or status's) reading of each spelling of `words` a file may hold (as
    written, lower, upper, capitalized, title case; and the blank cell), by
    _read_action_and_status itself; spellings it refuses are left out."""
    cases = (str, str.lower, str.upper, str.capitalize, str.title)
    readings: dict[str, Any] = {}
    for form in {"", *(case(word) for word in words for case in cases)}:
        check = _Checker(None)
        action, requested = _read_action_and_status(check, {name: form})
        if not check.errors:
            readings[form] = action if name == "action" else requested
    return readings


_ACTION_WORDS: dict[str, str] = _word_readings(
    "action", [*RECORD_ACTIONS, *RECORD_ACTIONS.values()]
)
_STATUS_WORDS: dict[str, Status | None] = _word_readings(
    "status", [*REQUESTED_STATUSES, *REQUESTED_STATUSES.values()]
)


def _status_reached(
    values: Mapping[str, Any],
    missing: Iterable[tuple[Status, str, str]],
    requested: Status | None,
    today: datetime.date,
) -> str:
    """The highest status the record's data allows, capped at the one requested."""
    if not missing and requested is Status.CLOSED:
        return "closed"  # most records of a file: the answer below, without enum arithmetic
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

    values = _BLANK_VALUES.copy()
    raw_id = raw.get("provider_activity_id")
    if raw_id.__class__ is str and raw_id and not raw_id.isspace():
        try:
            values["provider_activity_id"] = _ID_TEXT(raw_id)
        except Invalid as invalid:
            rule = invalid.rule_id("activity", "provider_activity_id")
            check.error("provider_activity_id", rule, invalid.message)
    else:
        values["provider_activity_id"] = check.coerce(
            _ID_SPEC, raw_id, "provider_activity_id", "provider_activity_id"
        )
    key = values["provider_activity_id"]
    if key is None and not check.errors:
        check.error("provider_activity_id", "activity.provider_activity_id.required")
    if action == "delete":  # a reserved ID stored before RESERVED_ID_RULE may still go
        if check.errors:
            return None, check.errors
        return CleanActivity(key, "delete"), []
    if key and "registrations" in key and RESERVED_ID.search(key):
        check.error("provider_activity_id", RESERVED_ID_RULE)

    legacy = _legacy_of(raw.get("activity_format"))
    _read_fields(check, raw, values, legacy)
    values["legacy_activity_type"] = legacy[2] if legacy is not None else ""

    supporters = _supporters(check, raw.get("supporters"))
    _cross_field_checks(check, values)
    year = values.get("reporting_year")
    if year is not None and year in closed_years and not check.has_error("reporting_year"):
        check.error("reporting_year", LOCKED_RULE, locked_message(year))
    missing = _missing_requirements(values, supporters)
    for spec_status, field_name, rule in missing:
        if check.errors and check.has_error(field_name):
            continue  # already reported as unreadable; "required" would say it twice
        if spec_status == Status.DRAFT or (requested is not None and spec_status <= requested):
            check.error(field_name, rule)
    if check.errors:
        return None, check.errors

    values["status"] = _status_reached(values, missing, requested, today)
    values["meets_mips"] = bool(values.get("meets_mips"))
    _fill_empties(values)
    return CleanActivity(values["provider_activity_id"], "upsert", values, supporters), []


def _read_fields(
    check: _Checker,
    raw: Mapping[str, Any],
    values: dict[str, Any],
    legacy: tuple[str, tuple[str, ...], str] | None,
) -> None:
    """Each plain field's clean value into `values` (which holds each of them blank: None
    stays for a blank or unreadable one)."""
    read = _READ_ALL
    if legacy is not None:
        # A legacy activity type stands for the format and, unless one is given, the
        # delivery method: those fields are not read from the record.
        values["activity_format"], legacy_delivery, _ = legacy
        read = _READ_ALL_BUT_FORMAT
        if is_blank(raw.get("delivery_methods")) and legacy_delivery:
            values["delivery_methods"] = list(legacy_delivery)
            read = _READ_ALL_BUT_FORMAT_AND_DELIVERY
    read(raw.get, values, check.error)


# Each supporter field's name, reader of non-blank text (chosen once, remembering, as a
# plain field's: _text_reader), its spec and its rule's field.
_SUPPORTER_READERS = [
    (spec.name, _text_reader(spec, {}), spec, f"supporters.{spec.name}")
    for spec in SUPPORTER_FIELDS
]


def _supporters(check: _Checker, raw_supporters: Any) -> list[dict[str, Any]]:
    if raw_supporters.__class__ is list and not raw_supporters:
        return []  # most records: is_blank's answer, sooner
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
        for name, text, spec, rule_field in _SUPPORTER_READERS:
            value = raw.get(name)
            if value.__class__ is not str:
                supporter[name] = check.coerce(
                    spec, value, f"supporters[{index}].{name}", rule_field
                )
            elif not value or value.isspace():
                supporter[name] = None
            else:
                try:
                    supporter[name] = text(value)
                except Invalid as invalid:
                    field_name = f"supporters[{index}].{name}"
                    check.error(
                        field_name, invalid.rule_id("activity", rule_field), invalid.message
                    )
                    supporter[name] = None
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
    missing = _required_missing(year)(values)
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
