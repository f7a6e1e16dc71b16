"""Writes to provider records.

Staff edits, which land in the audit trail, are in ``pars.accreditation.provider_services``
(a layer above accounts and audit).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from pars.providers.models import (
    AccreditationDecision,
    AccreditationStatus,
    AccreditorType,
    Provider,
    RecognizedAccreditor,
)


def create_provider(
    *, name: str, provider_id: str, accreditor_type: str, state: str | None = None
) -> Provider:
    """Register a provider; a state-accredited one names its accreditor by state code."""
    if accreditor_type not in AccreditorType.values:
        raise ValidationError(
            {"accreditor_type": f"Use one of {', '.join(AccreditorType.values)}."}
        )
    accreditor = None
    if accreditor_type == AccreditorType.STATE:
        if not state:
            raise ValidationError({"state": "A state-accredited provider needs --state."})
        accreditor = RecognizedAccreditor.objects.filter(state=state.upper()).first()
        if accreditor is None:
            known = ", ".join(RecognizedAccreditor.objects.values_list("state", flat=True))
            message = f"No recognized accreditor for {state.upper()}. Known: {known or 'none'}."
            raise ValidationError({"state": message})
    provider = Provider(
        name=name,
        provider_id=provider_id,
        accreditor_type=accreditor_type,
        recognized_accreditor=accreditor,
    )
    provider.full_clean()
    provider.save()
    return provider


# Decisions that put the provider into an accredited state set its term from the decision.
_TERM_SETTING = {
    AccreditationStatus.PROVISIONAL,
    AccreditationStatus.ACCREDITATION,
    AccreditationStatus.COMMENDATION,
}


@transaction.atomic
def record_decision(decision: AccreditationDecision) -> AccreditationDecision:
    """Save a decision and make it the provider's current status (and term, if it sets one)."""
    decision.full_clean()
    decision.save()
    provider = Provider.objects.select_for_update().get(pk=decision.provider_id)
    latest = provider.decisions.order_by("-decided_on", "-id").first()
    if latest is not None and latest.pk == decision.pk:
        provider.accreditation_status = decision.outcome
        if decision.outcome in _TERM_SETTING and decision.term_start:
            provider.term_start = decision.term_start
            provider.term_end = decision.term_end
        provider.save(update_fields=["accreditation_status", "term_start", "term_end"])
    return decision
