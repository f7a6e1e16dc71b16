"""The review package: its numbers equal independent sums over the test's own rows (and
raw SQL), the downloads are safe to open, and only staff who may see the provider get it."""

from __future__ import annotations

import datetime
import io
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import Role, User
from pars.accreditation.review_package import build_review_package, default_period
from pars.accreditation.review_views import render_pdf
from pars.activities.models import CommercialSupport
from pars.providers.models import AccreditationStatus, DecisionType, Provider
from pars.reporting.models import AnnualReport, AttestationStatement, ReportingYear
from pars.testing import (
    make_accreditor,
    make_activity,
    make_decision,
    make_member,
    make_provider,
    make_user,
)

ClientAs = Callable[[User], Client]

TERM = (datetime.date(2022, 7, 1), datetime.date(2026, 6, 30))
EVIL_TITLE = '=HYPERLINK("http://evil.example","Click")'

# The activities of the test, as plain data: what is created is what is expected.
D = datetime.date
SPECS: list[dict[str, Any]] = [
    {
        "provider_activity_id": "A-2022-1",
        "activity_format": "course",
        "start_date": D(2022, 9, 1),
        "end_date": D(2022, 9, 2),
        "reporting_year": 2022,
        "hours_of_instruction": Decimal("2.50"),
        "ama_credits": Decimal("2.50"),
        "physician_learners": 10,
        "other_learners": 5,
        "designed_to_change_competence": True,
        "changes_measured_competence": True,
        "supporters": [("Pharma A", 5000, False), ("Device B", None, True)],
    },
    {
        # Starts before the term, ends in it: it belongs.
        "provider_activity_id": "A-2022-0",
        "activity_format": "course",
        "start_date": D(2022, 6, 15),
        "end_date": D(2022, 7, 2),
        "reporting_year": 2022,
        "hours_of_instruction": Decimal("1.25"),
        "ama_credits": Decimal("1.00"),
        "physician_learners": 3,
        "other_learners": 4,
        "designed_to_change_performance": True,
        "supporters": [],
    },
    {
        "provider_activity_id": "A-2023-1",
        "activity_format": "enduring",
        "start_date": D(2023, 3, 1),
        "end_date": D(2023, 12, 31),
        "reporting_year": 2023,
        "hours_of_instruction": Decimal("1.00"),
        "ama_credits": Decimal("1.00"),
        "physician_learners": 20,
        "other_learners": 0,
        "designed_to_change_performance": True,
        "changes_measured_performance": True,
        "designed_to_change_patient_outcomes": True,
        "supporters": [("Pharma A", 2500, False), ("Pharma C", 1000, True)],
    },
    {
        "provider_activity_id": "A-2024-1",
        "title": EVIL_TITLE,
        "activity_format": "rss",
        "start_date": D(2024, 1, 10),
        "end_date": D(2024, 11, 10),
        "reporting_year": 2024,
        "hours_of_instruction": None,
        "ama_credits": Decimal("12.00"),
        "physician_learners": 7,
        "other_learners": None,
        "designed_to_change_competence": True,
        "supporters": [("Device B", 750, True)],
    },
]
OUTSIDE: list[dict[str, Any]] = [
    {
        "provider_activity_id": "OLD-2021",
        "activity_format": "course",
        "start_date": D(2021, 5, 1),
        "end_date": D(2022, 6, 30),  # ends the day before the term starts
        "reporting_year": 2021,
        "hours_of_instruction": Decimal("9"),
        "physician_learners": 99,
        "supporters": [("Pharma A", 99999, False)],
    },
]

OUTCOMES = (
    "designed_to_change_competence",
    "changes_measured_competence",
    "designed_to_change_performance",
    "changes_measured_performance",
    "designed_to_change_patient_outcomes",
    "changes_measured_patient_outcomes",
)


def _create(provider: Provider, spec: dict[str, Any]) -> None:
    fields = {key: value for key, value in spec.items() if key != "supporters"}
    activity = make_activity(provider, **fields)
    for position, (source, amount, in_kind) in enumerate(spec["supporters"], start=1):
        CommercialSupport.objects.create(
            provider=provider,
            activity=activity,
            position=position,
            source=source,
            monetary_amount=amount,
            in_kind=in_kind,
        )


@pytest.fixture
def reviewed(db: None) -> Provider:
    provider = make_provider(
        name="Riverside Health",
        provider_id="0001234",
        term_start=TERM[0],
        term_end=TERM[1],
        accreditation_status=AccreditationStatus.COMMENDATION,
    )
    for spec in SPECS + OUTSIDE:
        _create(provider, spec)
    # Another provider's activity in the same period stays out.
    other = make_provider(name="Elsewhere Medical", provider_id="0005678")
    _create(other, {**SPECS[0], "supporters": [("Pharma A", 123, False)]})
    return provider


