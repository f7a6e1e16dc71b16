"""Writing registrations: an activity registered (or no longer) with a recipient."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.learners.models import (
    ActivityRegistration,
    CompletionStatus,
    LearnerCompletion,
    Recipient,
)
from pars.learners.validation import (
    RULES,
    CleanRegistration,
    FieldError,
    registration_activity_errors,
    rules_from_recipient,
)

from .refusals import RegistrationRefused


def save_registration(
    access: ProviderAccess,
    activity: Activity,
    clean: CleanRegistration,
    *,
    channel: str,
) -> ActivityRegistration:
    """Register the activity with a recipient (or update the registration), attested now."""
    access.require_edit()
    assert activity.provider_id == access.provider.pk
    recipient = Recipient.objects.get(code=clean.recipient)
    refused = registration_activity_errors(rules_from_recipient(recipient), activity.start_date)
    if refused:
        raise RegistrationRefused(refused)
    with transaction.atomic():
        registration, created = ActivityRegistration.objects.select_for_update().get_or_create(
            activity=activity,
            recipient=recipient,
            defaults={"provider": access.provider},
        )
        for name in (
            "moc_points",
            "credit_types",
            "practice_areas",
            "participation_threshold",
            "feedback_type",
            "disclosure_date",
            "credit_claim_date",
            "internal_id",
            "rems_type",
            "rems_rpc_id",
        ):
            default: Any = [] if name in ("credit_types", "practice_areas") else None
            if name in ("feedback_type", "internal_id", "rems_type", "rems_rpc_id"):
                default = ""
            setattr(registration, name, clean.values.get(name, default))
        registration.attested_by = access.user
        registration.attested_at = timezone.now()
        registration.last_channel = channel
        registration.save()
        record_event(
            access,
            AuditAction.REGISTRATION_SAVED,
            channel=channel,
            description=f"{activity.provider_activity_id} registered with {recipient.code}"
            + ("" if created else " (changed)"),
            details={"activity": activity.provider_activity_id, "recipient": recipient.code},
        )
    return registration


def delete_registration(
    access: ProviderAccess, registration: ActivityRegistration, *, channel: str
) -> None:
    """Remove a registration that no (unwithdrawn) completion depends on."""
    access.require_edit()
    live = (
        access.records(LearnerCompletion)
        .filter(activity_id=registration.activity_id, recipient_id=registration.recipient_id)
        .exclude(status=CompletionStatus.WITHDRAWN)
    )
    if live.exists():
        rule = "registration.activity.has_completions"
        raise RegistrationRefused([FieldError(None, "recipient", rule, RULES[rule].message)])
    with transaction.atomic():
        code = registration.recipient.code
        activity_id = registration.activity.provider_activity_id
        registration.delete()
        record_event(
            access,
            AuditAction.REGISTRATION_DELETED,
            channel=channel,
            description=f"{activity_id} no longer registered with {code}",
            details={"activity": activity_id, "recipient": code},
        )
