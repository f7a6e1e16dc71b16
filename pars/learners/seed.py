"""The recipients PARS starts with (from the dictionary), written idempotently."""

from __future__ import annotations

from typing import Any

from pars.learners.dictionary import SEED_RECIPIENTS
from pars.learners.models import Recipient


def seed_recipients(recipient_model: Any = None) -> None:
    """Create the seeded recipients that are missing (existing rows are left as staff made them).

    The migrations pass their historical model: an early one (0002) knows fewer fields than
    the seed gives, and writes those it knows (0009 adds the rest). Tests call it after a
    flush.
    """
    if recipient_model is None:
        recipient_model = Recipient
    known = {field.name for field in recipient_model._meta.get_fields()}
    for row in SEED_RECIPIENTS:
        values = {name: value for name, value in row.items() if name in known}
        code = values.pop("code")
        recipient_model.objects.get_or_create(code=code, defaults=values)
