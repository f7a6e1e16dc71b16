"""The one validator of learner completions and activity registrations.

Every channel (web form, TSV, XLSX, XML, JSON) hands its raw record, a mapping of
dictionary field names to values, to :func:`validate_completion`; the registration
form and API hand theirs to :func:`validate_registration`. The rules that need the
database (the activity exists, is registered for the recipient, the completion falls
within its dates and registered points) are checked by the one writer,
``pars.learners.services.apply_completions``, for every channel alike.

The recipient's rules are data (:class:`RecipientRules`, read from the
``Recipient`` table). Messages about personal fields never quote the value: error
reports and logs must not carry identifiers or birth dates.

Learner files are the biggest PARS receives (hundreds of thousands of rows), so the
per-field parsing of values that repeat (dates, credits, codes) is memoised.
"""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.utils import timezone

from pars.activities.dictionary import US_STATE_NAMES
from pars.intake.coerce import (
    Invalid,
    is_blank,
    label_lookup,
    list_items,
    parse_date,
    read_boolean,
    read_choice,
    read_date,
    read_decimal,
    read_text,
    read_whole,
    whole_text,
)
from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldError, FieldRule, Rule, catalogue, field_rules
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    COMPLETION_FIELDS_BY_NAME,
    RECORD_ACTIONS,
    REGISTRATION_FIELDS,
)
from pars.lib.text import (
    CONTROL_CHARACTER_FIELD,
    CONTROL_CHARACTER_MESSAGE,
    CONTROL_CHARACTER_RULE,
)

__all__ = [
    "COMPLETION_VALUE_FIELDS",
    "RULES",
    "CleanCompletion",
    "CleanRegistration",
    "FieldError",
    "RecipientRules",
    "load_recipients",
    "validate_completion",
    "validate_registration",
]

# ---------------------------------------------------------------------------
# Recipients' rules, as the validator sees them


@dataclass(frozen=True)
class RecipientRules:
    code: str
    name: str
    kind: str
    state: str = ""
    identifier_kind: str = "board_id"
    identifier_label: str = "Learner ID"
    identifier_pattern: str = ""
    identifier_hint: str = ""
    identifier_required: bool = True
    accepts_npi: bool = False
    credit_types: tuple[str, ...] = ()
    practice_areas: tuple[str, ...] = ()
    feedback_types: tuple[str, ...] = ()
    registration_fields: tuple[str, ...] = ()
    required_registration_fields: tuple[str, ...] = ()
    completion_fields: frozenset[str] = frozenset()
    points_step: Decimal = Decimal("0.25")
    variable_credit: bool = True
    window_years: int = 2
    first_completion_date: datetime.date | None = None
    pk: int | None = None
    _identifier_re: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def is_moc(self) -> bool:
        return self.kind == "moc_board"

    @property
    def is_state_board(self) -> bool:
        return self.kind == "state_board"

    def identifier_matches(self, value: str) -> bool:
        pattern = self._identifier_re
        return pattern is None or pattern.fullmatch(value) is not None

    def canonical_credit_type(self, value: str) -> str | None:
        wanted = value.strip().casefold()
        for name in self.credit_types:
            if name.casefold() == wanted:
                return name
        return None

    def earliest_completion(self, today: datetime.date) -> datetime.date:
        earliest = datetime.date(today.year - max(self.window_years, 1) + 1, 1, 1)
        if self.first_completion_date and self.first_completion_date > earliest:
            return self.first_completion_date
        return earliest


