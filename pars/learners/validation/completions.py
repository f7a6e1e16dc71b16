"""Completions: the clean record, the learner's key, and :func:`validate_completion`."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from pars.activities.dictionary import US_STATE_NAMES
from pars.intake.coerce import is_blank
from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldError
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    COMPLETION_FIELDS_BY_NAME,
    RECORD_ACTIONS,
    STORED_AS,
    stored_names,
    value_names,
)

from . import fast_rows
from .readers import (
    FieldReader,
    _Errors,
    field_readers,
    limit_checkers,
    month_day,
    npi_is_valid,
)
from .recipients import PART_MARK, RecipientRules, recipient_specs
from .record_fields import _record_values_memoized

# The model fields a clean completion sets, in the dictionary's order: the birth date is
# kept as month and day; the activity and the recipient are the writer's to link.
COMPLETION_VALUE_FIELDS: tuple[str, ...] = ("learner_key", *stored_names(value_names()))

# What a clean completion holds besides its dictionary fields: the record's action, and
# how the recipient knows the learner (see learner_key()).
_BOOKKEEPING: tuple[tuple[str, type], ...] = (("action", str), ("learner_key", str))

# The Python type of a clean value, by kind (blank: the kind's empty value, or None).
_KIND_TYPES: dict[Kind, Any] = {
    Kind.TEXT: str,
    Kind.CHOICE: str,
    Kind.URL: str,
    Kind.INTEGER: int,
    Kind.MONEY: int,
    Kind.YEAR: int,
    Kind.DECIMAL: Decimal,
    Kind.BOOLEAN: bool,
    Kind.DATE: datetime.date,
    Kind.CHOICE_LIST: list[str],
    Kind.TEXT_LIST: list[str],
}


def completion_attributes(fields: Iterable[FieldSpec]) -> dict[str, Any]:
    """The attributes of a clean completion with their types, from a learner dictionary:
    each field as stored (STORED_AS), then the bookkeeping. A field the validator always
    requires (``required_for``) is never blank; a blank number, date or Yes/No is None."""
    types: dict[str, Any] = {}
    for spec in fields:
        if spec.name in STORED_AS:
            types.update(STORED_AS[spec.name])
            continue
        kind_type = _KIND_TYPES[spec.kind]
        blank_is_none = spec.empty is None and spec.required_for is None
        types[spec.name] = kind_type | None if blank_is_none else kind_type
    types.update(_BOOKKEEPING)
    return types


class _CompletionMethods:
    __slots__ = ()
    value_fields: tuple[str, ...]

    @property
    def activity_ref(self) -> str:
        record: Any = self
        return record.provider_activity_id or f"#{record.accme_activity_id}"

    def identity(self) -> tuple[str, str, str, datetime.date]:
        """What makes the record the same record again: activity, recipient, learner, date."""
        record: Any = self
        return (self.activity_ref, record.recipient, record.learner_key, record.completion_date)

    def values(self) -> dict[str, Any]:
        """The model field values (without activity, recipient and status)."""
        return {
            name: list(value) if isinstance(value, list) else value
            for name in self.value_fields
            for value in (getattr(self, name),)
        }


def clean_completion_class(fields: Iterable[FieldSpec]) -> type:
    """The class of clean completions of a learner dictionary: every attribute keyword-only,
    those that may be blank defaulting to their kind's empty value."""
    fields = tuple(fields)
    specs = {spec.name: spec for spec in fields}
    attributes: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for name, kind_type in completion_attributes(fields).items():
        spec = specs.get(name)
        if spec is None or spec.required_for is not None:
            attributes.append((name, kind_type))
        elif spec.kind in (Kind.CHOICE_LIST, Kind.TEXT_LIST):
            attributes.append((name, kind_type, dataclasses.field(default_factory=list)))
        else:
            attributes.append((name, kind_type, dataclasses.field(default=spec.empty)))
    value_fields = ("learner_key", *stored_names(value_names(fields)))
    return dataclasses.make_dataclass(
        "CleanCompletion",
        attributes,
        bases=(_CompletionMethods,),
        namespace={
            "__doc__": "A completion record that passed every rule the validator can check "
            "alone (its attributes are the learner dictionary's, see clean_completion_class).",
            "__module__": __name__,
            "value_fields": value_fields,
        },
        kw_only=True,
        slots=True,
    )


