"""Batch files through the web service: POST /api/v1/uploads, GET its status.

The file is processed in the background, all or nothing unless ``policy=partial`` asks
to apply the valid rows and report the others (see `pars.intake.process`): the POST
answers 202 with the upload's URL, which the client polls until ``finished``.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, File, FormEx, P, QueryEx, Router, Schema, Status, UploadedFile

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.intake import dry_run as dry_runs
from pars.intake.idempotency import IdempotencyKeyHeader
from pars.intake.kinds import MAX_STORED_ERRORS
from pars.intake.models import Upload, UploadError
from pars.intake.progress import get_progress
from pars.intake.store import UploadRefused, normalize_format
from pars.intake.upload_api import (
    DRY_RUN_FIELD,
    DRY_RUN_QUERY,
    FORMAT,
    accept_upload,
    refusal,
    upload_endpoint,
    upload_url,
)
from pars.lib.api_errors import MAX_OFFSET, ApiErrors, UploadRowErrorOut

# ApiErrors is imported from here by the learner API modules.
__all__ = ["ApiErrors", "router"]

router = Router(tags=["uploads"])

POLICY = P(
    description="all_or_nothing (the default: one invalid row and nothing is applied) or "
    "partial (apply the valid rows and report the others)"
)

ERRORS_INLINE = 1_000  # errors in the upload's answer; the rest page through /errors


class ProgressOut(Schema):
    done: int
    total: int | None


class UploadOut(Schema):
    id: int
    number: int = Field(
        description="The upload's number among the provider's uploads of its kind "
        "(activity files and learner files are numbered separately)"
    )
    title: str = Field(description='How the pages name it, e.g. "Activity upload #3"')
    url: str
    status: str
    status_label: str
    finished: bool
    file_format: str
    layout: str
    original_name: str
    size: int
    sha256: str
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    message: str
    notices: list[str] = Field(
        description='What the reader did that you should know, e.g. "read as Windows-1252", '
        '"Ignored columns: Specialty"; never a reason the file was refused.'
    )
    duplicate_of: int | None
    dry_run: bool = Field(
        description="true: the file was checked only (dry run). The result, counts and "
        "errors are what applying it would give; nothing was applied."
    )
    progress: ProgressOut | None
    rows_total: int
    added: int
    updated: int
    deleted: int
    rejected: int
    error_count: int
    errors_stored: int
    errors: list[UploadRowErrorOut]
    errors_next: str | None


class ErrorPage(Schema):
    count: int
    error_count: int
    errors: list[UploadRowErrorOut]
    next: str | None


def _errors_url(upload_id: int, offset: int, limit: int) -> str:
    url = reverse("api-v1:upload_errors", kwargs={"upload_id": upload_id})
    return f"{url}?offset={offset}&limit={limit}"


@upload_endpoint(
    router,
    "",
    url_name="upload_create",
    summary="Upload a batch file of activities",
    description="Multipart form with the file in `file` (delimited text: tab, comma or "
    "semicolon, in UTF-8, UTF-16 or Windows-1252; Excel .xlsx; or XML; the format is "
    "detected from the content unless `format` says tsv (or csv), xlsx or xml; the upload's "
    "`notices` say which encoding and separator were read). "
    "Answers 202 at once, with the upload's URL in `url` and `Location`; the file is "
    "processed in the background. **All or nothing** by default: if any row has an error "
    "nothing in the file is applied, and the upload lists every error. Send "
    "`policy=partial` to apply the valid rows and report the others instead (the upload "
    "then ends `partial`); `policy=all_or_nothing` (or none) is the default, and any other "
    "value answers 400 (rule `upload.policy.unknown`). A rejected file may be sent again "
    "as it is, with the other policy. Each error names the file's row (the spreadsheet "
    "row; in XML the record's position), its `record` (the Provider Activity ID) and its "
    "`column` (the file's own header, or the XML element). A file already applied is "
    "marked `duplicate` and changes nothing. Send an `Idempotency-Key` header to make a "
    "retry safe: the same key and file get the first answer again (with "
    "`Idempotent-Replayed: true`) instead of a second upload.",
    formats=("format", "kind"),
    policy=True,
)
def create_upload(
    request: HttpRequest,
    response: HttpResponse,
    file: File[UploadedFile],
    file_format: FormEx[str, FORMAT] = "",
    kind: FormEx[str, P(description="The same as `format`")] = "",
    policy: FormEx[str, POLICY] = "",
    idempotency_key: IdempotencyKeyHeader = None,
    dry_run: QueryEx[bool, DRY_RUN_QUERY] = False,
    dry_run_field: FormEx[str, DRY_RUN_FIELD] = "",
) -> Any:
    if file_format and kind:  # both given: the unused one must be a format too
        try:
            normalize_format(kind)
        except UploadRefused as refused:
            return Status(refused.status_code, refusal(refused))
    return accept_upload(
        request,
        response,
        file,
        file_format or kind,
        idempotency_key,
        kind="activities",
        policy=policy,
        dry_run=dry_run or dry_runs.wanted(dry_run_field),
    )


def _errors(access: ProviderAccess, upload: Upload, offset: int, limit: int) -> list[Any]:
    return list(
        access.records(UploadError)
        .filter(upload=upload)
        .order_by("row", "pk")
        .values("row", "record", "column", "field", "rule", "message")[offset : offset + limit]
    )


@router.get(
    "/{upload_id}",
    response=UploadOut,
    url_name="upload",
    summary="An upload: its status, counts and errors",
    description=f"Poll until `finished` is true. `errors` holds the first {ERRORS_INLINE:,} "
    "errors; `errors_next` pages through the rest.",
)
def upload_detail(request: HttpRequest, upload_id: int) -> Any:
    access = api_access(request)
    upload = access.get(Upload, pk=upload_id)
    stored = min(upload.error_count, MAX_STORED_ERRORS)
    progress = None
    if not upload.is_finished:
        current = get_progress(upload.pk)
        progress = {"done": current["done"], "total": current["total"]}
    return {
        "id": upload.pk,
        "number": upload.number or upload.pk,
        "title": upload.title,
        "url": upload_url(upload.pk),
        "status": upload.status,
        "status_label": upload.get_status_display(),
        "finished": upload.is_finished,
        "file_format": upload.file_format,
        "layout": upload.layout,
        "original_name": upload.original_name,
        "size": upload.size,
        "sha256": upload.sha256,
        "created_at": upload.created_at,
        "started_at": upload.started_at,
        "finished_at": upload.finished_at,
        "message": upload.message,
        "notices": upload.notices,
        "duplicate_of": upload.duplicate_of_id,
        "dry_run": upload.dry_run,
        "progress": progress,
        "rows_total": upload.rows_total,
        "added": upload.added,
        "updated": upload.updated,
        "deleted": upload.deleted,
        "rejected": upload.rejected,
        "error_count": upload.error_count,
        "errors_stored": stored,
        "errors": _errors(access, upload, 0, ERRORS_INLINE),
        "errors_next": (
            _errors_url(upload.pk, ERRORS_INLINE, ERRORS_INLINE) if stored > ERRORS_INLINE else None
        ),
    }


@router.get(
    "/{upload_id}/errors",
    response=ErrorPage,
    url_name="upload_errors",
    summary="A page of an upload's errors",
    description=f"At most {MAX_STORED_ERRORS:,} errors are kept per upload; `error_count` "
    "counts them all.",
)
def upload_errors(
    request: HttpRequest,
    upload_id: int,
    offset: QueryEx[int, P(ge=0, le=MAX_OFFSET)] = 0,
    limit: QueryEx[int, P(ge=1, le=ERRORS_INLINE)] = ERRORS_INLINE,
) -> Any:
    access = api_access(request)
    upload = access.get(Upload, pk=upload_id)
    stored = min(upload.error_count, MAX_STORED_ERRORS)
    return {
        "count": stored,
        "error_count": upload.error_count,
        "errors": _errors(access, upload, offset, limit),
        "next": _errors_url(upload.pk, offset + limit, limit) if offset + limit < stored else None,
    }
