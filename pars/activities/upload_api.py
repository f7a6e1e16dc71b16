"""Batch files through the web service: POST /api/v1/uploads, GET its status.

The file is processed in the background, all or nothing (see `pars.intake.process`):
the POST answers 202 with the upload's URL, which the client polls until ``finished``.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import File, FormEx, P, QueryEx, Router, Schema, Status, UploadedFile

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.intake.idempotency import IdempotencyKeyHeader, fingerprint, run_idempotent
from pars.intake.kinds import MAX_STORED_ERRORS
from pars.intake.models import Upload, UploadError
from pars.intake.progress import get_progress
from pars.intake.store import (
    FORMAT_ALIASES,
    UploadRefused,
    normalize_format,
    queue_upload,
    store_upload,
)
from pars.lib.api_errors import MAX_OFFSET, ApiErrors, UploadErrorOut

router = Router(tags=["uploads"])

ERRORS_INLINE = 1_000  # errors in the upload's answer; the rest page through /errors


class UploadAccepted(Schema):
    id: int
    status: str
    url: str


class ProgressOut(Schema):
    done: int
    total: int | None


class UploadOut(Schema):
    id: int
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
    duplicate_of: int | None
    progress: ProgressOut | None
    rows_total: int
    added: int
    updated: int
    deleted: int
    rejected: int
    error_count: int
    errors_stored: int
    errors: list[UploadErrorOut]
    errors_next: str | None


class ErrorPage(Schema):
    count: int
    error_count: int
    errors: list[UploadErrorOut]
    next: str | None


FORMAT = P(alias="format", description="tsv, xlsx or xml; leave out (or auto) to detect it")


def format_fields(*names: str) -> dict[str, Any]:
    """openapi_extra of an upload: its format fields take the spellings `normalize_format`
    reads (anything else answers 400, rule upload.format.unknown)."""
    choices = {"type": "string", "enum": ["", "auto", *FORMAT_ALIASES]}
    properties = dict.fromkeys(names, choices)
    return {
        "requestBody": {"content": {"multipart/form-data": {"schema": {"properties": properties}}}}
    }


def _upload_url(upload_id: int) -> str:
    return reverse("api-v1:upload", kwargs={"upload_id": upload_id})


def _errors_url(upload_id: int, offset: int, limit: int) -> str:
    url = reverse("api-v1:upload_errors", kwargs={"upload_id": upload_id})
    return f"{url}?offset={offset}&limit={limit}"


@router.post(
    "",
    response={202: UploadAccepted, 400: ApiErrors, 413: ApiErrors, 422: ApiErrors},
    url_name="upload_create",
    summary="Upload a batch file of activities",
    description="Multipart form with the file in `file` (tab-delimited text, Excel .xlsx or "
    "XML; the format is detected from the content unless `format` says tsv, xlsx or xml). "
    "Answers 202 at once, with the upload's URL in `url` and `Location`; the file is "
    "processed in the background. **All or nothing**: if any row has an error nothing in "
    "the file is applied, and the upload lists every error. A file already applied is "
    "marked `duplicate` and changes nothing. Send an `Idempotency-Key` header to make a "
    "retry safe: the same key and file get the first answer again (with "
    "`Idempotent-Replayed: true`) instead of a second upload.",
    openapi_extra=format_fields("format", "kind"),
)
def create_upload(
    request: HttpRequest,
    response: HttpResponse,
    file: File[UploadedFile],
    file_format: FormEx[str, FORMAT] = "",
    kind: FormEx[str, P(description="The same as `format`")] = "",
    idempotency_key: IdempotencyKeyHeader = None,
) -> Any:
    if file_format and kind:  # both given: the unused one must be a format too
        try:
            normalize_format(kind)
        except UploadRefused as refused:
            return Status(refused.status_code, _refusal(refused))
    return accept_upload(request, response, file, file_format or kind, idempotency_key)


def accept_upload(
    request: HttpRequest,
    response: HttpResponse,
    file: UploadedFile,
    hint: str | None,
    idempotency_key: str | None,
    *,
    kind: str = "activities",
) -> Any:
    """Store a file of this upload kind and queue its job: the 202 answer (or the refusal).

    Shared by every upload endpoint (activity files here, learner files in
    ``pars.learners.api_completions``), with the same Idempotency-Key handling.
    """
    access = api_access(request)
    try:
        hint = normalize_format(hint)
    except UploadRefused as refused:
        return Status(refused.status_code, _refusal(refused))
    stored: list[Upload] = []

    def action() -> tuple[int, Any]:
        # Runs inside the idempotency helper's transaction: the job is queued below,
        # once that has committed, so that any task backend finds the row.
        try:
            upload = store_upload(
                access, file, via_api=True, kind_hint=hint, enqueue=False, kind=kind
            )
        except UploadRefused as refused:
            return refused.status_code, _refusal(refused)
        stored.append(upload)
        return 202, {"id": upload.pk, "status": upload.status, "url": _upload_url(upload.pk)}

    def request_fingerprint() -> str:  # the file's hash: a multipart body's boundary varies
        return fingerprint("POST", request.path, hint or "", _sha256(file))

    outcome = run_idempotent(access.provider, idempotency_key, request_fingerprint, action)
    for upload in stored:
        if not outcome.replayed and outcome.body.get("id") == upload.pk:
            queue_upload(upload)
        else:  # a concurrent request with the same key won; this row was rolled back
            upload.file.delete(save=False)
    if outcome.status_code == 202:
        response["Location"] = outcome.body["url"]
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(outcome.status_code, outcome.body)


def _refusal(refused: UploadRefused) -> dict[str, Any]:
    return {"detail": refused.message, "errors": [refused.as_dict()]}


def _sha256(file: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def _errors(access: ProviderAccess, upload: Upload, offset: int, limit: int) -> list[Any]:
    return list(
        access.records(UploadError)
        .filter(upload=upload)
        .order_by("row", "pk")
        .values("row", "field", "rule", "message")[offset : offset + limit]
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
        "url": _upload_url(upload.pk),
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
        "duplicate_of": upload.duplicate_of_id,
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
