"""Batch files of activities: storing an upload and processing it in the background.

The policy, as the upload pages and the web service describe it:

* **All or nothing.** A file changes PARS only if every row in it is valid. One invalid
  row (or a delete of an unknown Provider Activity ID, or a Provider Activity ID that
  appears twice in the file) and nothing in the file is applied; the error report lists
  every problem found (the first 10,000 are kept, with a count of the rest), so the
  whole file can be fixed and uploaded again.
* **A failure commits nothing.** The whole file is written inside one database
  transaction; an unexpected error or a worker that dies half-way leaves no partial
  changes behind. A run cut off that way is repeated from the start: the job renews a
  lease while it works, and :func:`recover_stale_uploads` queues an upload whose lease
  ran out again (three interrupted runs and it fails with a message).
* **The same file twice is a no-op.** A file whose SHA-256 equals that of an earlier
  upload of the same provider that was applied is marked *duplicate* and changes
  nothing; the result names the earlier upload.
* **Processing is idempotent.** The job claims its upload by moving it from *queued* to
  *running*; a second run of the same job (queues deliver at least once) finds it
  claimed or finished and does nothing. A provider's uploads are applied one at a time.

:func:`store_upload` keeps the file (under ``MEDIA_ROOT`` with a random name), records
the :class:`~pars.activities.models.Upload` and queues :func:`process_upload`, which runs
in the task worker. Progress is shared through the cache (``upload-progress:<id>``),
because the database rows written during processing stay invisible until the end.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import PurePath
from typing import IO, Any, BinaryIO, ClassVar, cast

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from pars.accounts.access import ProviderAccess, get_api_access, get_provider_access
from pars.accounts.models import User
from pars.activities.models import Channel, Upload, UploadError, UploadStatus
from pars.activities.parsers import FileRejected, ParsedRow
from pars.activities.services import apply_activities, refusals
from pars.activities.validation import RULES, CleanActivity, FieldError, validate_activity
from pars.audit.models import AuditAction, AuditEvent
from pars.audit.services import record_event

logger = logging.getLogger(__name__)

BATCH_SIZE = 2_000  # valid rows written per apply_activities call; also the progress step
MAX_STORED_ERRORS = 10_000  # error rows kept per upload; the rest are only counted
PROGRESS_TIMEOUT = 6 * 60 * 60  # seconds a progress entry lives in the cache
_LOCK_NAMESPACE = 0x50415253  # "PARS": first key of the advisory lock per provider
# The job's lease (see "Recovery" below): a running upload renews its heartbeat at most
# every HEARTBEAT_SECONDS (at least once per batch of rows); one whose heartbeat is older
# than LEASE_SECONDS lost its worker and is queued again, up to MAX_ATTEMPTS runs.
# LEASE_SECONDS is the default of settings.PARS_UPLOAD_LEASE_SECONDS (see lease_seconds()).
HEARTBEAT_SECONDS = 5.0
LEASE_SECONDS = 300.0
MAX_ATTEMPTS = 3
QUEUED_STALE_SECONDS = 3600.0  # a queued upload this old (its task lost) is queued again

FORMAT_CHOICES = [
    (Channel.TSV.value, "Tab-delimited text (.txt, .tsv)"),
    (Channel.XLSX.value, "Excel workbook (.xlsx)"),
    (Channel.XML.value, "XML (MEMS / ACCME activity report)"),
]
_FORMAT_ALIASES = {
    "tsv": Channel.TSV,
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

    def __init__(self, rule: str, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.status_code = status_code

    def as_dict(self) -> dict[str, Any]:
        """The refusal in the web service's error shape (one error without a row)."""
        return {"row": None, "field": "file", "rule": self.rule, "message": self.message}


# ---------------------------------------------------------------------------
# Storing


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


