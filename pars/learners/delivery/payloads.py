"""What the recipient receives for one record."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pars.learners.dictionary import group_names, stored_names
from pars.learners.models import ActivityRegistration, LearnerCompletion, RecipientKind

# What the recipient receives of the record, by the dictionary's groups (the birth date
# as stored: month and day).
_LEARNER = stored_names(group_names("learner"))
_CREDITS = group_names("credits")
_REMS = group_names("rems")


def _sent(value: Any) -> Any:
    """A stored value as the payload carries it (numbers as text, lists copied)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return list(value)
    return value


def _part(completion: LearnerCompletion, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _sent(getattr(completion, name)) for name in names}


def build_payload(
    completion: LearnerCompletion,
    action: str,
    registration: ActivityRegistration | None,
) -> dict[str, Any]:
    """What the recipient receives for one record: its activity, learner and credits."""
    activity = completion.activity
    recipient = completion.recipient

    payload: dict[str, Any] = {
        "ref": f"{completion.pk}.{completion.version}.{action}",
        "record_id": str(completion.pk),
        "version": completion.version,
        "action": action,
        "provider": {
            "provider_id": completion.provider.provider_id,
            "name": completion.provider.name,
        },
        "activity": {
            "accme_activity_id": activity.accme_activity_id,
            "provider_activity_id": activity.provider_activity_id,
            "title": activity.title,
            "start_date": activity.start_date.isoformat(),
            "end_date": activity.end_date.isoformat(),
            "recipient_activity_id": registration.internal_id if registration else "",
        },
        "learner": _part(completion, _LEARNER),
        "completion_date": completion.completion_date.isoformat(),
        "credits": _part(completion, _CREDITS),
    }
    if recipient.kind == RecipientKind.REMS:
        payload["activity"]["rems_type"] = registration.rems_type if registration else ""
        payload["activity"]["rems_rpc_id"] = registration.rems_rpc_id if registration else ""
        payload["rems"] = _part(completion, _REMS)
    return payload
