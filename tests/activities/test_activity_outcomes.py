"""What became of each activity of a batch, told by the writer as it writes (the upsert's
RETURNING, the IDs it looked up): the same outcomes through the writer, the JSON channel
(201 or 200, with no query to ask whether the activity existed) and a file (counted)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from pars.accounts.access import ProviderAccess, get_api_access
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.activities.services import BatchResult, apply_activities, save_activity
from pars.activities.validation import CleanActivity, validate_activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.outcomes import RecordOutcome
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.testing import make_activity, register


@pytest.fixture
def access(provider: Provider) -> ProviderAccess:
    return get_api_access(provider, create_api_key(provider=provider)[0])


def draft(activity_id: str, **values: Any) -> dict[str, Any]:
    return {
        "provider_activity_id": activity_id,
        "title": "Cardiology update",
        "activity_format": "course",
        "start_date": "2026-03-01",
        "end_date": "2026-03-02",
        **values,
    }


def clean(raw: dict[str, Any]) -> CleanActivity:
    record, errors = validate_activity(raw)
    assert not errors, errors
    assert record is not None
    return record


def write(access: ProviderAccess, *rows: dict[str, Any]) -> BatchResult:
    """The rows through the writer, numbered from 2 as a file numbers them."""
    records: list[tuple[int | None, CleanActivity]] = [
        (number, clean(raw)) for number, raw in enumerate(rows, start=2)
    ]
    return apply_activities(access, records, channel="api")


def seen(outcome: RecordOutcome) -> tuple[Any, ...]:
    return (outcome.row, outcome.key, outcome.outcome, outcome.id)


def pk(provider: Provider, activity_id: str) -> int:
    return Activity.objects.get(provider=provider, provider_activity_id=activity_id).pk


# ---------------------------------------------------------------------------
# The writer


def test_the_writer_tells_each_activitys_outcome(
    provider: Provider, access: ProviderAccess
) -> None:
    make_activity(provider, provider_activity_id="OLD")
    make_activity(provider, provider_activity_id="GONE")
    gone = pk(provider, "GONE")
    result = write(
        access,
        draft("NEW"),
        draft("OLD", title="Renamed"),
        {"action": "Delete", "provider_activity_id": "GONE"},
    )
    assert result.errors == []
    assert sorted(seen(outcome) for outcome in result.outcomes) == [
        (2, "NEW", "added", pk(provider, "NEW")),
        (3, "OLD", "updated", pk(provider, "OLD")),
        (4, "GONE", "deleted", gone),
    ]
    assert (result.added, result.updated, result.deleted) == (1, 1, 1)
    assert {outcome.category for outcome in result.outcomes} == {"added", "updated", "withdrawn"}
    assert not Activity.objects.filter(pk=gone).exists()


def test_an_activity_sent_again_unchanged_is_unchanged_and_not_rewritten(
    provider: Provider, access: ProviderAccess
) -> None:
    first = write(access, draft("SAME"))
    again = write(access, draft("SAME"))
    assert [seen(outcome) for outcome in first.outcomes] == [(2, "SAME", "added", ANY_PK)]
    assert [seen(outcome) for outcome in again.outcomes] == [
        (2, "SAME", "unchanged", first.outcomes[0].id)
    ]
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)


class _AnyPk:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, int)


ANY_PK: Any = _AnyPk()


def test_refused_deletes_are_rejected_and_nothing_is_written(
    provider: Provider, access: ProviderAccess
) -> None:
    kept = make_activity(provider, provider_activity_id="KEPT")
    register(kept, "ABIM")  # a registration keeps its activity
    result = write(
        access,
        draft("NEW"),
        {"action": "Delete", "provider_activity_id": "NOT-THERE"},
        {"action": "Delete", "provider_activity_id": "KEPT"},
    )
    assert [seen(outcome) for outcome in result.outcomes] == [
        (3, "NOT-THERE", "rejected", None),
        (4, "KEPT", "rejected", None),
    ]
    assert [(error.row, error.rule) for error in result.errors] == [
        (3, "activity.provider_activity_id.unknown"),
        (4, "activity.delete.has_learner_records"),
    ]
    assert result.rejected_rows == 2
    assert (result.added, result.updated, result.deleted) == (0, 0, 0)
    assert not Activity.objects.filter(provider_activity_id="NEW").exists()


# ---------------------------------------------------------------------------
# The JSON channel


def _client(provider: Provider) -> Client:
    _, secret = create_api_key(provider=provider)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def post(client: Client, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/activities", json.dumps(body), content_type="application/json")


def test_the_json_channel_answers_201_for_added_and_200_for_updated(provider: Provider) -> None:
    client = _client(provider)
    created = post(client, draft("J-1"))
    assert created.status_code == 201
    assert created["Location"] == "/api/v1/activities/J-1"
    assert post(client, draft("J-1")).status_code == 200
    put = client.put(
        "/api/v1/activities/J-2", json.dumps(draft("J-2")), content_type="application/json"
    )
    assert put.status_code == 201
    put = client.put(
        "/api/v1/activities/J-2",
        json.dumps(draft("J-2", title="Renamed")),
        content_type="application/json",
    )
    assert put.status_code == 200
    assert put.json()["title"] == "Renamed"


class _Undo(Exception):
    pass


def _activity_statements(queries: list[dict[str, str]]) -> list[str]:
    """The statements that read or write the table itself (not through a join)."""
    table = re.compile(rf'\b(FROM|INTO|UPDATE)\s+"?{Activity._meta.db_table}\b')
    return [query["sql"] for query in queries if table.search(query["sql"])]


@pytest.mark.parametrize("existing", [False, True])
def test_the_json_channel_reads_the_activities_only_as_the_writer_does(
    provider: Provider, access: ProviderAccess, existing: bool
) -> None:
    """No query asks whether the activity existed: 201 or 200 is the writer's outcome, so
    the request touches the activity table exactly as saving the activity alone does."""
    if existing:
        make_activity(provider, provider_activity_id="Q-1")
    client = _client(provider)
    with CaptureQueriesContext(connection) as direct:
        try:
            with transaction.atomic():
                save_activity(access, clean(draft("Q-1")), channel="api")
                raise _Undo
        except _Undo:
            pass
    with CaptureQueriesContext(connection) as api:
        response = post(client, draft("Q-1"))
    assert response.status_code == (200 if existing else 201)
    direct_statements = _activity_statements(direct.captured_queries)
    assert direct_statements
    # No more than saving alone (on PostgreSQL one fewer: the answer is the row written,
    # not read back).
    assert len(_activity_statements(api.captured_queries)) <= len(direct_statements)


# ---------------------------------------------------------------------------
# A file

HEADER = [
    "Action",
    "Provider Activity ID",
    "Activity Title",
    "Activity Format",
    "Start Date",
    "End Date",
]


def tsv(*rows: list[str]) -> bytes:
    return "".join("\t".join(cells) + "\r\n" for cells in (HEADER, *rows)).encode()


def row(activity_id: str, title: str = "Cardiology update") -> list[str]:
    return ["", activity_id, title, "Course", "03/01/2026", "03/02/2026"]


def upload(settings: Any, tmp_path: Any, access: ProviderAccess, content: bytes) -> Upload:
    settings.MEDIA_ROOT = tmp_path / "media"
    stored = store_upload(access, SimpleUploadedFile("activities.txt", content), via_api=True)
    return Upload.objects.get(pk=stored.pk)


def counts(upload: Upload) -> tuple[Any, ...]:
    return (
        upload.status,
        upload.rows_total,
        upload.added,
        upload.updated,
        upload.deleted,
        upload.unchanged,
        upload.rejected,
    )


def test_a_file_counts_the_same_outcomes(
    settings: Any, tmp_path: Any, provider: Provider, access: ProviderAccess
) -> None:
    make_activity(provider, provider_activity_id="OLD")
    make_activity(provider, provider_activity_id="GONE")
    content = tsv(
        row("NEW"),
        row("OLD", "Renamed"),
        row("SAME-AS-STORED"),
        ["Delete", "GONE", "", "", "", ""],
    )
    make_activity(provider, provider_activity_id="SAME-AS-STORED", title="Cardiology update")
    done = upload(settings, tmp_path, access, content)
    assert counts(done) == (UploadStatus.SUCCEEDED, 4, 1, 1, 1, 1, 0)
    assert done.message.startswith(
        "Applied: 1 added, 1 updated, 1 deleted, 1 unchanged (4 rows)."
    )  # then what its drafts lack


def test_a_file_with_a_repeated_id_is_rejected(
    settings: Any, tmp_path: Any, provider: Provider, access: ProviderAccess
) -> None:
    content = tsv(row("DUP"), row("DUP", "Again"), row("OTHER"))
    done = upload(settings, tmp_path, access, content)
    assert counts(done) == (UploadStatus.REJECTED, 3, 0, 0, 0, 0, 1)
    assert [(e.row, e.rule) for e in done.errors.all()] == [
        (3, "activity.provider_activity_id.duplicate_in_file")
    ]
    assert not Activity.objects.filter(provider=provider).exists()