def rules_from_recipient(recipient: Any) -> RecipientRules:
    """The validator's view of a :class:`~pars.learners.models.Recipient` row."""
    pattern = recipient.identifier_pattern or ""
    return RecipientRules(
        code=recipient.code,
        name=recipient.name,
        kind=recipient.kind,
        state=recipient.state,
        identifier_kind=recipient.identifier_kind,
        identifier_label=recipient.identifier_label,
        identifier_pattern=pattern,
        identifier_hint=recipient.identifier_hint,
        identifier_required=recipient.identifier_required,
        accepts_npi=recipient.accepts_npi,
        credit_types=tuple(recipient.credit_types or ()),
        practice_areas=tuple(recipient.practice_areas or ()),
        feedback_types=tuple(recipient.feedback_types or ()),
        registration_fields=tuple(recipient.registration_fields or ()),
        required_registration_fields=tuple(recipient.required_registration_fields or ()),
        completion_fields=frozenset(recipient.completion_fields or ()),
        points_step=Decimal(recipient.points_step or "0.25"),
        variable_credit=recipient.variable_credit,
        window_years=recipient.window_years,
        first_completion_date=recipient.first_completion_date,
        pk=recipient.pk,
        _identifier_re=re.compile(pattern) if pattern else None,
    )


def load_recipients(*, include_inactive: bool = False) -> dict[str, RecipientRules]:
    """Every recipient's rules by upper-case code (read once per request or upload)."""
    from pars.learners.models import Recipient

    rows = Recipient.objects.all() if include_inactive else Recipient.objects.filter(active=True)
    return {row.code.upper(): rules_from_recipient(row) for row in rows}


# ---------------------------------------------------------------------------
# The rule catalogue (published at /rules/learners/ and /api/v1/rules/learners)

_RULE_LIST = [
    Rule("learner.action.not_allowed", "action", "Action must be Add or Delete."),
    Rule(
        "learner.activity.required",
        "provider_activity_id",
        "Give the Provider Activity ID or the ACCME Activity ID of the activity.",
    ),
    Rule(
        "learner.accme_activity_id.invalid", "accme_activity_id", "ACCME Activity ID has 9 digits."
    ),
    Rule("learner.recipient.required", "recipient", "Recipient is required."),
    Rule("learner.recipient.unknown", "recipient", "Recipient must be a known recipient code."),
    Rule("learner.first_name.required", "first_name", "First Name is required."),
    Rule("learner.last_name.required", "last_name", "Last Name is required."),
    Rule("learner.birth_date.required", "birth_date", "Birth month and day are required."),
    Rule("learner.birth_date.invalid", "birth_date", "Birth month and day must be a real MM-DD."),
    Rule(
        "learner.learner_id.required",
        "learner_id",
        "The recipient's learner identifier is required (board ID, licence ID or local ID).",
    ),
    Rule(
        "learner.learner_id.invalid",
        "learner_id",
        "The learner identifier does not have the recipient's form.",
    ),
    Rule("learner.npi.invalid", "npi", "NPI must be 10 digits with a valid check digit."),
    Rule("learner.license_state.required", "license_state", "State boards need the licence state."),
    Rule(
        "learner.license_state.mismatch",
        "license_state",
        "The licence state must be the state of the recipient board.",
    ),
    Rule("learner.completion_date.required", "completion_date", "Completion Date is required."),
    Rule("learner.completion_date.future", "completion_date", "Completion Date is in the future."),
    Rule(
        "learner.completion_date.outside_window",
        "completion_date",
        "The recipient accepts completions of this and last calendar year only (its window).",
    ),
    Rule(
        "learner.completion_date.outside_activity",
        "completion_date",
        "Completion Date must fall within the activity's start and end dates.",
    ),
    Rule(
        "learner.moc_points.required",
        "moc_points",
        "MOC Points are required for a certifying board.",
    ),
    Rule(
        "learner.moc_points.step",
        "moc_points",
        "MOC Points must be a multiple of the board's step (0.25).",
    ),
    Rule(
        "learner.moc_points.over_registered",
        "moc_points",
        "MOC Points may not exceed the points the activity is registered for.",
    ),
    Rule(
        "learner.moc_points.not_variable",
        "moc_points",
        "This board accepts no variable credit: every learner earns the registered points.",
    ),
    Rule(
        "learner.moc_points.not_for_recipient",
        "moc_points",
        "MOC points and credit types apply to certifying boards only.",
    ),
    Rule(
        "learner.moc_credit_types.not_allowed",
        "moc_credit_types",
        "A MOC credit type must be one the board uses.",
    ),
    Rule(
        "learner.moc_credit_types.not_registered",
        "moc_credit_types",
        "A MOC credit type must be one the activity is registered for.",
    ),
    Rule(
        "learner.credit_claim_date.passed",
        "completion_date",
        "The activity's credit claim date for this board has passed.",
    ),
    Rule(
        "learner.cme_credits.required",
        "cme_credits",
        "CME Credits are required for this recipient.",
    ),
    Rule(
        "learner.activity.not_found",
        "provider_activity_id",
        "No activity of yours has this ID.",
    ),
    Rule(
        "learner.activity.not_registered",
        "recipient",
        "The activity is not registered for this recipient.",
    ),
    Rule(
        "learner.record.not_found",
        "action",
        "Delete: no completion with this activity, recipient, learner and date.",
    ),
    Rule(
        "learner.record.duplicate_in_file",
        "row",
        "The same completion appears twice in the file.",
    ),
    Rule("learner.row.unreadable", "row", "The row could not be read."),
    # The activities' rule, shared: no text field holds control characters.
    Rule(CONTROL_CHARACTER_RULE, CONTROL_CHARACTER_FIELD, CONTROL_CHARACTER_MESSAGE),
]


