"""What each provider still has to do for its annual report."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.accounts.models import Membership, Role, User
from pars.activities.models import Activity, ActivityStatus
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.intake.rules import FieldError
from pars.providers.models import Contact
from pars.reporting import notices
from pars.reporting.locks import LOCKED_RULE, hold_provider_exclusively, locked_message
from pars.reporting.models import (
    AnnualReport,
    AttestationStatement,
    ReportingYear,
    YearReopening,
)
from pars.reporting.statements import FIRST_STATEMENT


@dataclass(frozen=True)
class ReportTask:
    label: str
    done: bool
    url: str | None = None


STAGE_LABELS = {
    "open": "Open",
    "activities_complete": "Activities complete",
    "ready_to_attest": "Ready to attest",
    "attested": "Attested — closed",
}


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
    def stage_code(self) -> str:
        """The stage as a stable code (for the web service); `stage` is its label."""
        if self.attested:
            return "attested"
        if self.program_summary_done and self.activities_complete:
            return "ready_to_attest"
        if self.activities_complete:
            return "activities_complete"
        return "open"

    @property
    def stage(self) -> str:
        return STAGE_LABELS[self.stage_code]

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
        ReportTask(
            "Complete the program summary",
            done=summary_done,
            url=reverse(
                "reporting:program_summary",
                kwargs={"provider_id": provider_id, "year": reporting_year.year},
            ),
        ),
        ReportTask(
            "Read the attestation statement and attest",
            done=attested,
            url=reverse(
                "reporting:attest", kwargs={"provider_id": provider_id, "year": reporting_year.year}
            ),
        ),
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


# ---------------------------------------------------------------------------
# The program summary, the attestation and reopening (the writers of the annual report)

PROGRAM_SUMMARY_FIELDS = {
    "advertising_exhibit_income": "Total advertising and exhibit income",
    "registration_fees": "Total registration fees",
    "government_grants": "Total government monetary grants",
    "private_donations": "Total private monetary donations",
}
_MAX_AMOUNT = Decimal("999999999999.99")


class AnnualReportRefused(Exception):
    """A change to the annual report that is not allowed now, with its field errors."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


def _refuse(field: str, rule: str, message: str) -> AnnualReportRefused:
    return AnnualReportRefused([FieldError(None, field, rule, message)])


def reporting_year(year: int) -> ReportingYear:
    found = ReportingYear.objects.filter(year=year).first()
    if found is None:
        raise _refuse("year", "report.year.unknown", f"There is no reporting year {year}.")
    return found


def annual_report(access: ProviderAccess, year: int) -> AnnualReport:
    """The provider's report for a year (created empty on first use)."""
    existing = access.records(AnnualReport).filter(reporting_year__year=year).first()
    if existing is not None:
        return existing
    report, _ = AnnualReport.objects.get_or_create(
        provider=access.provider, reporting_year=reporting_year(year)
    )
    return report


def validate_program_summary(
    raw: Mapping[str, Any],
) -> tuple[dict[str, Decimal | None], list[FieldError]]:
    """The one check of the four typed figures, for the web form and the web service."""
    values: dict[str, Decimal | None] = {}
    errors = []
    for name, label in PROGRAM_SUMMARY_FIELDS.items():
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            values[name] = None
            continue
        text = str(value).strip().replace(",", "").removeprefix("$")
        try:
            amount = Decimal(text) if not isinstance(value, bool) else Decimal("NaN")
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            errors.append(
                FieldError(
                    None,
                    name,
                    f"program_summary.{name}.invalid",
                    f"{label} must be an amount in US dollars, such as 12500 or 12500.50.",
                )
            )
        elif amount < 0:
            errors.append(
                FieldError(
                    None, name, f"program_summary.{name}.negative", f"{label} cannot be negative."
                )
            )
        elif amount > _MAX_AMOUNT:  # before quantize(), which fails on huge exponents
            errors.append(
                FieldError(
                    None,
                    name,
                    f"program_summary.{name}.too_large",
                    f"{label} must be at most {_MAX_AMOUNT:,}.",
                )
            )
        elif amount != amount.quantize(Decimal("0.01")):
            errors.append(
                FieldError(
                    None,
                    name,
                    f"program_summary.{name}.invalid",
                    f"{label} must be an amount in dollars and cents (at most two decimals).",
                )
            )
        else:
            values[name] = amount.quantize(Decimal("0.01"))
    return values, errors


def _require_open(access: ProviderAccess, report: AnnualReport) -> None:
    if report.attested_at is not None:
        raise _refuse("year", LOCKED_RULE, locked_message(report.reporting_year.year))


@transaction.atomic
def save_program_summary(
    access: ProviderAccess, year: int, raw: Mapping[str, Any], *, channel: str
) -> AnnualReport:
    """Save the four figures; raises AnnualReportRefused with field errors."""
    access.require_edit()
    report = AnnualReport.objects.select_for_update().get(pk=annual_report(access, year).pk)
    _require_open(access, report)
    values, errors = validate_program_summary(raw)
    if errors:
        raise AnnualReportRefused(errors)
    changes = {
        name: [_money(getattr(report, name)), _money(value)]
        for name, value in values.items()
        if getattr(report, name) != value
    }
    for name, value in values.items():
        setattr(report, name, value)
    if any(value is None for value in values.values()):
        report.program_summary_completed_at = None  # complete means all four figures
    report.save()
    if changes:
        record_event(
            access,
            AuditAction.PROGRAM_SUMMARY_SAVED,
            channel=channel,
            reporting_year=year,
            details={"changes": changes},
        )
    return report


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


