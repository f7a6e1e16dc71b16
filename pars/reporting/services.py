"""What each provider still has to do for its annual report."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.urls import reverse
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity, ActivityStatus
from pars.providers.models import Contact
from pars.reporting.models import AnnualReport, ReportingYear


@dataclass(frozen=True)
class ReportTask:
    label: str
    done: bool
    url: str | None = None


@dataclass(frozen=True)
class YearStatus:
    year: int
    deadline: datetime.date | None
    days_left: int | None
    activities_total: int
    activities_closed: int
    program_summary_done: bool
    attested: bool
    attested_at: datetime.datetime | None
    tasks: list[ReportTask]

    @property
    def activities_open(self) -> int:
        return self.activities_total - self.activities_closed

    @property
    def activities_complete(self) -> bool:
        return self.activities_total > 0 and self.activities_open == 0

    @property
    def stage(self) -> str:
        if self.attested:
            return "Attested — closed"
        if self.program_summary_done and self.activities_complete:
            return "Ready to attest"
        if self.activities_complete:
            return "Activities complete"
        return "Open"

    @property
    def tasks_left(self) -> list[ReportTask]:
        return [task for task in self.tasks if not task.done]


def current_reporting_year(today: datetime.date | None = None) -> ReportingYear | None:
    """The earliest year whose deadline has not passed; else the latest year."""
    today = today or timezone.localdate()
    upcoming = ReportingYear.objects.filter(deadline__gte=today).order_by("year").first()
    return upcoming or ReportingYear.objects.order_by("-year").first()


def earlier_years(
    access: ProviderAccess, current: ReportingYear, today: datetime.date | None = None
) -> list[YearStatus]:
    """The status of every reporting year before the current one, newest first."""
    years = ReportingYear.objects.filter(year__lt=current.year).order_by("-year")[:5]
    return [year_status(access, year, today) for year in years]


def year_status(
    access: ProviderAccess, reporting_year: ReportingYear, today: datetime.date | None = None
) -> YearStatus:
    today = today or timezone.localdate()
    activities = access.records(Activity).filter(reporting_year=reporting_year.year)
    total = activities.count()
    closed = activities.filter(status=ActivityStatus.CLOSED).count()
    report = access.records(AnnualReport).filter(reporting_year=reporting_year).first()
    summary_done = bool(report and report.program_summary_completed_at)
    attested = bool(report and report.attested_at)
    provider_id = access.provider.provider_id
    activities_url = (
        reverse("activities:list", kwargs={"provider_id": provider_id})
        + f"?year={reporting_year.year}"
    )
    tasks = [
        ReportTask(
            "Review your organization's contact information",
            done=access.records(Contact).exists(),
            url=reverse("providers:profile", kwargs={"provider_id": provider_id}),
        ),
        ReportTask(
            f"Enter the activities of {reporting_year.year}"
            + (f" ({total} entered)" if total else ""),
            done=total > 0,
            url=activities_url,
        ),
        ReportTask(
            f"Close the {total - closed} open activities" if total - closed else "Close activities",
            done=total > 0 and closed == total,
            url=activities_url,
        ),
        ReportTask("Complete the program summary", done=summary_done),
        ReportTask("Read the attestation statement and attest", done=attested),
    ]
    return YearStatus(
        year=reporting_year.year,
        deadline=reporting_year.deadline,
        days_left=(reporting_year.deadline - today).days,
        activities_total=total,
        activities_closed=closed,
        program_summary_done=summary_done,
        attested=attested,
        attested_at=report.attested_at if report else None,
        tasks=tasks,
    )
