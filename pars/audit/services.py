"""Recording audit events; the writers of reported data call this, nothing else does."""

from __future__ import annotations

from typing import Any

from pars.accounts.access import ProviderAccess
from pars.audit.models import AuditEvent


def record_event(
    access: ProviderAccess,
    action: str,
    *,
    channel: str,
    description: str = "",
    reporting_year: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        provider=access.provider,
        action=action,
        channel=channel,
        user=access.user,
        api_key=access.api_key,
        reporting_year=reporting_year,
        description=description,
        details=details or {},
    )
