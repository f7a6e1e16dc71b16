"""Activity files: the upload list (all or nothing, or on request the valid rows) and the
Excel activity template.

What this module registers is all the shared upload pages (``pars.intake.views``:
detail, progress, error report) need to know about activity files.
"""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
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
        help_text="PARS recognises the format from the file's content; choose one only "
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
    return upload_list_page(request, access, PAGES, UploadForm, {"layouts": layouts})


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
