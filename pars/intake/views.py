"""The upload pages every record kind shares: the list with its upload form, an upload's
detail with live progress, its error report (CSV, XLSX) and the Excel template download.

Each record kind registers its :class:`UploadPages` (its templates, URL names and wording)
and calls :func:`upload_list_page` from its own list view; the detail, progress and error
views serve every kind. Viewing needs read access; uploading needs edit rights (403 for
read-only users).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.intake import dry_run as dry_runs
from pars.intake.kinds import MAX_STORED_ERRORS
from pars.intake.models import Upload, UploadError
from pars.intake.progress import get_progress
from pars.intake.store import UploadRefused, store_upload
from pars.lib.spreadsheets import write_rows_csv, write_rows_xlsx

ERRORS_SHOWN = 200  # errors listed on the page; the downloads have them all
# Each error where the uploader finds it: the row, the record's key and the file's own
# column header (for a field the file lacks, the template's); no internal field names
# (the web service's errors keep `field`, for programs). The rule links to the catalog.
ERROR_REPORT_HEADER = ["Row", "Record", "Column", "Message", "Rule"]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class UploadPages:
    """What a record kind's upload pages say and link to; the rest is shared."""

    kind: str  # the UploadKind's name (Upload.kind)
    list_template: str  # extends intake/upload_list.html
    detail_template: str  # extends intake/upload_detail.html
    list_url: str  # URL name of the kind's upload list (the detail page links back)
    list_title: str
    # What a row with an error means for the file, while it is being read.
    pending_errors: str
    # (Upload count field, its label) shown after "added", in this order.
    counts: tuple[tuple[str, str], ...]
    # What the error report's Record column holds, in words.
    record_key: str = "the record's identifier"


UPLOAD_PAGES: dict[str, UploadPages] = {}


def register_upload_pages(pages: UploadPages) -> None:
    UPLOAD_PAGES[pages.kind] = pages


def upload_list_page(
    request: HttpRequest,
    access: ProviderAccess,
    pages: UploadPages,
    form_class: Callable[..., forms.Form],
    context: Mapping[str, Any],
) -> HttpResponse:
    """A kind's upload list: its uploads, newest first, and the form that adds one."""
    form = form_class()
    if request.method == "POST":
        access.require_edit()
        form = form_class(request.POST, request.FILES)
        if form.is_valid():
            try:
                upload = store_upload(
                    access,
                    form.cleaned_data["file"],
                    created_by=access.user,
                    kind_hint=form.cleaned_data["file_format"] or None,
                    kind=pages.kind,
                    # A kind whose form offers the choice (activity files).
                    policy=form.cleaned_data.get("policy") or "",
                    # "Check the file only": the second button of the form.
                    dry_run=dry_runs.wanted(request.POST.get("dry_run")),
                )
            except UploadRefused as refused:
                form.add_error("file", refused.message)
            else:
                return redirect(
                    "uploads:detail", provider_id=access.provider.provider_id, pk=upload.pk
                )
    uploads = (
        access.records(Upload)
        .filter(kind=pages.kind)
        .select_related("created_by", "api_key")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(uploads, 25).get_page(request.GET.get("page"))
    shown = dict(context, access=access, form=form, page=page, pages=pages)
    shown["max_errors"] = MAX_STORED_ERRORS
    return render(request, pages.list_template, shown, status=400 if form.errors else 200)


def _result_context(access: ProviderAccess, upload: Upload) -> dict[str, Any]:
    pages = UPLOAD_PAGES[upload.kind]
    context: dict[str, Any] = {"access": access, "upload": upload, "pages": pages}
    if upload.is_finished:
        context["counts"] = [(getattr(upload, name), label) for name, label in pages.counts]
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
    context = _result_context(access, upload)
    return render(request, context["pages"].detail_template, context)


@provider_view()
@require_GET
def upload_progress(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    """The live part of the detail page, polled by htmx; 286 tells htmx to stop polling."""
    upload = access.get(Upload, pk=pk)
    status = 286 if upload.is_finished else 200
    return render(
        request, "intake/upload_progress.html", _result_context(access, upload), status=status
    )


def _error_rows(access: ProviderAccess, upload: Upload) -> Any:
    return (
        access.records(UploadError)
        .filter(upload=upload)
        .order_by("row", "pk")
        .values_list("row", "record", "column", "message", "rule")
        .iterator(chunk_size=2_000)
    )


def _report_name(upload: Upload) -> str:
    """ "activity-upload-3-errors": the upload as its list numbers it."""
    return f"{upload.title.lower().replace(' ', '-').replace('#', '')}-errors"


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@provider_view()
@require_GET
def upload_errors_csv(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    upload = access.get(Upload, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    write_rows_csv(response, ERROR_REPORT_HEADER, _error_rows(access, upload))
    return _attachment(response, f"{_report_name(upload)}.csv")


@provider_view()
@require_GET
def upload_errors_xlsx(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    upload = access.get(Upload, pk=pk)
    stream = io.BytesIO()
    write_rows_xlsx(stream, ERROR_REPORT_HEADER, _error_rows(access, upload), title="Errors")
    response = HttpResponse(stream.getvalue(), content_type=XLSX_TYPE)
    return _attachment(response, f"{_report_name(upload)}.xlsx")


def template_download(write: Callable[[IO[bytes]], None], filename: str) -> HttpResponse:
    """A kind's Excel template as a download; `write` writes the workbook."""
    stream = io.BytesIO()
    write(stream)
    response = HttpResponse(stream.getvalue(), content_type=XLSX_TYPE)
    return _attachment(response, filename)
