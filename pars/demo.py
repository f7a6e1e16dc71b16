"""Demo data for `make run`: two providers with activities in two reporting years."""

from __future__ import annotations

import datetime
import random
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from pars.accounts.access import ProviderAccess, system_access
from pars.accounts.models import Membership, Role, User
from pars.accreditation.notices import decision_recorded
from pars.activities.models import Activity
from pars.activities.services import apply_activities
from pars.activities.validation import validate_activity
from pars.audit.models import AuditAction, AuditEvent
from pars.intake.models import Channel
from pars.learners.demo import demo_learners, seed_registry
from pars.learners.services import apply_completions, save_registration
from pars.learners.validation import (
    load_recipients,
    validate_completion,
    validate_registration,
)
from pars.providers.models import (
    AccreditationDecision,
    AccreditationStatus,
    AccreditorType,
    Contact,
    DecisionType,
    Provider,
    RecognizedAccreditor,
)
from pars.reporting.locks import locked_years
from pars.reporting.models import AnnualReport, AttestationStatement, ReportingYear
from pars.reporting.notices import year_closed

DEMO_PASSWORD = "pars-demo-password"

ACCREDITORS = [
    ("Maine Medical Association", "ME"),
    ("North Carolina Medical Society", "NC"),
    ("Tennessee Medical Association", "TN"),
]

TOPICS = [
    "Sepsis Recognition in the Emergency Department",
    "Opioid Analgesic Prescribing and Safe Tapering",
    "Advances in Heart Failure Management",
    "Diabetes Technology in Primary Care",
    "Grand Rounds: Internal Medicine",
    "Pediatric Asthma Update",
    "Antimicrobial Stewardship",
    "Recognizing Implicit Bias in Clinical Care",
    "Point-of-Care Ultrasound Skills",
    "Tumor Board Case Conference",
    "Geriatric Polypharmacy",
    "Quality Improvement: Reducing Readmissions",
]

DEMO_LOGINS = [
    ("staff@pars.example", "Accreditor staff: every provider, staff pages and admin"),
    ("state-staff@pars.example", "State-accreditor staff (Maine): only Maine-accredited providers"),
    ("admin@riverside.example", "Administrator of Riverside; also editor at Pine Coast"),
    ("editor@riverside.example", "Editor at Riverside University Health System"),
    ("admin@pinecoast.example", "Administrator of Pine Coast Medical Society CME"),
]


def _user(email: str, **fields: object) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email, DEMO_PASSWORD, **fields)
    return user


def _reporting_years(today: datetime.date) -> list[ReportingYear]:
    years = []
    for year in (today.year - 1, today.year):
        reporting_year, _ = ReportingYear.objects.get_or_create(
            year=year, defaults={"deadline": datetime.date(year + 1, 3, 31)}
        )
        years.append(reporting_year)
    return years


CITIES = [("Chicago", "IL"), ("Portland", "ME"), ("Nashville", "TN"), ("Raleigh", "NC")]
SUPPORTERS = ["Example Pharma", "Acme Devices", "Northwind Biologics"]


def _activities(provider: Provider, prefix: str, year: int, closed: bool, seed: int) -> None:
    """The provider's activities of a year, written through the one validator."""
    rng = random.Random(seed)
    access = ProviderAccess(provider=provider, user=None, role=None, is_staff=True)
    if year in locked_years(provider):
        return  # attested on an earlier run: a closed year keeps its data
    records = []
    for number, topic in enumerate(TOPICS, start=1):
        start = datetime.date(year, rng.randint(1, 11), rng.randint(1, 28))
        activity_format = rng.choice(["course", "rss", "enduring", "journal"])
        length = {"course": 1, "rss": 120, "enduring": 300, "journal": 0}[activity_format]
        end = min(start + datetime.timedelta(days=length), datetime.date(year, 12, 31))
        city, state = rng.choice(CITIES)
        supported = number % 4 == 0
        raw = {
            "provider_activity_id": f"{prefix}-{year}-{number:03d}",
            "title": topic,
            "activity_format": activity_format,
            "delivery_methods": "Online" if activity_format == "enduring" else "In-Person",
            "start_date": start,
            "end_date": end,
            "description": f"{topic}: an update for practicing physicians.",
            "city": city,
            "state": state,
            "country": "USA",
            "providership": "Joint" if number == 5 else "Direct",
            "joint_providers": "County Hospital Foundation" if number == 5 else "",
            "ama_credits": rng.choice(["1", "1.5", "3", "6.25"]),
            "listed_on_passport": "No",
            "status": "Closed" if closed or number % 3 == 0 else "",
            "physician_learners": rng.randint(8, 400) if closed or number % 3 == 0 else "",
            "other_learners": rng.randint(0, 120) if closed or number % 3 == 0 else "",
            "outcome_measures": "Learner Competence:Objective",
            "commercial_support_received": "Yes" if supported else "No",
            "supporters": (
                [{"source": rng.choice(SUPPORTERS), "monetary_amount": rng.randint(1, 20) * 500}]
                if supported
                else []
            ),
        }
        if end >= timezone.localdate() and raw["status"] == "Closed":
            raw["status"] = ""
        clean, errors = validate_activity(raw)
        if errors:
            raise ValueError(f"demo activity {raw['provider_activity_id']} is invalid: {errors}")
        assert clean is not None
        records.append((number, clean))
    result = apply_activities(access, records, channel=Channel.DEMO)
    if result.errors:
        raise ValueError(f"demo activities refused: {result.errors}")