# The learner catalogue's words for an unreadable value, by kind.
_INVALID_WORDS = {
    Kind.DATE: "must be a date.",
    Kind.DECIMAL: "must be a number.",
    Kind.BOOLEAN: "is Yes or No.",
}


def _implied_rules(spec: FieldSpec) -> list[FieldRule]:
    """The rules a completion field's kind and limits imply."""
    rules = []
    if spec.kind in _INVALID_WORDS:
        rules.append(FieldRule("invalid", f"{spec.label} {_INVALID_WORDS[spec.kind]}"))
    if spec.kind is Kind.DECIMAL and spec.step:
        rules.append(FieldRule("step", f"{spec.label} must be a multiple of {spec.step}."))
    if spec.choices:
        rules.append(FieldRule("not_allowed", f"{spec.label} must be one of the allowed values."))
        rules.append(FieldRule("required", f"{spec.label} is required here."))
    if spec.max_length:
        message = f"{spec.label} must be at most {spec.max_length} characters."
        rules.append(FieldRule("too_long", message))
    return rules


def _implied_registration_rules(spec: FieldSpec) -> list[FieldRule]:
    return [
        FieldRule("required", f"{spec.label} is required."),
        FieldRule("invalid", f"{spec.label} is not valid."),
    ]


_REGISTRATION_RULES = [
    Rule("registration.recipient.unknown", "recipient", "Unknown recipient."),
    Rule(
        "registration.attestation.required",
        "attest",
        "Registering requires attesting to the recipient's requirements.",
    ),
    Rule(
        "registration.credit_types.not_allowed",
        "credit_types",
        "A credit type must be one the board uses.",
    ),
    Rule(
        "registration.practice_areas.not_allowed",
        "practice_areas",
        "A practice area must be one the board lists.",
    ),
    Rule(
        "registration.feedback_type.not_allowed",
        "feedback_type",
        "A feedback type must be one the board lists.",
    ),
    Rule(
        "registration.moc_points.over_credits",
        "moc_points",
        "MOC points may not exceed the activity's AMA credits.",
    ),
    Rule("registration.rems_rpc_id.invalid", "rems_rpc_id", "RPC ID has the form EG-######-###."),
    Rule(
        "registration.activity.has_completions",
        "recipient",
        "Completions were reported for this registration; withdraw them first.",
    ),
]

# Where two give an ID, the first wins: the hand-written rules say more than the implied.
RULES: dict[str, Rule] = catalogue(
    _RULE_LIST,
    field_rules("learner", ((spec.name, spec) for spec in COMPLETION_FIELDS), _implied_rules),
    _REGISTRATION_RULES,
    field_rules(
        "registration",
        ((spec.name, spec) for spec in REGISTRATION_FIELDS),
        _implied_registration_rules,
    ),
)


# ---------------------------------------------------------------------------
# Reading values: the shared readers (`pars.intake.coerce`), chosen by the field's kind


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
    codes: list[str] = []
    for item in list_items(value):
        code = _choice(spec, item)
        if code not in codes:
            codes.append(code)
    return codes


