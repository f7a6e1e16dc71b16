"""The annual report pages: the dashboard, the program summary, the attestation;
and for the accreditor's staff, the reporting cycle of a year, reminders and reopening.

The pages read through the provider's access and write through the services
(`pars.reporting.services`); they check nothing the services check.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from pars.accounts.access import ProviderAccess, get_provider_access, providers_visible_to
from pars.accounts.decorators import provider_view, staff_view
from pars.accounts.models import Membership, Role, User
from pars.activities.models import ActivityStatus
from pars.intake.models import Channel
from pars.intake.rules import FieldError
from pars.providers.models import Provider
from pars.reporting.charts import activities_by_month_chart
from pars.reporting.forms import ProgramSummaryForm, ReminderForm, ReopenForm
from pars.reporting.locks import locked_message
from pars.reporting.models import AnnualReport, ReportingYear, YearReopening
from pars.reporting.reminders import reminder_email
from pars.reporting.services import (
    PROGRAM_SUMMARY_FIELDS,
    AnnualReportRefused,
    YearStatus,
    attest,
    attester,
    complete_program_summary,
    current_reporting_year,
    current_statement,
    earlier_years,
    reopen_year,
    save_program_summary,
    year_status,
)
from pars.reporting.summary import activity_totals
from pars.reporting.tasks import send_year_reminders


def _year_url(name: str, access: ProviderAccess, year: int) -> str:
    return reverse(name, kwargs={"provider_id": access.provider.provider_id, "year": year})


@provider_view()
def dashboard(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    reporting_year = current_reporting_year()
    status = year_status(access, reporting_year) if reporting_year else None
    earlier = earlier_years(access, reporting_year) if reporting_year else []
    # The learner chart comes from a learners tag in the template (learners is above reporting).
    activity_chart = activities_by_month_chart(access, status.year) if status else None
    return render(
        request,
        "reporting/dashboard.html",
        {"access": access, "status": status, "earlier": earlier, "activity_chart": activity_chart},
    )


def guide(request: HttpRequest) -> HttpResponse:
    return render(request, "reporting/guide.html")


# ---------------------------------------------------------------------------
# The provider's annual report


def _current_year_page(request: HttpRequest, access: ProviderAccess, name: str) -> HttpResponse:
    reporting_year = current_reporting_year()
    if reporting_year is None:
        return render(request, "reporting/no_year.html", {"access": access})
    return redirect(name, provider_id=access.provider.provider_id, year=reporting_year.year)


@provider_view()
def program_summary_current(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    return _current_year_page(request, access, "reporting:program_summary")


@provider_view()
def attest_current(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    return _current_year_page(request, access, "reporting:attest")


def _report(access: ProviderAccess, reporting_year: ReportingYear) -> AnnualReport | None:
    """The provider's report of the year, if it has one (reading never creates it)."""
    return (
        access.records(AnnualReport)
        .filter(reporting_year=reporting_year)
        .select_related("attested_by", "attestation_statement")
        .first()
    )


def _year_nav(access: ProviderAccess, reporting_year: ReportingYear) -> dict[str, Any]:
    """What every annual-report page shows above its content."""
    return {
        "access": access,
        "reporting_year": reporting_year,
        "year": reporting_year.year,
        "years": list(ReportingYear.objects.values_list("year", flat=True)),
    }


@provider_view()
def program_summary(request: HttpRequest, access: ProviderAccess, year: int) -> HttpResponse:
    reporting_year = get_object_or_404(ReportingYear, year=year)
    report = _report(access, reporting_year)
    locked = bool(report and report.attested_at)
    errors: list[FieldError] = []
    saved = False
    status = 200
    if request.method == "POST":
        access.require_edit()
        raw = {name: request.POST.get(name, "") for name in PROGRAM_SUMMARY_FIELDS}
        complete = request.POST.get("action") == "complete"
        form = ProgramSummaryForm(raw, disabled=locked)
        try:
            save_program_summary(access, year, raw, channel=Channel.WEB)
            saved = True
            if complete:
                complete_program_summary(access, year, channel=Channel.WEB)
        except AnnualReportRefused as refused:
            errors = refused.errors
            status = 400
        else:
            messages.success(
                request,
                f"The {year} program summary is complete."
                if complete
                else f"The {year} program summary is saved.",
            )
            return redirect("reporting:program_summary", access.provider.provider_id, year)
        report = _report(access, reporting_year)
        locked = bool(report and report.attested_at)
        if locked:  # closed meanwhile: show what is stored, not what was typed
            form = ProgramSummaryForm(
                initial=ProgramSummaryForm.initial_from(report), disabled=True
            )
    else:
        form = ProgramSummaryForm(
            initial=ProgramSummaryForm.initial_from(report),
            disabled=locked or not access.can_edit,
        )
    return render(
        request,
        "reporting/program_summary.html",
        {
            **_year_nav(access, reporting_year),
            "report": report,
            "locked": locked,
            "locked_message": locked_message(year) if locked else "",
            "editable": access.can_edit and not locked,
            "form_rows": form.rows(errors),
            "errors": errors,
            "general_errors": [e for e in errors if e.field not in PROGRAM_SUMMARY_FIELDS],
            "saved": saved,
            "totals": activity_totals(access, year),
            "status": year_status(access, reporting_year),
        },
        status=status,
    )


