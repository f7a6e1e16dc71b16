"""A large upload tells its uploader when it is done (pars.notifications).

Small files finish while the uploader watches the progress bar; a big or slow one
(``PARS_NOTIFY_UPLOAD_ROWS`` rows, or ``PARS_NOTIFY_UPLOAD_SECONDS`` of processing)
is worth an inbox item and an email. Called by the job after each run; a run that
left the upload unfinished (requeued) says nothing, and a second run tells no one twice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.urls import reverse

from pars.accounts.models import Role, User
from pars.intake.models import Upload, UploadStatus
from pars.notifications.models import Kind
from pars.notifications.services import notify, provider_users

logger = logging.getLogger(__name__)

UNFINISHED = (UploadStatus.QUEUED, UploadStatus.RUNNING)


def is_large(upload: Upload) -> bool:
    if upload.rows_total >= settings.PARS_NOTIFY_UPLOAD_ROWS:
        return True
    started = upload.started_at or upload.created_at
    if upload.finished_at is None or started is None:
        return False
    return (upload.finished_at - started).total_seconds() >= settings.PARS_NOTIFY_UPLOAD_SECONDS


def _who(upload: Upload) -> list[User]:
    """The uploader; for an API upload the key's maker, else the administrators."""
    person = upload.created_by or (upload.api_key.created_by if upload.api_key else None)
    if person is not None and person.is_active:
        return [person]
    return provider_users(upload.provider, (Role.ADMIN,))


def announce_if_large(upload_id: int) -> None:
    """Never raises: telling is not worth failing the upload's job for."""
    try:
        _announce(upload_id)
    except Exception:
        logger.exception("Could not announce the end of upload %s", upload_id)


def _announce(upload_id: int) -> None:
    upload = (
        Upload.objects.select_related("provider", "created_by", "api_key__created_by")
        .filter(pk=upload_id)
        .first()
    )
    if upload is None or upload.status in UNFINISHED or not is_large(upload):
        return
    what = "learner file" if upload.kind == "learners" else "activity file"
    if upload.dry_run:  # nothing applied: the title must not say so
        what += " (checked only, dry run)"
    notify(
        _who(upload),
        Kind.UPLOAD_FINISHED,
        f"Your {what} {upload.original_name} is done: {upload.get_status_display()}",
        body=upload.message,
        link=reverse("uploads:detail", args=[upload.provider.provider_id, upload.pk]),
        provider=upload.provider,
        key=f"upload:{upload.pk}",
    )