def _text(spec: FieldSpec, value: Any) -> str:
    return read_text(
        spec.label, value, max_length=spec.max_length, count=spec.name not in _PERSONAL
    )


def _decimal(spec: FieldSpec, value: Any) -> Decimal:
    # The learner catalogue files a value over the field's maximum under "invalid".
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


# ---------------------------------------------------------------------------
# Completions


# The model fields a clean completion sets, in the dictionary's order: the birth date is
# kept as month and day; the activity and the recipient are the writer's to link.
COMPLETION_VALUE_FIELDS: tuple[str, ...] = (
    "learner_key",
    *(
        name
        for spec in COMPLETION_FIELDS
        if spec.name not in ("provider_activity_id", "accme_activity_id", "recipient")
        for name in (("birth_month", "birth_day") if spec.name == "birth_date" else (spec.name,))
    ),
)


@dataclass(slots=True)
class CleanCompletion:
    """A completion record that passed every rule the validator can check alone."""

    action: str
    recipient: str
    provider_activity_id: str
    accme_activity_id: str
    first_name: str
    last_name: str
    birth_month: int
    birth_day: int
    learner_id: str
    npi: str
    license_state: str
    completion_date: datetime.date
    cme_credits: Decimal | None = None
    moc_points: Decimal | None = None
    moc_credit_types: list[str] = field(default_factory=list)
    profession: str = ""
    practice_state: str = ""
    dea_registration: str = ""
    practice_area: str = ""
    surgical_procedures: bool | None = None
    time_in_practice: str = ""
    learner_key: str = ""  # how the recipient knows the learner (see learner_key())

    @property
    def activity_ref(self) -> str:
        return self.provider_activity_id or f"#{self.accme_activity_id}"

    def identity(self) -> tuple[str, str, str, datetime.date]:
        """What makes the record the same record again: activity, recipient, learner, date."""
        return (self.activity_ref, self.recipient, self.learner_key, self.completion_date)

    def values(self) -> dict[str, Any]:
        """The model field values (without activity, recipient and status)."""
        return {
            name: list(value) if isinstance(value, list) else value
            for name in COMPLETION_VALUE_FIELDS
            for value in (getattr(self, name),)
        }


def learner_key(
    recipient: str,
    learner_id: str,
    npi: str,
    license_state: str,
    first_name: str,
    last_name: str,
    birth_month: int,
    birth_day: int,
) -> str:
    """The learner as the recipient knows them: by identifier, else by NPI, else by name."""
    if learner_id:
        prefix = f"lic:{license_state}" if license_state else "id"
        return f"{prefix}:{learner_id.upper()}"
    if npi:
        return f"npi:{npi}"
    return f"name:{last_name.casefold()}|{first_name.casefold()}|{birth_month:02d}{birth_day:02d}"


_SPEC = COMPLETION_FIELDS_BY_NAME
# The fields that identify the activity, the recipient, the learner and the day: each
# has rules of its own in validate_completion() (the birth date: month_day()). Every
# other completion field is read by its kind alone, with the recipient's overrides
# (:func:`_recipient_specs`).
_IDENTITY_FIELDS = frozenset(
    {
        "provider_activity_id",
        "accme_activity_id",
        "recipient",
        "first_name",
        "last_name",
        "birth_date",
        "learner_id",
        "npi",
        "license_state",
        "completion_date",
    }
)
_RECORD_FIELDS = tuple(spec for spec in COMPLETION_FIELDS if spec.name not in _IDENTITY_FIELDS)


class _Errors:
    __slots__ = ("errors", "row")

    def __init__(self, row: int | None) -> None:
        self.row = row
        self.errors: list[FieldError] = []

    def add(self, field_name: str, rule: str, message: str | None = None) -> None:
        if rule.endswith(".required") and any(e.field == field_name for e in self.errors):
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


