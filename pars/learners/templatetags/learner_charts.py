"""The learner chart on the dashboard, which belongs to the reporting app: a tag, so that
app shows learner data without importing the learner app (dependencies point one way)."""

from __future__ import annotations

from django import template

from pars.accounts.access import ProviderAccess
from pars.learners.charts import completions_by_status_chart
from pars.lib.charts import CountChart

register = template.Library()


@register.simple_tag
def completions_chart(access: ProviderAccess, year: int) -> CountChart:
    return completions_by_status_chart(access, year)
