"""Which reporting years are closed for a provider, as the activity writer asks it.

Attestation belongs to ``pars.reporting``, a layer above activities; reporting registers
its answer here when the app loads (``ReportingConfig.ready``), so the writer checks the
lock without importing upwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from pars.providers.models import Provider

LOCKED_RULE = "activity.reporting_year.locked"


class LockedYears(Protocol):
    def __call__(
        self, provider: Provider, years: Iterable[int] | None = None, *, for_update: bool = False
    ) -> set[int]: ...


_locked_years: LockedYears | None = None


def register(locked_years_of: LockedYears) -> None:
    global _locked_years  # one answer per process, set when the apps load
    _locked_years = locked_years_of


def locked_years(
    provider: Provider, years: Iterable[int] | None = None, *, for_update: bool = False
) -> set[int]:
    """The provider's closed years (of ``years``); ``for_update`` holds off attestations."""
    if _locked_years is None:  # never write as if no year were closed
        raise ImproperlyConfigured("pars.reporting registers the reporting-year lock.")
    return _locked_years(provider, years, for_update=for_update)


def locked_message(year: int) -> str:
    return (
        f"The {year} annual report of this provider is attested and closed: its activities "
        "and program summary can no longer change. Ask the accreditor's staff to reopen it."
    )
