"""Storing an uploaded batch file and queuing its processing.

:func:`store_upload` keeps the file (through Django's storage API: ``MEDIA_ROOT`` or object
storage, ``PARS_STORAGE_BACKEND``; a random name), records
the :class:`~pars.intake.models.Upload` and queues the job (process.py), which runs in
the task worker. The upload policy (all or nothing, or explicitly partial; the same file
twice is a no-op) is described in process.py. The duplicate check there looks only at
applied uploads: a rejected file may be uploaded again as it is, say with the other
policy.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import IO, Any, cast

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.accounts.models import User
from pars.intake.kinds import UPLOAD_KINDS
from pars.intake.models import Channel, Upload, UploadPolicy, UploadStatus

logger = logging.getLogger(__name__)

FORMAT_CHOICES = [
    (Channel.TSV.value, "Delimited text: tab, comma or semicolon (.txt, .tsv, .csv)"),
    (Channel.XLSX.value, "Excel workbook (.xlsx)"),
    (Channel.XML.value, "XML (MEMS / ACCME activity report)"),
]
_FORMAT_ALIASES = {
    "tsv": Channel.TSV,
    "csv": Channel.TSV,
    "txt": Channel.TSV,
    "tab": Channel.TSV,
    "text": Channel.TSV,
    "xlsx": Channel.XLSX,
    "excel": Channel.XLSX,
    "xml": Channel.XML,
}
FORMAT_ALIASES = tuple(_FORMAT_ALIASES)  # what an explicit format choice may say
_SUFFIXES = {Channel.TSV: ".txt", Channel.XLSX: ".xlsx", Channel.XML: ".xml"}
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


class UploadRefused(Exception):
    """The file is not accepted at all (too large, empty, unknown format): nothing is stored."""

    def __init__(
        self, rule: str, message: str, status_code: int = 400, field: str = "file"
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.status_code = status_code
        self.field = field

    def as_dict(self) -> dict[str, Any]:
        """The refusal in the web service's error shape (one error without a row)."""
        return {"row": None, "field": self.field, "rule": self.rule, "message": self.message}


def detect_format(head: bytes) -> str:
    """The file format from the first bytes of the content (the file name is not trusted)."""
    if head.startswith(b"PK\x03\x04"):
        return Channel.XLSX.value
    text = head.decode("latin-1")
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            text = head[len(bom) :].decode(encoding, errors="ignore")
            break
    if text.lstrip(" \t\r\n").startswith("<"):
        return Channel.XML.value
    return Channel.TSV.value


def normalize_policy(value: str | None) -> str:
    """An explicit policy choice as an UploadPolicy value ("" for none given)."""
    text = (value or "").strip().lower().replace("-", "_")
    if not text:
        return ""
    if text not in UploadPolicy.values:
        raise UploadRefused(
            "upload.policy.unknown",
            f"Unknown policy {text[:40]!r}: use all_or_nothing (the default) or partial "
            "(apply the valid rows and report the others).",
            field="policy",
        )
    return text


def normalize_format(hint: str | None) -> str | None:
    """An explicit format choice as a Channel value; None means "detect from the content"."""
    if hint is None or not hint.strip() or hint.strip().lower() == "auto":
        return None
    try:
        return _FORMAT_ALIASES[hint.strip().lower()].value
    except KeyError:
        raise UploadRefused(
            "upload.format.unknown",
            f"Unknown file format {hint.strip()[:40]!r}: use tsv (or csv), xlsx or xml, "
            "or leave it out to detect the format from the file.",
        ) from None


