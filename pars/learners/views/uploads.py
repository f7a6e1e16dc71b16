"""Learner files: the upload page and the Excel template (the detail, progress and error
report pages are the shared ones of ``pars.intake.views``, worded for learners by PAGES)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.intake.views import (
    UploadPages,
    register_upload_pages,
    template_download,
    upload_list_page,
)
from pars.learners.accme_template import write_accme_learner_template
from pars.learners.dictionary import COMPLETION_FIELDS, HEADER_ALIASES
from pars.learners.forms import LearnerUploadForm
from pars.learners.uploads import KIND
from pars.learners.xlsx_template import write_learner_template

PAGES = UploadPages(
    kind=KIND,
    list_template="learners/uploads.html",
    detail_template="learners/upload_detail.html",
    list_url="learners:uploads",
    list_title="Learner files",
    pending_errors="those rows will not be applied",
    counts=(("updated", "corrected"), ("deleted", "withdrawn"), ("unchanged", "already in PARS")),
    record_key="the activity, recipient and completion date; never a learner's name or IDs",
)
register_upload_pages(PAGES)


def _learner_columns() -> list[tuple[str, str, str]]:
    """(header, other accepted names, help) of every column a learner file may have."""
    rows = [("Action", "Record Action", "Add (the default) or Delete: withdraws the record.")]
    for spec in COMPLETION_FIELDS:
        aliases = ", ".join(HEADER_ALIASES.get(spec.name, ()))
        rows.append((spec.label, aliases, spec.help))
    return rows


@provider_view()
def learner_uploads(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    context = {"columns": _learner_columns()}
    return upload_list_page(request, access, PAGES, LearnerUploadForm, context)


@provider_view()
@require_GET
def learner_template(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """The Excel learner template, to fill in and upload."""
    return template_download(write_learner_template, "pars-learner-template.xlsx")


@provider_view()
@require_GET
def accme_learner_template(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """ACCME's learner template layout (2024 edition), which PARS reads as it stands."""
    return template_download(write_accme_learner_template, "accme-learner-template-2024.xlsx")
