"""A file's batches written from a second thread while the next rows are checked
(pars/intake/background.py, PostgreSQL): the file is still one transaction, all or
nothing, the job's thread never uses the connection while a batch is being written,
and a writer that fails ends the job instead of hanging it.

On SQLite the same files go through the sequential path and the same outcomes hold."""

from __future__ import annotations

import faulthandler
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities import uploads
from pars.activities.models import Activity, CommercialSupport
from pars.intake import runs
from pars.intake.models import Upload, UploadError, UploadPolicy, UploadStatus
from pars.intake.store import store_upload
from pars.lib.prepared_rows import checked_at_once
from pars.providers.models import Provider
from pars.testing import make_activity
from tests.support.faults import IS_POSTGRESQL

HEADER = [
    "Action",
    "Provider Activity ID",
    "Activity Title",
    "Activity Format",
    "Start Date",
    "End Date",
]


def _tsv(count: int, bad: frozenset[int] = frozenset()) -> bytes:
    lines = ["\t".join(HEADER)]
    for number in range(1, count + 1):
        fmt = "Webinar" if number in bad else "Course"
        lines.append(f"\tBG-{number}\tGrand Rounds {number}\t{fmt}\t03/01/2026\t03/02/2026")
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.fixture(autouse=True)
def _small_batches(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PARS_UPLOAD_WRITE_BEHIND = True  # off by default; these tests are about it
    cache.clear()
    monkeypatch.setattr(runs, "BATCH_SIZE", 3)  # several batches in a small file
    # A hang (a connection waited on by both threads) ends the run with a traceback
    # instead of holding the session.
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _upload(provider: Provider, user: User, content: bytes, **kwargs: Any) -> Upload:
    access = get_provider_access(user, provider.provider_id)
    return store_upload(access, SimpleUploadedFile("file.txt", content), **kwargs)


def _writes_in(
    monkeypatch: pytest.MonkeyPatch, pause: float = 0.0
) -> list[tuple[str, float, float]]:
    """Each batch write's thread and (start, end) times; `pause` makes each one slow
    (after its statements: the write is still in the writer's hands)."""
    real = uploads.apply_activities
    writes: list[tuple[str, float, float]] = []

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return real(*args, **kwargs)
        finally:
            time.sleep(pause)
            writes.append((threading.current_thread().name, started, time.monotonic()))

    monkeypatch.setattr(uploads, "apply_activities", timed)
    return writes


@pytest.mark.parametrize("write_behind", [True, False])
def test_a_file_of_many_batches_is_applied_whole_with_its_counts(
    provider: Provider,
    editor: User,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    write_behind: bool,
) -> None:
    settings.PARS_UPLOAD_WRITE_BEHIND = write_behind
    make_activity(provider, provider_activity_id="BG-2", title="Old title")
    writes = _writes_in(monkeypatch)
    upload = _upload(provider, editor, _tsv(10))
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    assert (upload.rows_total, upload.added, upload.updated) == (10, 9, 1)
    assert Activity.objects.filter(provider=provider).count() == 10
    assert Activity.objects.get(provider_activity_id="BG-2").title == "Grand Rounds 2"
    assert len(writes) == 4  # batches of 3, 3, 3 and 1
    threads = {name for name, _, _ in writes}
    if connection.vendor == "postgresql" and write_behind:
        assert all(name.startswith("pars-batch-writer") for name in threads)
    else:
        assert threads == {threading.current_thread().name}


def test_an_error_after_batches_were_written_applies_nothing(
    provider: Provider, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = _writes_in(monkeypatch)
    upload = _upload(provider, editor, _tsv(10, bad=frozenset({9})))
    assert upload.status == UploadStatus.REJECTED
    if connection.vendor == "postgresql":
        assert len(writes) == 2  # written until the error (then rolled back), then checked
    assert not Activity.objects.filter(provider=provider).exists()
    assert list(UploadError.objects.values_list("row", "field")) == [(10, "activity_format")]


def test_the_valid_rows_are_kept_when_the_uploader_asked_for_it(
    provider: Provider, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    _writes_in(monkeypatch, pause=0.02)
    upload = _upload(provider, editor, _tsv(10, bad=frozenset({2, 9})), policy=UploadPolicy.PARTIAL)
    assert upload.status == UploadStatus.PARTIAL, upload.message
    assert (upload.added, upload.rejected) == (8, 2)
    assert Activity.objects.filter(provider=provider).count() == 8
    assert list(UploadError.objects.order_by("row").values_list("row", flat=True)) == [3, 10]


def test_the_job_never_uses_the_connection_while_a_batch_is_written(
    provider: Provider, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row's check runs a statement here (as a Learner Counts row reads its stored
    activity): each waits for the batch in the writer's hands."""
    writes = _writes_in(monkeypatch, pause=0.05)
    statements: list[float] = []
    real_validate = uploads.validate_activity

    def validate_with_a_query(*args: Any, **kwargs: Any) -> Any:
        Activity.objects.filter(provider=provider).exists()
        statements.append(time.monotonic())
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(uploads, "validate_activity", validate_with_a_query)
    upload = _upload(provider, editor, _tsv(10))
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    assert len(statements) == 10
    # A statement that ran beside a write would end inside it (a write takes 50 ms).
    for ended in statements:
        for _, write_started, write_ended in writes:
            assert not write_started < ended < write_ended


@pytest.mark.django_db(transaction=True)
def test_a_writer_that_loses_the_database_ends_the_run_and_the_file_is_applied_once(
    provider: Provider, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = uploads.apply_activities
    calls: list[int] = []

    def lose_the_database(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(uploads, "apply_activities", lose_the_database)
    _upload(provider, editor, _tsv(10))
    upload = Upload.objects.get()
    # Interrupted by the database: nothing of the first run stays, and the run that
    # recovery queues again (at once, in the tests) applies the file once.
    assert len(calls) == 2 + 4
    assert (upload.status, upload.attempts, upload.added) == (UploadStatus.SUCCEEDED, 2, 10)
    assert Activity.objects.filter(provider=provider).count() == 10


@pytest.mark.skipif(not IS_POSTGRESQL, reason="PostgreSQL's deferred foreign keys")
def test_a_copy_checks_its_foreign_keys_as_it_ends_and_they_are_deferred_again_after(
    provider: Provider,
) -> None:
    """A file's COPY finds a row pointing nowhere at once (not at the COMMIT), and every
    other statement of the transaction keeps Django's deferred checks."""
    table = CommercialSupport._meta.db_table
    orphan = {"provider": provider, "activity_id": 10**9, "position": 1, "source": "Pharma"}
    with transaction.atomic(), connection.cursor() as cursor:
        with (
            pytest.raises(IntegrityError),
            transaction.atomic(),
            checked_at_once(cursor, table),
        ):
            CommercialSupport.objects.create(**orphan)
        created = []
        with pytest.raises(IntegrityError), transaction.atomic():  # noqa: PT012
            created.append(CommercialSupport.objects.create(**orphan))  # deferred: no error
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the check, as the COMMIT does
        assert len(created) == 1