class CompletionAttributes:
    """CleanCompletion's attributes as mypy sees them (the class itself is built from the
    dictionary at import); tests/learners/test_dictionary_derived.py checks they agree."""

    provider_activity_id: str
    accme_activity_id: str
    recipient: str
    first_name: str
    last_name: str
    birth_month: int
    birth_day: int
    learner_id: str
    npi: str
    license_state: str
    completion_date: datetime.date
    cme_credits: Decimal | None
    moc_points: Decimal | None
    moc_credit_types: list[str]
    profession: str
    practice_state: str
    dea_registration: str
    practice_area: str
    surgical_procedures: bool | None
    time_in_practice: str
    action: str
    learner_key: str


if TYPE_CHECKING:

    class CleanCompletion(CompletionAttributes, _CompletionMethods):
        def __init__(self, **values: Any) -> None: ...

else:
    CleanCompletion = clean_completion_class(COMPLETION_FIELDS)


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


def validate_completion(
    raw: Mapping[str, Any],
    *,
    row: int | None = None,
    recipients: Mapping[str, RecipientRules],
    today: datetime.date | None = None,
) -> tuple[CleanCompletion | None, list[FieldError]]:
    """Check one completion record from any channel: (clean record or None, errors)."""
    if today is None:
        today = timezone.localdate()
    # The rows of big files: most are vouched for by what they repeat (fast_rows.py);
    # the others, with every error, are judged below.
    record = fast_rows.fast_completion(raw, recipients, today)
    if record is not None:
        return record, []
    errors = _Errors(row)
    get = raw.get
    action = _action(raw, errors)

    # The dictionary's fields until the recipient is known, then as the recipient reads
    # them (its overrides: recipient_specs()). Each field's reader is built once
    # (field_readers): big files call this for every row.
    specs: Mapping[str, FieldSpec] = COMPLETION_FIELDS_BY_NAME
    readers = field_readers(specs)
    provider_activity_id = readers["provider_activity_id"](get("provider_activity_id"), errors)
    accme_activity_id = readers["accme_activity_id"](get("accme_activity_id"), errors)
    _activity_ids(provider_activity_id, accme_activity_id, errors)
    rules = _recipient(readers["recipient"](get("recipient"), errors).upper(), recipients, errors)
    if rules is not None:
        specs = recipient_specs(rules, today)
        readers = field_readers(specs)

    first_name = readers["first_name"](get("first_name"), errors)
    last_name = readers["last_name"](get("last_name"), errors)
    if not first_name:
        errors.add("first_name", "learner.first_name.required")
    if not last_name:
        errors.add("last_name", "learner.last_name.required")

    birth = _birth(raw, errors)
    identity = _identity(raw, rules, specs, readers, today, errors)

    clean_values: dict[str, Any] = {}
    if action == "add":
        clean_values = _record_values_memoized(raw, rules, specs, errors)
        if rules is not None and rules.credit_type_windows:
            _credit_type_windows(rules, clean_values, identity["completion_date"], errors)

    if errors.errors or rules is None or identity["completion_date"] is None or not birth:
        return None, errors.errors
    assert isinstance(birth, tuple)
    key = learner_key(
        rules.code,
        identity["learner_id"],
        identity["npi"],
        identity["license_state"],
        first_name,
        last_name,
        *birth,
    )
    if rules.separate_credit_types:
        key += _part(rules, raw, specs, clean_values)
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
            learner_key=key,
            **identity,
            **clean_values,
        ),
        [],
    )