def _expected_figures(specs: list[dict[str, Any]]) -> dict[str, Any]:
    """The sums by plain Python over the specs."""
    supporters = [s for spec in specs for s in spec["supporters"]]
    return {
        "activities": len(specs),
        "hours_of_instruction": sum(
            (spec.get("hours_of_instruction") or Decimal(0) for spec in specs), Decimal(0)
        ),
        "ama_credits": sum((spec.get("ama_credits") or Decimal(0) for spec in specs), Decimal(0)),
        "physician_learners": sum(spec.get("physician_learners") or 0 for spec in specs),
        "other_learners": sum(spec.get("other_learners") or 0 for spec in specs),
        "support_monetary": sum(amount or 0 for _, amount, _ in supporters),
        "in_kind_supports": sum(1 for _, _, in_kind in supporters if in_kind),
        "supporters": len({source for source, _, _ in supporters}),
        "activities_supported": sum(1 for spec in specs if spec["supporters"]),
    }


def _as_dict(figures: Any) -> dict[str, Any]:
    return {key: getattr(figures, key) for key in _expected_figures([])}


def _staff_access(provider: Provider) -> Any:
    staff = make_user("reviewer@accreditor.example", is_staff=True)
    return get_provider_access(staff, provider.provider_id)


def test_totals_by_year_and_by_format_equal_plain_sums(reviewed: Provider) -> None:
    package = build_review_package(_staff_access(reviewed), *TERM)
    assert _as_dict(package.totals) == _expected_figures(SPECS)

    years: dict[int, list[dict[str, Any]]] = defaultdict(list)
    formats: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for spec in SPECS:
        years[spec["reporting_year"]].append(spec)
        formats[spec["activity_format"]].append(spec)
    assert [row.year for row in package.by_year] == sorted(years)
    for row in package.by_year:
        assert _as_dict(row.figures) == _expected_figures(years[row.year]), row.year
        assert row.outcomes == {
            key: sum(1 for spec in years[row.year] if spec.get(key)) for key in OUTCOMES
        }
    assert {row.code for row in package.by_format} == set(formats)
    for format_row in package.by_format:
        assert _as_dict(format_row.figures) == _expected_figures(formats[format_row.code])
    assert package.outcome_totals == {
        key: sum(1 for spec in SPECS if spec.get(key)) for key in OUTCOMES
    }


def test_commercial_support_by_supporter_equals_plain_sums(reviewed: Provider) -> None:
    package = build_review_package(_staff_access(reviewed), *TERM)
    expected: dict[str, dict[str, int]] = defaultdict(
        lambda: {"activities": 0, "monetary": 0, "in_kind": 0}
    )
    for spec in SPECS:
        for source, amount, in_kind in spec["supporters"]:
            expected[source]["activities"] += 1
            expected[source]["monetary"] += amount or 0
            expected[source]["in_kind"] += int(in_kind)
    got = {
        row.source: {"activities": row.activities, "monetary": row.monetary, "in_kind": row.in_kind}
        for row in package.supporters
    }
    assert got == dict(expected)


def test_totals_equal_raw_sql(reviewed: Provider) -> None:
    package = build_review_package(_staff_access(reviewed), *TERM)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), SUM(physician_learners), SUM(ama_credits) "
            "FROM activities_activity a JOIN providers_provider p ON p.id = a.provider_id "
            "WHERE p.provider_id = %s AND a.start_date <= %s AND a.end_date >= %s",
            ["0001234", TERM[1], TERM[0]],
        )
        count, physicians, credits = cursor.fetchone()
        cursor.execute(
            "SELECT COALESCE(SUM(s.monetary_amount), 0) FROM activities_commercialsupport s "
            "JOIN activities_activity a ON a.id = s.activity_id "
            "JOIN providers_provider p ON p.id = a.provider_id "
            "WHERE p.provider_id = %s AND a.start_date <= %s AND a.end_date >= %s",
            ["0001234", TERM[1], TERM[0]],
        )
        (money,) = cursor.fetchone()
    assert package.totals.activities == count
    assert package.totals.physician_learners == physicians
    assert package.totals.ama_credits == Decimal(str(credits))
    assert package.totals.support_monetary == money


def test_activity_list_carries_each_activitys_support(reviewed: Provider) -> None:
    package = build_review_package(_staff_access(reviewed), *TERM)
    rows = {row["provider_activity_id"]: row for row in package.iter_activities()}
    assert set(rows) == {spec["provider_activity_id"] for spec in SPECS}
    for spec in SPECS:
        row = rows[spec["provider_activity_id"]]
        assert row["support_monetary"] == sum(amount or 0 for _, amount, _ in spec["supporters"])
        assert row["support_in_kind"] == sum(1 for *_, in_kind in spec["supporters"] if in_kind)
        assert row["supporter_count"] == len(spec["supporters"])