@dataclass(frozen=True)
class Missing:
    label: str
    url: str


def _missing_for_attestation(access: ProviderAccess, status: YearStatus) -> list[Missing]:
    """What attest() would refuse for, as links to where each is done."""
    provider_id = access.provider.provider_id
    activities = reverse("activities:list", args=[provider_id]) + f"?year={status.year}"
    missing = []
    if status.activities_total == 0:
        missing.append(Missing(f"Enter the activities of {status.year}", activities))
    elif status.activities_open:
        missing.append(
            Missing(
                f"Close the {status.activities_open} open activit"
                f"{'y' if status.activities_open == 1 else 'ies'} "
                f"(of {status.activities_total} entered)",
                activities,
            )
        )
    if not status.program_summary_done:
        missing.append(
            Missing(
                "Complete the program summary",
                _year_url("reporting:program_summary", access, status.year),
            )
        )
    return missing


@provider_view()
def attest_page(request: HttpRequest, access: ProviderAccess, year: int) -> HttpResponse:
    reporting_year = get_object_or_404(ReportingYear, year=year)
    may_attest = attester(access) is not None
    errors: list[FieldError] = []
    status_code = 200
    if request.method == "POST":
        if not may_attest:
            raise PermissionDenied("Only a provider administrator can attest.")
        try:
            attest(access, year, channel=Channel.WEB)
        except AnnualReportRefused as refused:
            errors = refused.errors
            status_code = 400
        else:
            messages.success(request, f"You attested the {year} annual report. The year is closed.")
            return redirect("reporting:attest", access.provider.provider_id, year)
    report = _report(access, reporting_year)
    status = year_status(access, reporting_year)
    administrators = (
        access.records(Membership)
        .filter(role=Role.ADMIN, user__is_active=True)
        .select_related("user")
        .order_by("user__email")
    )
    return render(
        request,
        "reporting/attest.html",
        {
            **_year_nav(access, reporting_year),
            "report": report,
            "status": status,
            "statement": current_statement(),
            "missing": _missing_for_attestation(access, status),
            "may_attest": may_attest,
            "administrators": administrators,
            "errors": errors,
            "reopenings": access.records(YearReopening)
            .filter(report__reporting_year=reporting_year)
            .select_related("reopened_by", "previous_attested_by"),
        },
        status=status_code,
    )


# ---------------------------------------------------------------------------
# Staff: the reporting cycle of a year

STAFF_STATUSES = {"attested": "Attested", "late": "Late", "incomplete": "Incomplete"}


@dataclass(frozen=True)
class ProviderYear:
    """One provider's progress through one reporting year, as staff see it."""

    provider: Provider
    state: str  # a key of STAFF_STATUSES
    activities_total: int
    activities_closed: int
    summary_done: bool
    attested_at: datetime.datetime | None

    @property
    def label(self) -> str:
        return STAFF_STATUSES[self.state]

    @property
    def activities_open(self) -> int:
        return self.activities_total - self.activities_closed

    @property
    def done(self) -> bool:
        return self.state == "attested"

    @property
    def missing(self) -> list[str]:
        missing = []
        if self.activities_total == 0:
            missing.append("no activities entered")
        elif self.activities_open:
            missing.append(f"{self.activities_open} of {self.activities_total} activities open")
        if not self.summary_done:
            missing.append("program summary not complete")
        return missing or ["ready to attest"]


def _providers_for_year(
    providers: QuerySet[Provider], reporting_year: ReportingYear
) -> QuerySet[Provider]:
    """The providers with their year's counts and report, in one query."""
    year = reporting_year.year
    reports = AnnualReport.objects.filter(provider=OuterRef("pk"), reporting_year=reporting_year)
    return providers.annotate(
        year_activities=Count("activities", filter=Q(activities__reporting_year=year)),
        year_closed=Count(
            "activities",
            filter=Q(activities__reporting_year=year, activities__status=ActivityStatus.CLOSED),
        ),
        year_summary_done=Exists(reports.filter(program_summary_completed_at__isnull=False)),
        year_attested_at=Subquery(reports.values("attested_at")[:1]),
    ).order_by("name")


def provider_years(
    user: User | AnonymousUser, reporting_year: ReportingYear, today: datetime.date | None = None
) -> list[ProviderYear]:
    """Every provider this staff user may see, with its status for the year."""
    today = today or timezone.localdate()
    late = reporting_year.deadline < today
    rows = []
    for provider in _providers_for_year(providers_visible_to(user), reporting_year):
        attested_at = provider.year_attested_at  # type: ignore[attr-defined]
        state = "attested" if attested_at else ("late" if late else "incomplete")
        rows.append(
            ProviderYear(
                provider=provider,
                state=state,
                activities_total=provider.year_activities,  # type: ignore[attr-defined]
                activities_closed=provider.year_closed,  # type: ignore[attr-defined]
                summary_done=provider.year_summary_done,  # type: ignore[attr-defined]
                attested_at=attested_at,
            )
        )
    return rows