def normalize_format(hint: str | None) -> str | None:
    """An explicit format choice as a Channel value; None means "detect from the content"."""
    if hint is None or not hint.strip() or hint.strip().lower() == "auto":
        return None
    try:
        return _FORMAT_ALIASES[hint.strip().lower()].value
    except KeyError:
        raise UploadRefused(
            "upload.format.unknown",
            f"Unknown file format {hint.strip()[:40]!r}: use tsv, xlsx or xml, "
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
) -> Upload:
    """Keep an uploaded activity file and queue its processing; returns the Upload.

    Raises :class:`UploadRefused` (nothing stored) for a file over
    ``settings.PARS_MAX_UPLOAD_BYTES``, an empty file or an unknown ``kind_hint``. The
    format is detected from the content unless ``kind_hint`` (tsv, xlsx, xml) names it.

    The job is queued right after the row is committed, so call this outside any
    transaction; a caller inside one passes ``enqueue=False`` and calls
    :func:`queue_upload` once it has committed.
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
    from pars.activities.tasks import process_upload_task

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


# ---------------------------------------------------------------------------
# Progress, shared through the cache


def progress_key(upload_id: int) -> str:
    return f"upload-progress:{upload_id}"


def get_progress(upload_id: int) -> dict[str, Any]:
    """``{"done": rows read, "total": estimated rows or None, "errors": count}``."""
    progress = cache.get(progress_key(upload_id))
    if not isinstance(progress, dict):
        return {"done": 0, "total": None, "errors": 0}
    return progress


def _set_progress(upload_id: int, done: int, total: int | None, errors: int) -> None:
    if total is not None:
        total = max(total, done)
    cache.set(
        progress_key(upload_id),
        {"done": done, "total": total, "errors": errors},
        timeout=PROGRESS_TIMEOUT,
    )


def _estimate_rows(upload: Upload) -> int | None:
    """A cheap estimate of the number of rows, for the progress bar (None: unknown)."""
    try:
        if upload.file_format == Channel.TSV:
            lines = 0
            last = b"\n"
            with upload.file.open("rb") as stream:
                while chunk := stream.read(1024 * 1024):
                    lines += chunk.count(b"\n")
                    last = chunk[-1:]
            return lines + (last != b"\n")
        if upload.file_format == Channel.XLSX:
            return _xlsx_dimension_rows(upload)
    except Exception:  # an estimate only: the parser reports what is really wrong
        logger.debug("No row estimate for upload %s", upload.pk, exc_info=True)
    return None


_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\s+ref="[A-Z]+\d+:[A-Z]+(\d+)"')


def _xlsx_dimension_rows(upload: Upload) -> int | None:
    """The row count the first sheet declares, from the first bytes of its XML only.

    The workbook is not opened here: the Excel reader checks the archive first (zip
    bombs), and this reads at most 4 KiB of one decompressed member.
    """
    with (
        local_path(upload) as path,
        zipfile.ZipFile(path) as archive,
        archive.open("xl/worksheets/sheet1.xml") as sheet,
    ):
        match = _DIMENSION.search(sheet.read(4096))
    if match is None:
        return None
    return max(int(match.group(1)) - 1, 0) or None  # less the header row


# ---------------------------------------------------------------------------
# Reading


@contextmanager
def local_path(upload: Upload) -> Iterator[str]:
    """A local file path of the upload (the Excel reader needs one)."""
    try:
        path: str | None = upload.file.path
    except NotImplementedError:  # a remote storage
        path = None
    if path is not None:
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as local, upload.file.open("rb") as stream:
        for chunk in stream.chunks():
            local.write(chunk)
        local.flush()
        yield local.name


OpenedRows = tuple[str, Iterator[ParsedRow], IO[bytes] | None]


@contextmanager
def _open_activity_rows(upload: Upload) -> Iterator[OpenedRows]:
    """(layout name, parsed rows, the open byte stream if any) of an activity file."""
    if upload.file_format == Channel.XLSX:
        from pars.activities.parsers.xlsx import read_xlsx

        with local_path(upload) as path:
            layout, rows = read_xlsx(path)
            yield layout.name, rows, None
        return
    with upload.file.open("rb") as opened:
        stream = cast(BinaryIO, opened)
        if upload.file_format == Channel.XML:
            from pars.activities.parsers.xml import read_xml

            yield "", read_xml(stream), stream
        else:
            from pars.activities.parsers.tsv import read_tsv

            layout, rows = read_tsv(stream)
            yield layout.name, rows, stream


# ---------------------------------------------------------------------------
# Processing


class _Rollback(Exception):
    """Undo the file's writes (it has errors, or it was refused) and keep the report."""


