"""Activity files: the upload list (all or nothing, or on request the valid rows), the
Excel activity template, and the year's Learner Counts template pre-filled with its open
activities.

What this module registers is all the shared upload pages (``pars.intake.views``:
detail, progress, error report) need to know about activity files.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator

from django import forms
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_GET

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.activities.file_export import write_learner_counts_tsv, write_learner_counts_xlsx
from pars.activities.models import Activity, ActivityStatus
from pars.activities.parsers.layouts import CURRENT, LAYOUTS
from pars.activities.xlsx_template import TEMPLATE_SUPPORTERS, write_activity_template
from pars.intake.models import UploadPolicy
from pars.intake.store import FORMAT_CHOICES
from pars.intake.views import (
    UploadPages,
    register_upload_pages,
    template_download,
    upload_list_page,
)

TSV_TYPE = "text/tab-separated-values; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

PAGES = UploadPages(
    kind="activities",
    list_template="activities/upload_list.html",
    detail_template="activities/upload_detail.html",
    list_url="uploads:list",
    list_title="Uploads",
    pending_errors="nothing will be applied",
    counts=(("updated", "updated"), ("deleted", "deleted")),
)
register_upload_pages(PAGES)


class UploadForm(forms.Form):
    file = forms.FileField(label="Activity file")
    file_format = forms.ChoiceField(
        label="Format",
        choices=[("", "Detect from the file"), *FORMAT_CHOICES],
        required=False,
        help_text="PARS recognizes the format from the file's content; choose one only "
        "if it guesses wrong.",
    )
    policy = forms.ChoiceField(
        label="If some rows have errors",
        choices=[
            (UploadPolicy.ALL_OR_NOTHING.value, "Apply nothing (all or nothing)"),
            (UploadPolicy.PARTIAL.value, "Apply the valid rows and report the others"),
        ],
        initial=UploadPolicy.ALL_OR_NOTHING.value,
        required=False,
        help_text="All or nothing is the default: the file is applied only if every row is "
        "valid. Choose to apply the valid rows to have those applied at once; the rows with "
        "errors are listed, to fix and upload again.",
    )


@provider_view()
def upload_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    layouts = [layout.description for layout in LAYOUTS]
    context = {"layouts": layouts, "counts_years": _open_years(access)}
    return upload_list_page(request, access, PAGES, UploadForm, context)


def _open_activities(access: ProviderAccess) -> QuerySet[Activity]:
    """The provider's activities that are not Closed: what a Learner Counts file is for."""
    return access.records(Activity).exclude(status=ActivityStatus.CLOSED)


def _open_years(access: ProviderAccess) -> list[int]:
    """The reporting years with open activities, newest first (a Learner Counts template
    each)."""
    years = _open_activities(access).values_list("reporting_year", flat=True).distinct()
    return sorted({year for year in years if year is not None}, reverse=True)


def _counts_year(request: HttpRequest) -> int:
    year = request.GET.get("year", "")
    if not (year.isdigit() and len(year) == 4):
        raise Http404("Choose the reporting year of the Learner Counts template.")
    return int(year)


def _counts_activities(access: ProviderAccess, year: int) -> Iterator[Activity]:
    return (
        _open_activities(access)
        .filter(reporting_year=year)
        .order_by("provider_activity_id")
        .iterator(chunk_size=2000)
    )


@provider_view()
@require_GET
def learner_counts_template(request: HttpRequest, access: ProviderAccess) -> HttpResponseBase:
    """The Learner Counts template (Excel) of a reporting year, one row per open activity."""
    year = _counts_year(request)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    write_learner_counts_xlsx(spool, _counts_activities(access, year), year=year)
    spool.seek(0)  # the response closes it
    name = f"learner-counts-{access.provider.provider_id}-{year}.xlsx"
    return FileResponse(spool, as_attachment=True, filename=name, content_type=XLSX_TYPE)


@provider_view()
@require_GET
def learner_counts_template_tsv(request: HttpRequest, access: ProviderAccess) -> HttpResponseBase:
    """The same template as tab-delimited text (UTF-8 with a byte-order mark)."""
    year = _counts_year(request)
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    write_learner_counts_tsv(text, _counts_activities(access, year), year=year)
    text.flush()
    text.detach()
    spool.seek(0)
    name = f"learner-counts-{access.provider.provider_id}-{year}.txt"
    return FileResponse(spool, as_attachment=True, filename=name, content_type=TSV_TYPE)


@provider_view()
@require_GET
def upload_template(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """The Excel activity template (the current layout), to fill in and upload."""
    return template_download(write_activity_template, "pars-activity-template.xlsx")


@provider_view()
@require_GET
def upload_template_tsv(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """The same template as tab-delimited text: the header row of the current layout
    (UTF-8 with a byte-order mark, so that Excel opens it as UTF-8)."""
    header = "\t".join(CURRENT.headers(TEMPLATE_SUPPORTERS))
    response = HttpResponse(
        f"\ufeff{header}\r\n".encode(), content_type="text/tab-separated-values; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="pars-activity-template.txt"'
    return response
