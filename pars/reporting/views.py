from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.reporting.services import current_reporting_year, earlier_years, year_status


@provider_view()
def dashboard(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    reporting_year = current_reporting_year()
    status = year_status(access, reporting_year) if reporting_year else None
    earlier = earlier_years(access, reporting_year) if reporting_year else []
    return render(
        request,
        "reporting/dashboard.html",
        {"access": access, "status": status, "earlier": earlier},
    )


def guide(request: HttpRequest) -> HttpResponse:
    return render(request, "reporting/guide.html")
