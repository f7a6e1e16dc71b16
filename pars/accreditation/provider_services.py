"""Staff edits of a provider record; each one lands in the audit trail."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from pars.accounts.access import ProviderAccess
from pars.accreditation import notices
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.providers.models import AccreditationDecision, AccreditationStatus, Provider
from pars.providers.services import record_decision

PROVIDER_UPDATED = AuditAction.PROVIDER_UPDATED
PROVIDER_STATUS_SET = AuditAction.PROVIDER_STATUS_SET
DECISION_RECORDED = AuditAction.DECISION_RECORDED

CONTACT_FIELDS = (
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "country",
    "phone",
    "website",
)
STATUS_FIELDS = ("accreditation_status", "term_start", "term_end")


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime.date) else value


def _apply(provider: Provider, values: dict[str, Any], fields: tuple[str, ...]) -> dict[str, list]:
    """Set the given fields; return {field: [old, new]} for those that changed."""
    changes: dict[str, list] = {}
    for name in fields:
        if name not in values:
            continue
        old, new = getattr(provider, name), values[name]
        if old != new:
            changes[name] = [_plain(old), _plain(new)]
            setattr(provider, name, new)
    return changes


@transaction.atomic
def update_provider_contact_data(access: ProviderAccess, values: dict[str, Any]) -> dict[str, list]:
    """Staff change a provider's address, phone or website; returns what changed."""
    provider = Provider.objects.select_for_update().get(pk=access.provider.pk)
    changes = _apply(provider, values, CONTACT_FIELDS)
    if changes:
        provider.full_clean()
        provider.save(update_fields=list(changes))
        record_event(
            access,
            PROVIDER_UPDATED,
            channel="web",
            description="Contact data and address changed by staff",
            details={"changes": changes},
        )
    return changes


@transaction.atomic
def set_accreditation_status(
    access: ProviderAccess,
    *,
    accreditation_status: str,
    term_start: datetime.date | None,
    term_end: datetime.date | None,
    reason: str,
) -> dict[str, list]:
    """Staff correct a provider's status or term outside a decision, with a recorded reason.

    A decision (:func:`record_decision`) sets status and term too; this is for
    corrections (a term extended, data migrated), so the reason is required.
    """
    if accreditation_status not in AccreditationStatus.values:
        raise ValidationError({"accreditation_status": "Choose a status."})
    if term_start and term_end and term_end < term_start:
        raise ValidationError({"term_end": "The term cannot end before it starts."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the status or term changes."})
    provider = Provider.objects.select_for_update().get(pk=access.provider.pk)
    values = {
        "accreditation_status": accreditation_status,
        "term_start": term_start,
        "term_end": term_end,
    }
    changes = _apply(provider, values, STATUS_FIELDS)
    if changes:
        provider.save(update_fields=list(changes))
        record_event(
            access,
            PROVIDER_STATUS_SET,
            channel="web",
            description=f"Status or term set by staff: {reason.strip()}",
            details={"changes": changes, "reason": reason.strip()},
        )
    return changes


def record_decision_as(
    access: ProviderAccess, decision: AccreditationDecision
) -> AccreditationDecision:
    """:func:`record_decision` by a staff member, with the status and term change audited."""
    with transaction.atomic():
        provider = Provider.objects.select_for_update().get(pk=access.provider.pk)
        before = {name: getattr(provider, name) for name in STATUS_FIELDS}
        record_decision(decision)
        provider.refresh_from_db(fields=list(STATUS_FIELDS))
        changes = {
            name: [_plain(before[name]), _plain(getattr(provider, name))]
            for name in STATUS_FIELDS
            if before[name] != getattr(provider, name)
        }
        record_event(
            access,
            DECISION_RECORDED,
            channel="web",
            description=str(decision),
            details={"changes": changes, "decision": decision.pk},
        )
        notices.decision_recorded(provider, decision)
    return decision
