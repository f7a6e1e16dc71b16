"""Recipients' rules, as the validator sees them (read from the ``Recipient`` table)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from typing import Any

from pars.activities.dictionary import US_STATE_NAMES
from pars.intake.fields import FieldSpec, Kind, Limit
from pars.learners.dictionary import COMPLETION_FIELDS


@dataclass(frozen=True)
class CreditTypeWindow:
    """When a recipient takes a credit type, by completion date (both days included)."""

    credit_type: str
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None

    def allows(self, day: datetime.date) -> bool:
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until

    def describe(self) -> str:
        if self.valid_from and self.valid_until:
            return f"from {self.valid_from:%m/%d/%Y} to {self.valid_until:%m/%d/%Y}"
        if self.valid_from:
            return f"from {self.valid_from:%m/%d/%Y}"
        return f"until {self.valid_until:%m/%d/%Y}" if self.valid_until else "always"


# A record of a credit type the recipient takes in a record of its own (its
# ``separate_credit_types``) is another record of the same learner, activity and day: its
# learner key carries the credit type after this mark.
PART_MARK = "#part:"

# An identifier pattern that only digits match (``\d{6}``, ``[0-9]{4,8}``, ``\d+``):
# learners' IDs written "123 456" or "123-456" are read without their spaces and dashes.
_DIGITS_ONLY = re.compile(r"^\^?(?:\\d|\[0-9\])(?:\{\d+(?:,\d*)?\}|[+*?])?\$?$")
_SPACES_AND_DASHES = re.compile(r"[\s\-\u2010-\u2015]+")


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
    credit_type_windows: tuple[CreditTypeWindow, ...] = ()
    exclusive_credit_types: tuple[tuple[str, str], ...] = ()
    earliest_activity_start: datetime.date | None = None
    separate_credit_types: frozenset[str] = frozenset()
    records_within_registered_points: bool = False
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

    @cached_property  # asked of every row of a file
    def identifier_digits_only(self) -> bool:
        return bool(self.identifier_pattern) and bool(_DIGITS_ONLY.match(self.identifier_pattern))

    def normalise_identifier(self, value: str) -> str:
        """The learner ID as the recipient writes it: an all-digits ID without the spaces
        and dashes people type into it ("123 456", "123-456")."""
        if value and self.identifier_digits_only:
            return _SPACES_AND_DASHES.sub("", value)
        return value

    def window_of(self, credit_type: str) -> CreditTypeWindow | None:
        wanted = credit_type.casefold()
        for window in self.credit_type_windows:
            if window.credit_type.casefold() == wanted:
                return window
        return None

    def separate_part(self, credit_types: Iterable[str]) -> tuple[str, bool]:
        """The record's part (a credit type taken in a record of its own, or "" for the
        others) and whether the record mixes such a type with others."""
        separate = [name for name in credit_types if name.casefold() in self.separate_credit_types]
        if not separate:
            return "", False
        return separate[0].casefold(), len(separate) != len(list(credit_types))

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


def recipient_overrides(rules: RecipientRules, today: datetime.date) -> dict[str, dict[str, Any]]:
    """What a recipient changes about the dictionary's completion fields (its Recipient
    row, as data): the board's points step and its own list of MOC credit types; who the
    learner must be (its identifier's form, whether it is required or the NPI may stand in,
    a state board's license state); the window of completion dates it accepts."""
    return {
        "learner_id": {"limits": _identifier_limits(rules)},
        "license_state": {"limits": _licence_limits(rules)},
        "completion_date": {"limits": (_window_limit(rules, today),)},
        "moc_points": {"step": rules.points_step},
        "moc_credit_types": {
            "kind": Kind.CHOICE_LIST,
            "choices": {name: name for name in rules.credit_types},
        },
    }


def _identifier_limits(rules: RecipientRules) -> tuple[Limit, ...]:
    label = rules.identifier_label
    limits = []
    if rules.identifier_required:
        alternative = " or the NPI" if rules.accepts_npi else ""
        limits.append(
            Limit(
                "required",
                f"{label}{alternative} is required for {rules.code}.",
                required=True,
                unless="npi" if rules.accepts_npi else "",
            )
        )
    if rules._identifier_re is not None:
        hint = f" ({rules.identifier_hint})" if rules.identifier_hint else ""
        # The message never quotes the identifier: it is personal.
        message = f"{label} does not have the form {rules.code} uses{hint}."
        limits.append(Limit("invalid", _literal(message), pattern=rules._identifier_re))
    return tuple(limits)


def _licence_limits(rules: RecipientRules) -> tuple[Limit, ...]:
    if not rules.is_state_board:
        return ()
    limits = [Limit("required", required=True)]
    if rules.state:
        state = US_STATE_NAMES.get(rules.state, rules.state)
        message = f"{rules.name} takes licenses of {state} only."
        limits.append(Limit("mismatch", _literal(message), one_of=frozenset({rules.state})))
    return tuple(limits)


def _window_limit(rules: RecipientRules, today: datetime.date) -> Limit:
    earliest = rules.earliest_completion(today)
    return Limit(
        "outside_window",
        f"{_literal(rules.code)} accepts completions from {earliest:%m/%d/%Y}; "
        "this one is dated {value:%m/%d/%Y}.",
        earliest=earliest,
    )


def _literal(text: str) -> str:
    """Text as a Limit message that quotes no value (its braces kept as they are)."""
    return text.replace("{", "{{").replace("}", "}}")


_SPECS: dict[tuple[int, datetime.date], tuple[RecipientRules, dict[str, FieldSpec]]] = {}


def recipient_specs(rules: RecipientRules, today: datetime.date) -> Mapping[str, FieldSpec]:
    """The completion fields as this recipient reads them on this day, by name."""
    key = (id(rules), today)
    entry = _SPECS.get(key)
    if entry is None or entry[0] is not rules:
        specs = apply_overrides(COMPLETION_FIELDS, recipient_overrides(rules, today))
        if len(_SPECS) >= 1_000:
            _SPECS.clear()
        # The rules object is kept with the entry, so that its id cannot be reused.
        entry = _SPECS[key] = (rules, {spec.name: spec for spec in specs})
    return entry[1]


def apply_overrides(
    fields: Iterable[FieldSpec], overrides: Mapping[str, Mapping[str, Any]]
) -> tuple[FieldSpec, ...]:
    """The fields with a variant's overrides of their attributes (limits are added)."""
    specs = []
    for spec in fields:
        changes = dict(overrides.get(spec.name, {}))
        if "limits" in changes:
            changes["limits"] = (*spec.limits, *changes["limits"])
        specs.append(replace(spec, **changes) if changes else spec)
    return tuple(specs)


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
        credit_type_windows=_windows(getattr(recipient, "credit_type_windows", None)),
        exclusive_credit_types=_pairs(getattr(recipient, "exclusive_credit_types", None)),
        earliest_activity_start=getattr(recipient, "earliest_activity_start", None),
        separate_credit_types=frozenset(
            str(name).casefold() for name in getattr(recipient, "separate_credit_types", ()) or ()
        ),
        records_within_registered_points=bool(
            getattr(recipient, "records_within_registered_points", False)
        ),
        pk=recipient.pk,
        _identifier_re=re.compile(pattern) if pattern else None,
    )


