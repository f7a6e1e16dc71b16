"""The "Check my year" page: likely mistakes in a reporting year, before attesting."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.learners.year_checks import CHECKS, grouped, year_findings
from pars.reporting.models import ReportingYear


@provider_view()
def year_checks(request: HttpRequest, access: ProviderAccess, year: int) -> HttpResponse:
    """Every role reads it; it changes nothing and blocks nothing."""
    reporting_year = get_object_or_404(ReportingYear, year=year)
    findings = year_findings(access, year)
    return render(
        request,
        "learners/year_checks.html",
        {
            "access": access,
            "reporting_year": reporting_year,
            "year": year,
            "years": list(ReportingYear.objects.values_list("year", flat=True)),
            "groups": grouped(findings),
            "count": len(findings),
            "checks": CHECKS,
        },
    )
