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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from pars.activities.dictionary import US_STATE_NAMES, US_STATES
from pars.intake.coerce import NO_WORDS, YES_WORDS, is_blank, label_lookup
from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldError, Rule
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    COMPLETION_FIELDS_BY_NAME,
    DEA_REGISTRATIONS,
    PROFESSIONS,
    RECORD_ACTIONS,
    REGISTRATION_FIELDS,
    REMS_PRACTICE_AREAS,
    TIME_IN_PRACTICE,
)
from pars.lib.text import (
    CONTROL_CHARACTER_FIELD,
    CONTROL_CHARACTER_MESSAGE,
    CONTROL_CHARACTER_RULE,
    control_character,
    control_character_message,
)

__all__ = [
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


def _field_rules(spec: FieldSpec) -> list[Rule]:
    rules = []
    if spec.kind is Kind.DATE:
        rules.append(
            Rule(f"learner.{spec.name}.invalid", spec.name, f"{spec.label} must be a date.")
        )
    if spec.kind is Kind.DECIMAL:
        rules.append(
            Rule(f"learner.{spec.name}.invalid", spec.name, f"{spec.label} must be a number.")
        )
        if spec.step:
            rules.append(
                Rule(
                    f"learner.{spec.name}.step",
                    spec.name,
                    f"{spec.label} must be a multiple of {spec.step}.",
                )
            )
    if spec.kind is Kind.BOOLEAN:
        rules.append(Rule(f"learner.{spec.name}.invalid", spec.name, f"{spec.label} is Yes or No."))
    if spec.choices:
        rules.append(
            Rule(
                f"learner.{spec.name}.not_allowed",
                spec.name,
                f"{spec.label} must be one of the allowed values.",
            )
        )
        rules.append(
            Rule(f"learner.{spec.name}.required", spec.name, f"{spec.label} is required here.")
        )
    if spec.max_length:
        rules.append(
            Rule(
                f"learner.{spec.name}.too_long",
                spec.name,
                f"{spec.label} must be at most {spec.max_length} characters.",
            )
        )
    return rules


def _registration_rules() -> list[Rule]:
    rules = [
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
        Rule(
            "registration.rems_rpc_id.invalid", "rems_rpc_id", "RPC ID has the form EG-######-###."
        ),
        Rule(
            "registration.activity.has_completions",
            "recipient",
            "Completions were reported for this registration; withdraw them first.",
        ),
    ]
    for spec in REGISTRATION_FIELDS:
        rules.append(
            Rule(f"registration.{spec.name}.required", spec.name, f"{spec.label} is required.")
        )
        rules.append(
            Rule(f"registration.{spec.name}.invalid", spec.name, f"{spec.label} is not valid.")
        )
    return rules


def _build_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for rule in [
        *_RULE_LIST,
        *(rule for spec in COMPLETION_FIELDS for rule in _field_rules(spec)),
        *_registration_rules(),
    ]:
        rules.setdefault(rule.id, rule)
    return rules


RULES: dict[str, Rule] = _build_rules()


# ---------------------------------------------------------------------------
# Value parsing (memoised where values repeat)


class _Invalid(Exception):
    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        self.message = message


_DATE_FORMS = (
    (re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$"), "ymd"),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), "mdy"),
)


@lru_cache(maxsize=20_000)
def _parse_date(text: str) -> datetime.date | None:
    for pattern, order in _DATE_FORMS:
        match = pattern.match(text)
        if match:
            parts = dict(zip(order, (int(group) for group in match.groups()), strict=True))
            try:
                return datetime.date(parts["y"], parts["m"], parts["d"])
            except ValueError:
                return None
    return None


def as_date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return _parse_date(str(value).strip())


_MONTH_DAY = re.compile(r"^(\d{1,2})[-/](\d{1,2})$")


@lru_cache(maxsize=2_000)
def parse_month_day(text: str) -> tuple[int, int] | None:
    match = _MONTH_DAY.match(text)
    if match:
        month, day = int(match.group(1)), int(match.group(2))
    else:
        full = _parse_date(text)
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
    return parse_month_day(f"{_whole_text(month)}-{_whole_text(day)}")


def _whole_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@lru_cache(maxsize=5_000)
def _parse_decimal(text: str) -> Decimal | None:
    try:
        number = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    if not number.is_finite() or number < 0 or number > 1_000_000:
        return None
    return number


def _as_decimal(spec: FieldSpec, value: Any, step: Decimal | None = None) -> Decimal:
    if isinstance(value, bool):
        raise _Invalid(f"learner.{spec.name}.invalid", f"{spec.label} must be a number.")
    number = _parse_decimal(_whole_text(value))
    if number is None:
        raise _Invalid(
            f"learner.{spec.name}.invalid",
            f"{spec.label} must be a number of 0 or more; got '{_whole_text(value)[:20]}'.",
        )
    if spec.max_value is not None and number > spec.max_value:
        raise _Invalid(
            f"learner.{spec.name}.invalid", f"{spec.label} must be at most {spec.max_value}."
        )
    step = step or spec.step
    if step and number % step:
        raise _Invalid(
            f"learner.{spec.name}.step", f"{spec.label} must be a multiple of {step}; got {number}."
        )
    return number


_STATE_LOOKUP = {code.lower(): code for code in US_STATES} | {
    name.lower(): code for code, name in US_STATE_NAMES.items()
}


def _choice(spec: FieldSpec, value: Any, lookup: Mapping[str, str]) -> str:
    text = str(value).strip()
    code = lookup.get(text.lower())
    if code is None:
        allowed = ", ".join(spec.choices.values()) if len(spec.choices) <= 30 else "a USPS code"
        raise _Invalid(
            f"learner.{spec.name}.not_allowed",
            f"{spec.label}: '{text[:40]}' is not allowed. Allowed: {allowed}.",
        )
    return code


_LOOKUPS = {
    "profession": label_lookup(PROFESSIONS),
    "dea_registration": label_lookup(DEA_REGISTRATIONS),
    "practice_area": label_lookup(REMS_PRACTICE_AREAS),
    "time_in_practice": label_lookup(TIME_IN_PRACTICE),
    "license_state": _STATE_LOOKUP,
    "practice_state": _STATE_LOOKUP,
}


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
            "learner_key": self.learner_key,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "birth_month": self.birth_month,
            "birth_day": self.birth_day,
            "learner_id": self.learner_id,
            "npi": self.npi,
            "license_state": self.license_state,
            "completion_date": self.completion_date,
            "cme_credits": self.cme_credits,
            "moc_points": self.moc_points,
            "moc_credit_types": list(self.moc_credit_types),
            "profession": self.profession,
            "practice_state": self.practice_state,
            "dea_registration": self.dea_registration,
            "practice_area": self.practice_area,
            "surgical_procedures": self.surgical_procedures,
            "time_in_practice": self.time_in_practice,
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


_TEXT_SPECS = {
    name: COMPLETION_FIELDS_BY_NAME[name]
    for name in ("provider_activity_id", "first_name", "last_name", "learner_id")
}
_SPEC = COMPLETION_FIELDS_BY_NAME


class _Errors:
    __slots__ = ("errors", "row")

    def __init__(self, row: int | None) -> None:
        self.row = row
        self.errors: list[FieldError] = []

    def add(self, field_name: str, rule: str, message: str | None = None) -> None:
        if rule.endswith(".required") and any(e.field == field_name for e in self.errors):
            return  # already reported as unreadable; "required" would say it twice
        self.errors.append(FieldError(self.row, field_name, rule, message or RULES[rule].message))


def _text(raw: Mapping[str, Any], name: str, errors: _Errors, *, personal: bool = False) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    text = _whole_text(value) if not isinstance(value, str) else value.strip()
    spec = _SPEC[name]
    character = control_character(text)
    if character is not None:
        errors.add(name, CONTROL_CHARACTER_RULE, control_character_message(spec.label, character))
        return ""
    if spec.max_length and len(text) > spec.max_length:
        errors.add(
            name,
            f"learner.{name}.too_long",
            f"{spec.label} must be at most {spec.max_length} characters"
            + ("." if personal else f"; it has {len(text)}."),
        )
        return ""
    return text


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
        from django.utils import timezone

        today = timezone.localdate()

    action_raw = raw.get("action")
    action = "add"
    if not is_blank(action_raw):
        action = str(action_raw).strip().lower()
        if action not in RECORD_ACTIONS:
            errors.add("action", "learner.action.not_allowed")
            action = "add"

    provider_activity_id = _text(raw, "provider_activity_id", errors)
    accme_activity_id = _text(raw, "accme_activity_id", errors)
    if accme_activity_id and not (len(accme_activity_id) == 9 and accme_activity_id.isdigit()):
        errors.add("accme_activity_id", "learner.accme_activity_id.invalid")
    if not provider_activity_id and not accme_activity_id:
        errors.add("provider_activity_id", "learner.activity.required")

    code = _text(raw, "recipient", errors).upper()
    rules = recipients.get(code) if code else None
    if not code:
        errors.add("recipient", "learner.recipient.required")
    elif rules is None:
        errors.add(
            "recipient",
            "learner.recipient.unknown",
            f"Recipient '{code[:20]}' is unknown. Allowed: {', '.join(recipients)}.",
        )

    first_name = _text(raw, "first_name", errors)
    last_name = _text(raw, "last_name", errors)
    if not first_name:
        errors.add("first_name", "learner.first_name.required")
    if not last_name:
        errors.add("last_name", "learner.last_name.required")

    birth = month_day(raw)
    if birth is False:
        errors.add("birth_date", "learner.birth_date.required")
    elif birth is None:
        errors.add("birth_date", "learner.birth_date.invalid")

    learner_id = _text(raw, "learner_id", errors, personal=True)
    npi = _text(raw, "npi", errors, personal=True)
    if npi and not npi_is_valid(npi):
        errors.add("npi", "learner.npi.invalid")
        npi = ""

    license_state = ""
    state_raw = raw.get("license_state")
    if not is_blank(state_raw):
        try:
            license_state = _choice(_SPEC["license_state"], state_raw, _STATE_LOOKUP)
        except _Invalid:
            errors.add("license_state", "learner.license_state.not_allowed")

    completion_date = None
    date_raw = raw.get("completion_date")
    if is_blank(date_raw):
        errors.add("completion_date", "learner.completion_date.required")
    else:
        completion_date = as_date(date_raw)
        if completion_date is None:
            errors.add(
                "completion_date",
                "learner.completion_date.invalid",
                "Completion Date must be a date as mm/dd/yyyy or yyyy-mm-dd; "
                f"got '{str(date_raw).strip()[:20]}'.",
            )
        elif completion_date > today:
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
        clean_values = _credits_memoized(raw, rules, errors)

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


_CREDIT_FIELDS = (
    "cme_credits",
    "moc_points",
    "moc_credit_types",
    "profession",
    "practice_state",
    "dea_registration",
    "practice_area",
    "time_in_practice",
    "surgical_procedures",
)
_CREDIT_MEMO_LIMIT = 20_000
_credit_memo: dict[
    tuple[Any, ...], tuple[RecipientRules | None, dict[str, Any], list[FieldError]]
] = {}


def _credits_memoized(
    raw: Mapping[str, Any], rules: RecipientRules | None, errors: _Errors
) -> dict[str, Any]:
    """The credit and REMS values of a row: they repeat in almost every row of a file."""
    key = (id(rules), *(raw.get(name) for name in _CREDIT_FIELDS))
    try:
        cached = _credit_memo.get(key)
    except TypeError:  # a list from JSON: not hashable, not worth caching
        return _credit_and_rems(raw, rules, errors)
    if cached is None or cached[0] is not rules:
        found = _Errors(None)
        values = _credit_and_rems(raw, rules, found)
        if len(_credit_memo) >= _CREDIT_MEMO_LIMIT:
            _credit_memo.clear()
        # The rules object is kept with the entry, so that its id cannot be reused.
        cached = _credit_memo[key] = (rules, values, found.errors)
    for error in cached[2]:
        errors.add(error.field, error.rule, error.message)
    values = dict(cached[1])
    if "moc_credit_types" in values:
        values["moc_credit_types"] = list(values["moc_credit_types"])
    return values


def _credit_and_rems(
    raw: Mapping[str, Any], rules: RecipientRules | None, errors: _Errors
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    required = rules.completion_fields if rules is not None else frozenset()

    for name in ("cme_credits", "moc_points"):
        value = raw.get(name)
        if is_blank(value):
            if name in required:
                errors.add(name, f"learner.{name}.required")
            continue
        step = rules.points_step if (rules is not None and name == "moc_points") else None
        try:
            values[name] = _as_decimal(_SPEC[name], value, step)
        except _Invalid as invalid:
            errors.add(name, invalid.rule, invalid.message)

    types_raw = raw.get("moc_credit_types")
    if not is_blank(types_raw):
        items = (
            [str(item) for item in types_raw if not is_blank(item)]
            if isinstance(types_raw, list | tuple)
            else [part for part in str(types_raw).split(";") if part.strip()]
        )
        canonical: list[str] = []
        for item in items:
            credit_type = rules.canonical_credit_type(item) if rules is not None else item.strip()
            if credit_type is None and rules is not None:
                allowed = ", ".join(rules.credit_types) or "none"
                errors.add(
                    "moc_credit_types",
                    "learner.moc_credit_types.not_allowed",
                    f"MOC Credit Types: '{item.strip()[:40]}' is not a {rules.code} credit "
                    f"type. Allowed: {allowed}.",
                )
            elif credit_type and credit_type not in canonical:
                canonical.append(credit_type)
        values["moc_credit_types"] = canonical

    if (
        rules is not None
        and not rules.is_moc
        and ("moc_points" in values or values.get("moc_credit_types"))
    ):
        errors.add("moc_points", "learner.moc_points.not_for_recipient")

    for name in (
        "profession",
        "practice_state",
        "dea_registration",
        "practice_area",
        "time_in_practice",
    ):
        value = raw.get(name)
        if is_blank(value):
            if name in required:
                errors.add(
                    name,
                    f"learner.{name}.required",
                    f"{_SPEC[name].label} is required for {rules.code if rules else 'it'}.",
                )
            continue
        try:
            values[name] = _choice(_SPEC[name], value, _LOOKUPS[name])
        except _Invalid as invalid:
            errors.add(name, invalid.rule, invalid.message)

    surgical = raw.get("surgical_procedures")
    if not is_blank(surgical):
        if isinstance(surgical, bool):
            values["surgical_procedures"] = surgical
        else:
            word = str(surgical).strip().lower()
            if word in YES_WORDS:
                values["surgical_procedures"] = True
            elif word in NO_WORDS:
                values["surgical_procedures"] = False
            else:
                errors.add("surgical_procedures", "learner.surgical_procedures.invalid")
    elif "surgical_procedures" in required:
        errors.add("surgical_procedures", "learner.surgical_procedures.invalid")
    return values


# ---------------------------------------------------------------------------
# Registrations


@dataclass
class CleanRegistration:
    recipient: str
    values: dict[str, Any]


_RPC_ID = re.compile(r"^EG-\d{6}-\d{3}$")


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
    values: dict[str, Any] = {}
    for spec in REGISTRATION_FIELDS:
        if spec.name not in asked:
            continue
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
            values[spec.name] = _registration_value(spec, value, rules)
        except _Invalid as invalid:
            errors.add(spec.name, invalid.rule, invalid.message)
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


def _list_items(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if not is_blank(item)]
    return [part.strip() for part in str(value).split(";") if part.strip()]


def _pick(items: Iterable[str], allowed: tuple[str, ...], rule: str, label: str) -> list[str]:
    by_fold = {name.casefold(): name for name in allowed}
    picked: list[str] = []
    for item in items:
        name = by_fold.get(item.casefold())
        if name is None:
            raise _Invalid(
                rule, f"{label}: '{item[:40]}' is not allowed. Allowed: {', '.join(allowed)}."
            )
        if name not in picked:
            picked.append(name)
    return picked


def _registration_value(spec: FieldSpec, value: Any, rules: RecipientRules) -> Any:
    name = spec.name
    for item in value if isinstance(value, list | tuple) else [value]:
        character = control_character(str(item))
        if character is not None:
            raise _Invalid(CONTROL_CHARACTER_RULE, control_character_message(spec.label, character))
    if name == "moc_points":
        number = _parse_decimal(_whole_text(value))
        if number is None or number <= 0 or number > (spec.max_value or number):
            raise _Invalid(
                "registration.moc_points.invalid", "MOC Points must be a number more than 0."
            )
        if number % rules.points_step:
            raise _Invalid(
                "registration.moc_points.invalid",
                f"MOC Points must be a multiple of {rules.points_step}.",
            )
        return number
    if name == "credit_types":
        return _pick(
            _list_items(value),
            rules.credit_types,
            "registration.credit_types.not_allowed",
            spec.label,
        )
    if name == "practice_areas":
        if not rules.practice_areas:
            return _list_items(value)
        return _pick(
            _list_items(value),
            rules.practice_areas,
            "registration.practice_areas.not_allowed",
            spec.label,
        )
    if name == "feedback_type":
        text = str(value).strip()
        if rules.feedback_types:
            return _pick(
                [text], rules.feedback_types, "registration.feedback_type.not_allowed", spec.label
            )[0]
        return text[:100]
    if name == "participation_threshold":
        text = _whole_text(value).rstrip("%")
        if not text.isdigit() or not 0 <= int(text) <= 100:
            raise _Invalid(
                "registration.participation_threshold.invalid",
                "Participation Threshold is a whole per cent from 0 to 100.",
            )
        return int(text)
    if spec.kind is Kind.DATE:
        day = as_date(value)
        if day is None:
            raise _Invalid(f"registration.{name}.invalid", f"{spec.label} must be a date.")
        return day
    if name == "rems_type":
        lookup = label_lookup(spec.choices)
        code = lookup.get(str(value).strip().lower())
        if code is None:
            raise _Invalid(
                "registration.rems_type.invalid",
                "REMS Type must be Opioid Analgesic or Mycophenolate.",
            )
        return code
    if name == "rems_rpc_id":
        text = str(value).strip().upper()
        if not _RPC_ID.match(text):
            raise _Invalid(
                "registration.rems_rpc_id.invalid",
                RULES["registration.rems_rpc_id.invalid"].message,
            )
        return text
    text = str(value).strip()
    if spec.max_length and len(text) > spec.max_length:
        raise _Invalid(
            f"registration.{name}.invalid",
            f"{spec.label} must be at most {spec.max_length} characters.",
        )
    return text
