"""Year-end data checks ("Check my year"): each check finds its planted mistake and nothing
in a clean activity, for the provider's own activities only; the page, the API and the
dashboard count agree; the findings never block attestation."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity, ActivityFormat, CommercialSupport
from pars.learners import year_checks
from pars.learners.models import LearnerCompletion
from pars.learners.services import submit_completion
from pars.learners.year_checks import year_findings
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import learner_row, make_activity, register
from tests.reporting.test_reporting_pages import complete_year

ClientAs = Callable[[User], Client]
YEAR = 2026
TODAY = datetime.date(2026, 12, 15)  # year end: every planted activity has ended


@pytest.fixture
def year(db: None) -> ReportingYear:
    return ReportingYear.objects.create(year=YEAR, deadline=datetime.date(2027, 3, 31))


def clean(provider: Provider, activity_id: str, **fields: Any) -> Activity:
    """An activity no check flags: a course in the year, with learners and hours."""
    values: dict[str, Any] = {
        "provider_activity_id": activity_id,
        "title": f"Clean {activity_id}",
        "hours_of_instruction": Decimal("3"),
        "physician_learners": 20,
        "other_learners": 5,
        "commercial_support_received": False,
    }
    values.update(fields)
    return make_activity(provider, **values)


def plant(provider: Provider) -> dict[str, str]:
    """One activity per check, by the check it should trip (Provider Activity IDs)."""
    clean(provider, "RSS-1", activity_format=ActivityFormat.RSS, hours_of_instruction=Decimal("1"))
    clean(provider, "LIVE-0", physician_learners=0, other_learners=0)
    day = datetime.date(2026, 5, 4)
    clean(provider, "DUP-A", title="Grand Rounds: Sepsis", start_date=day, end_date=day)
    clean(provider, "DUP-B", title="grand rounds:  sepsis ", start_date=day, end_date=day)
    clean(provider, "CS-1", commercial_support_received=True)
    register(clean(provider, "MOC-1"), "ABIM")
    clean(
        provider,
        "OUT-1",
        start_date=datetime.date(2026, 12, 20),
        end_date=datetime.date(2027, 1, 5),
    )
    return {
        year_checks.RSS_LOW_HOURS: "RSS-1",
        year_checks.LIVE_NO_LEARNERS: "LIVE-0",
        year_checks.SUPPORT_NO_SUPPORTERS: "CS-1",
        year_checks.MOC_NO_LEARNERS: "MOC-1",
        year_checks.DATES_OUTSIDE_YEAR: "OUT-1",
    }


def found(provider: Provider, user: User) -> set[tuple[str, str]]:
    access = get_provider_access(user, provider.provider_id)
    return {(f.check, f.provider_activity_id) for f in year_findings(access, YEAR, TODAY)}


def test_each_check_finds_its_planted_mistake_and_not_the_clean_activities(
    provider: Provider, admin_user: User, year: ReportingYear
) -> None:
    planted = plant(provider)
    # Look-alikes that are right: a series with a year's hours, a non-live format with no
    # learner counts, supported with a supporter, MOC with a learner, an enduring material
    # across the year's end, another title on the duplicates' date.
    clean(
        provider, "OK-RSS", activity_format=ActivityFormat.RSS, hours_of_instruction=Decimal("12")
    )
    clean(
        provider,
        "OK-JN",
        activity_format=ActivityFormat.JOURNAL,
        physician_learners=0,
        other_learners=0,
    )
    supported = clean(provider, "OK-CS", commercial_support_received=True)
    CommercialSupport.objects.create(
        provider=provider, activity=supported, position=1, source="Acme Pharma", monetary_amount=500
    )
    moc = clean(provider, "OK-MOC", start_date=datetime.date(2026, 3, 1))
    register(moc, "ABIM")
    access = get_provider_access(admin_user, provider.provider_id)
    submit_completion(access, learner_row(moc), channel="web")
    assert LearnerCompletion.objects.filter(activity=moc).exists()
    clean(
        provider,
        "OK-END",
        activity_format=ActivityFormat.ENDURING,
        start_date=datetime.date(2026, 6, 1),
        end_date=datetime.date(2027, 5, 31),
    )
    clean(
        provider, "OK-DAY", start_date=datetime.date(2026, 5, 4), end_date=datetime.date(2026, 5, 4)
    )

    expected = {(check, pid) for check, pid in planted.items()}
    expected |= {(year_checks.DUPLICATE, "DUP-A"), (year_checks.DUPLICATE, "DUP-B")}
    assert found(provider, admin_user) == expected


def test_a_running_moc_activity_is_not_flagged_before_it_ends(
    provider: Provider, admin_user: User, year: ReportingYear
) -> None:
    register(clean(provider, "MOC-1", end_date=datetime.date(2026, 12, 20)), "ABIM")
    assert found(provider, admin_user) == set()


def test_another_providers_activities_never_appear(
    provider: Provider,
    admin_user: User,
    other_provider: Provider,
    mallory: User,
    year: ReportingYear,
) -> None:
    plant(other_provider)
    # The same title and date as the other provider's pair: not a duplicate across providers.
    day = datetime.date(2026, 5, 4)
    clean(provider, "MINE", title="Grand Rounds: Sepsis", start_date=day, end_date=day)
    assert found(provider, admin_user) == set()
    assert len(found(other_provider, mallory)) == 7


def test_the_number_of_queries_does_not_grow_with_the_activities(
    provider: Provider, admin_user: User, year: ReportingYear
) -> None:
    access = get_provider_access(admin_user, provider.provider_id)
    plant(provider)
    with CaptureQueriesContext(connection) as few:
        year_findings(access, YEAR, TODAY)
    for n in range(20):
        register(clean(provider, f"MORE-{n}", physician_learners=0, other_learners=0), "ABIM")
    with CaptureQueriesContext(connection) as many:
        assert len(year_findings(access, YEAR, TODAY)) == 7 + 2 * 20
    assert len(many.captured_queries) == len(few.captured_queries) == 1


def test_page_api_and_dashboard_agree(
    provider: Provider, reader: User, client_as: ClientAs, year: ReportingYear
) -> None:
    plant(provider)
    page = client_as(reader).get(reverse("learners:year_checks", args=[provider.provider_id, YEAR]))
    assert page.status_code == 200
    html = page.content.decode()
    _, secret = create_api_key(provider=provider)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").get(f"/api/v1/annual-reports/{YEAR}/checks")
    assert api.status_code == 200
    body = api.json()
    assert body["blocks_attestation"] is False
    assert body["count"] == len(body["findings"]) == 7  # the MOC activity ended before today
    assert {c["id"]: c["count"] for c in body["checks"]}[year_checks.DUPLICATE] == 2
    for finding in body["findings"]:
        activity = Activity.objects.get(
            provider=provider, provider_activity_id=finding["provider_activity_id"]
        )
        url = reverse("activities:detail", args=[provider.provider_id, activity.pk])
        assert finding["url"] == url
        assert f'href="{url}"' in html  # each item links to its record
        assert f'data-check="{finding["check"]}"' in html
    assert "7</strong> things to look at" in html
    dashboard = client_as(reader).get(reverse("reporting:dashboard", args=[provider.provider_id]))
    assert "Check my year: 7 things to look at" in dashboard.content.decode()


def test_another_provider_gets_404_on_the_page_and_its_own_empty_findings_by_api(
    provider: Provider,
    mallory: User,
    other_provider: Provider,
    client_as: ClientAs,
    year: ReportingYear,
) -> None:
    plant(provider)
    page = client_as(mallory).get(
        reverse("learners:year_checks", args=[provider.provider_id, YEAR])
    )
    assert page.status_code == 404
    _, secret = create_api_key(provider=other_provider)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    body = api.get(f"/api/v1/annual-reports/{YEAR}/checks").json()
    assert body["count"] == 0
    assert body["findings"] == []
    unknown = api.get("/api/v1/annual-reports/1999/checks")
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["rule"] == "report.year.unknown"


def test_findings_do_not_block_attestation(
    provider: Provider, admin_user: User, client_as: ClientAs, year: ReportingYear
) -> None:
    complete_year(provider, admin_user, attested=False)
    # The year's one (closed) activity now reports 0 learners: a finding, not a refusal.
    Activity.objects.filter(provider=provider).update(physician_learners=0, other_learners=0)
    client = client_as(admin_user)
    url = reverse("reporting:attest", args=[provider.provider_id, YEAR])
    page = client.get(url).content.decode()
    assert "1 thing to look at before you attest" in page
    assert "none blocks attestation" in page
    assert client.post(url).status_code == 302
    assert AnnualReport.objects.get(provider=provider, reporting_year=year).attested_at is not None
