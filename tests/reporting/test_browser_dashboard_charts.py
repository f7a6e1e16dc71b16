"""The dashboard's two charts in a real browser (Debian's chromium through Playwright).

An editor with activities and learner completions in 2026 logs in and lands on the
dashboard: both charts are drawn (inline SVG, no script), at a visible size, the rejected
bar is painted red, and each chart's numbers are in the table under it.
"""

from __future__ import annotations

import datetime
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import Browser, expect
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import Role
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.reporting.models import ReportingYear
from pars.testing import TEST_PASSWORD, make_activity, make_member, make_provider
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()

EDITOR = "editor@riverside.example"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_dashboard_draws_the_years_two_charts(
    browser: Browser, live_server: LiveServer
) -> None:
    # Transactional tests flush the tables, data migrations' rows included.
    import_module("pars.learners.migrations.0002_seed_recipients").seed(django_apps, None)
    ReportingYear.objects.create(year=2026, deadline=datetime.date(2027, 3, 31))
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    make_member(provider, Role.EDITOR, email=EDITOR)
    start = datetime.date(2026, 3, 1)
    course = make_activity(provider, start_date=start, end_date=start)
    make_activity(provider, activity_format="rss", start_date=start, end_date=start)
    recipient = Recipient.objects.get(code="ABIM")
    statuses = [CompletionStatus.ACCEPTED] * 2 + [CompletionStatus.REJECTED]
    for number, status in enumerate(statuses):
        LearnerCompletion.objects.create(
            provider=provider,
            activity=course,
            recipient=recipient,
            learner_key=f"k{number}",
            first_name="Ada",
            last_name=f"Learner{number}",
            birth_month=4,
            birth_day=9,
            completion_date=start,
            status=status,
        )

    context, page = new_page(browser)
    log_in(page, live_server.url, EDITOR, TEST_PASSWORD)
    expect(page.get_by_role("heading", name="2026 in charts")).to_be_visible()
    charts = page.locator("#year-charts figure.chart svg")
    expect(charts).to_have_count(2)
    for index in range(2):
        box = charts.nth(index).bounding_box()
        assert box is not None
        assert box["width"] > 200
        assert box["height"] > 100
    expect(
        page.get_by_role(
            "img", name="Activities in 2026 by month of start and format: chart of the table below"
        )
    ).to_be_visible()
    expect(page.locator("#year-charts script")).to_have_count(0)
    rejected = page.locator("#completions-by-status g.bar").filter(
        has=page.locator("desc.x_label", has_text="Rejected")
    )
    assert rejected.evaluate("bar => getComputedStyle(bar).fill") == "rgb(198, 40, 40)"
    numbers = page.locator("#completions-by-status-table")
    expect(numbers.get_by_role("row", name="Rejected").get_by_role("cell")).to_have_text("1")
    expect(numbers.get_by_role("row", name="Accepted").get_by_role("cell")).to_have_text("2")
    activities = page.locator("#activities-by-month-table")
    expect(
        activities.get_by_role("columnheader", name="Regularly Scheduled Series")
    ).to_be_visible()
    march = activities.get_by_role("row", name="Mar 2026")
    expect(march.get_by_role("cell")).to_have_text(["1", "1", "2"])  # course, RSS, total
    context.close()
