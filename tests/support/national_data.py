"""A small national data set for the data-report and REMS-report tests (fixture `national`).

Providers of each accreditor type (two state societies), activities of several formats
in the report year and the year before, supporters (one named like a formula), annual
reports, registrations with MOC boards, the REMS and a state board, and completions in
every status group.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from pars.activities.models import Activity, CommercialSupport
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.providers.models import AccreditationStatus, Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import make_accreditor, make_activity, make_provider, register

YEAR = 2026
FORMULA_SUPPORTER = "=cmd|' /C calc'!A0"


@dataclass
class National:
    providers: dict[str, Provider]
    activities: dict[str, Activity]
    maine_id: int


def _activity(provider: Provider, key: str, year: int = YEAR, **fields: Any) -> Activity:
    start = datetime.date(year, 3, 1)
    return make_activity(
        provider,
        provider_activity_id=key,
        title=f"Course {key}",
        start_date=start,
        end_date=start,
        reporting_year=year,
        **fields,
    )


def _support(
    activity: Activity, position: int, source: str, amount: int | None, in_kind: bool = False
) -> None:
    CommercialSupport.objects.create(
        provider=activity.provider,
        activity=activity,
        position=position,
        source=source,
        monetary_amount=amount,
        in_kind=in_kind,
    )


def _completions(activity: Activity, code: str, statuses: list[str], **fields: Any) -> None:
    recipient = Recipient.objects.get(code=code)
    for number, status in enumerate(statuses):
        LearnerCompletion.objects.create(
            provider=activity.provider,
            activity=activity,
            recipient=recipient,
            learner_key=f"{code}:{activity.pk}:{number}",
            first_name="Secret",
            last_name=f"Learnername{number}",
            birth_month=4,
            birth_day=9,
            learner_id=f"LOCAL{activity.pk}X{number}",
            npi="1234567893",
            completion_date=activity.start_date,
            status=status,
            **fields,
        )


@pytest.fixture
def national(db: None) -> National:
    ReportingYear.objects.create(year=YEAR, deadline=datetime.date(YEAR + 1, 3, 31))
    year_before = ReportingYear.objects.create(year=YEAR - 1, deadline=datetime.date(YEAR, 3, 31))
    report_year = ReportingYear.objects.get(year=YEAR)
    maine = make_accreditor("ME")
    tennessee = make_accreditor("TN")
    p = {
        "accme1": make_provider(name="Atlantic Medical College", accreditor_type="accme"),
        "accme2": make_provider(name="Bayside Hospital", accreditor_type="accme"),
        "accme3": make_provider(
            name="Applicant Clinic",
            accreditor_type="accme",
            accreditation_status=AccreditationStatus.APPLICANT,
        ),
        "state_me": make_provider(
            name="Pine Coast Medical", accreditor_type="state", recognized_accreditor=maine
        ),
        "state_me2": make_provider(
            name="Kennebec Health",
            accreditor_type="state",
            recognized_accreditor=maine,
            accreditation_status=AccreditationStatus.PROBATION,
        ),
        "state_tn": make_provider(
            name="Volunteer Medical", accreditor_type="state", recognized_accreditor=tennessee
        ),
        "joint1": make_provider(name="Joint Learning Partners", accreditor_type="joint"),
        "joint2": make_provider(
            name="Interprofessional Institute",
            accreditor_type="joint",
            accreditation_status=AccreditationStatus.NONACCREDITATION,
        ),
    }
    d = Decimal
    a = {
        "a1": _activity(p["accme1"], "A1", hours_of_instruction=d("6.50"), ama_credits=d("6.50"),
                        physician_learners=120, other_learners=30),
        "a2": _activity(p["accme1"], "A2", activity_format="rss", hours_of_instruction=d("1.00"),
                        ama_credits=d("1.00"), physician_learners=15, other_learners=4),
        "a3": _activity(p["accme2"], "A3", activity_format="enduring",
                        hours_of_instruction=d("2.25"), ama_credits=d("2.00"),
                        physician_learners=400, other_learners=None),
        "a_old": _activity(p["accme2"], "A-OLD", year=YEAR - 1, hours_of_instruction=d("9"),
                           physician_learners=999, other_learners=999),
        "s1": _activity(p["state_me"], "S1", hours_of_instruction=d("3.00"), ama_credits=d("3"),
                        physician_learners=25, other_learners=10),
        "s2": _activity(p["state_me2"], "S2", activity_format="rss",
                        hours_of_instruction=d("0.75"), physician_learners=8, other_learners=2),
        "t1": _activity(p["state_tn"], "T1", activity_format="journal",
                        hours_of_instruction=d("1.50"), ama_credits=d("1"),
                        physician_learners=60, other_learners=0),
        "j1": _activity(p["joint1"], "J1", hours_of_instruction=d("12.00"), ama_credits=d("12"),
                        physician_learners=200, other_learners=350),
        "j2": _activity(p["joint2"], "J2", activity_format="performance_improvement",
                        hours_of_instruction=None, physician_learners=None, other_learners=None),
    }  # fmt: skip
    _support(a["a1"], 1, "Example Pharma", 5000)
    _support(a["a1"], 2, FORMULA_SUPPORTER, 2500)
    _support(a["a3"], 1, "Example Pharma", None, in_kind=True)
    _support(a["a_old"], 1, "Old Money Inc", 99999)
    _support(a["s1"], 1, "Maine Devices", 1200)
    _support(a["t1"], 1, "Example Pharma", 800)
    _support(a["j1"], 1, "Joint Sponsor", 10000)
    _support(a["j1"], 2, "Equipment Co", None, in_kind=True)

    def report(
        provider: Provider, year: ReportingYear, attested: bool = False, **money: str
    ) -> None:
        AnnualReport.objects.create(
            provider=provider,
            reporting_year=year,
            attested_at=timezone.now() if attested else None,
            **{key: Decimal(value) for key, value in money.items()},
        )

    report(
        p["accme1"],
        report_year,
        attested=True,
        advertising_exhibit_income="1000.50",
        registration_fees="20000",
        government_grants="0",
        private_donations="150.25",
    )
    report(p["accme2"], report_year, registration_fees="3000")
    report(
        p["state_me"],
        report_year,
        attested=True,
        advertising_exhibit_income="250",
        registration_fees="1200.10",
    )
    report(p["state_tn"], report_year, private_donations="75")
    report(
        p["joint1"],
        report_year,
        attested=True,
        advertising_exhibit_income="5000",
        registration_fees="45000",
        government_grants="12000",
        private_donations="500",
    )
    report(p["accme2"], year_before, attested=True, registration_fees="77777")  # fmt: skip

    s = CompletionStatus
    register(a["a1"], "ABIM")
    register(a["a1"], "REMS", rems_rpc_id="EG-123456-001")
    register(a["a3"], "ABP")
    register(a["s1"], "REMS", rems_rpc_id="EG-222222-002")
    register(a["s1"], "ME")
    register(a["j1"], "ABIM")
    register(a["t1"], "REMS", rems_rpc_id="EG-333333-003")
    register(a["a_old"], "REMS", rems_rpc_id="EG-999999-999")
    _completions(a["a1"], "ABIM", [s.ACCEPTED, s.ACCEPTED, s.QUEUED, s.REJECTED, s.HELD])
    rems_fields = {
        "profession": "physician",
        "practice_state": "ME",
        "dea_registration": "individual",
        "practice_area": "pain",
        "surgical_procedures": False,
        "time_in_practice": "6-10 years",
    }
    _completions(a["a1"], "REMS", [s.ACCEPTED, s.SENT, s.WITHDRAWN], **rems_fields)
    _completions(a["a3"], "ABP", [s.ACCEPTED, s.WITHDRAWAL_QUEUED])
    _completions(a["s1"], "REMS", [s.ACCEPTED, s.ACCEPTED, s.HELD], **rems_fields)
    _completions(a["s1"], "ME", [s.ACCEPTED])
    _completions(a["j1"], "ABIM", [s.SENT, s.ACCEPTED])
    _completions(a["t1"], "REMS", [s.QUEUED], **rems_fields)
    _completions(a["a_old"], "REMS", [s.ACCEPTED, s.ACCEPTED], **rems_fields)
    return National(providers=p, activities=a, maine_id=maine.pk)