class HashingFile(File):
    """Hands the upload to the storage chunk by chunk, hashing and counting on the way.

    It has no ``temporary_file_path``, so the file system storage copies it through
    :meth:`chunks` instead of moving the temporary file, and every byte is hashed.
    """

    def __init__(self, source: File) -> None:
        super().__init__(source, name=source.name)
        self._source = source
        self.digest = hashlib.sha256()
        self.bytes_read = 0

    def chunks(self, chunk_size: int | None = None) -> Iterator[bytes]:
        for chunk in self._source.chunks(chunk_size):
            self.digest.update(chunk)
            self.bytes_read += len(chunk)
            yield chunk


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def store_upload(
    access: ProviderAccess,
    uploaded_file: File,
    *,
    created_by: User | None = None,
    via_api: bool = False,
    kind_hint: str | None = None,
    enqueue: bool = True,
    kind: str = "activities",
    policy: str = "",
    dry_run: bool = False,
) -> Upload:
    """Keep an uploaded file of records of `kind` and queue its processing; returns the Upload.

    Raises :class:`UploadRefused` (nothing stored) for a file over
    ``settings.PARS_MAX_UPLOAD_BYTES``, an empty file or an unknown ``kind_hint``. The
    format is detected from the content unless ``kind_hint`` (tsv, xlsx, xml) names it.

    The job is queued right after the row is committed, so call this outside any
    transaction; a caller inside one passes ``enqueue=False`` and calls
    :func:`queue_upload` once it has committed. ``policy`` is the uploader's choice
    (``UploadPolicy``; blank: the kind's own policy). ``dry_run``: check the file only
    (its job applies nothing; see ``pars.intake.dry_run``).
    """
    access.require_edit()
    limit = settings.PARS_MAX_UPLOAD_BYTES
    size = uploaded_file.size
    if size > limit:
        raise UploadRefused(
            "upload.file.too_large",
            f"The file is {megabytes(size)}; PARS accepts files of up to {megabytes(limit)}. "
            "Split it into several files and upload each.",
            status_code=413,
        )
    if size == 0:
        raise UploadRefused("upload.file.empty", "The file is empty.")
    file_format = normalize_format(kind_hint)
    if file_format is None:
        uploaded_file.seek(0)
        file_format = detect_format(uploaded_file.read(1024))
        uploaded_file.seek(0)
    original_name = PurePath((uploaded_file.name or "upload").replace("\\", "/")).name[:255]
    if kind not in UPLOAD_KINDS:
        raise ValueError(f"Unknown upload kind {kind!r}")
    upload = Upload(
        provider=access.provider,
        kind=kind,
        created_by=created_by if created_by is not None else access.user,
        via_api=via_api,
        api_key=access.api_key,
        file_format=file_format,
        original_name=original_name or "upload",
        size=size,
        sha256="",
        policy=policy,
        dry_run=dry_run,
    )
    hashing = HashingFile(uploaded_file)
    # A random name: the provider's own file name stays in the database, not on disk.
    upload.file.save(f"{uuid.uuid4().hex}{_SUFFIXES[Channel(file_format)]}", hashing, save=False)
    if hashing.bytes_read != size:  # a storage that read the file some other way
        hashing.digest = hashlib.sha256()
        for chunk in uploaded_file.chunks():
            hashing.digest.update(chunk)
    upload.sha256 = hashing.digest.hexdigest()
    try:
        with transaction.atomic():
            upload.save()
    except BaseException:
        upload.file.delete(save=False)
        raise
    if enqueue:
        # Queued after the commit, so a worker in another process always finds the row
        # (the same pattern as pars.accounts.services.invite_user).
        queue_upload(upload)
        upload.refresh_from_db()
    return upload


def queue_upload(upload: Upload) -> None:
    """Queue the processing of a stored upload (once its row is committed)."""
    # Imported here: the task runs the job, which queues interrupted uploads again.
    from pars.intake.tasks import process_upload_task

    try:
        process_upload_task.enqueue(upload.pk)
    except Exception:
        logger.exception("Could not queue upload %s", upload.pk)
        Upload.objects.filter(pk=upload.pk, status=UploadStatus.QUEUED).update(
            status=UploadStatus.FAILED,
            finished_at=timezone.now(),
            message="The file could not be queued for processing; nothing was changed. "
            "Please upload it again.",
        )


@contextmanager
def open_stored(upload: Upload) -> Iterator[IO[bytes]]:
    """The stored file, opened through the storage API, seekable (zipfile needs it).

    Never a path: the web process that stored the file and the worker that reads it may be
    on different machines, sharing only the storage (object storage, say). A storage whose
    file cannot seek is copied to a temporary file first: local scratch, not shared disk.
    """
    with upload.file.open("rb") as stored:
        if _seekable(stored):
            stored.seek(0)
            yield cast(IO[bytes], stored)
            return
        with tempfile.TemporaryFile(prefix="pars-upload-") as local:
            for chunk in stored.chunks():
                local.write(chunk)
            local.seek(0)
            yield local


def _seekable(stored: File) -> bool:
    try:
        return bool(stored.seekable())
    except (AttributeError, OSError, ValueError):
        return False
