"""The provider dashboard's charts of the year: activities by month and format, learner
completions by status. Inline SVG, numbers in a table next to each, colors that mean
what they say, whole-number axes, only the provider's own records, bounded queries."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from lxml import etree, html  # type: ignore[import-untyped]

from pars.accounts.access import get_provider_access
from pars.accounts.models import Role, User
from pars.activities.models import Activity
from pars.learners.charts import completions_by_status_chart
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.providers.models import Provider
from pars.reporting.charts import activities_by_month_chart
from pars.reporting.models import ReportingYear
from pars.testing import make_activity, make_member, make_provider

ClientAs = Callable[[User], Client]
PID = "0001234"
OTHER_PID = "0009999"
YEAR = 2026
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def year(db: None) -> ReportingYear:
    return ReportingYear.objects.create(year=YEAR, deadline=datetime.date(2027, 3, 31))


def _activity(provider: Provider, **fields: Any) -> Activity:
    return make_activity(provider, end_date=fields["start_date"], **fields)


def _completions(activity: Activity, statuses: Sequence[str], **fields: Any) -> None:
    recipient = Recipient.objects.get(code="ABIM")
    start = LearnerCompletion.objects.count()
    for number, status in enumerate(statuses, start=start):
        LearnerCompletion.objects.create(
            provider=activity.provider,
            activity=activity,
            recipient=recipient,
            learner_key=f"ABIM:{number}",
            first_name="Ada",
            last_name=f"Learner{number}",
            birth_month=4,
            birth_day=9,
            completion_date=fields.get("completion_date", activity.start_date),
            status=status,
        )


def _dashboard(client: Client) -> Any:
    response = client.get(reverse("reporting:dashboard", args=[PID]))
    assert response.status_code == 200
    return html.fromstring(response.content)


def _table(page: Any, key: str) -> dict[str, list[str]]:
    """The chart's text alternative: its table, as row header -> cells."""
    table = page.get_element_by_id(f"{key}-table")
    header = [th.text_content().strip() for th in table.xpath(".//thead//th")]
    rows = {
        tr.xpath("./th")[0].text_content().strip(): [
            td.text_content().strip() for td in tr.xpath("./td")
        ]
        for tr in table.xpath(".//tbody/tr")
    }
    return {"": header[1:], **rows}


def _svg(page: Any, key: str) -> Any:
    svgs = page.get_element_by_id(key).xpath(".//*[local-name()='svg']")
    assert len(svgs) == 1
    # Parsed again as XML so the SVG's own structure (desc, style) is read as drawn.
    return etree.fromstring(etree.tostring(svgs[0]))


def _y_labels(svg: Any) -> list[str]:
    return [
        text.text for text in svg.xpath(".//*[contains(@class, 'axis y')]//*[local-name()='text']")
    ]


def _setup(two_providers: bool = True) -> tuple[Provider, User, Provider]:
    provider = make_provider(name="Riverside Health", provider_id=PID)
    user = make_member(provider, Role.EDITOR)
    other = make_provider(name="Other College", provider_id=OTHER_PID)
    if two_providers:
        other_course = _activity(other, start_date=datetime.date(YEAR, 3, 5))
        _activity(other, activity_format="rss", start_date=datetime.date(YEAR, 3, 9))
        _completions(other_course, [CompletionStatus.REJECTED] * 5 + [CompletionStatus.HELD] * 4)
    return provider, user, other


def test_activity_chart_counts_only_the_providers_activities_of_the_year(
    year: ReportingYear, client_as: ClientAs
) -> None:
    provider, user, _ = _setup()
    _activity(provider, start_date=datetime.date(YEAR, 3, 1))
    _activity(provider, start_date=datetime.date(YEAR, 3, 20))
    _activity(provider, activity_format="rss", start_date=datetime.date(YEAR, 3, 3))
    _activity(provider, activity_format="enduring", start_date=datetime.date(YEAR, 7, 1))
    # Another year's activity is not in this year's chart.
    _activity(provider, start_date=datetime.date(2025, 3, 1), reporting_year=2025)

    page = _dashboard(client_as(user))
    numbers = _table(page, "activities-by-month")
    # Labels from the data dictionary, not codes; the other provider's rss is not counted.
    assert numbers[""] == ["Course", "Regularly Scheduled Series", "Enduring Material", "Total"]
    assert numbers["Mar 2026"] == ["2", "1", "0", "3"]
    assert numbers["Jul 2026"] == ["0", "0", "1", "1"]
    assert numbers["Total"] == ["2", "1", "1", "4"]
    assert len(numbers) == 1 + 3  # header, March, July, total: months without activities left out
    svg = _svg(page, "activities-by-month")
    legend = [t.text for t in svg.xpath(".//*[contains(@class, 'legend')]//*[local-name()='text']")]
    assert legend == ["Course", "Regularly Scheduled Series", "Enduring Material"]
    assert not svg.xpath(".//*[local-name()='script']")  # no JavaScript
    # Three activities at most in a month: the axis counts 0, 1, 2, 3 and nothing between.
    assert _y_labels(svg) == ["0", "1", "2", "3"]


