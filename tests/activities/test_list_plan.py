"""The web service's list page reads a page, not the provider (PostgreSQL, ANALYZEd).

One statement answers a page with its total and each activity's supporters as JSON (a
subquery per row). Planned from real statistics, with other providers' activities and
supporters in the tables, the supporters must be found by index for the page's rows only:
a scan of the supporters table per activity would make every page cost the whole table.
"""

from __future__ import annotations

import datetime

import pytest

from pars.activities.models import Activity, CommercialSupport
from pars.providers.models import Provider
from pars.testing import make_provider
from tests.activities.test_activity_api import Api
from tests.support.plans import analyze, explain, postgresql_only, quadratic_reads, recorded_selects

pytestmark = [postgresql_only, pytest.mark.django_db]

PAGE = 25
EACH = 400  # activities per provider, each with two supporters


def _fill(provider: Provider, prefix: str) -> None:
    made = Activity.objects.bulk_create(
        Activity(
            provider=provider,
            provider_activity_id=f"{prefix}-{n:04d}",
            title=f"Course {n}",
            activity_format="course",
            start_date=datetime.date(2026, 3, 1),
            end_date=datetime.date(2026, 3, 2),
            reporting_year=2026,
            commercial_support_received=True,
        )
        for n in range(EACH)
    )
    CommercialSupport.objects.bulk_create(
        CommercialSupport(provider=provider, activity=activity, position=p, source=f"Co {p}")
        for activity in made
        for p in (1, 2)
    )


def test_a_list_page_reads_only_its_rows_supporters(provider: Provider) -> None:
    _fill(provider, "MINE")
    for number in range(3):
        _fill(make_provider(name=f"Other {number}"), f"O{number}")
    analyze(Activity._meta.db_table, CommercialSupport._meta.db_table)
    with recorded_selects(Activity._meta.db_table) as selects:
        response = Api(provider).get(limit=PAGE)
    assert response.status_code == 200
    page = response.json()
    assert len(page) == PAGE
    assert all(len(item["supporters"]) == 2 for item in page)
    (sql, params), *_ = [s for s in selects if "json_build_array" in s[0]]
    plan = explain(sql, params)
    # The supporters of the page's activities (and of the one read past it, which says
    # whether a next page exists): two each, found by index, nothing more.
    keys = 2 * (PAGE + 1)
    assert quadratic_reads(plan, {CommercialSupport._meta.db_table}, keys=keys) == []
