"""The provider's activity list and activity pages."""

from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.activities.models import Activity, ActivityFormat, ActivityStatus

SORTABLE = {"start_date", "-start_date", "title", "-title", "provider_activity_id", "status"}


@provider_view()
def activity_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    activities = access.records(Activity)
    years = sorted(set(activities.values_list("reporting_year", flat=True)), reverse=True)
    year = request.GET.get("year", "")
    if year.isdigit():
        activities = activities.filter(reporting_year=int(year))
    activity_format = request.GET.get("format", "")
    if activity_format in ActivityFormat.values:
        activities = activities.filter(activity_format=activity_format)
    status = request.GET.get("status", "")
    if status in ActivityStatus.values:
        activities = activities.filter(status=status)
    query = request.GET.get("q", "").strip()
    if query:
        activities = activities.filter(
            Q(title__icontains=query) | Q(provider_activity_id__icontains=query)
        )
    sort = request.GET.get("sort", "-start_date")
    activities = activities.order_by(sort if sort in SORTABLE else "-start_date", "pk")
    page = Paginator(activities, 50).get_page(request.GET.get("page"))
    context = {
        "access": access,
        "page": page,
        "years": years,
        "year": year,
        "formats": ActivityFormat.choices,
        "statuses": ActivityStatus.choices,
        "activity_format": activity_format,
        "status": status,
        "query": query,
        "sort": sort,
    }
    template = "activities/_rows.html" if request.htmx else "activities/list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@provider_view()
def activity_detail(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    activity = access.get(Activity, pk=pk)
    return render(request, "activities/detail.html", {"access": access, "activity": activity})
