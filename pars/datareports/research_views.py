"""The research data set pages: accreditor staff request a data set and download it.

State-accreditor staff see national data nowhere, so these pages are the accreditor's
own staff's only (404 for everyone else, like every staff page).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Max, Min
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from pars.accounts.decorators import staff_view
from pars.activities.models import Activity
from pars.datareports.models import ResearchExport, ResearchExportStatus
from pars.datareports.research_services import request_research_export


def accreditor_staff_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A staff page for the accreditor's own staff: 404 for state-accreditor staff too."""

    @staff_view
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_accreditor_staff:  # type: ignore[union-attr]
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


class ResearchRequestForm(forms.Form):
    first_year = forms.IntegerField(label="From year", min_value=2000, max_value=2100)
    last_year = forms.IntegerField(label="To year", min_value=2000, max_value=2100)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, last = data.get("first_year"), data.get("last_year")
        if first is not None and last is not None:
            if last < first:
                raise forms.ValidationError("The last year comes before the first.")
            if last - first > 19:
                raise forms.ValidationError("Ask for at most 20 years at a time.")
        return data


def _page(request: HttpRequest, form: ResearchRequestForm, status: int = 200) -> HttpResponse:
    exports = ResearchExport.objects.select_related("requested_by")[:50]
    pending = any(not export.is_finished for export in exports)
    return render(
        request,
        "datareports/research.html",
        {"form": form, "exports": exports, "pending": pending},
        status=status,
    )


@accreditor_staff_view
def research_list(request: HttpRequest) -> HttpResponse:
    years = Activity.objects.aggregate(first=Min("reporting_year"), last=Max("reporting_year"))
    this_year = timezone.localdate().year
    form = ResearchRequestForm(
        initial={
            "first_year": years["first"] or this_year - 1,
            "last_year": years["last"] or this_year - 1,
        }
    )
    return _page(request, form)


@accreditor_staff_view
@require_POST
def research_request(request: HttpRequest) -> HttpResponse:
    form = ResearchRequestForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    export = request_research_export(
        request.user,  # type: ignore[arg-type]
        form.cleaned_data["first_year"],
        form.cleaned_data["last_year"],
    )
    messages.success(
        request,
        f"The research data set {export.first_year}–{export.last_year} is queued; "
        "the task worker generates it.",
    )
    return redirect("research:detail", export.pk)


@accreditor_staff_view
def research_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(ResearchExport.objects.select_related("requested_by"), pk=export_id)
    return render(request, "datareports/research_detail.html", {"export": export})


@accreditor_staff_view
def research_download(request: HttpRequest, export_id: int) -> HttpResponse:
    export = get_object_or_404(ResearchExport, pk=export_id, status=ResearchExportStatus.DONE)
    if not export.file:
        raise Http404("No file.")
    name = f"pars-research-{export.first_year}-{export.last_year}.zip"
    return FileResponse(  # type: ignore[return-value]  # a streaming response
        export.file.open("rb"), as_attachment=True, filename=name, content_type="application/zip"
    )