def _identity(
    raw: Mapping[str, Any],
    rules: RecipientRules | None,
    specs: Mapping[str, FieldSpec],
    readers: Mapping[str, FieldReader],
    today: datetime.date,
    errors: _Errors,
) -> dict[str, Any]:
    """Who the learner is to the recipient and the day: learner ID, NPI, license state and
    completion date, within the recipient's limits."""
    get = raw.get
    identity = _learner_ids(
        get("learner_id"), get("npi"), get("license_state"), rules, readers, errors
    )
    identity["completion_date"] = _completion_date(raw, readers, today, errors)
    _judge_limits(identity, specs, errors)
    return identity


def _learner_ids(
    learner_id_raw: Any,
    npi_raw: Any,
    license_state_raw: Any,
    rules: RecipientRules | None,
    readers: Mapping[str, FieldReader],
    errors: _Errors,
) -> dict[str, Any]:
    """The learner ID (as the recipient writes it), the NPI and the license state, read."""
    learner_id = readers["learner_id"](learner_id_raw, errors)
    npi = readers["npi"](npi_raw, errors)
    learner_id = rules.normalise_identifier(learner_id) if rules else learner_id
    if npi and not npi_is_valid(npi):
        errors.add("npi", "learner.npi.invalid")
        npi = ""
    return {
        "learner_id": learner_id,
        "npi": npi,
        "license_state": readers["license_state"](license_state_raw, errors),
    }


def _judge_limits(
    values: Mapping[str, Any], specs: Mapping[str, FieldSpec], errors: _Errors
) -> None:
    """The recipient's limits (identifier, license state, window), as its overrides set
    them, on the clean values (each limit sees them all, as `record`)."""
    checkers = limit_checkers(specs)
    for name, value in values.items():
        check = checkers.get(name)
        if check is not None:
            check(value, values, errors)


def _credit_type_windows(
    rules: RecipientRules,
    values: Mapping[str, Any],
    completion_date: datetime.date | None,
    errors: _Errors,
) -> None:
    """Each credit type claimed within the recipient's window for it (its Recipient row's
    ``credit_type_windows``), by the completion date."""
    if completion_date is None:
        return
    for name in values.get("moc_credit_types") or ():
        window = rules.window_of(name)
        if window is not None and not window.allows(completion_date):
            errors.add(
                "moc_credit_types",
                "learner.moc_credit_types.outside_window",
                f"{rules.code} takes {name} for completions {window.describe()}; this one "
                f"is dated {completion_date:%m/%d/%Y}.",
            )


def _part(
    rules: RecipientRules,
    raw: Mapping[str, Any],
    specs: Mapping[str, FieldSpec],
    values: Mapping[str, Any],
) -> str:
    """The learner key's mark of a record of a credit type the recipient takes in a record
    of its own ("" for every other record). A withdrawal names the credit type of the
    record it withdraws."""
    if not rules.separate_credit_types:
        return ""
    credit_types = values.get("moc_credit_types")
    if credit_types is None:
        # Unreadable credit types were no business of a withdrawal: not reported.
        credit_types = _Errors(None).read(specs["moc_credit_types"], raw.get("moc_credit_types"))
    part, _ = rules.separate_part(credit_types or ())
    return f"{PART_MARK}{part}" if part else ""


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


def _activity_ids(provider_activity_id: str, accme_activity_id: str, errors: _Errors) -> None:
    """The activity's IDs (provider's, ACCME's): one of them is required."""
    if accme_activity_id and not (len(accme_activity_id) == 9 and accme_activity_id.isdigit()):
        errors.add("accme_activity_id", "learner.accme_activity_id.invalid")
    if not provider_activity_id and not accme_activity_id:
        errors.add("provider_activity_id", "learner.activity.required")