@dataclass
class FileRun:
    """What one pass over a file found and did; each kind of upload says how rows are taken.

    ``partial`` runs apply their valid rows and report the others; the others apply the
    file only when every row is valid.
    """

    upload: Upload
    access: ProviderAccess
    estimate: int | None = None
    rows_total: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected: int = 0
    error_count: int = 0
    errors: list[FieldError] = field(default_factory=list)
    layout: str = ""
    file_message: str = ""
    event: AuditEvent | None = None
    partial: ClassVar[bool] = False
    noun: ClassVar[str] = "activity"

    def report(self, errors: Iterable[FieldError]) -> None:
        for error in errors:
            self.error_count += 1
            if len(self.errors) < MAX_STORED_ERRORS:
                self.errors.append(error)

    def take(self, parsed: ParsedRow) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError


@dataclass
class UploadKind:
    """A kind of batch file: how to read its rows and how to take them."""

    name: str
    open_rows: Callable[[Upload], AbstractContextManager[OpenedRows]]
    new_run: Callable[[Upload, ProviderAccess, int | None], FileRun]


UPLOAD_KINDS: dict[str, UploadKind] = {}


def register_upload_kind(kind: UploadKind) -> None:
    UPLOAD_KINDS[kind.name] = kind


@dataclass
class _Run(FileRun):
    """An activity file: all or nothing."""

    batch: list[tuple[int | None, CleanActivity]] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)

    @property
    def writing(self) -> bool:
        """Rows are written until the first error; after that they are only checked."""
        return self.error_count == 0

    def take(self, parsed: ParsedRow) -> None:
        self.rows_total += 1
        if parsed.problem:
            rule = "activity.row.unreadable"
            self.rejected += 1
            self.report([FieldError(parsed.row, "row", rule, parsed.problem)])
            return
        record, errors = validate_activity(parsed.data, row=parsed.row)
        key = record.provider_activity_id if record else _raw_id(parsed.data)
        if key:
            if key in self.seen_ids:
                rule = "activity.provider_activity_id.duplicate_in_file"
                errors = [
                    *errors,
                    FieldError(parsed.row, "provider_activity_id", rule, RULES[rule].message),
                ]
            else:
                self.seen_ids.add(key)
        if errors or record is None:
            self.rejected += 1
            self.report(errors)
            return
        self.batch.append((parsed.row, record))
        if len(self.batch) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        if self.writing:
            if self.event is None:
                # One audit event for the whole file (rolled back with it, if it fails).
                self.event = record_event(
                    self.access,
                    AuditAction.ACTIVITIES_WRITTEN,
                    channel=self.upload.file_format,
                    description=f"Upload #{self.upload.pk} ({self.upload.original_name})",
                    details={"upload": self.upload.pk},
                )
            result = apply_activities(
                self.access, self.batch, channel=self.upload.file_format, event=self.event
            )
            self.added += result.added
            self.updated += result.updated
            self.deleted += result.deleted
            errors = result.errors
        else:
            # Nothing is written any more, but the report still lists every problem.
            errors = refusals(self.access, self.batch)
        self.rejected += len({error.row for error in errors})
        self.report(errors)
        self.batch = []


def _raw_id(data: dict[str, Any]) -> str:
    value = data.get("provider_activity_id")
    return "" if value is None else str(value).strip()


register_upload_kind(
    UploadKind(
        "activities",
        _open_activity_rows,
        lambda upload, access, estimate: _Run(upload=upload, access=access, estimate=estimate),
    )
)


class _NotAllowed(Exception):
    pass


def _access_for(upload: Upload) -> ProviderAccess:
    """The uploader's access now: someone who lost edit rights since cannot apply a file."""
    if upload.via_api:
        # A key revoked (or deleted) since the file was sent may not apply it any more.
        if upload.api_key is None or upload.api_key.revoked_at is not None:
            raise _NotAllowed
        return get_api_access(upload.provider, upload.api_key)
    if upload.created_by is None:
        raise _NotAllowed
    try:
        access = get_provider_access(upload.created_by, upload.provider.provider_id)
        access.require_edit()
    except (Http404, PermissionDenied):
        raise _NotAllowed from None
    return access


