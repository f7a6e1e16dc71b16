"""What the recipient receives for one record."""

from __future__ import annotations

from typing import Any

from pars.learners.models import ActivityRegistration, LearnerCompletion, RecipientKind


def build_payload(
    completion: LearnerCompletion,
    action: str,
    registration: ActivityRegistration | None,
) -> dict[str, Any]:
    """What the recipient receives for one record: its activity, learner and credits."""
    activity = completion.activity
    recipient = completion.recipient

    def number(value: Any) -> str | None:
        return None if value is None else str(value)

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
        "learner": {
            "first_name": completion.first_name,
            "last_name": completion.last_name,
            "birth_month": completion.birth_month,
            "birth_day": completion.birth_day,
            "learner_id": completion.learner_id,
            "npi": completion.npi,
            "license_state": completion.license_state,
        },
        "completion_date": completion.completion_date.isoformat(),
        "credits": {
            "cme_credits": number(completion.cme_credits),
            "moc_points": number(completion.moc_points),
            "moc_credit_types": list(completion.moc_credit_types or ()),
        },
    }
    if recipient.kind == RecipientKind.REMS:
        payload["activity"]["rems_type"] = registration.rems_type if registration else ""
        payload["activity"]["rems_rpc_id"] = registration.rems_rpc_id if registration else ""
        payload["rems"] = {
            "profession": completion.profession,
            "practice_state": completion.practice_state,
            "dea_registration": completion.dea_registration,
            "practice_area": completion.practice_area,
            "surgical_procedures": completion.surgical_procedures,
            "time_in_practice": completion.time_in_practice,
        }
    return payload
