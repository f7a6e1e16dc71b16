"""The provider dashboard's chart of the year's activities, by month of start and format.

Read through the provider's access in one grouped query (never one per month or
format); drawn by the shared pygal helper as inline SVG with its numbers in a table.
"""

from __future__ import annotations

import datetime

import pygal  # type: ignore[import-untyped]
from django.db.models import Count
from django.db.models.functions import TruncMonth

from pars.accounts.access import ProviderAccess
from pars.activities.dictionary import FORMATS
from pars.activities.models import Activity
from pars.lib.charts import CONFIG, CountChart, count_axis, render_svg


def _months(year: int, found: set[datetime.date]) -> list[datetime.date]:
    """The twelve months of the year, and any other month an activity of the year starts
    in (an activity may be reported in a year other than its start date's)."""
    return sorted({datetime.date(year, month, 1) for month in range(1, 13)} | found)


def activities_by_month_chart(access: ProviderAccess, year: int) -> CountChart:
    """The provider's activities of the reporting year by month of start date, stacked
    by format (the data dictionary's labels)."""
    counts: dict[tuple[datetime.date, str], int] = {
        (month, code): n
        for month, code, n in access.records(Activity)
        .filter(reporting_year=year)
        .annotate(month=TruncMonth("start_date"))
        .order_by()
        .values_list("month", "activity_format")
        .annotate(n=Count("id"))
        .values_list("month", "activity_format", "n")
    }
    title = f"Activities in {year} by month of start and format"
    empty = f"No activities in {year} yet."
    if not counts:
        return CountChart("activities-by-month", title, None, [], [], empty)
    months = _months(year, {month for month, _ in counts})
    codes = [code for code in FORMATS if any(code == c for _, c in counts)]
    labels = [month.strftime("%b %Y") for month in months]
    per_month = [sum(counts.get((m, c), 0) for c in codes) for m in months]
    # The page heads the chart with its title: none inside the SVG.
    chart = pygal.StackedBar(x_label_rotation=30, **{**CONFIG, **count_axis(max(per_month))})
    chart.x_labels = labels
    for code in codes:
        chart.add(FORMATS[code], [counts.get((month, code)) for month in months])
    # The table lists the months with activities (the chart shows the whole year).
    rows = [
        [label, *(counts.get((month, code), 0) for code in codes), total]
        for label, month, total in zip(labels, months, per_month, strict=True)
        if total
    ]
    rows.append(
        [
            "Total",
            *(sum(counts.get((m, code), 0) for m in months) for code in codes),
            sum(per_month),
        ]
    )
    columns = ["Month", *(FORMATS[code] for code in codes), "Total"]
    return CountChart("activities-by-month", title, render_svg(chart), columns, rows, empty)