# The COPY fast path talks to psycopg directly, so its errors arrive unwrapped by Django.
try:
    import psycopg

    _DRIVER_CONNECTION_ERRORS: tuple[type[Exception], ...] = (
        psycopg.OperationalError,
        psycopg.InterfaceError,
    )
except ImportError:  # SQLite only
    _DRIVER_CONNECTION_ERRORS = ()
_CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    *_DRIVER_CONNECTION_ERRORS,
)


def process_upload(upload_id: int) -> None:
    """The job: validate every row of the file and apply it all, or nothing (see module doc)."""
    now = timezone.now()
    claimed = Upload.objects.filter(pk=upload_id, status=UploadStatus.QUEUED).update(
        status=UploadStatus.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return  # already processed, or being processed by another run of this job
    try:
        _process(upload_id)
    except _CONNECTION_ERRORS:
        # The database went away (restart, fail-over, a killed backend): the file's
        # transaction is rolled back, so the run is simply repeated (or given up).
        logger.exception("Upload %s interrupted by a database error", upload_id)
        try:
            _requeue_or_fail(upload_id, reason="the database connection was lost")
        except DatabaseError:  # still away: recover_stale_uploads picks it up later
            logger.warning("Upload %s left for recovery (database unavailable)", upload_id)
        raise
    except Exception:
        logger.exception("Upload %s failed", upload_id)
        Upload.objects.filter(pk=upload_id, status=UploadStatus.RUNNING).update(
            status=UploadStatus.FAILED,
            finished_at=timezone.now(),
            message="Processing stopped on an unexpected error; nothing was changed. "
            "Please try again; if it fails again, contact PARS support.",
        )
        raise
    finally:
        _end_heartbeat()


def _process(upload_id: int) -> None:
    upload = Upload.objects.select_related("provider", "created_by").get(pk=upload_id)
    estimate = _estimate_rows(upload)
    _set_progress(upload_id, 0, estimate, 0)
    with transaction.atomic():
        _one_upload_at_a_time(upload.provider_id, upload_id)
        upload = Upload.objects.select_related("provider", "created_by").get(pk=upload_id)
        if upload.status != UploadStatus.RUNNING:
            return
        earlier = (
            Upload.objects.filter(
                provider=upload.provider_id,
                kind=upload.kind,
                sha256=upload.sha256,
                status=UploadStatus.SUCCEEDED,
            )
            .exclude(pk=upload.pk)
            .order_by("created_at")
            .first()
        )
        if earlier is not None:
            when = timezone.localtime(earlier.created_at)
            _finish(
                upload,
                UploadStatus.DUPLICATE,
                f"This file was already applied by upload #{earlier.pk} "
                f"({earlier.original_name}, {when:%Y-%m-%d %H:%M}); nothing was changed.",
                duplicate_of=earlier,
            )
            return
        try:
            access = _access_for(upload)
        except _NotAllowed:
            _finish(
                upload,
                UploadStatus.FAILED,
                "The person (or API key) that uploaded the file no longer has edit rights "
                "at this provider; nothing was changed.",
            )
            return
        run = UPLOAD_KINDS[upload.kind].new_run(upload, access, estimate)
        try:
            with transaction.atomic():
                _apply_file(run)
                if run.file_message or not run.rows_total or (run.error_count and not run.partial):
                    raise _Rollback
        except _Rollback:
            _finish_refused(run)
        else:
            if run.error_count:
                _finish_partly(run)
            else:
                _finish_applied(run)


def _one_upload_at_a_time(provider_pk: int, upload_id: int | None = None) -> None:
    """Serialize a provider's uploads until the transaction ends (PostgreSQL).

    Their writes and the duplicate check must not interleave. An advisory lock blocks
    nothing else (a row lock on the provider would hold up edits of its profile).
    SQLite needs none: it runs one writing transaction at a time. While it waits for
    the provider's previous upload, the job keeps renewing its own lease.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, provider_pk]
            )
            row = cursor.fetchone()
            if row is not None and row[0]:
                return
            if upload_id is not None:
                _beat(upload_id)
            time.sleep(0.2)


def _apply_file(run: FileRun) -> None:
    upload_id = run.upload.pk
    try:
        with UPLOAD_KINDS[run.upload.kind].open_rows(run.upload) as (layout, rows, stream):
            run.layout = layout
            for parsed in rows:
                run.take(parsed)
                if run.rows_total % BATCH_SIZE == 0:
                    estimate = run.estimate
                    if estimate is None and stream is not None and run.upload.size:
                        read = stream.tell()  # bytes consumed: a fair guess at the share done
                        if read > 0:
                            estimate = int(run.rows_total * run.upload.size / read)
                    _set_progress(upload_id, run.rows_total, estimate, run.error_count)
                    _beat(upload_id)
            run.flush()
    except FileRejected as rejected:
        run.file_message = rejected.message
    _set_progress(upload_id, run.rows_total, run.rows_total, run.error_count)


def _counts_text(run: FileRun) -> str:
    if run.partial:
        text = f"{run.added} added, {run.updated} corrected, {run.deleted} withdrawn"
        return text + (f", {run.unchanged} already in PARS" if run.unchanged else "")
    return f"{run.added} added, {run.updated} updated, {run.deleted} deleted"


def _finish_applied(run: FileRun) -> None:
    message = (
        f"Applied: {_counts_text(run)} ({run.rows_total} row{'s' if run.rows_total != 1 else ''})."
    )
    _finish(
        run.upload,
        UploadStatus.SUCCEEDED,
        message,
        layout=run.layout,
        rows_total=run.rows_total,
        added=run.added,
        updated=run.updated,
        deleted=run.deleted,
        unchanged=run.unchanged,
    )


def _finish_partly(run: FileRun) -> None:
    """A partial run with errors: the valid rows are in, the others are reported."""
    applied = run.rows_total - run.rejected
    if applied <= 0:
        message = (
            f"All {run.rows_total} rows have errors; nothing was applied. Fix the errors "
            "listed and upload the file again."
        )
        status = UploadStatus.REJECTED
    else:
        message = (
            f"Applied {applied} of {run.rows_total} rows ({_counts_text(run)}). "
            f"{run.rejected} row{'s' if run.rejected != 1 else ''} with errors "
            f"{'was' if run.rejected == 1 else 'were'} not applied: fix them and upload them "
            "again (uploading the whole corrected file is safe: rows already in PARS are "
            "recognised and not sent twice)."
        )
        status = UploadStatus.PARTIAL
    _store_errors(run)
    _finish(
        run.upload,
        status,
        message,
        layout=run.layout,
        rows_total=run.rows_total,
        added=run.added,
        updated=run.updated,
        deleted=run.deleted,
        unchanged=run.unchanged,
        rejected=run.rejected,
        error_count=run.error_count,
    )


def _store_errors(run: FileRun) -> None:
    UploadError.objects.bulk_create(
        (
            UploadError(
                provider=run.upload.provider,
                upload=run.upload,
                row=error.row,
                field=error.field[:100],
                rule=error.rule[:100],
                message=error.message,
            )
            for error in run.errors
        ),
        batch_size=1_000,
    )


def _finish_refused(run: FileRun) -> None:
    if run.file_message:
        message = f"The file could not be read: {run.file_message} Nothing was changed."
    elif not run.rows_total:
        message = f"The file contains no {run.noun} rows; nothing was changed."
    else:
        message = (
            f"{run.rejected} of {run.rows_total} row{'s' if run.rows_total != 1 else ''} "
            f"{'has' if run.rejected == 1 else 'have'} errors, so nothing in the file was "
            "applied. Fix every error listed and upload the whole file again."
        )
        hidden = run.error_count - len(run.errors)
        if hidden:
            message += (
                f" The report lists the first {len(run.errors):,} errors and {hidden:,} more."
            )
    _store_errors(run)
    _finish(
        run.upload,
        UploadStatus.REJECTED,
        message,
        layout=run.layout,
        rows_total=run.rows_total,
        rejected=run.rejected,
        error_count=run.error_count,
    )


def _finish(upload: Upload, status: str, message: str, **counts: Any) -> None:
    Upload.objects.filter(pk=upload.pk).update(
        status=status, message=message, finished_at=timezone.now(), **counts
    )


# ---------------------------------------------------------------------------
# Recovery: the job's lease, and what happens when a worker dies
#
# The rows of a file are written in one transaction, so a worker killed half-way (or
# whose database connection is cut) leaves no rows behind; only the Upload stays
# *running*. The job therefore holds a lease: it renews ``Upload.heartbeat_at`` while it
# works, from a second database connection outside the file's transaction (PostgreSQL;
# elsewhere the heartbeat goes to the shared cache). :func:`recover_stale_uploads`,
# run by every task worker when it starts and then every PARS_RECOVERY_INTERVAL_SECONDS
# (pars.jobs), at the start of every upload task, by ``manage.py recover_jobs`` (cron)
# and by ``manage.py deliver_completions``, puts a running upload whose lease ran out
# back in the queue, and the next run applies the file from scratch: the same data as a run
# that was never interrupted. After MAX_ATTEMPTS interrupted runs the upload fails with
# a clear message (a file that kills its worker every time must not loop forever).

_heartbeat = threading.local()


def heartbeat_key(upload_id: int) -> str:
    return f"upload-heartbeat:{upload_id}"


def lease_seconds() -> float:
    """How long a running upload may go without a heartbeat before it counts as lost."""
    return float(getattr(settings, "PARS_UPLOAD_LEASE_SECONDS", LEASE_SECONDS))


def _heartbeat_seconds() -> float:
    # At least three beats per lease, so a live run never looks lost (short test leases).
    return min(HEARTBEAT_SECONDS, lease_seconds() / 3)


def _beat(upload_id: int, *, force: bool = False) -> None:
    """Renew the running upload's lease (at most every few seconds)."""
    clock = time.monotonic()
    if not force and clock - getattr(_heartbeat, "last", 0.0) < _heartbeat_seconds():
        return
    _heartbeat.last = clock
    now = timezone.now()
    try:
        cache.set(heartbeat_key(upload_id), now.timestamp(), timeout=PROGRESS_TIMEOUT)
    except Exception:  # the database heartbeat below is the one that counts
        logger.debug("Upload %s: no cache heartbeat", upload_id, exc_info=True)
    if not connection.in_atomic_block:
        Upload.objects.filter(pk=upload_id, status=UploadStatus.RUNNING).update(heartbeat_at=now)
        return
    if connection.vendor != "postgresql":
        return  # SQLite: a second connection would wait for the file's write lock
    side = getattr(_heartbeat, "connection", None)
    try:
        if side is None:
            side = _heartbeat.connection = connections.create_connection(DEFAULT_DB_ALIAS)
        with side.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Upload._meta.db_table} SET heartbeat_at = %s "  # noqa: S608 (a model's table)
                "WHERE id = %s AND status = %s",
                [now, upload_id, UploadStatus.RUNNING.value],
            )
    except DatabaseError:
        # Not fatal: the lease may run out and the upload be resumed by recovery.
        logger.warning("Upload %s: heartbeat not recorded", upload_id, exc_info=True)
        _end_heartbeat()


