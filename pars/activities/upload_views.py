"""The provider's batch uploads: upload a file, watch it being processed, read the errors.

Viewing needs read access; uploading needs edit rights (403 for read-only users).
"""

from __future__ import annotations

import io
from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.activities.parsers.layouts import LAYOUTS
from pars.activities.xlsx_template import write_activity_template
from pars.intake.kinds import MAX_STORED_ERRORS
from pars.intake.models import Upload, UploadError
from pars.intake.progress import get_progress
from pars.intake.store import FORMAT_CHOICES, UploadRefused, store_upload
from pars.lib.spreadsheets import write_rows_csv, write_rows_xlsx

ERRORS_SHOWN = 200  # errors listed on the page; the downloads have them all
ERROR_REPORT_HEADER = ["Row", "Field", "Rule", "Message"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class UploadForm(forms.Form):
    file = forms.FileField(label="Activity file")
    file_format = forms.ChoiceField(
        label="Format",
        choices=[("", "Detect from the file"), *FORMAT_CHOICES],
        required=False,
        help_text="PARS recognises the format from the file's content; choose one only "
        "if it guesses wrong.",
    )


@provider_view()
def upload_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    form = UploadForm()
    if request.method == "POST":
        access.require_edit()
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                upload = store_upload(
                    access,
                    form.cleaned_data["file"],
                    created_by=access.user,
                    kind_hint=form.cleaned_data["file_format"] or None,
                )
            except UploadRefused as refused:
                form.add_error("file", refused.message)
            else:
                return redirect(
                    "uploads:detail", provider_id=access.provider.provider_id, pk=upload.pk
                )
    uploads = (
        access.records(Upload)
        .filter(kind="activities")
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(uploads, 25).get_page(request.GET.get("page"))
    context = {
        "access": access,
        "form": form,
        "page": page,
        "layouts": [layout.description for layout in LAYOUTS],
        "max_errors": MAX_STORED_ERRORS,
    }
    return render(
        request, "activities/upload_list.html", context, status=400 if form.errors else 200
    )


def _result_context(access: ProviderAccess, upload: Upload) -> dict[str, Any]:
    context: dict[str, Any] = {"access": access, "upload": upload}
    if upload.is_finished:
        context["errors"] = list(
            access.records(UploadError).filter(upload=upload).order_by("row", "pk")[:ERRORS_SHOWN]
        )
        context["errors_shown"] = ERRORS_SHOWN
        context["stored_errors"] = min(upload.error_count, MAX_STORED_ERRORS)
    else:
        progress = get_progress(upload.pk)
        context["progress"] = progress
        total = progress.get("total")
        if total:
            context["percent"] = min(100, int(progress["done"] * 100 / total))
    return context


@provider_view()
@require_GET
def upload_detail(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    upload = access.get(Upload, pk=pk)
    return render(request, "activities/upload_detail.html", _result_context(access, upload))


@provider_view()
@require_GET
def upload_progress(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    """The live part of the detail page, polled by htmx; 286 tells htmx to stop polling."""
    upload = access.get(Upload, pk=pk)
    status = 286 if upload.is_finished else 200
    return render(
        request, "activities/upload_progress.html", _result_context(access, upload), status=status
    )


def _error_rows(access: ProviderAccess, upload: Upload) -> Any:
    return (
        access.records(UploadError)
        .filter(upload=upload)
        .order_by("row", "pk")
        .values_list("row", "field", "rule", "message")
        .iterator(chunk_size=2_000)
    )


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@provider_view()
@require_GET
def upload_errors_csv(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    upload = access.get(Upload, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    write_rows_csv(response, ERROR_REPORT_HEADER, _error_rows(access, upload))
    return _attachment(response, f"upload-{upload.pk}-errors.csv")


@provider_view()
@require_GET
def upload_errors_xlsx(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    upload = access.get(Upload, pk=pk)
    stream = io.BytesIO()
    write_rows_xlsx(stream, ERROR_REPORT_HEADER, _error_rows(access, upload), title="Errors")
    response = HttpResponse(stream.getvalue(), content_type=XLSX_TYPE)
    return _attachment(response, f"upload-{upload.pk}-errors.xlsx")


@provider_view()
@require_GET
def upload_template(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """The Excel activity template (the current layout), to fill in and upload."""
    stream = io.BytesIO()
    write_activity_template(stream)
    response = HttpResponse(stream.getvalue(), content_type=XLSX_TYPE)
    return _attachment(response, "pars-activity-template.xlsx")