def validate_completion(
    raw: Mapping[str, Any],
    *,
    row: int | None = None,
    recipients: Mapping[str, RecipientRules],
    today: datetime.date | None = None,
) -> tuple[CleanCompletion | None, list[FieldError]]:
    """Check one completion record from any channel: (clean record or None, errors)."""
    errors = _Errors(row)
    if today is None:
        today = timezone.localdate()

    action_raw = raw.get("action")
    action = "add"
    if not is_blank(action_raw):
        action = str(action_raw).strip().lower()
        if action not in RECORD_ACTIONS:
            errors.add("action", "learner.action.not_allowed")
            action = "add"

    def read(name: str) -> Any:
        return errors.read(_SPEC[name], raw.get(name))

    provider_activity_id = read("provider_activity_id")
    accme_activity_id = read("accme_activity_id")
    if accme_activity_id and not (len(accme_activity_id) == 9 and accme_activity_id.isdigit()):
        errors.add("accme_activity_id", "learner.accme_activity_id.invalid")
    if not provider_activity_id and not accme_activity_id:
        errors.add("provider_activity_id", "learner.activity.required")

    code = read("recipient").upper()
    rules = recipients.get(code) if code else None
    if not code:
        errors.add("recipient", "learner.recipient.required")
    elif rules is None:
        errors.add(
            "recipient",
            "learner.recipient.unknown",
            f"Recipient '{code[:20]}' is unknown. Allowed: {', '.join(recipients)}.",
        )

    first_name, last_name = read("first_name"), read("last_name")
    if not first_name:
        errors.add("first_name", "learner.first_name.required")
    if not last_name:
        errors.add("last_name", "learner.last_name.required")

    birth = month_day(raw)
    if birth is False:
        errors.add("birth_date", "learner.birth_date.required")
    elif birth is None:
        errors.add("birth_date", "learner.birth_date.invalid")

    learner_id, npi = read("learner_id"), read("npi")
    if npi and not npi_is_valid(npi):
        errors.add("npi", "learner.npi.invalid")
        npi = ""
    license_state = read("license_state")

    completion_date = read("completion_date")
    if is_blank(raw.get("completion_date")):
        errors.add("completion_date", "learner.completion_date.required")
    elif completion_date is not None and completion_date > today:
        errors.add("completion_date", "learner.completion_date.future")

    if rules is not None:
        _identity_rules(rules, learner_id, npi, license_state, errors)
        if completion_date is not None and completion_date <= today:
            earliest = rules.earliest_completion(today)
            if completion_date < earliest:
                errors.add(
                    "completion_date",
                    "learner.completion_date.outside_window",
                    f"{rules.code} accepts completions from {earliest:%m/%d/%Y}; "
                    f"this one is dated {completion_date:%m/%d/%Y}.",
                )

    clean_values: dict[str, Any] = {}
    if action == "add":
        clean_values = _record_values_memoized(raw, rules, errors)

    if errors.errors or rules is None or completion_date is None or not birth:
        return None, errors.errors
    assert isinstance(birth, tuple)
    return (
        CleanCompletion(
            action=action,
            recipient=rules.code,
            provider_activity_id=provider_activity_id,
            accme_activity_id=accme_activity_id,
            first_name=first_name,
            last_name=last_name,
            birth_month=birth[0],
            birth_day=birth[1],
            learner_id=learner_id,
            npi=npi,
            license_state=license_state,
            completion_date=completion_date,
            learner_key=learner_key(
                rules.code,
                learner_id,
                npi,
                license_state,
                first_name,
                last_name,
                birth[0],
                birth[1],
            ),
            **clean_values,
        ),
        [],
    )


def _identity_rules(
    rules: RecipientRules, learner_id: str, npi: str, license_state: str, errors: _Errors
) -> None:
    label = rules.identifier_label
    if learner_id:
        if not rules.identifier_matches(learner_id):
            hint = f" ({rules.identifier_hint})" if rules.identifier_hint else ""
            errors.add(
                "learner_id",
                "learner.learner_id.invalid",
                f"{label} does not have the form {rules.code} uses{hint}.",
            )
    elif rules.identifier_required and not (rules.accepts_npi and npi):
        alternative = " or the NPI" if rules.accepts_npi else ""
        errors.add(
            "learner_id",
            "learner.learner_id.required",
            f"{label}{alternative} is required for {rules.code}.",
        )
    if rules.is_state_board:
        if not license_state:
            errors.add("license_state", "learner.license_state.required")
        elif rules.state and license_state != rules.state:
            errors.add(
                "license_state",
                "learner.license_state.mismatch",
                f"{rules.name} takes licences of "
                f"{US_STATE_NAMES.get(rules.state, rules.state)} only.",
            )


