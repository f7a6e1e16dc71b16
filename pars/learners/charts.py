"""The provider dashboard's chart of the year's learner completions by status.

Each status has one fixed color that says what it means: accepted and reported green,
rejected red, held amber, waiting or with the recipient blue-grey, withdrawn muted.
One grouped query through the provider's access; inline SVG with its numbers in a table.
"""

from __future__ import annotations

import pygal  # type: ignore[import-untyped]
from django.db.models import Count

from pars.accounts.access import ProviderAccess
from pars.learners.models import CompletionStatus, LearnerCompletion
from pars.lib.charts import CONFIG, CountChart, count_axis, render_svg

GREEN = "#2e7d32"
RED = "#c62828"
AMBER = "#e0a100"
GREY = "#78909c"
BLUE = "#1f6feb"
MUTED = "#bdbdbd"

STATUS_COLOURS: dict[str, str] = {
    CompletionStatus.QUEUED: GREY,
    CompletionStatus.SENT: BLUE,
    CompletionStatus.ACCEPTED: GREEN,
    CompletionStatus.REPORTED: GREEN,
    CompletionStatus.REJECTED: RED,
    CompletionStatus.HELD: AMBER,
    CompletionStatus.WITHDRAWAL_QUEUED: MUTED,
    CompletionStatus.WITHDRAWAL_SENT: MUTED,
    CompletionStatus.WITHDRAWN: MUTED,
}


def completions_by_status_chart(access: ProviderAccess, year: int) -> CountChart:
    """The provider's learner completions dated in the year, by status (every status in
    the model's order, so the bars stay in one place from year to year)."""
    counts = dict(
        access.records(LearnerCompletion)
        .filter(completion_date__year=year)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    title = f"Learner completions dated {year} by status"
    empty = f"No learner completions in {year} yet."
    if not counts:
        return CountChart("completions-by-status", title, None, [], [], empty)
    statuses = list(CompletionStatus)
    # The page heads the chart with its title: none inside the SVG.
    chart = pygal.Bar(
        show_legend=False,
        x_label_rotation=30,
        **{**CONFIG, **count_axis(max(counts.values()))},
    )
    chart.x_labels = [status.label for status in statuses]
    chart.add(
        "Learner completions",
        [{"value": counts.get(status, 0), "color": STATUS_COLOURS[status]} for status in statuses],
    )
    # The table lists the statuses that have records (the chart shows them all).
    rows = [[status.label, counts[status]] for status in statuses if counts.get(status)]
    rows.append(["Total", sum(counts.values())])
    columns = ["Status", "Learner completions"]
    return CountChart("completions-by-status", title, render_svg(chart), columns, rows, empty)
