"""What the provider's users are told about their annual report (pars.notifications)."""

from __future__ import annotations

from django.urls import reverse

from pars.accounts.models import User
from pars.notifications.models import Kind
from pars.notifications.services import notify, provider_users
from pars.providers.models import Provider


def _attest_link(provider: Provider, year: int) -> str:
    return reverse("reporting:attest", args=[provider.provider_id, year])


def year_closed(provider: Provider, year: int, attested_by: User) -> None:
    notify(
        provider_users(provider),
        Kind.YEAR_CLOSED,
        f"The {year} annual report is attested and closed",
        body=(
            f"{attested_by.email} attested the {year} report. Its activities, program "
            "summary and learners are now read-only; ask the accreditor's staff to reopen "
            "the year if something must change."
        ),
        link=_attest_link(provider, year),
        provider=provider,
    )


def year_reopened(provider: Provider, year: int, reason: str) -> None:
    notify(
        provider_users(provider),
        Kind.YEAR_REOPENED,
        f"The {year} annual report was reopened",
        body=(
            f"The accreditor's staff reopened the {year} report: {reason}\n\n"
            "Make the changes, then attest the year again."
        ),
        link=_attest_link(provider, year),
        provider=provider,
    )
