"""Learner files: the upload page and the Excel template."""

from __future__ import annotations

import io

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.intake.kinds import MAX_STORED_ERRORS
from pars.intake.models import Upload
from pars.intake.store import UploadRefused, store_upload
from pars.learners.dictionary import COMPLETION_FIELDS, HEADER_ALIASES
from pars.learners.forms import LearnerUploadForm
from pars.learners.views.common import provider_url
from pars.learners.xlsx_template import write_learner_template

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _learner_columns() -> list[tuple[str, str, str]]:
    """(header, other accepted names, help) of every column a learner file may have."""
    rows = [("Action", "Record Action", "Add (the default) or Delete: withdraws the record.")]
    for spec in COMPLETION_FIELDS:
        aliases = ", ".join(HEADER_ALIASES.get(spec.name, ()))
        rows.append((spec.label, aliases, spec.help))
    return rows


@provider_view()
def learner_uploads(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    form = LearnerUploadForm()
    if request.method == "POST":
        access.require_edit()
        form = LearnerUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                upload = store_upload(
                    access,
                    form.cleaned_data["file"],
                    created_by=access.user,
                    kind_hint=form.cleaned_data["file_format"] or None,
                    kind="learners",
                )
            except UploadRefused as refused:
                form.add_error("file", refused.message)
            else:
                return redirect(provider_url("uploads:detail", access, pk=upload.pk))
    uploads = (
        access.records(Upload)
        .filter(kind="learners")
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
    page = Paginator(uploads, 25).get_page(request.GET.get("page"))
    return render(
        request,
        "learners/uploads.html",
        {
            "access": access,
            "form": form,
            "page": page,
            "columns": _learner_columns(),
            "max_errors": MAX_STORED_ERRORS,
        },
        status=400 if form.errors else 200,
    )


@provider_view()
@require_GET
def learner_template(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    """The Excel learner template, to fill in and upload."""
    stream = io.BytesIO()
    write_learner_template(stream)
    response = HttpResponse(stream.getvalue(), content_type=XLSX_TYPE)
    response["Content-Disposition"] = 'attachment; filename="pars-learner-template.xlsx"'
    return response
