"""Which reporting years are closed for a provider, as the activity writer asks it.

Attestation belongs to ``pars.reporting``, a layer above activities; reporting registers
its answer here when the app loads (``ReportingConfig.ready``), so the writer checks the
lock without importing upwards.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from pars.providers.models import Provider

LOCKED_RULE = "activity.reporting_year.locked"

# Writers of a provider's reported data hold this lock shared, an attestation exclusively
# (PostgreSQL, until the transaction ends): an advisory lock per provider rather than a
# lock on the provider's row, which would write to that row (a disk flush at the commit
# of a write that changes nothing, a multixact per concurrent writer) and hold up edits of
# the provider's profile while an upload runs. pars.intake.process uses "PARS" for uploads.
# One bigint key: "PARW" in the high half, the provider's id (any id below 2**32) in the low.
WRITE_LOCK_NAMESPACE = 0x50415257  # "PARW"
_WRITE_LOCK_KEY = f"({WRITE_LOCK_NAMESPACE << 32} + %s::bigint)"
HOLD_FOR_WRITING_SQL = f"SELECT pg_advisory_xact_lock_shared{_WRITE_LOCK_KEY}"
HOLD_EXCLUSIVELY_SQL = f"SELECT pg_advisory_xact_lock{_WRITE_LOCK_KEY}"


class LockedYears(Protocol):
    def __call__(
        self, provider: Provider, years: Iterable[int] | None = None, *, for_update: bool = False
    ) -> set[int]: ...


@dataclass(frozen=True)
class Closure:
    """A closed year as the pages show it: who attested, and when."""

    year: int
    attested_at: datetime.datetime
    attested_by: str  # "Name (email)", or "" when the account is gone


class ClosuresOf(Protocol):
    def __call__(self, provider: Provider, years: Iterable[int]) -> dict[int, Closure]: ...


class ClosedYearsSql(Protocol):
    def __call__(self, years: int) -> str: ...


_locked_years: LockedYears | None = None
_closures_of: ClosuresOf | None = None
_closed_years_sql: ClosedYearsSql | None = None


def register(
    locked_years_of: LockedYears, closures_of: ClosuresOf, closed_years_sql: ClosedYearsSql
) -> None:
    global _locked_years, _closures_of, _closed_years_sql  # one answer per process
    _locked_years = locked_years_of
    _closures_of = closures_of
    _closed_years_sql = closed_years_sql


def closures(provider: Provider, years: Iterable[int]) -> dict[int, Closure]:
    """The provider's closed years among `years`, with who attested them and when."""
    if _closures_of is None:
        raise ImproperlyConfigured("pars.reporting registers the reporting-year lock.")
    return _closures_of(provider, years)


def locked_years(
    provider: Provider, years: Iterable[int] | None = None, *, for_update: bool = False
) -> set[int]:
    """The provider's closed years (of ``years``); ``for_update`` holds off attestations."""
    if _locked_years is None:  # never write as if no year were closed
        raise ImproperlyConfigured("pars.reporting registers the reporting-year lock.")
    return _locked_years(provider, years, for_update=for_update)


def closed_years_sql(years: int) -> str:
    """The SQL of locked_years(provider, `years` years): one column, the closed years; its
    parameters are the provider's id, then the years. For a writer that reads the closed
    years inside its own statement (run after the hold, as locked_years' are)."""
    if _closed_years_sql is None:
        raise ImproperlyConfigured("pars.reporting registers the reporting-year lock.")
    return _closed_years_sql(years)


def locked_message(year: int) -> str:
    return (
        f"The {year} annual report of this provider is attested and closed: its activities "
        "and program summary can no longer change. Ask the accreditor's staff to reopen it."
    )