def _reminder_choices(rows: list[ProviderYear]) -> list[tuple[int, str]]:
    return [(row.provider.pk, str(row.provider)) for row in rows if not row.done]


def _staff_year_page(
    request: HttpRequest,
    reporting_year: ReportingYear,
    rows: list[ProviderYear],
    *,
    reminder_form: ReminderForm | None = None,
    status: int = 200,
) -> HttpResponse:
    state = request.GET.get("status", "")
    query = request.GET.get("q", "").strip()
    counts = dict.fromkeys(STAFF_STATUSES, 0)
    for row in rows:
        counts[row.state] += 1
    shown = rows
    if state in STAFF_STATUSES:
        shown = [row for row in shown if row.state == state]
    if query:
        lowered = query.lower()
        shown = [
            row
            for row in shown
            if lowered in row.provider.name.lower() or row.provider.provider_id.startswith(query)
        ]
    selected = None  # None: every provider not done is chosen
    if reminder_form is not None and reminder_form.is_bound:
        selected = set(reminder_form.cleaned_data.get("providers", []))
    return render(
        request,
        "reporting/staff_year.html",
        {
            "reporting_year": reporting_year,
            "years": list(ReportingYear.objects.values_list("year", flat=True)),
            "rows": shown,
            "total": len(rows),
            "counts": [(key, label, counts[key]) for key, label in STAFF_STATUSES.items()],
            "state": state,
            "query": query,
            "late": reporting_year.deadline < timezone.localdate(),
            "reminder_form": reminder_form,
            "selected": selected,
            "not_done_shown": sum(1 for row in shown if not row.done),
        },
        status=status,
    )


@staff_view
def staff_current(request: HttpRequest) -> HttpResponse:
    reporting_year = current_reporting_year()
    if reporting_year is None:
        return render(request, "reporting/staff_no_year.html")
    url = reverse("reporting:staff_year", args=[reporting_year.year])
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


@staff_view
def staff_year(request: HttpRequest, year: int) -> HttpResponse:
    reporting_year = get_object_or_404(ReportingYear, year=year)
    return _staff_year_page(request, reporting_year, provider_years(request.user, reporting_year))


@staff_view
@require_POST
def staff_reminders(request: HttpRequest, year: int) -> HttpResponse:
    """Preview the reminder of one chosen provider, or queue the reminders of all chosen."""
    reporting_year = get_object_or_404(ReportingYear, year=year)
    rows = provider_years(request.user, reporting_year)
    form = ReminderForm(request.POST, choices=_reminder_choices(rows))
    if not form.is_valid():
        if request.htmx:  # type: ignore[attr-defined]  # htmx swaps only 2xx answers
            return render(request, "reporting/_reminder_preview.html", {"form": form})
        return _staff_year_page(request, reporting_year, rows, reminder_form=form, status=400)
    chosen: list[int] = form.cleaned_data["providers"]
    if request.POST.get("action") == "send":
        send_year_reminders.enqueue(year, chosen)
        messages.success(
            request,
            f"Reminders for {len(chosen)} provider{'s' if len(chosen) != 1 else ''} are queued; "
            "the task worker emails each one's primary CME contact and administrators.",
        )
        return redirect("reporting:staff_year", year)
    by_pk = {row.provider.pk: row.provider for row in rows}
    preview_pk = form.cleaned_data.get("preview_provider")
    provider = by_pk[preview_pk if preview_pk in chosen else chosen[0]]
    context = {
        "form": form,
        "reporting_year": reporting_year,
        "email": reminder_email(provider, reporting_year),
        "chosen": [by_pk[pk] for pk in chosen],
    }
    template = (
        "reporting/_reminder_preview.html"
        if request.htmx  # type: ignore[attr-defined]
        else "reporting/staff_reminder_preview.html"
    )
    return render(request, template, context)


@staff_view
def staff_reopen(request: HttpRequest, provider_id: str, year: int) -> HttpResponse:
    access = get_provider_access(request.user, provider_id)
    reporting_year = get_object_or_404(ReportingYear, year=year)
    form = ReopenForm(request.POST or None)
    errors: list[FieldError] = []
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                reopen_year(access, year, reason=form.cleaned_data["reason"])
            except AnnualReportRefused as refused:
                errors = refused.errors
            else:
                messages.success(
                    request,
                    f"The {year} annual report of {access.provider.name} is reopened: "
                    "the provider can change its activities and program summary again.",
                )
                return redirect("reporting:staff_year", year)
        status = 400
    return render(
        request,
        "reporting/staff_reopen.html",
        {
            "access": access,
            "provider": access.provider,
            "reporting_year": reporting_year,
            "report": _report(access, reporting_year),
            "status": year_status(access, reporting_year),
            "form": form,
            "errors": errors,
            "reopenings": access.records(YearReopening)
            .filter(report__reporting_year=reporting_year)
            .select_related("reopened_by", "previous_attested_by"),
        },
        status=status,
    )