def _learners(provider: Provider) -> None:
    """Two finished activities registered for ABIM MOC, with completions from 18 learners;
    the latest also reported to REMS and the North Carolina board (below).

    The simulator's registry knows 16 of them: the other two end up *held* (learner not
    matched) once the task worker has delivered the records, for the demo of fixing them.
    """
    today = timezone.localdate()
    finished = list(
        system_access(provider)
        .records(Activity)
        .filter(
            end_date__lt=today,
            start_date__gte=datetime.date(today.year - 1, 1, 1),
            activity_format="course",
        )
        .order_by("-end_date")[:2]
    )
    if not finished:
        return
    access = ProviderAccess(provider=provider, user=None, role=None, is_staff=True)
    learners = demo_learners("ABIM", 18)
    recipients = load_recipients()
    records = []
    for activity in finished:
        if not activity.registrations.filter(recipient__code="ABIM").exists():
            registration, errors = validate_registration(
                {
                    "recipient": "ABIM",
                    "attest": True,
                    "moc_points": activity.ama_credits,
                    "credit_types": ["Medical Knowledge"],
                },
                recipients=recipients,
                ama_credits=activity.ama_credits,
            )
            if registration is None:
                raise ValueError(f"demo registration is invalid: {errors}")
            save_registration(access, activity, registration, channel=Channel.DEMO)
        for number, learner in enumerate(learners, start=1):
            raw = {
                **learner,
                "provider_activity_id": activity.provider_activity_id,
                "recipient": "ABIM",
                "completion_date": activity.end_date,
                "cme_credits": activity.ama_credits,
                "moc_points": activity.ama_credits,
                "moc_credit_types": "Medical Knowledge",
            }
            clean, errors = validate_completion(raw, row=number, recipients=recipients)
            if errors or clean is None:
                raise ValueError(f"demo learner {number} is invalid: {errors}")
            records.append((number, clean))
    result = apply_completions(access, records, channel=Channel.DEMO, recipients=recipients)
    if result.errors:
        raise ValueError(f"demo learners refused: {result.errors}")
    seed_registry("ABIM", learners[:-2], replace=True)
    _rems_and_state_board(access, finished[0])


# What REMS asks of each learner (reference 5.6), as a file row gives it.
REMS_ANSWERS = {
    "profession": "Physician",
    "practice_state": "ME",
    "dea_registration": "Individual",
    "practice_area": "Pain",
    "surgical_procedures": "No",
    "time_in_practice": "6-10 years",
}


def _register(access: ProviderAccess, activity: Activity, code: str, **fields: object) -> None:
    if activity.registrations.filter(recipient__code=code).exists():
        return
    registration, errors = validate_registration(
        {"recipient": code, "attest": True, **fields}, recipients=load_recipients()
    )
    if registration is None:
        raise ValueError(f"demo {code} registration is invalid: {errors}")
    save_registration(access, activity, registration, channel=Channel.DEMO)