def test_learner_chart_counts_statuses_of_the_providers_records_only(
    year: ReportingYear, client_as: ClientAs
) -> None:
    provider, user, _ = _setup()
    course = _activity(provider, start_date=datetime.date(YEAR, 3, 1))
    _completions(
        course,
        [CompletionStatus.ACCEPTED] * 3
        + [CompletionStatus.REJECTED, CompletionStatus.HELD, CompletionStatus.QUEUED]
        + [CompletionStatus.REPORTED, CompletionStatus.WITHDRAWN],
    )
    # A completion dated in another year is not in the year's chart.
    _completions(course, [CompletionStatus.REJECTED], completion_date=datetime.date(2025, 12, 1))

    numbers = _table(_dashboard(client_as(user)), "completions-by-status")
    assert numbers["Accepted"] == ["3"]
    assert numbers["Rejected"] == ["1"]  # not the other provider's 5, nor 2025's
    assert numbers["Held (learner not matched)"] == ["1"]  # not the other provider's 4
    assert numbers["Queued"] == ["1"]
    assert "Sent" not in numbers  # no records: no row (the chart still shows the bar's place)
    assert numbers["Reported"] == ["1"]
    assert numbers["Withdrawn"] == ["1"]
    assert numbers["Total"] == ["8"]


def _fill(svg: Any, label: str) -> str:
    """The fill color of the bar drawn for the x-axis label."""
    bars = [
        bar
        for bar in svg.xpath(".//*[@class='bar']")
        if bar.xpath("string(./*[local-name()='desc'][@class='x_label'])") == label
    ]
    assert len(bars) == 1, label
    style = dict(
        part.strip().split(": ", 1) for part in bars[0].get("style").split(";") if part.strip()
    )
    return str(style["fill"]).lower()


def _is_red(colour: str) -> bool:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return red > 150 and red > 2 * green and red > 2 * blue


def _is_green(colour: str) -> bool:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return green > red + 40 and green > blue + 40


def test_status_colours_mean_what_they_say_and_the_axis_is_whole_numbers(
    year: ReportingYear, client_as: ClientAs
) -> None:
    provider, user, _ = _setup(two_providers=False)
    course = _activity(provider, start_date=datetime.date(YEAR, 3, 1))
    _completions(course, [CompletionStatus.ACCEPTED] * 3 + [CompletionStatus.REJECTED])

    svg = _svg(_dashboard(client_as(user)), "completions-by-status")
    assert _is_red(_fill(svg, "Rejected"))
    assert not _is_green(_fill(svg, "Rejected"))
    assert _is_green(_fill(svg, "Accepted"))
    assert _is_green(_fill(svg, "Reported"))
    held = _fill(svg, "Held (learner not matched)")
    assert not _is_green(held)
    assert not _is_red(held)
    # 1 to 3 records: the labels are 0, 1, 2, 3 (pygal alone would print 0.5 steps).
    assert _y_labels(svg) == ["0", "1", "2", "3"]


def test_a_year_without_data_says_so_instead_of_an_empty_chart(
    year: ReportingYear, client_as: ClientAs
) -> None:
    _provider, user, _ = _setup()  # the other provider's data does not fill this one's
    page = _dashboard(client_as(user))
    assert (
        "No activities in 2026 yet." in page.get_element_by_id("activities-by-month").text_content()
    )
    assert (
        "No learner completions in 2026 yet."
        in page.get_element_by_id("completions-by-status").text_content()
    )
    assert not page.xpath("//*[local-name()='svg']")


def _dashboard_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        _dashboard(client)
    return len(queries)


def test_charts_read_a_bounded_number_of_queries(year: ReportingYear, client_as: ClientAs) -> None:
    provider, user, _ = _setup(two_providers=False)
    client = client_as(user)
    course = _activity(provider, start_date=datetime.date(YEAR, 1, 1))
    _completions(course, [CompletionStatus.ACCEPTED])
    _dashboard(client)  # the first page of the session writes its own rows
    one = _dashboard_queries(client)
    # Every month, several formats, every status: still the same number of queries.
    for month in range(1, 13):
        for fmt in ("course", "rss", "enduring", "journal"):
            _activity(provider, activity_format=fmt, start_date=datetime.date(YEAR, month, 2))
    _completions(course, list(CompletionStatus) * 2)
    many = _dashboard_queries(client)
    assert many == one
    # Each chart reads its data in one grouped query.
    access = get_provider_access(user, PID)
    with CaptureQueriesContext(connection) as queries:
        activities_by_month_chart(access, YEAR)
        completions_by_status_chart(access, YEAR)
    assert len(queries) == 2
