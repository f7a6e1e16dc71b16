"""Learner pre-validation: check learners against the recipient's registry before sending."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pars.accounts.access import ProviderAccess

MAX_LEARNERS = 1_000  # per request; bigger lists are split by the caller


@dataclass(frozen=True)
class MatchResult:
    row: int  # 1-based position in the list sent
    status: str  # "match" | "mismatch" | "not_found" | "invalid"
    message: str  # never quotes the identifier or birth date
    fields: list[str] = field(default_factory=list)  # fields that differ or are invalid


def prevalidate(
    access: ProviderAccess, recipient_code: str, learners: Sequence[Mapping[str, Any]]
) -> list[MatchResult]:
    """Each learner (learner_id/npi, first_name, last_name, birth_date) against the registry."""
    raise NotImplementedError