def _rems_and_state_board(access: ProviderAccess, activity: Activity) -> None:
    """The same activity reported to the REMS program (6 learners) and to the North
    Carolina Medical Board (6 licensees).

    REMS records are reported, never matched: all six end up *reported*. The board's
    registry knows five of the licensees by license number and state; the sixth's license
    number is mistyped on purpose, so that record is *held* with what to do about it.
    """
    _register(access, activity, "REMS", rems_type="opioid_analgesic")
    _register(access, activity, "NC")
    recipients = load_recipients()
    rems, licensees = demo_learners("REMS", 6), demo_learners("NC", 6)
    licensees[-1] = {**licensees[-1], "learner_id": "MD999999"}  # not the board's number
    base = {
        "provider_activity_id": activity.provider_activity_id,
        "completion_date": activity.end_date,
        "cme_credits": activity.ama_credits,
    }
    rows = [{**base, **learner, "recipient": "REMS", **REMS_ANSWERS} for learner in rems]
    rows += [{**base, **learner, "recipient": "NC"} for learner in licensees]
    records = []
    for number, raw in enumerate(rows, start=1):
        clean, errors = validate_completion(raw, row=number, recipients=recipients)
        if errors or clean is None:
            raise ValueError(f"demo REMS/NC learner {number} is invalid: {errors}")
        records.append((number, clean))
    result = apply_completions(access, records, channel=Channel.DEMO, recipients=recipients)
    if result.errors:
        raise ValueError(f"demo REMS/NC learners refused: {result.errors}")
    seed_registry("NC", demo_learners("NC", 6), replace=True)


def _providers(
    accreditors: dict[str, RecognizedAccreditor],
) -> tuple[Provider, Provider]:
    """The two demo providers (Riverside, Pine Coast) with their contacts."""
    riverside, _ = Provider.objects.update_or_create(
        provider_id="0001234",
        defaults={
            "name": "Riverside University Health System",
            "accreditor_type": AccreditorType.ACCME,
            "accreditation_status": AccreditationStatus.COMMENDATION,
            "term_start": datetime.date(2022, 7, 1),
            "term_end": datetime.date(2028, 6, 30),
            "address_line1": "1200 River Road",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "62701",
            "phone": "+1 217 555 0100",
            "website": "https://riverside.example",
        },
    )
    pinecoast, _ = Provider.objects.update_or_create(
        provider_id="0005678",
        defaults={
            "name": "Pine Coast Medical Society CME",
            "accreditor_type": AccreditorType.STATE,
            "recognized_accreditor": accreditors["ME"],
            "accreditation_status": AccreditationStatus.ACCREDITATION,
            "term_start": datetime.date(2023, 11, 1),
            "term_end": datetime.date(2027, 10, 31),
            "address_line1": "45 Harbor Street",
            "city": "Portland",
            "state": "ME",
            "postal_code": "04101",
            "phone": "+1 207 555 0145",
        },
    )
    for provider, people in (
        (riverside, [("primary", "Dana Whitfield", "Director of CME", "cme@riverside.example"),
                     ("leader", "Dr. Samuel Ortiz", "Chief Medical Officer", "ceo@riverside.example")]),
        (pinecoast, [("primary", "Morgan Lee", "CME Coordinator", "cme@pinecoast.example"),
                     ("leader", "Dr. Avery Cole", "Executive Director", "director@pinecoast.example")]),
    ):  # fmt: skip
        for role, name, title, email in people:
            Contact.objects.update_or_create(
                provider=provider,
                role=role,
                defaults={"name": name, "title": title, "email": email},
            )
    return riverside, pinecoast


def _decisions(riverside: Provider, pinecoast: Provider) -> None:
    """The providers' accreditation history."""
    decisions = [
        (riverside, DecisionType.INITIAL, AccreditationStatus.PROVISIONAL, (2014, 7, 18), (2014, 7, 1), (2016, 6, 30)),
        (riverside, DecisionType.REACCREDITATION, AccreditationStatus.ACCREDITATION, (2016, 7, 22), (2016, 7, 1), (2022, 6, 30)),
        (riverside, DecisionType.REACCREDITATION, AccreditationStatus.COMMENDATION, (2022, 7, 15), (2022, 7, 1), (2028, 6, 30)),
        (pinecoast, DecisionType.INITIAL, AccreditationStatus.PROVISIONAL, (2019, 11, 8), (2019, 11, 1), (2021, 10, 31)),
        (pinecoast, DecisionType.REACCREDITATION, AccreditationStatus.ACCREDITATION, (2023, 11, 3), (2023, 11, 1), (2027, 10, 31)),
        (pinecoast, DecisionType.PROGRESS_REPORT, AccreditationStatus.ACCREDITATION, (2025, 3, 14), None, None),
    ]  # fmt: skip
    for provider, kind, outcome, decided, start, end in decisions:
        AccreditationDecision.objects.get_or_create(
            provider=provider,
            decision_type=kind,
            decided_on=datetime.date(*decided),
            defaults={
                "outcome": outcome,
                "term_start": datetime.date(*start) if start else None,
                "term_end": datetime.date(*end) if end else None,
            },
        )


