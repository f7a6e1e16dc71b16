"""The upload job: read a stored batch file, check every row, apply it, report.

The policy, as the upload pages and the web service describe it:

* **All or nothing** (activity files). A file changes PARS only if every row in it is
  valid. One invalid row and nothing in the file is applied; the error report lists
  every problem found (the first 10,000 are kept, with a count of the rest), so the
  whole file can be fixed and uploaded again. Kinds whose runs are ``partial``
  (learner files), and activity files whose uploader chose it (``Upload.policy``
  *partial*: "apply the valid rows and report the others"), apply their valid rows and
  report the others.
* **A failure commits nothing.** The whole file is written inside one database
  transaction; an unexpected error or a worker that dies half-way leaves no partial
  changes behind. A run cut off that way is repeated from the start: the job renews a
  lease while it works, and recovery (recover.py) queues an upload whose lease ran out
  again (three interrupted runs and it fails with a message).
* **The same file twice is a no-op.** A file whose SHA-256 equals that of an earlier
  upload of the same provider and kind that was applied is marked *duplicate* and
  changes nothing; the result names the earlier upload. A file that was rejected (or
  applied in part) is no duplicate: it may be sent again, say with the other policy.
* **Processing is idempotent.** The job claims its upload by moving it from *queued* to
  *running*; a second run of the same job (queues deliver at least once) finds it
  claimed or finished and does nothing. A provider's uploads are applied one at a time.

What a row is and how it is written is the kind's (kinds.py): ``pars.activities.uploads``
and ``pars.learners.uploads`` register theirs.
"""

from __future__ import annotations

import gc
import logging
import pickle
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from pars.accounts.access import ProviderAccess, get_api_access, get_provider_access, system_access
from pars.intake import dry_run as dry_runs
from pars.intake.background import batch_writer
from pars.intake.kinds import BATCH_SIZE, UPLOAD_KINDS, FileRun
from pars.intake.models import Channel, Upload, UploadError, UploadStatus
from pars.intake.outcomes import BatchOutcomes
from pars.intake.progress import beat, end_heartbeat, lease_renewed, set_progress
from pars.intake.readers import FileRejected
from pars.intake.recover import requeue_or_fail
from pars.intake.runs import RecordRow, RecordRun
from pars.intake.store import open_stored

logger = logging.getLogger(__name__)

_LOCK_NAMESPACE = 0x50415253  # "PARS": first key of the advisory lock per provider


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
        open_stored(upload) as stored,  # the storage API: the file may be on another machine
        zipfile.ZipFile(stored) as archive,
        archive.open("xl/worksheets/sheet1.xml") as sheet,
    ):
        match = _DIMENSION.search(sheet.read(4096))
    if match is None:
        return None
    return max(int(match.group(1)) - 1, 0) or None  # less the header row


class _Rollback(Exception):
    """Undo the file's writes (it has errors, or it was refused) and keep the report."""


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
    lease_renewed()  # the claim wrote the first heartbeat
    try:
        _process(upload_id)
    except _CONNECTION_ERRORS:
        # The database went away (restart, fail-over, a killed backend): the file's
        # transaction is rolled back, so the run is simply repeated (or given up).
        logger.exception("Upload %s interrupted by a database error", upload_id)
        try:
            requeue_or_fail(upload_id, reason="the database connection was lost")
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
        end_heartbeat()


def _process(upload_id: int) -> None:
    upload = Upload.objects.select_related("provider", "created_by").get(pk=upload_id)
    estimate = _estimate_rows(upload)
    set_progress(upload_id, 0, estimate, 0)
    if connection.vendor == "postgresql":
        # MVCC: readers never wait for the file's transaction, so it reads, checks and
        # writes in one pass (the fastest way through big files).
        with transaction.atomic():
            ready = _ready_to_apply(upload_id, upload.provider_id)
            if ready is not None:
                run = UPLOAD_KINDS[ready[0].kind].new_run(*ready, estimate)
                _write(run, lambda: _apply_file(run))
        return
    _check_then_write(upload_id, upload.provider_id, estimate)


def _check_then_write(upload_id: int, provider_pk: int, estimate: int | None) -> None:
    """SQLite: one writer at a time, so the file is read and checked first with no write
    lock held (WAL lets the job read while the web app reads and writes), its checked
    records kept in a temporary file; then they are written in one short transaction,
    all or nothing as before. A worker that dies in between has written nothing."""
    with transaction.atomic():  # short: finishes a duplicate or a refused file at once
        ready = _ready_to_apply(upload_id, provider_pk)
    if ready is None:
        return
    run = UPLOAD_KINDS[ready[0].kind].new_run(*ready, estimate)
    if not isinstance(run, RecordRun):  # a kind that cannot set its records aside
        with transaction.atomic():
            if _ready_to_apply(upload_id, provider_pk) is not None:
                _write(run, lambda: _apply_file(run))
        return
    with _CheckedRecords(run) as checked:
        _apply_file(run)  # reads and checks: nothing is written yet
        with transaction.atomic():
            # Checked again under the write lock: the uploader's rights, an earlier copy.
            if _ready_to_apply(upload_id, provider_pk) is not None:
                _write(run, checked.write)