@transaction.atomic
def complete_program_summary(access: ProviderAccess, year: int, *, channel: str) -> AnnualReport:
    access.require_edit()
    report = AnnualReport.objects.select_for_update().get(pk=annual_report(access, year).pk)
    _require_open(access, report)
    missing = [
        FieldError(
            None,
            name,
            f"program_summary.{name}.required",
            f"{label} is required to complete the program summary (enter 0 if none).",
        )
        for name, label in PROGRAM_SUMMARY_FIELDS.items()
        if getattr(report, name) is None
    ]
    if missing:
        raise AnnualReportRefused(missing)
    if report.program_summary_completed_at is None:
        report.program_summary_completed_at = timezone.now()
        report.save(update_fields=["program_summary_completed_at"])
        record_event(
            access, AuditAction.PROGRAM_SUMMARY_COMPLETED, channel=channel, reporting_year=year
        )
    return report


def current_statement() -> AttestationStatement:
    """The newest statement; the first one comes with the migrations (and is restored here
    if a test flush or an operator removed every statement)."""
    statement = AttestationStatement.objects.order_by("-version").first()
    if statement is None:
        statement, _ = AttestationStatement.objects.get_or_create(
            version=1,
            defaults={"text": FIRST_STATEMENT, "effective_from": datetime.date(2026, 1, 1)},
        )
    return statement


def attester(access: ProviderAccess) -> User | None:
    """Who attests: a provider administrator, or the administrator who made the API key."""
    if access.role == Role.ADMIN:
        return access.user
    if access.via_api_key and access.api_key is not None and access.api_key.created_by_id:
        creator = access.api_key.created_by
        admins = access.records(Membership).filter(role=Role.ADMIN, user__is_active=True)
        if creator is not None and admins.filter(user=creator).exists():
            return creator
    return None


@transaction.atomic
def attest(access: ProviderAccess, year: int, *, channel: str) -> AnnualReport:
    """Close the year: only an administrator, only when activities and summary are complete."""
    user = attester(access)
    if user is None:
        raise _refuse(
            "year", "attestation.not_administrator", "Only a provider administrator can attest."
        )
    # Wait for writes of this provider in progress, so what is attested is what is stored.
    hold_provider_exclusively(access.provider)
    report = AnnualReport.objects.select_for_update().get(pk=annual_report(access, year).pk)
    _require_open(access, report)
    status = year_status(access, report.reporting_year)
    problems = []
    if not status.activities_complete:
        problems.append(
            FieldError(
                None,
                "activities",
                "attestation.activities_incomplete",
                f"Enter and close every activity of {year} first "
                f"({status.activities_open} still open, {status.activities_total} entered).",
            )
        )
    if not status.program_summary_done:
        problems.append(
            FieldError(
                None,
                "program_summary",
                "attestation.program_summary_incomplete",
                f"Complete the {year} program summary first.",
            )
        )
    if problems:
        raise AnnualReportRefused(problems)
    statement = current_statement()
    report.attested_at = timezone.now()
    report.attested_by = user
    report.attestation_statement = statement
    report.save(update_fields=["attested_at", "attested_by", "attestation_statement"])
    record_event(
        access,
        AuditAction.ATTESTED,
        channel=channel,
        reporting_year=year,
        description=f"Attested by {user.email} (statement v{statement.version})",
        details={"statement_version": statement.version, "attested_by": user.email},
    )
    notices.year_closed(access.provider, year, user)
    return report


@transaction.atomic
def reopen_year(access: ProviderAccess, year: int, *, reason: str) -> AnnualReport:
    """Staff undo an attestation so the provider can change the year again (recorded)."""
    if not access.is_staff or access.user is None:
        raise _refuse("year", "reopen.not_staff", "Only the accreditor's staff can reopen a year.")
    if not reason.strip():
        raise _refuse("reason", "reopen.reason.required", "Give the reason for reopening the year.")
    report = AnnualReport.objects.select_for_update().get(pk=annual_report(access, year).pk)
    if report.attested_at is None:
        raise _refuse("year", "reopen.not_attested", f"The {year} report is not attested.")
    YearReopening.objects.create(
        report=report,
        provider=access.provider,
        reopened_by=access.user,
        reason=reason.strip(),
        previous_attested_at=report.attested_at,
        previous_attested_by=report.attested_by,
    )
    report.attested_at = None
    report.attested_by = None
    report.attestation_statement = None
    report.save(update_fields=["attested_at", "attested_by", "attestation_statement"])
    record_event(
        access, AuditAction.REOPENED, channel="web", reporting_year=year, description=reason.strip()
    )
    notices.year_reopened(access.provider, year, reason.strip())
    return report