def test_attestation_record_and_decisions(reviewed: Provider) -> None:
    admin = make_member(reviewed, Role.ADMIN, email="alice@riverside.example")
    statement = AttestationStatement.objects.create(
        version=77, text="I attest.", effective_from=D(2020, 1, 1)
    )
    attested_at = datetime.datetime(2023, 2, 1, 12, 0, tzinfo=datetime.UTC)
    for year in (2021, 2022, 2023):
        ReportingYear.objects.create(year=year, deadline=D(year + 1, 3, 31))
    AnnualReport.objects.create(
        provider=reviewed,
        reporting_year=ReportingYear.objects.get(year=2022),
        attested_at=attested_at,
        attested_by=admin,
        attestation_statement=statement,
    )
    AnnualReport.objects.create(
        provider=reviewed, reporting_year=ReportingYear.objects.get(year=2023)
    )
    AnnualReport.objects.create(
        provider=reviewed, reporting_year=ReportingYear.objects.get(year=2021)
    )
    make_decision(reviewed, decision_type=DecisionType.INITIAL, decided_on=D(2018, 7, 1))
    make_decision(reviewed, decided_on=D(2022, 7, 1), term_start=TERM[0], term_end=TERM[1])
    package = build_review_package(_staff_access(reviewed), *TERM)
    assert [(row.year, row.attested_at, row.statement_version) for row in package.attestations] == [
        (2022, attested_at, 77),
        (2023, None, None),
    ]
    assert package.attestations[0].attested_by == str(admin)
    assert [d.decided_on for d in package.decisions] == [D(2022, 7, 1), D(2018, 7, 1)]


def test_default_period_is_the_term_or_the_last_four_years(db: None) -> None:
    with_term = make_provider(term_start=TERM[0], term_end=TERM[1])
    assert default_period(with_term) == TERM
    without = make_provider(term_start=None, term_end=None)
    assert default_period(without, today=D(2026, 5, 1)) == (D(2022, 1, 1), D(2026, 5, 1))


def test_page_shows_the_package_to_staff(
    reviewed: Provider, staff: User, client_as: ClientAs
) -> None:
    response = client_as(staff).get(reverse("review:package", args=["0001234"]))
    assert response.status_code == 200
    text = response.text
    assert "Review package: Riverside Health" in text
    assert "Accreditation with Commendation" in text
    assert "A-2023-1" in text
    assert "OLD-2021" not in text
    assert "Pharma C" in text
    # The title is escaped in HTML, not run.
    assert "=HYPERLINK(&quot;http://evil.example&quot;" in text


def test_period_from_the_query(reviewed: Provider, staff: User, client_as: ClientAs) -> None:
    client = client_as(staff)
    url = reverse("review:package", args=["0001234"])
    text = client.get(url, {"start": "2023-01-01", "end": "2023-12-31"}).text
    assert "A-2023-1" in text
    assert "A-2022-1" not in text
    assert "A-2024-1" not in text
    assert client.get(url, {"start": "2024-01-01", "end": "2023-01-01"}).status_code == 400
    assert client.get(url, {"start": "yesterday"}).status_code == 400


def test_xlsx_opens_and_escapes_formula_like_text(
    reviewed: Provider, staff: User, client_as: ClientAs
) -> None:
    response = client_as(staff).get(reverse("review:package_xlsx", args=["0001234"]))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Provider",
        "Activities",
        "By year",
        "By format",
        "Outcomes",
        "Commercial support",
        "Attestations",
        "Decisions",
    ]
    activities = list(workbook["Activities"].iter_rows(values_only=True))
    titles = [row[1] for row in activities[1:]]
    assert "'" + EVIL_TITLE in titles
    assert not any(isinstance(t, str) and t.startswith("=") for t in titles)
    for sheet in workbook.worksheets:  # no cell anywhere is a formula
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
    by_year = list(workbook["By year"].iter_rows(values_only=True))
    total = by_year[-1]
    assert total[0] == "Total"
    assert total[1] == len(SPECS)
    assert total[6] == _expected_figures(SPECS)["support_monetary"]


def test_pdf_download(reviewed: Provider, staff: User, client_as: ClientAs) -> None:
    response = client_as(staff).get(reverse("review:package_pdf", args=["0001234"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    # Text beyond Latin-1 (the PDF core fonts' range) does not break the PDF.
    make_activity(
        reviewed,
        title="Kardiologie – 心臓病学 update",
        start_date=D(2025, 1, 1),
        end_date=D(2025, 1, 1),
        reporting_year=2025,
    )
    package = build_review_package(_staff_access(reviewed), *TERM)
    plain = render_pdf(package, compress=False)
    assert b"Kardiologie" in plain
    assert plain.startswith(b"%PDF")
    assert b"Riverside Health" in plain
    assert b"Pharma C" in plain


def test_provider_users_get_404(reviewed: Provider, client_as: ClientAs) -> None:
    admin = make_member(reviewed, Role.ADMIN, email="alice@riverside.example")
    client = client_as(admin)
    for name in ("review:package", "review:package_xlsx", "review:package_pdf"):
        assert client.get(reverse(name, args=["0001234"])).status_code == 404, name


def test_state_accreditor_staff_see_only_their_providers(
    reviewed: Provider, client_as: ClientAs
) -> None:
    maine = make_accreditor("ME", "Maine Medical Association")
    mine = make_provider(
        name="Maine Provider", accreditor_type="state", recognized_accreditor=maine
    )
    client = client_as(make_user("staff@mma.example", is_staff=True, staff_accreditor=maine))
    for name in ("review:package", "review:package_xlsx", "review:package_pdf"):
        assert client.get(reverse(name, args=[mine.provider_id])).status_code == 200, name
        assert client.get(reverse(name, args=["0001234"])).status_code == 404, name
