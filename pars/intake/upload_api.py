"""Batch files through the web service, for every record kind: what an upload endpoint
takes and answers.

Each kind's endpoint (activity files at POST /api/v1/uploads in
``pars.activities.upload_api``, learner files in ``pars.learners.api_completions``) calls
:func:`accept_upload`: the file is stored and its job queued, with the same answers and
the same Idempotency-Key handling; the client polls the upload's URL until it is finished.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, P, Router, Schema, Status, UploadedFile
from ninja.types import TCallable

from pars.accounts.api_auth import api_access
from pars.intake import dry_run as dry_runs
from pars.intake.idempotency import fingerprint, run_idempotent
from pars.intake.models import Upload, UploadPolicy
from pars.intake.store import (
    FORMAT_ALIASES,
    UploadRefused,
    normalize_format,
    normalize_policy,
    queue_upload,
    store_upload,
)
from pars.lib.api_errors import ApiErrors


class UploadAccepted(Schema):
    id: int
    number: int = Field(
        description="The upload's number among the provider's uploads of its kind "
        "(activity files and learner files are numbered separately)"
    )
    title: str = Field(description='How the pages name it, e.g. "Activity upload #3"')
    status: str
    url: str
    dry_run: bool = Field(
        default=False, description="true: the file is checked only; nothing will be applied"
    )


FORMAT = P(alias="format", description="tsv, xlsx or xml; leave out (or auto) to detect it")
# A dry run may be asked in the query or as a form field of the multipart body.
DRY_RUN_QUERY = P(description=dry_runs.DESCRIPTION)
DRY_RUN_FIELD = P(alias="dry_run", description="The same as the `dry_run` query parameter")


def upload_endpoint(
    router: Router,
    path: str,
    *,
    formats: tuple[str, ...] = ("format",),
    policy: bool = False,
    **route: Any,
) -> Callable[[TCallable], TCallable]:
    """Route a kind's upload endpoint (POST): it answers 202 accepted or a refusal, and its
    `formats` form fields take the spellings of a format (see :func:`format_fields`);
    with `policy`, its ``policy`` form field takes an UploadPolicy value."""
    responses = {202: UploadAccepted, 400: ApiErrors, 413: ApiErrors, 422: ApiErrors}
    extra = format_fields(*formats)
    if policy:
        properties = extra["requestBody"]["content"]["multipart/form-data"]["schema"]
        properties["properties"]["policy"] = {
            "type": "string",
            "enum": ["", *UploadPolicy.values],
        }
    return router.post(path, response=responses, openapi_extra=extra, **route)


def format_fields(*names: str) -> dict[str, Any]:
    """openapi_extra of an upload: its format fields take the spellings `normalize_format`
    reads (anything else answers 400, rule upload.format.unknown)."""
    choices = {"type": "string", "enum": ["", "auto", *FORMAT_ALIASES]}
    properties = dict.fromkeys(names, choices)
    return {
        "requestBody": {"content": {"multipart/form-data": {"schema": {"properties": properties}}}}
    }


def upload_url(upload_id: int) -> str:
    """Where the client polls an upload of any kind."""
    return reverse("api-v1:upload", kwargs={"upload_id": upload_id})


def refusal(refused: UploadRefused) -> dict[str, Any]:
    return {"detail": refused.message, "errors": [refused.as_dict()]}


def accept_upload(
    request: HttpRequest,
    response: HttpResponse,
    file: UploadedFile,
    hint: str | None,
    idempotency_key: str | None,
    *,
    kind: str,
    policy: str = "",
    dry_run: bool = False,
) -> Any:
    """Store a file of this upload kind and queue its job: the 202 answer (or the refusal).
    `policy`: the uploader's choice as sent (UploadPolicy; blank: the kind's own);
    `dry_run`: check the file only (the upload is kept, marked so, and applies nothing)."""
    access = api_access(request)
    try:
        hint = normalize_format(hint)
        policy = normalize_policy(policy)
    except UploadRefused as refused:
        return Status(refused.status_code, refusal(refused))
    stored: list[Upload] = []

    def action() -> tuple[int, Any]:
        # Runs inside the idempotency helper's transaction: the job is queued below,
        # once that has committed, so that any task backend finds the row.
        try:
            upload = store_upload(
                access,
                file,
                via_api=True,
                kind_hint=hint,
                enqueue=False,
                kind=kind,
                policy=policy,
                dry_run=dry_run,
            )
        except UploadRefused as refused:
            return refused.status_code, refusal(refused)
        stored.append(upload)
        accepted = {
            "id": upload.pk,
            "number": upload.number or upload.pk,
            "title": upload.title,
            "status": upload.status,
            "url": upload_url(upload.pk),
        }
        return 202, {**accepted, "dry_run": upload.dry_run}

    def request_fingerprint() -> str:  # the file's hash: a multipart body's boundary varies
        # The policy only when given, so keys stored before it existed still match.
        parts = (
            hint or "",
            _sha256(file),
            *([policy] if policy else []),
            *(["dry_run"] if dry_run else []),
        )
        return fingerprint("POST", request.path, *parts)

    outcome = run_idempotent(access.provider, idempotency_key, request_fingerprint, action)
    for upload in stored:
        if not outcome.replayed and outcome.body.get("id") == upload.pk:
            queue_upload(upload)
        else:  # a concurrent request with the same key won; this row was rolled back
            upload.file.delete(save=False)
    body = outcome.body
    if outcome.status_code == 202 and "number" not in body:
        # An answer stored before uploads were numbered per kind: name it as today's does.
        upload = access.get(Upload, pk=body["id"])
        body = {**body, "number": upload.number or upload.pk, "title": upload.title}
    if outcome.status_code == 202:
        response["Location"] = body["url"]
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(outcome.status_code, body)


def _sha256(file: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    return digest.hexdigest()