def recipient_overrides(rules: RecipientRules) -> dict[str, dict[str, Any]]:
    """What a recipient changes about the dictionary's completion fields (its Recipient
    row, as data): the board's points step and its own list of MOC credit types."""
    return {
        "moc_points": {"step": rules.points_step},
        "moc_credit_types": {
            "kind": Kind.CHOICE_LIST,
            "choices": {name: name for name in rules.credit_types},
        },
    }


_SPECS_BY_RECIPIENT: dict[int, tuple[RecipientRules, tuple[FieldSpec, ...]]] = {}


def _recipient_specs(rules: RecipientRules | None) -> tuple[FieldSpec, ...]:
    """The record fields as this recipient reads them (the dictionary's without one)."""
    if rules is None:
        return _RECORD_FIELDS
    entry = _SPECS_BY_RECIPIENT.get(id(rules))
    if entry is None or entry[0] is not rules:
        overrides = recipient_overrides(rules)
        specs = tuple(replace(spec, **overrides.get(spec.name, {})) for spec in _RECORD_FIELDS)
        if len(_SPECS_BY_RECIPIENT) >= 1_000:
            _SPECS_BY_RECIPIENT.clear()
        # The rules object is kept with the entry, so that its id cannot be reused.
        entry = _SPECS_BY_RECIPIENT[id(rules)] = (rules, specs)
    return entry[1]


_RECORD_MEMO_LIMIT = 20_000
_record_memo: dict[
    tuple[Any, ...], tuple[RecipientRules | None, dict[str, Any], list[FieldError]]
] = {}


def _record_values_memoized(
    raw: Mapping[str, Any], rules: RecipientRules | None, errors: _Errors
) -> dict[str, Any]:
    """The credit and REMS values of a row: they repeat in almost every row of a file."""
    key = (id(rules), *(raw.get(spec.name) for spec in _RECORD_FIELDS))
    try:
        cached = _record_memo.get(key)
    except TypeError:  # a list from JSON: not hashable, not worth caching
        return _record_values(raw, rules, errors)
    if cached is None or cached[0] is not rules:
        found = _Errors(None)
        values = _record_values(raw, rules, found)
        if len(_record_memo) >= _RECORD_MEMO_LIMIT:
            _record_memo.clear()
        # The rules object is kept with the entry, so that its id cannot be reused.
        cached = _record_memo[key] = (rules, values, found.errors)
    for error in cached[2]:
        errors.add(error.field, error.rule, error.message)
    # Lists are mutable: each record gets its own.
    return {
        name: list(value) if isinstance(value, list) else value for name, value in cached[1].items()
    }


def _required_rule(name: str) -> str:
    # A Yes/No field has no "required" rule: a missing answer is not Yes or No.
    required = f"learner.{name}.required"
    return required if required in RULES else f"learner.{name}.invalid"


def _record_values(
    raw: Mapping[str, Any], rules: RecipientRules | None, errors: _Errors
) -> dict[str, Any]:
    """Every record field read by its kind, and required where the recipient asks for it."""
    required = rules.completion_fields if rules is not None else frozenset()
    values: dict[str, Any] = {}
    for spec in _recipient_specs(rules):
        value = raw.get(spec.name)
        if is_blank(value) and spec.name in required:
            assert rules is not None
            rule = _required_rule(spec.name)
            message = (
                f"{spec.label}: required for {rules.code}." if rule.endswith(".required") else None
            )
            errors.add(spec.name, rule, message)
        values[spec.name] = errors.read(spec, value)
    if (
        rules is not None
        and not rules.is_moc
        and (values["moc_points"] is not None or values["moc_credit_types"])
    ):
        errors.add("moc_points", "learner.moc_points.not_for_recipient")
    return values


# ---------------------------------------------------------------------------
# Registrations


