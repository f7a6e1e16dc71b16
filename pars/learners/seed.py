"""The recipients PARS starts with (from the dictionary), written idempotently."""

from __future__ import annotations

from typing import Any

from pars.learners.dictionary import SEED_RECIPIENTS
from pars.learners.models import Recipient


def seed_recipients(recipient_model: Any = None) -> None:
    """Create the seeded recipients that are missing (existing rows are left as staff made them).

    The migration passes its historical model; tests call it after a flush.
    """
    if recipient_model is None:
        recipient_model = Recipient
    for row in SEED_RECIPIENTS:
        values = dict(row)
        code = values.pop("code")
        recipient_model.objects.get_or_create(code=code, defaults=values)