def _recipient(
    code: str, recipients: Mapping[str, RecipientRules], errors: _Errors
) -> RecipientRules | None:
    """The rules of the recipient the record names, or None after reporting why not."""
    rules = recipients.get(code) if code else None
    if not code:
        errors.add("recipient", "learner.recipient.required")
    elif rules is None:
        errors.add("recipient", "learner.recipient.unknown", _unknown_recipient(code, recipients))
    return rules


def _unknown_recipient(code: str, recipients: Mapping[str, RecipientRules]) -> str:
    state = US_STATE_NAMES.get(code.upper())
    if state is None:
        return f"Recipient '{code[:20]}' is unknown. Allowed: {', '.join(recipients)}."
    # A state code here comes from a licensing state (ACCME's template): say so plainly.
    boards = sorted(code for code, rules in recipients.items() if rules.is_state_board)
    return (
        f"No state board in PARS receives CME credit for {state} ({code.upper()}): its "
        f"learners cannot be reported to a state board. State boards in PARS: "
        f"{', '.join(boards)}."
    )


def _birth(raw: Mapping[str, Any], errors: _Errors) -> tuple[int, int] | bool | None:
    """The birth month and day (see month_day()), reporting a missing or unreadable one."""
    birth = month_day(raw)
    if birth is False:
        errors.add("birth_date", "learner.birth_date.required")
    elif birth is None:
        errors.add("birth_date", "learner.birth_date.invalid")
    return birth


def _completion_date(
    raw: Mapping[str, Any],
    readers: Mapping[str, FieldReader],
    today: datetime.date,
    errors: _Errors,
) -> datetime.date | None:
    """The completion date: required, and not in the future."""
    value = raw.get("completion_date")
    completion_date: datetime.date | None = readers["completion_date"](value, errors)
    if is_blank(value):
        errors.add("completion_date", "learner.completion_date.required")
    elif completion_date is not None and completion_date > today:
        errors.add("completion_date", "learner.completion_date.future")
    return completion_date


@dataclasses.dataclass(frozen=True, slots=True)
class RefusedFacts:
    """What the activity checks need of a record the validator refused, as far as it can
    be read: the writer still reports the activity's problems with it (every problem in
    one answer). A value that cannot be read, or that the validator refused, is None (or
    empty): its checks are skipped."""

    provider_activity_id: str
    accme_activity_id: str
    recipient: str
    action: str
    completion_date: datetime.date | None
    moc_points: Decimal | None
    moc_credit_types: list[str]

    @property
    def activity_ref(self) -> str:
        return self.provider_activity_id or f"#{self.accme_activity_id}"


def refused_facts(
    raw: Mapping[str, Any], recipients: Mapping[str, RecipientRules], errors: list[FieldError]
) -> RefusedFacts | None:
    """The readable values of a refused record the activity checks need (None: its activity
    or recipient is unknown to the validator, so there is nothing to check against).
    Only refused records come here: the hot path (clean rows) never re-reads a value."""
    refused = {error.field for error in errors}
    found = _Errors(None)  # the validator has reported these already
    code = str(raw.get("recipient") or "").strip().upper()
    rules = recipients.get(code)
    ids = ("provider_activity_id", "accme_activity_id")
    if rules is None or "recipient" in refused or refused.intersection(ids):
        return None
    specs = recipient_specs(rules, timezone.localdate())
    provider_activity_id, accme_activity_id = (found.read(specs[n], raw.get(n)) for n in ids)
    action = str(raw.get("action") or "add").strip().lower()

    def readable(name: str) -> Any:
        # A field already refused is not judged again (as _Errors.check_limits does).
        if name in refused:
            return None
        unread = _Errors(None)
        value = unread.read(specs[name], raw.get(name))
        return None if unread.errors else value

    return RefusedFacts(
        provider_activity_id=provider_activity_id,
        accme_activity_id=accme_activity_id,
        recipient=code,
        action=action if action in RECORD_ACTIONS else "add",
        completion_date=readable("completion_date"),
        moc_points=readable("moc_points"),
        moc_credit_types=readable("moc_credit_types") or [],
    )
