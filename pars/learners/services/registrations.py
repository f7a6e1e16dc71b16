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
from .writer import ClosedYears


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
    with transaction.atomic():
        # A closed year's registrations are read-only, like its completions.
        closed_year = ClosedYears(access, hold=True).error(None, activity.pk, recipient.code)
        if refused or closed_year:
            raise RegistrationRefused(refused + ([closed_year] if closed_year else []))
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
    with transaction.atomic():
        code = registration.recipient.code
        closed_year = ClosedYears(access, hold=True).error(None, registration.activity_id, code)
        refused = [closed_year] if closed_year else []
        if live.exists():
            rule = "registration.activity.has_completions"
            refused.append(FieldError(None, "recipient", rule, RULES[rule].message))
        if refused:
            raise RegistrationRefused(refused)
        activity_id = registration.activity.provider_activity_id
        registration.delete()
        record_event(
            access,
            AuditAction.REGISTRATION_DELETED,
            channel=channel,
            description=f"{activity_id} no longer registered with {code}",
            details={"activity": activity_id, "recipient": code},
        )