def _ready_to_apply(upload_id: int, provider_pk: int) -> tuple[Upload, ProviderAccess] | None:
    """The running upload and its uploader's access, or None when there is nothing to
    apply: processed meanwhile, a duplicate of an applied file, or an uploader who lost
    edit rights (those two are finished here)."""
    _one_upload_at_a_time(provider_pk, upload_id)
    upload = Upload.objects.select_related("provider", "created_by").get(pk=upload_id)
    if upload.status != UploadStatus.RUNNING:
        return None
    earlier = (
        system_access(upload.provider)
        .records(Upload)
        .filter(
            kind=upload.kind,
            sha256=upload.sha256,
            status=UploadStatus.SUCCEEDED,
            dry_run=False,  # a file only checked was not applied
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
            f"This file was already applied by {earlier.title.lower()} "
            f"({earlier.original_name}, {when:%m/%d/%Y %H:%M}); nothing was changed.",
            duplicate_of=earlier,
        )
        return None
    try:
        return upload, _access_for(upload)
    except _NotAllowed:
        _finish(
            upload,
            UploadStatus.FAILED,
            "The person (or API key) that uploaded the file no longer has edit rights "
            "at this provider; nothing was changed.",
        )
        return None


def _write(run: FileRun, apply: Callable[[], None]) -> None:
    """Apply the file's rows (`apply`) and finish the upload, in the caller's transaction:
    a file with errors (unless its valid rows are kept) or none is rolled back."""
    try:
        with transaction.atomic():
            apply()
            if run.file_message or not run.rows_total or (run.error_count and not run.keeps_valid):
                raise _Rollback
            if run.upload.dry_run:  # checked only: the run's result, none of its writes
                raise _DryRun
    except _Rollback:
        _finish_refused(run)
    except _DryRun:
        _finish_done(run)
    else:
        _finish_done(run)
        run.applied()
    if run.upload.dry_run:
        _audit_dry_run(run)


def _audit_dry_run(run: FileRun) -> None:
    """A file only checked is on the trail as a dry run (its rows' event was undone)."""
    upload = run.upload
    dry_runs.audit(
        run.access,
        channel=upload.file_format,
        description=f"{upload.title} ({upload.original_name}) checked (dry run): "
        "nothing was changed.",
        details={"upload": upload.pk, "rows": run.rows_total, "errors": run.error_count},
    )


class _DryRun(Exception):  # not an error: how a dry run undoes its writes
    """Undo a dry run's writes (see pars.intake.dry_run), keeping its result."""


# What a dry run's message starts with; the rest is what the real run would say.
DRY_RUN_MESSAGE = "Checked only (dry run): nothing was changed. Uploaded for real: "


def _finish_done(run: FileRun) -> None:
    """Finish an upload whose rows were written (or, in a dry run, written and undone)."""
    if run.error_count:
        _finish_partly(run)
    else:
        _finish_applied(run)


class _CheckedRecords:
    """Sets a run's checked records aside in a temporary file (a big file's records do
    not fit in memory), batch by batch as the run hands them to its writer, and later
    hands the same batches to the writer (:meth:`write`)."""

    def __init__(self, run: RecordRun[Any]) -> None:
        self.run = run
        self.file: IO[bytes] = tempfile.TemporaryFile(prefix="pars-upload-")  # noqa: SIM115

    def __enter__(self) -> _CheckedRecords:
        # Until write(), the run's batches come here instead of to its writer.
        self.run.flush = self._keep  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        vars(self.run).pop("flush", None)
        self.file.close()

    def _keep(self) -> None:
        if self.run.batch:
            # A RecordRow goes as its number and parsed row (it cannot be pickled).
            batch = [
                (int(row), row.parsed, record)
                if isinstance(row, RecordRow)
                else (row, None, record)
                for row, record in self.run.batch
            ]
            pickle.dump(batch, self.file, protocol=pickle.HIGHEST_PROTOCOL)
            self.run.batch = []

    def write(self) -> None:
        """Hand the batches to the run's writer, as a one-pass run does."""
        run = self.run
        vars(run).pop("flush", None)
        self.file.seek(0)
        while True:
            try:
                batch = pickle.load(self.file)  # noqa: S301 (our own file, written above)
            except EOFError:
                break
            run.rows = {row: parsed for row, parsed, _ in batch if parsed is not None}
            run.batch = [
                (row if parsed is None else RecordRow(row, parsed), record)
                for row, parsed, record in batch
            ]
            run.flush()
            beat(run.upload.pk)


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
                beat(upload_id)
            time.sleep(0.2)


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """While a file is read, the heap that was there before it is set aside from the
    cyclic garbage collector's full passes (gc.freeze): a big file makes thousands of
    young objects, and each full pass would walk the whole of Django again, several
    times per 100,000 rows. Its passes are made rarer too: a row's objects are freed by
    reference counting once its batch is written, not by the collector, which would
    otherwise walk the batch being checked over and over (some 8% of an activity job)."""
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(*(max(now, rarer) for now, rarer in zip(thresholds, _FILE_GC, strict=False)))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


# The collector's thresholds while a file is read (Python's defaults: 2,000, 10, 10).
_FILE_GC = (50_000, 50, 100)


def _apply_file(run: FileRun) -> None:
    upload_id = run.upload.pk
    try:
        opened = UPLOAD_KINDS[run.upload.kind].open_rows(run.upload, run.notices)
        with _frozen_heap(), opened as (layout, rows, stream), _writing_behind(run):
            run.layout = layout
            for parsed in rows:
                run.take(parsed)
                if run.rows_total % BATCH_SIZE == 0:
                    estimate = run.estimate
                    if estimate is None and stream is not None and run.upload.size:
                        read = stream.tell()  # bytes consumed: a fair guess at the share done
                        if read > 0:
                            estimate = int(run.rows_total * run.upload.size / read)
                    set_progress(upload_id, run.rows_total, estimate, run.error_count)
                    beat(upload_id)
            run.flush()
    except FileRejected as rejected:
        run.file_message = rejected.message
    set_progress(upload_id, run.rows_total, run.rows_total, run.error_count)


def _writing_behind(run: FileRun) -> AbstractContextManager[None]:
    """PostgreSQL: the run's batches are written in a second thread, on the job's
    connection and in its transaction, while the next rows are read and checked
    (background.py); settled before the file's transaction ends. SQLite checks the whole
    file before it writes (_check_then_write), so there is nothing to overlap; and
    settings.PARS_UPLOAD_WRITE_BEHIND off keeps the writes in the job's thread."""
    if connection.vendor != "postgresql" or not settings.PARS_UPLOAD_WRITE_BEHIND:
        return nullcontext()
    return batch_writer(run, expected=(FileRejected,))


def tally(run: FileRun, result: BatchOutcomes) -> None:
    """Count a batch of the file from its writer's outcomes (the ones the JSON endpoints
    answer with, record by record), and report its errors."""
    run.added += result.added
    run.updated += result.updated  # corrected or resubmitted, for learners
    run.deleted += result.withdrawn  # deleted, for activities
    run.unchanged += result.unchanged
    run.rejected += result.rejected_rows
    run.report(result.errors)


def _counts_text(run: FileRun) -> str:
    if run.partial:
        text = f"{run.added} added, {run.updated} corrected, {run.deleted} withdrawn"
        return text + (f", {run.unchanged} already in PARS" if run.unchanged else "")
    text = f"{run.added} added, {run.updated} updated, {run.deleted} deleted"
    return text + (f", {run.unchanged} unchanged" if run.unchanged else "")


def _finish_applied(run: FileRun) -> None:
    message = (
        f"Applied: {_counts_text(run)} ({run.rows_total} row{'s' if run.rows_total != 1 else ''})."
        + _drafts_text(run)
    )
    _finish(
        run.upload,
        UploadStatus.SUCCEEDED,
        message,
        layout=run.layout,
        notices=_notices(run),
        rows_total=run.rows_total,
        added=run.added,
        updated=run.updated,
        deleted=run.deleted,
        unchanged=run.unchanged,
    )


def _drafts_text(run: FileRun) -> str:
    """ " 2 rows are Drafts: to become Active they lack Fee (rows 2, 3); …", per field."""
    if not run.drafts:
        return ""
    # "are", not "saved as": a row already in PARS as it is (unchanged) is one too.
    text = f" {run.drafts} row{' is a Draft' if run.drafts == 1 else 's are Drafts'}"
    if not run.draft_needs:
        return text + " (as the file asked)."
    lacks = []
    for label, (count, rows) in run.draft_needs.items():
        shown = ", ".join(str(row) for row in rows)
        more = f" and {count - len(rows)} more" if count > len(rows) else ""
        where = f" (row{'s' if count != 1 else ''} {shown}{more})" if rows else ""
        lacks.append(f"{label}{where}")
    return text + ": to become Active they lack " + "; ".join(lacks) + "."


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
            "recognized and not sent twice)."
        ) + _drafts_text(run)
        status = UploadStatus.PARTIAL
    _store_errors(run)
    _finish(
        run.upload,
        status,
        message,
        layout=run.layout,
        notices=_notices(run),
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
                row=reported.error.row,
                record=reported.record,
                column=reported.column,
                field=reported.error.field[:100],
                rule=reported.error.rule[:100],
                message=reported.error.message,
            )
            for reported in run.errors
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
        notices=_notices(run),
        rows_total=run.rows_total,
        rejected=run.rejected,
        error_count=run.error_count,
    )


def _finish(upload: Upload, status: str, message: str, **counts: Any) -> None:
    if upload.dry_run:
        message = DRY_RUN_MESSAGE + message
    finished = Upload.objects.filter(pk=upload.pk)
    finished.update(status=status, message=message, finished_at=timezone.now(), **counts)
    # The uploader's wait ends when the file's transaction commits, not before: set the
    # time again then (the status and counts commit with the rows, all or nothing).
    transaction.on_commit(lambda: finished.update(finished_at=timezone.now()))


def _notices(run: FileRun) -> list[str]:
    # In the order found, each once (a reader may say the same thing per sheet or part).
    return list(dict.fromkeys(run.notices))
