"""A big batch's COPY left to PostgreSQL while the upload job reads on (copy_behind.py):
the same rows stored as a COPY run at once, and a COPY that fails fails the file."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.learners.models import LearnerCompletion
from pars.learners.services import COPY_THRESHOLD, CompletionResult, apply_completions
from pars.learners.services import insert as insert_module
from pars.learners.services.copy_behind import copy_behind
from pars.learners.validation import CleanCompletion, load_recipients, validate_completion
from pars.testing import learner_row

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="COPY is PostgreSQL's (SQLite inserts at once)"
)

# What a stored record holds besides its id and the moment it was written.
_KEPT = [
    field.attname
    for field in LearnerCompletion._meta.concrete_fields
    if field.attname
    not in ("id", "created_at", "updated_at", "status_changed_at", "created_by_event_id")
]


def copy_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every COPY behind refused by PostgreSQL as it reads the rows (version -1 breaks a
    check constraint): the error comes with the COPY's answer, in the COPY's thread."""

    def refused(sql: str, text: str, table: str) -> None:
        copy_behind(sql, text.replace("\t1\tf\t", "\t-1\tf\t"), table)

    monkeypatch.setattr(insert_module, "copy_behind", refused)


def records(activity: Activity, count: int) -> list[tuple[int | None, CleanCompletion]]:
    recipients = load_recipients()
    out: list[tuple[int | None, CleanCompletion]] = []
    for number in range(count):
        raw = learner_row(activity, learner_id=f"{number:06d}")
        record, errors = validate_completion(raw, recipients=recipients)
        assert record is not None, errors
        out.append((number + 2, record))
    return out


def stored() -> list[tuple[Any, ...]]:
    return sorted(LearnerCompletion.objects.values_list(*_KEPT))


def test_a_batch_copied_behind_stores_what_a_copy_at_once_stores(
    access: ProviderAccess, activity: Activity
) -> None:
    batch = records(activity, COPY_THRESHOLD + 10)
    answers: dict[bool, tuple[CompletionResult, list[tuple[Any, ...]]]] = {}
    for behind in (False, True):
        with transaction.atomic():
            result = apply_completions(access, batch, channel="tsv", copy_behind=behind)
            answers[behind] = (result, stored())  # the query waits for the COPY
            transaction.set_rollback(True)
    (at_once, rows_at_once), (behind_result, rows_behind) = answers[False], answers[True]
    assert len(rows_behind) == COPY_THRESHOLD + 10
    assert rows_behind == rows_at_once
    assert behind_result.outcomes == at_once.outcomes


def test_a_copy_that_fails_behind_raises_at_the_next_statement(
    access: ProviderAccess, activity: Activity, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_refused(monkeypatch)
    wrappers = list(connection.execute_wrappers)
    with transaction.atomic():
        # The writer returns: the COPY is still on its way.
        result = apply_completions(
            access, records(activity, COPY_THRESHOLD), channel="tsv", copy_behind=True
        )
        assert result.added == COPY_THRESHOLD
        with pytest.raises(psycopg.errors.CheckViolation):
            LearnerCompletion.objects.count()
        transaction.set_rollback(True)
    assert connection.execute_wrappers == wrappers  # nothing left waiting on the connection


def test_an_upload_whose_copy_fails_behind_fails_and_applies_nothing(
    settings: Any,
    tmp_path: Any,
    access: ProviderAccess,
    activity: Activity,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    copy_refused(monkeypatch)
    labels = ["Provider Activity ID", "Recipient", "First Name", "Last Name"]
    labels += ["Birth Month and Day", "Learner ID", "Completion Date", "MOC Points"]
    lines = ["\t".join(labels)]
    for number in range(COPY_THRESHOLD):
        row = learner_row(activity, learner_id=f"{number:06d}")
        lines.append(
            "\t".join(
                [
                    row["provider_activity_id"],
                    row["recipient"],
                    row["first_name"],
                    row["last_name"],
                    row["birth_date"],
                    row["learner_id"],
                    row["completion_date"],
                    str(row.get("moc_points", "")),
                ]
            )
        )
    content = ("\r\n".join(lines) + "\r\n").encode()
    upload = store_upload(
        access, SimpleUploadedFile("learners.txt", content), kind="learners", via_api=True
    )
    upload = Upload.objects.get(pk=upload.pk)
    assert upload.status == UploadStatus.FAILED, upload.message
    assert not LearnerCompletion.objects.exists()
