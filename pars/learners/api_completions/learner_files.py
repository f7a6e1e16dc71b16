"""Learner files through the API: an upload goes through the file pipeline."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import File, FormEx, QueryEx, UploadedFile

from pars.intake import dry_run as dry_runs
from pars.intake.idempotency import IdempotencyKeyHeader
from pars.intake.upload_api import (
    DRY_RUN_FIELD,
    DRY_RUN_QUERY,
    FORMAT,
    accept_upload,
    upload_endpoint,
)
from pars.learners.uploads import KIND as LEARNER_UPLOADS

from .shared import router


@upload_endpoint(
    router,
    "/learner-completions/uploads",
    url_name="learner_completions_upload",
    summary="Upload a learner file",
    description="Multipart form with the file in `file`: delimited text (tab, comma or "
    "semicolon; UTF-8, UTF-16 or Windows-1252) or Excel .xlsx with a header row (columns "
    "matched by name; see the learner file guide), or learner XML; the format is detected "
    "unless `format` says tsv (or csv), xlsx or xml. Answers **202** at once with the "
    "upload's URL in `url` and `Location` (`/api/v1/uploads/{id}`, the same "
    "status endpoint as activity files); the file is processed in the background. "
    "**Explicitly partial**, like POST /api/v1/learner-completions: every valid row is "
    "applied and every invalid row listed in the upload's errors with its rule ID; the same "
    "file again changes nothing. `Idempotency-Key` makes a retry safe.",
)
def upload_learners(
    request: HttpRequest,
    response: HttpResponse,
    file: File[UploadedFile],
    file_format: FormEx[str, FORMAT] = "",
    idempotency_key: IdempotencyKeyHeader = None,
    dry_run: QueryEx[bool, DRY_RUN_QUERY] = False,
    dry_run_field: FormEx[str, DRY_RUN_FIELD] = "",
) -> Any:
    return accept_upload(
        request,
        response,
        file,
        file_format,
        idempotency_key,
        kind=LEARNER_UPLOADS,
        dry_run=dry_run or dry_runs.wanted(dry_run_field),
    )
