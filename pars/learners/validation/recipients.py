"""Recipients' rules, as the validator sees them (read from the ``Recipient`` table)."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


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