def _end_heartbeat() -> None:
    side = getattr(_heartbeat, "connection", None)
    _heartbeat.connection = None
    _heartbeat.last = 0.0
    if side is not None:
        try:
            side.close()
        except DatabaseError:
            logger.debug("Heartbeat connection not closed cleanly", exc_info=True)


def _requeue_or_fail(
    upload_id: int, *, reason: str, heartbeat_at: Any = ..., enqueue: bool = True
) -> str | None:
    """Put an interrupted running upload back in the queue, or fail it after MAX_ATTEMPTS.

    ``heartbeat_at`` (when given) must still be the upload's heartbeat: a worker that
    renewed its lease meanwhile is alive and keeps its upload. Returns the new status,
    or None when the upload was not changed.
    """
    running = Upload.objects.filter(pk=upload_id, status=UploadStatus.RUNNING)
    if heartbeat_at is not ...:
        running = running.filter(
            Q(heartbeat_at__isnull=True) if heartbeat_at is None else Q(heartbeat_at=heartbeat_at)
        )
    now = timezone.now()
    exhausted = running.filter(attempts__gte=MAX_ATTEMPTS).update(
        status=UploadStatus.FAILED,
        finished_at=now,
        message=f"Processing was interrupted {MAX_ATTEMPTS} times ({reason}); nothing was "
        "changed. Please upload the file again; if it fails again, contact PARS support.",
    )
    if exhausted:
        logger.error("Upload %s failed: interrupted %s times", upload_id, MAX_ATTEMPTS)
        return UploadStatus.FAILED.value
    requeued = running.update(
        status=UploadStatus.QUEUED,
        heartbeat_at=now,
        message=f"Processing was interrupted ({reason}); nothing was changed. "
        "It starts again automatically.",
    )
    if not requeued:
        return None
    logger.warning("Upload %s interrupted (%s): queued again", upload_id, reason)
    cache.delete(progress_key(upload_id))
    if enqueue:
        queue_upload(Upload(pk=upload_id))
    return UploadStatus.QUEUED.value


