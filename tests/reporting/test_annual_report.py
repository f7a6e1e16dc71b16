"""The annual report's writers: program summary, attestation, locking and reopening."""

import datetime
from decimal import Decimal

import pytest

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.activities.services import ActivityRefused, save_activity
from pars.activities.validation import validate_activity
from pars.audit.models import AuditAction, AuditEvent
from pars.providers.models import Provider
from pars.reporting.models import ReportingYear
from pars.reporting.services import (
    AnnualReportRefused,
    attest,
    complete_program_summary,
    reopen_year,
    save_program_summary,
)
from pars.reporting.summary import activity_totals
from tests.activities.test_validation import course

FIGURES = {
    "advertising_exhibit_income": "12,500.00",
    "registration_fees": "48000",
    "government_grants": "0",
    "private_donations": "2500.50",
}


@pytest.fixture
def year_2025(db: None) -> ReportingYear:
    return ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31))


def _closed_course(access: object, activity_id: str, amount: int) -> None:
    clean, errors = validate_activity(
        course(
            provider_activity_id=activity_id,
            start_date="05/01/2025",
            end_date="05/02/2025",
            status="Closed",
            supporters=[{"source": "Example Pharma", "monetary_amount": str(amount)}],
        )
    )
    assert clean is not None, errors
    save_activity(access, clean, channel="web")  # type: ignore[arg-type]


def test_a_full_year_attest_lock_and_reopen(
    provider: Provider, admin_user: User, staff: User, year_2025: ReportingYear
) -> None:
    access = get_provider_access(admin_user, provider.provider_id)
    _closed_course(access, "A-1", 5000)
    _closed_course(access, "A-2", 2500)
    totals = activity_totals(access, 2025)
    assert (totals.activities, totals.commercial_support_monetary) == (2, 7500)
    with pytest.raises(AnnualReportRefused) as refused:
        attest(access, 2025, channel="web")
    assert [e.rule for e in refused.value.errors] == ["attestation.program_summary_incomplete"]
    report = save_program_summary(access, 2025, FIGURES, channel="web")
    assert report.advertising_exhibit_income == Decimal("12500.00")
    complete_program_summary(access, 2025, channel="web")
    report = attest(access, 2025, channel="web")
    assert report.attested_by == admin_user
    assert report.attestation_statement is not None
    # Locked: no channel may change the year's activities or summary.
    with pytest.raises(ActivityRefused) as locked:
        _closed_course(access, "A-3", 100)
    assert locked.value.errors[0].rule == "activity.reporting_year.locked"
    with pytest.raises(AnnualReportRefused):
        save_program_summary(access, 2025, FIGURES, channel="web")
    staff_access = get_provider_access(staff, provider.provider_id)
    reopen_year(staff_access, 2025, reason="Provider found two missing activities")
    _closed_course(access, "A-3", 100)
    assert Activity.objects.filter(provider=provider).count() == 3
    actions = list(AuditEvent.objects.filter(provider=provider).values_list("action", flat=True))
    assert AuditAction.ATTESTED in actions
    assert AuditAction.REOPENED in actions


def test_only_an_administrator_attests(
    provider: Provider, editor: User, year_2025: ReportingYear
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    with pytest.raises(AnnualReportRefused) as refused:
        attest(access, 2025, channel="web")
    assert refused.value.errors[0].rule == "attestation.not_administrator"


@pytest.mark.parametrize(
    ("figures", "rule"),
    [
        ({"registration_fees": "-5"}, "program_summary.registration_fees.negative"),
        ({"government_grants": "12.345"}, "program_summary.government_grants.invalid"),
        ({"private_donations": "lots"}, "program_summary.private_donations.invalid"),
    ],
)
def test_program_summary_figures_are_exact_non_negative_amounts(
    provider: Provider,
    admin_user: User,
    year_2025: ReportingYear,
    figures: dict[str, str],
    rule: str,
) -> None:
    access = get_provider_access(admin_user, provider.provider_id)
    with pytest.raises(AnnualReportRefused) as refused:
        save_program_summary(access, 2025, {**FIGURES, **figures}, channel="web")
    assert [error.rule for error in refused.value.errors] == [rule]