def _people(
    accreditors: dict[str, RecognizedAccreditor], riverside: Provider, pinecoast: Provider
) -> None:
    """Staff (all providers, and Maine's only) and the providers' users."""
    staff = _user("staff@pars.example", first_name="Alex", last_name="Staff")
    User.objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True)
    state_staff = _user("state-staff@pars.example", first_name="Jamie", last_name="Maine")
    User.objects.filter(pk=state_staff.pk).update(is_staff=True, staff_accreditor=accreditors["ME"])
    memberships = [
        ("admin@riverside.example", "Dana", "Whitfield", riverside, Role.ADMIN),
        ("admin@riverside.example", "Dana", "Whitfield", pinecoast, Role.EDITOR),
        ("editor@riverside.example", "Chris", "Patel", riverside, Role.EDITOR),
        ("admin@pinecoast.example", "Morgan", "Lee", pinecoast, Role.ADMIN),
    ]
    for email, first, last, provider, role in memberships:
        user = _user(email, first_name=first, last_name=last)
        Membership.objects.get_or_create(user=user, provider=provider, defaults={"role": role})


def _annual_reports(riverside: Provider, pinecoast: Provider, previous_year: ReportingYear) -> None:
    """Last year's annual reports: one attested, one half-done."""
    # Last year's report is finished for Riverside and still open for Pine Coast.
    _, attested_now = AnnualReport.objects.get_or_create(
        provider=riverside,
        reporting_year=previous_year,
        defaults={
            "advertising_exhibit_income": Decimal("18250.00"),
            "registration_fees": Decimal("96400.00"),
            "government_grants": Decimal("0.00"),
            "private_donations": Decimal("5000.00"),
            "program_summary_completed_at": timezone.now(),
            "attested_at": timezone.now(),
            "attested_by": User.objects.get(email="admin@riverside.example"),
            "attestation_statement": AttestationStatement.objects.order_by("-version").first(),
        },
    )
    if (
        not system_access(riverside)
        .records(AuditEvent)
        .filter(action=AuditAction.ATTESTED)
        .exists()
    ):
        AuditEvent.objects.create(
            provider=riverside,
            action=AuditAction.ATTESTED,
            channel=Channel.DEMO,
            user=User.objects.get(email="admin@riverside.example"),
            reporting_year=previous_year.year,
            description="Attested (demo data)",
        )
    if attested_now:  # told once, as the attestation itself would tell them
        year_closed(
            riverside, previous_year.year, User.objects.get(email="admin@riverside.example")
        )
    # Pine Coast has typed part of its program summary for last year, and not attested.
    AnnualReport.objects.get_or_create(
        provider=pinecoast,
        reporting_year=previous_year,
        defaults={"advertising_exhibit_income": Decimal("2400.00")},
    )


@transaction.atomic
def load_demo() -> list[tuple[str, str]]:
    """Create (or refresh) the demo data; returns the demo logins as (email, what it shows)."""
    today = timezone.localdate()
    accreditors = {
        state: RecognizedAccreditor.objects.get_or_create(state=state, defaults={"name": name})[0]
        for name, state in ACCREDITORS
    }
    previous_year, current_year = _reporting_years(today)

    riverside, pinecoast = _providers(accreditors)
    _decisions(riverside, pinecoast)

    _activities(riverside, "RUHS", previous_year.year, closed=True, seed=1)
    _activities(riverside, "RUHS", current_year.year, closed=False, seed=2)
    _activities(pinecoast, "PCMS", previous_year.year, closed=True, seed=3)
    _activities(pinecoast, "PCMS", current_year.year, closed=False, seed=4)

    _people(accreditors, riverside, pinecoast)
    _learners(riverside)

    _annual_reports(riverside, pinecoast, previous_year)
    _latest_decisions_told(riverside, pinecoast)
    return DEMO_LOGINS


def _latest_decisions_told(*providers: Provider) -> None:
    """Each provider's users find its latest decision in their inbox (keyed: once only)."""
    for provider in providers:
        latest = system_access(provider).records(AccreditationDecision).latest("decided_on")
        decision_recorded(provider, latest)