def load_recipients(*, include_inactive: bool = False) -> dict[str, RecipientRules]:
    """Every recipient's rules by upper-case code (read once per request or upload)."""
    from pars.learners.models import Recipient

    rows = Recipient.objects.all() if include_inactive else Recipient.objects.filter(active=True)
    return {row.code.upper(): rules_from_recipient(row) for row in rows}


def _day(value: Any) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def _windows(raw: Any) -> tuple[CreditTypeWindow, ...]:
    """The credit-type windows of a Recipient row (the admin refuses a malformed one)."""
    windows = []
    for item in raw or ():
        windows.append(
            CreditTypeWindow(
                str(item["credit_type"]),
                _day(item.get("valid_from")),
                _day(item.get("valid_until")),
            )
        )
    return tuple(windows)


def _pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(pair[0]), str(pair[1])) for pair in raw or ())


def credit_type_rule_problems(recipient: Any) -> dict[str, list[str]]:
    """What is wrong with a Recipient row's credit-type rules, by field (for the admin)."""
    known = {str(name).casefold() for name in recipient.credit_types or ()}
    problems: dict[str, list[str]] = {}

    def unknown(field_name: str, names: Iterable[Any]) -> None:
        for name in names:
            if str(name).casefold() not in known:
                problems.setdefault(field_name, []).append(
                    f"'{name}' is not one of the credit types."
                )

    try:
        windows = _windows(recipient.credit_type_windows)
    except (KeyError, TypeError, ValueError, AttributeError):
        problems["credit_type_windows"] = [
            'Give a list of {"credit_type": ..., "valid_from": "YYYY-MM-DD", '
            '"valid_until": "YYYY-MM-DD"} (either day may be left out).'
        ]
    else:
        unknown("credit_type_windows", (window.credit_type for window in windows))
    pairs = recipient.exclusive_credit_types or []
    if not isinstance(pairs, list) or any(
        not isinstance(pair, list) or len(pair) != 2 for pair in pairs
    ):
        problems["exclusive_credit_types"] = ["Give a list of pairs of credit types."]
    else:
        unknown("exclusive_credit_types", (name for pair in pairs for name in pair))
    separate = recipient.separate_credit_types or []
    if not isinstance(separate, list):
        problems["separate_credit_types"] = ["Give a list of credit types."]
    else:
        unknown("separate_credit_types", separate)
    return problems