@dataclass
class CleanRegistration:
    recipient: str
    values: dict[str, Any]


# Text fields with a form of their own: (pattern, how the value is written before matching).
_TEXT_FORMS: dict[str, tuple[re.Pattern[str], Callable[[str], str]]] = {
    "rems_rpc_id": (re.compile(r"^EG-\d{6}-\d{3}$"), str.upper),
}


def registration_overrides(rules: RecipientRules) -> dict[str, dict[str, Any]]:
    """What a recipient changes about the dictionary's registration fields (its Recipient
    row, as data): its points step and the lists of values it takes."""
    overrides: dict[str, dict[str, Any]] = {
        "moc_points": {"step": rules.points_step},
        "credit_types": {
            "kind": Kind.CHOICE_LIST,
            "choices": {name: name for name in rules.credit_types},
        },
    }
    if rules.practice_areas:
        overrides["practice_areas"] = {
            "kind": Kind.CHOICE_LIST,
            "choices": {name: name for name in rules.practice_areas},
        }
    if rules.feedback_types:
        overrides["feedback_type"] = {
            "kind": Kind.CHOICE,
            "choices": {name: name for name in rules.feedback_types},
        }
    return overrides


def _registration_rule(name: str, suffix: str) -> str:
    # The registration catalogue names a refused list value "not_allowed" where the
    # recipient lists its values; every other refusal of a field is its "invalid" rule.
    rule = f"registration.{name}.{suffix}"
    return rule if rule in RULES else f"registration.{name}.invalid"


def validate_registration(
    raw: Mapping[str, Any],
    *,
    recipients: Mapping[str, RecipientRules],
    ama_credits: Decimal | None = None,
) -> tuple[CleanRegistration | None, list[FieldError]]:
    """Check a registration of an activity with one recipient, by that recipient's rules."""
    errors = _Errors(None)
    code = str(raw.get("recipient") or "").strip().upper()
    rules = recipients.get(code)
    if rules is None:
        errors.add(
            "recipient", "registration.recipient.unknown", f"Unknown recipient '{code[:20]}'."
        )
        return None, errors.errors
    if raw.get("attest") not in (True, "true", "on", "yes", "1", 1):
        errors.add("attest", "registration.attestation.required")
    asked = set(rules.registration_fields)
    overrides = registration_overrides(rules)
    values: dict[str, Any] = {}
    for base in REGISTRATION_FIELDS:
        if base.name not in asked:
            continue
        spec = replace(base, **overrides.get(base.name, {}))
        value = raw.get(spec.name)
        if is_blank(value):
            if spec.name in rules.required_registration_fields:
                errors.add(
                    spec.name,
                    f"registration.{spec.name}.required",
                    f"{spec.label} is required for {rules.code}.",
                )
            continue
        try:
            values[spec.name] = _registration_value(spec, value)
        except Invalid as invalid:
            rule = invalid.rule or _registration_rule(spec.name, invalid.suffix)
            errors.add(spec.name, rule, invalid.message)
    points = values.get("moc_points")
    if points is not None and ama_credits is not None and points > ama_credits:
        errors.add(
            "moc_points",
            "registration.moc_points.over_credits",
            f"MOC Points ({points}) may not exceed the activity's AMA credits ({ama_credits}).",
        )
    if errors.errors:
        return None, errors.errors
    return CleanRegistration(rules.code, values), []


def _registration_value(spec: FieldSpec, value: Any) -> Any:
    if spec.kind is Kind.INTEGER:  # a per cent: "80%" is 80
        assert spec.max_value is not None
        return read_whole(spec.label, whole_text(value).rstrip("%"), max_value=spec.max_value)
    if spec.kind is Kind.DECIMAL:
        return read_decimal(
            spec.label, value, max_value=spec.max_value, step=spec.step, positive=spec.positive
        )
    clean = read_value(spec, value)
    form = _TEXT_FORMS.get(spec.name)
    if form is not None:
        pattern, written = form
        clean = written(clean)
        if not pattern.match(clean):
            raise Invalid("invalid", RULES[f"registration.{spec.name}.invalid"].message)
    return clean