@dataclass
class Recovery:
    """What :func:`recover_stale_uploads` did."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)  # queued uploads whose task was lost


def recover_stale_uploads(
    stale_seconds: float | None = None,
    *,
    queued_seconds: float = QUEUED_STALE_SECONDS,
    enqueue: bool = True,
) -> Recovery:
    """Resume uploads whose worker died; safe to run at any time, from any process.

    * *running* with a heartbeat older than ``stale_seconds`` (default: the lease,
      settings.PARS_UPLOAD_LEASE_SECONDS): queued again (its rolled-back run is repeated
      from the start), or failed after MAX_ATTEMPTS runs;
    * *queued* for longer than ``queued_seconds`` (the queue lost its task, e.g. the
      worker died between taking the task and claiming the upload): queued once more
      (a second task for it is harmless: only one run can claim it).

    Every change is a conditional UPDATE on what was read, so when two workers recover
    at once each upload is queued again by one of them only.
    """
    recovery = Recovery()
    now = timezone.now()
    cutoff = now - timedelta(seconds=lease_seconds() if stale_seconds is None else stale_seconds)
    stale = Upload.objects.filter(status=UploadStatus.RUNNING).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )
    for upload_id, heartbeat_at in stale.order_by("pk").values_list("pk", "heartbeat_at"):
        beat = cache.get(heartbeat_key(upload_id))
        if isinstance(beat, int | float) and beat >= cutoff.timestamp():
            continue  # alive, renewing through the cache (a database without a side line)
        outcome = _requeue_or_fail(
            upload_id,
            reason="the task worker stopped",
            heartbeat_at=heartbeat_at,
            enqueue=enqueue,
        )
        if outcome == UploadStatus.FAILED:
            recovery.failed.append(upload_id)
        elif outcome == UploadStatus.QUEUED:
            recovery.requeued.append(upload_id)
    queued_cutoff = now - timedelta(seconds=queued_seconds)
    lost_since = Q(heartbeat_at__lt=queued_cutoff) | Q(
        heartbeat_at__isnull=True, created_at__lt=queued_cutoff
    )
    lost = Upload.objects.filter(status=UploadStatus.QUEUED).filter(lost_since)
    for upload_id in lost.order_by("pk").values_list("pk", flat=True):
        # Marked, so the next recovery does not queue it again before queued_seconds; only
        # while still lost, so a recovery running beside this one does not queue it twice.
        marked = (
            Upload.objects.filter(pk=upload_id, status=UploadStatus.QUEUED)
            .filter(lost_since)
            .update(heartbeat_at=now)
        )
        if marked:
            recovery.resent.append(upload_id)
            if enqueue:
                queue_upload(Upload(pk=upload_id))
    return recovery
