"""Charts of the data report: SVG rendered on the server by pygal, embedded inline.

No script is referenced or embedded (pygal's tooltips script would come from a CDN;
its inline config script is dropped), so the charts need neither JavaScript nor the
internet; each chart has a text table next to
it on the page. pygal escapes every label it writes into the SVG.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygal  # type: ignore[import-untyped]
from django.utils.safestring import SafeString

from pars.datareports.data_report import DataReport, Table
from pars.lib.charts import CONFIG
from pars.lib.charts import render_svg as _render


@dataclass(frozen=True)
class Chart:
    table_key: str
    title: str
    svg: SafeString


def _numbers(table: Table, column: str) -> list[float]:
    index = table.columns.index(column)
    return [float(row[index]) for row in table.rows]


def providers_chart(table: Table) -> Chart:
    column = table.columns[1]
    title = f"{column} by type"
    chart = pygal.Bar(title=title, show_legend=False, **CONFIG)
    chart.x_labels = [row[0] for row in table.rows]
    chart.add(column, _numbers(table, column))
    return Chart(table.key, title, _render(chart))


def activities_chart(table: Table) -> Chart:
    title = "Activities by activity type"
    chart = pygal.HorizontalBar(title=title, show_legend=False, **CONFIG)
    chart.x_labels = [row[0] for row in table.rows]
    chart.add("Activities", _numbers(table, "Activities"))
    return Chart(table.key, title, _render(chart))


def interactions_chart(table: Table) -> Chart:
    title = "Learner interactions by provider type"
    chart = pygal.StackedBar(title=title, **CONFIG)
    chart.x_labels = [row[0] for row in table.rows]
    for column in ("Physician interactions", "Other learner interactions"):
        chart.add(column, _numbers(table, column))
    return Chart(table.key, title, _render(chart))


def income_chart(table: Table) -> Chart:
    title = "Income by source (US dollars)"
    chart = pygal.StackedBar(title=title, **CONFIG)
    chart.x_labels = [row[0] for row in table.rows]
    for column in table.columns[1:-1]:
        chart.add(column, _numbers(table, column))
    return Chart(table.key, title, _render(chart))


def participation_chart(table: Table) -> Chart:
    title = "Learner completions by recipient and status"
    chart = pygal.StackedBar(title=title, x_label_rotation=30, **CONFIG)
    chart.x_labels = [str(row[0]).split(":")[0] for row in table.rows]
    for column in ("Accepted", "Queued or sent", "Rejected", "Held"):
        chart.add(column, _numbers(table, column))
    return Chart(table.key, title, _render(chart))


def report_charts(report: DataReport) -> dict[str, Chart]:
    """The charts of a report, by the key of the table each one draws."""
    charts = (
        providers_chart(report.providers_by_type),
        activities_chart(report.activities_by_type),
        interactions_chart(report.activities_by_provider_type),
        income_chart(report.income_by_source),
        participation_chart(report.participation),
    )
    return {chart.table_key: chart for chart in charts}
