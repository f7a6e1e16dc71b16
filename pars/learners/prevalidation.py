"""Learner pre-validation: check learners against the recipient's registry before sending.

Each learner's identity fields are first checked by the one validator (the same rules
as a completion: names, birth month and day, the recipient's identifier form, the NPI
check digit, a state board's license state); the valid ones are then looked up through
the recipient's connector (``match_learners``). Statuses:

* ``match``: the registry knows this learner as given;
* ``mismatch``: found by identifier (or NPI), but ``fields`` differ (e.g. ``["birth_date"]``);
* ``not_found``: nobody with this identifier (or name and birth date) in the registry;
* ``invalid``: the identity fields break a rule (``fields`` names them).

Messages never quote an identifier or a birth date. Nothing is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.learners.connectors.base import MatchingUnavailable, connector_for, match_message
from pars.learners.dictionary import STORED_AS, group_names, stored_names
from pars.learners.models import Recipient
from pars.learners.validation import rules_from_recipient, validate_completion

logger = logging.getLogger(__name__)

MAX_LEARNERS = 1_000  # per request; bigger lists are split by the caller

# What a learner entry may carry: the dictionary's learner fields, the birth date also as
# it is stored (birth_month and birth_day).
_IDENTITY_FIELDS = frozenset(group_names("learner"))
IDENTITY_INPUTS = tuple(
    input_name
    for name in group_names("learner")
    for input_name in (name, *(stored_names([name]) if name in STORED_AS else ()))
)


@dataclass(frozen=True)
class MatchResult:
    row: int  # 1-based position in the list sent
    status: str  # "match" | "mismatch" | "not_found" | "invalid"
    message: str  # never quotes the identifier or birth date
    fields: list[str] = field(default_factory=list)  # fields that differ or are invalid


class PrevalidationUnavailable(ValueError):
    """The recipient offers no matching, or its service is down (message safe to show)."""


def prevalidate(
    access: ProviderAccess, recipient_code: str, learners: Sequence[Mapping[str, Any]]
) -> list[MatchResult]:
    """Each learner (learner_id/npi, first_name, last_name, birth_date) against the registry.

    Raises ``ValueError`` for more than :data:`MAX_LEARNERS` learners or an unknown
    recipient, :class:`PrevalidationUnavailable` (a ``ValueError``) when the recipient
    cannot match, ``PermissionDenied`` for a read-only user.
    """
    access.require_edit()
    if len(learners) > MAX_LEARNERS:
        raise ValueError(f"At most {MAX_LEARNERS} learners can be checked at once.")
    code = str(recipient_code or "").strip().upper()
    recipient = Recipient.objects.filter(code=code, active=True).first()
    if recipient is None:
        raise ValueError(f"Unknown recipient '{code[:20]}'.")
    rules = rules_from_recipient(recipient)
    today = timezone.localdate()
    results: list[MatchResult | None] = [None] * len(learners)
    to_match: list[tuple[int, dict[str, Any]]] = []
    for row, learner in enumerate(learners, start=1):
        if not isinstance(learner, Mapping):
            results[row - 1] = MatchResult(row, "invalid", "Each learner must be an object.")
            continue
        raw: dict[str, Any] = {name: learner.get(name) for name in IDENTITY_INPUTS}
        # Checked as a withdrawal of a record dated today: only the identity rules apply.
        raw.update(
            action="delete",
            recipient=code,
            provider_activity_id="prevalidation",
            completion_date=today,
        )
        record, errors = validate_completion(raw, row=row, recipients={code: rules}, today=today)
        if record is None:
            relevant = [error for error in errors if error.field in _IDENTITY_FIELDS] or errors
            fields = list(dict.fromkeys(error.field for error in relevant))
            message = " ".join(error.message for error in relevant)
            results[row - 1] = MatchResult(row, "invalid", message, fields)
            continue
        to_match.append(
            (
                row,
                {
                    "first_name": record.first_name,
                    "last_name": record.last_name,
                    "birth_month": record.birth_month,
                    "birth_day": record.birth_day,
                    "learner_id": record.learner_id,
                    "npi": record.npi,
                    "license_state": record.license_state,
                },
            )
        )
    if to_match:
        try:
            outcomes = connector_for(recipient, sandbox=access.provider.is_sandbox).match_learners(
                recipient, [identity for _, identity in to_match]
            )
        except MatchingUnavailable as error:
            raise PrevalidationUnavailable(str(error)) from error
        for (row, _), outcome in zip(to_match, outcomes, strict=True):
            results[row - 1] = MatchResult(
                row, outcome.status, match_message(recipient, outcome), list(outcome.fields)
            )
    final = [result for result in results if result is not None]
    logger.info(
        "Pre-validation %s for provider %s: %d learners, %d matched",
        code,
        access.provider.pk,
        len(final),
        sum(result.status == "match" for result in final),
    )
    return final
