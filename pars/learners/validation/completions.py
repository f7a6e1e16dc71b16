"""Completions: the clean record, the learner's key, and :func:`validate_completion`."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from pars.intake.coerce import (
    is_blank,
)
from pars.intake.rules import FieldError
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    COMPLETION_FIELDS_BY_NAME,
    RECORD_ACTIONS,
)

from .identity import _identity_rules
from .readers import _Errors, month_day, npi_is_valid
from .recipients import RecipientRules
from .record_fields import _record_values_memoized

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

    action = _action(raw, errors)

    def read(name: str) -> Any:
        return errors.read(_SPEC[name], raw.get(name))

    provider_activity_id, accme_activity_id = _activity_ids(read, errors)
    rules = _recipient(read("recipient").upper(), recipients, errors)

    first_name, last_name = read("first_name"), read("last_name")
    if not first_name:
        errors.add("first_name", "learner.first_name.required")
    if not last_name:
        errors.add("last_name", "learner.last_name.required")

    birth = _birth(raw, errors)

    learner_id, npi = read("learner_id"), read("npi")
    if npi and not npi_is_valid(npi):
        errors.add("npi", "learner.npi.invalid")
        npi = ""
    license_state = read("license_state")

    completion_date = _completion_date(raw, read, today, errors)

    if rules is not None:
        _identity_rules(rules, learner_id, npi, license_state, errors)
        _window_rule(rules, completion_date, today, errors)

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


def _action(raw: Mapping[str, Any], errors: _Errors) -> str:
    """The record's action ("add" when missing or not allowed)."""
    action_raw = raw.get("action")
    action = "add"
    if not is_blank(action_raw):
        action = str(action_raw).strip().lower()
        if action not in RECORD_ACTIONS:
            errors.add("action", "learner.action.not_allowed")
            action = "add"
    return action


def _activity_ids(read: Callable[[str], Any], errors: _Errors) -> tuple[str, str]:
    """The activity's IDs (provider's, ACCME's): one of them is required."""
    provider_activity_id = read("provider_activity_id")
    accme_activity_id = read("accme_activity_id")
    if accme_activity_id and not (len(accme_activity_id) == 9 and accme_activity_id.isdigit()):
        errors.add("accme_activity_id", "learner.accme_activity_id.invalid")
    if not provider_activity_id and not accme_activity_id:
        errors.add("provider_activity_id", "learner.activity.required")
    return provider_activity_id, accme_activity_id


def _recipient(
    code: str, recipients: Mapping[str, RecipientRules], errors: _Errors
) -> RecipientRules | None:
    """The rules of the recipient the record names, or None after reporting why not."""
    rules = recipients.get(code) if code else None
    if not code:
        errors.add("recipient", "learner.recipient.required")
    elif rules is None:
        errors.add(
            "recipient",
            "learner.recipient.unknown",
            f"Recipient '{code[:20]}' is unknown. Allowed: {', '.join(recipients)}.",
        )
    return rules


def _birth(raw: Mapping[str, Any], errors: _Errors) -> tuple[int, int] | bool | None:
    """The birth month and day (see month_day()), reporting a missing or unreadable one."""
    birth = month_day(raw)
    if birth is False:
        errors.add("birth_date", "learner.birth_date.required")
    elif birth is None:
        errors.add("birth_date", "learner.birth_date.invalid")
    return birth


def _completion_date(
    raw: Mapping[str, Any], read: Callable[[str], Any], today: datetime.date, errors: _Errors
) -> datetime.date | None:
    """The completion date: required, and not in the future."""
    completion_date: datetime.date | None = read("completion_date")
    if is_blank(raw.get("completion_date")):
        errors.add("completion_date", "learner.completion_date.required")
    elif completion_date is not None and completion_date > today:
        errors.add("completion_date", "learner.completion_date.future")
    return completion_date


def _window_rule(
    rules: RecipientRules,
    completion_date: datetime.date | None,
    today: datetime.date,
    errors: _Errors,
) -> None:
    """A past completion must fall within the recipient's reporting window."""
    if completion_date is not None and completion_date <= today:
        earliest = rules.earliest_completion(today)
        if completion_date < earliest:
            errors.add(
                "completion_date",
                "learner.completion_date.outside_window",
                f"{rules.code} accepts completions from {earliest:%m/%d/%Y}; "
                f"this one is dated {completion_date:%m/%d/%Y}.",
            )
