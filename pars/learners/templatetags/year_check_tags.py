"""The year-end checks' count on the annual report's pages (dashboard, attestation).

Those pages belong to the reporting app, below the learner app; this tag lets their
templates show the count without reporting importing the learner app.
"""

from __future__ import annotations

from django import template

from pars.accounts.access import ProviderAccess
from pars.learners.year_checks import year_findings

register = template.Library()


@register.simple_tag
def year_check_count(access: ProviderAccess, year: int) -> int:
    """How many likely mistakes the "Check my year" page lists for this year."""
    return len(year_findings(access, year))
