"""What became of each completion of a batch, told by the writer as it writes: the same
outcomes through the writer, the JSON batch (record by record) and a file (counted), and
no snapshot queries around the write."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pars.accounts.access import ProviderAccess
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.outcomes import RecordOutcome
from pars.intake.store import store_upload
from pars.learners.models import CompletionStatus, LearnerCompletion
from pars.learners.services import COPY_THRESHOLD, CompletionResult, apply_completions
from pars.learners.validation import CleanCompletion, load_recipients, validate_completion
from pars.providers.models import Provider
from pars.testing import as_json_record, learner_row, make_activity


@pytest.fixture
def unregistered(provider: Provider) -> Activity:
    return make_activity(provider, provider_activity_id="GR-9")


def clean(raw: dict[str, Any]) -> CleanCompletion:
    record, errors = validate_completion(raw, recipients=load_recipients())
    assert record is not None, errors
    return record


def write(access: ProviderAccess, *rows: dict[str, Any], **options: Any) -> CompletionResult:
    """The rows through the writer, numbered from 2 as a file numbers them."""
    records: list[tuple[int | None, CleanCompletion]] = [
        (number, clean(raw)) for number, raw in enumerate(rows, start=2)
    ]
    return apply_completions(access, records, channel="api", **options)


def stored(learner_id: str) -> LearnerCompletion:
    return LearnerCompletion.objects.get(learner_id=learner_id)


def seen(outcome: RecordOutcome) -> tuple[Any, ...]:
    return (outcome.outcome, outcome.id, outcome.version, outcome.status)


def as_stored(outcome: str, learner_id: str) -> tuple[Any, ...]:
    completion = stored(learner_id)
    return (outcome, completion.pk, completion.version, completion.status)


# Learners in the batches below, one per outcome.
SAME, CHANGED, WITHDRAW, BACK, NEW, STRANGER, UNKNOWN = (
    "100001",
    "100002",
    "100003",
    "100004",
    "100005",
    "100006",
    "100007",
)


@pytest.fixture
def stored_records(access: ProviderAccess, activity: Activity) -> None:
    """Four stored records: one to send again, one to correct, one to withdraw, and one
    withdrawn, to resubmit."""
    write(access, *(learner_row(activity, learner_id=key) for key in (SAME, CHANGED, WITHDRAW)))
    write(access, learner_row(activity, learner_id=BACK))
    write(access, learner_row(activity, learner_id=BACK, action="delete"))
    assert stored(BACK).status == CompletionStatus.WITHDRAWN


def mixed_rows(activity: Activity, unregistered: Activity) -> list[dict[str, Any]]:
    """One record of each outcome, in the order of EXPECTED."""
    return [
        learner_row(activity, learner_id=SAME),
        learner_row(activity, learner_id=CHANGED, cme_credits="8"),
        learner_row(activity, learner_id=WITHDRAW, action="delete"),
        learner_row(activity, learner_id=BACK),
        learner_row(activity, learner_id=NEW),
        learner_row(activity, learner_id=NEW),  # the same record twice in the batch
        learner_row(unregistered, learner_id=STRANGER),
        learner_row(activity, learner_id=UNKNOWN, action="delete"),
    ]


# ---------------------------------------------------------------------------
# The writer


def test_the_writer_tells_each_records_outcome_as_it_writes(
    access: ProviderAccess, activity: Activity, unregistered: Activity, stored_records: None
) -> None:
    result = write(access, *mixed_rows(activity, unregistered))
    by_row = result.by_row()
    assert set(by_row) == set(range(2, 10))
    assert seen(by_row[2]) == as_stored("unchanged", SAME)
    assert seen(by_row[3]) == as_stored("corrected", CHANGED)
    assert by_row[3].version == 2
    assert seen(by_row[4]) == as_stored("withdrawn", WITHDRAW)
    assert (by_row[4].version, by_row[4].status) == (2, "withdrawn")  # never sent
    assert seen(by_row[5]) == as_stored("resubmitted", BACK)
    assert (by_row[5].version, by_row[5].status) == (3, "queued")
    assert seen(by_row[6]) == as_stored("added", NEW)
    assert (by_row[6].version, by_row[6].status) == (1, "queued")
    # The same record again in one batch: written once, the repeat changes nothing.
    assert seen(by_row[7]) == as_stored("unchanged", NEW)
    assert seen(by_row[8]) == ("rejected", None, None, "")
    assert seen(by_row[9]) == ("rejected", None, None, "")
    assert by_row[6].key == clean(learner_row(activity, learner_id=NEW)).identity()
    assert by_row[8].key == clean(learner_row(unregistered, learner_id=STRANGER)).identity()
    assert {(error.row, error.rule) for error in result.errors} == {
        (8, "learner.activity.not_registered"),
        (9, "learner.record.not_found"),
    }
    # The counts derive from the outcomes.
    assert (result.added, result.corrected, result.unchanged, result.withdrawn) == (1, 2, 2, 1)
    assert result.rejected_rows == 2
    assert LearnerCompletion.objects.count() == 5


@pytest.mark.parametrize("big", [False, True])
def test_counted_outcomes_are_the_outcomes_counts(
    access: ProviderAccess,
    activity: Activity,
    unregistered: Activity,
    stored_records: None,
    big: bool,
) -> None:
    """The upload job's writer counts the new records (outcomes=False) as their outcomes
    would count them, repeats in the batch included; every other outcome is kept."""
    rows = mixed_rows(activity, unregistered)
    if big:  # through COPY on PostgreSQL
        rows += [learner_row(activity, learner_id=f"9{n:05d}") for n in range(COPY_THRESHOLD)]
    answers: dict[bool, CompletionResult] = {}
    for each in (True, False):
        with transaction.atomic():
            answers[each] = write(access, *rows, outcomes=each)
            transaction.set_rollback(True)
    every, counted = answers[True], answers[False]
    assert (counted.added, counted.corrected, counted.unchanged, counted.withdrawn) == (
        every.added,
        every.corrected,
        every.unchanged,
        every.withdrawn,
    )
    assert counted.added == 1 + COPY_THRESHOLD * big
    assert counted.unchanged == 2  # one stored, one repeated in the batch
    assert (counted.rejected_rows, counted.errors) == (every.rejected_rows, every.errors)
    assert (counted.recipients, counted.changed_ids) == (every.recipients, every.changed_ids)
    repeat = 7  # the second NEW (mixed_rows)
    assert {outcome.row: seen(outcome) for outcome in counted.outcomes} == {
        outcome.row: seen(outcome)
        for outcome in every.outcomes
        if outcome.outcome != "added" and outcome.row != repeat
    }


def test_sending_a_withdrawal_again_is_unchanged(
    access: ProviderAccess, activity: Activity, stored_records: None
) -> None:
    result = write(access, learner_row(activity, learner_id=BACK, action="delete"))
    assert [seen(outcome) for outcome in result.outcomes] == [as_stored("unchanged", BACK)]
    assert result.unchanged == 1


@pytest.mark.parametrize("use_copy", [True, False])
def test_a_big_insert_reports_every_record_added(
    access: ProviderAccess, activity: Activity, use_copy: bool
) -> None:
    rows = [learner_row(activity, learner_id=f"{n:06d}") for n in range(COPY_THRESHOLD)]
    result = write(access, *rows, use_copy=use_copy)
    assert result.added == COPY_THRESHOLD
    assert {outcome.outcome for outcome in result.outcomes} == {"added"}
    ids = {outcome.id for outcome in result.outcomes}
    if use_copy and connection.vendor == "postgresql":
        assert ids == {None}  # COPY reads no ids back
    else:
        assert ids == set(LearnerCompletion.objects.values_list("pk", flat=True))


# ---------------------------------------------------------------------------
# The JSON batch


def report(provider: Provider, records: list[dict[str, Any]]) -> Any:
    _, secret = create_api_key(provider=provider)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.post(
        "/api/v1/learner-completions", json.dumps(records), content_type="application/json"
    )


def test_the_json_batch_answers_each_records_outcome(
    provider: Provider, activity: Activity, unregistered: Activity, stored_records: None
) -> None:
    response = report(provider, [as_json_record(raw) for raw in mixed_rows(activity, unregistered)])
    assert response.status_code == 200, response.content
    body = response.json()
    results = body["results"]
    assert [(r["status"], r["outcome"]) for r in results] == [
        ("unchanged", "unchanged"),
        ("accepted", "corrected"),
        ("accepted", "withdrawn"),
        ("accepted", "resubmitted"),
        ("accepted", "added"),
        ("rejected", "rejected"),
        ("rejected", "rejected"),
        ("rejected", "rejected"),
    ]
    for result, learner_id in zip(results, (SAME, CHANGED, WITHDRAW, BACK, NEW), strict=False):
        completion = stored(learner_id)
        assert (result["id"], result["version"], result["completion_status"]) == (
            completion.pk,
            completion.version,
            completion.status,
        )
        assert result["url"] == f"/api/v1/learner-completions/{completion.pk}"
    assert [[e["rule"] for e in r["errors"]] for r in results[5:]] == [
        ["learner.record.duplicate_in_file"],
        ["learner.activity.not_registered"],
        ["learner.record.not_found"],
    ]
    assert body["counts"] == {
        "received": 8,
        "accepted": 4,
        "unchanged": 1,
        "rejected": 3,
        "added": 1,
        "corrected": 2,
        "withdrawn": 1,
    }


def _completion_statements(queries: list[dict[str, str]]) -> list[str]:
    """The statements that read or write the table itself (not through a join)."""
    table = re.compile(rf'\b(FROM|INTO|UPDATE)\s+"?{LearnerCompletion._meta.db_table}\b')
    return [query["sql"] for query in queries if table.search(query["sql"])]


class _Undo(Exception):
    pass


def test_the_json_batch_reads_the_completions_only_as_the_writer_does(
    provider: Provider,
    access: ProviderAccess,
    activity: Activity,
    unregistered: Activity,
    stored_records: None,
) -> None:
    """No snapshot of the stored records before and after the write: the answer comes from
    the writer's outcomes, so the request touches the completion table exactly as the
    writer alone does for the same records."""
    rows = mixed_rows(activity, unregistered)
    del rows[5]  # the JSON batch refuses the repeat before the writer sees it
    with CaptureQueriesContext(connection) as direct:
        try:
            with transaction.atomic():
                write(access, *rows, recipients=load_recipients())
                raise _Undo
        except _Undo:
            pass
    with CaptureQueriesContext(connection) as api:
        response = report(provider, [as_json_record(raw) for raw in rows])
    assert response.status_code == 200
    assert [r["outcome"] for r in response.json()["results"]][:5] == [
        "unchanged",
        "corrected",
        "withdrawn",
        "resubmitted",
        "added",
    ]
    direct_statements = _completion_statements(direct.captured_queries)
    assert direct_statements  # the writer reads (and writes) the table
    assert len(_completion_statements(api.captured_queries)) == len(direct_statements)


# ---------------------------------------------------------------------------
# A file

_LABELS = {
    "action": "Action",
    "provider_activity_id": "Provider Activity ID",
    "recipient": "Recipient",
    "first_name": "First Name",
    "last_name": "Last Name",
    "birth_date": "Birth Month and Day",
    "learner_id": "Learner ID",
    "completion_date": "Completion Date",
    "cme_credits": "CME Credits",
    "moc_points": "MOC Points",
    "moc_credit_types": "MOC Credit Types",
}


def learner_file(rows: list[dict[str, Any]]) -> bytes:
    lines = ["\t".join(_LABELS.values())]
    lines += ["\t".join(str(row.get(name, "")) for name in _LABELS) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_a_file_counts_the_same_outcomes(
    settings: Any,
    tmp_path: Any,
    access: ProviderAccess,
    activity: Activity,
    unregistered: Activity,
    stored_records: None,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    content = learner_file(mixed_rows(activity, unregistered))
    upload = store_upload(
        access, SimpleUploadedFile("learners.txt", content), kind="learners", via_api=True
    )
    upload = Upload.objects.get(pk=upload.pk)
    assert upload.status == UploadStatus.PARTIAL, upload.message
    assert (
        upload.rows_total,
        upload.added,
        upload.updated,
        upload.deleted,
        upload.unchanged,
        upload.rejected,
    ) == (8, 1, 2, 1, 1, 3)
    assert "(1 added, 2 corrected, 1 withdrawn, 1 already in PARS)" in upload.message
    assert stored(CHANGED).version == 2
    assert stored(BACK).status == CompletionStatus.QUEUED
    assert stored(WITHDRAW).status == CompletionStatus.WITHDRAWN
