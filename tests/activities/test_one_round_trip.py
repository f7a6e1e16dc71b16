"""A POST of a new activity outside any transaction, as a web server runs it (PostgreSQL,
issue 14): its transaction (the writers' hold, the write) goes to the database as one
pipeline, one round trip after the key's. What is stored, refused or
undone is what the other paths give: a stored activity is updated with its trail, a
closed year refuses and writes nothing, an error leaves nothing written and the
connection usable."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.db.utils import OperationalError
from django.test.utils import CaptureQueriesContext
from psycopg.pq import TransactionStatus

from pars.accounts import key_check
from pars.accounts.access import get_api_access
from pars.accounts.models import ApiKey
from pars.activities.models import Activity, ActivityChange
from pars.activities.services import apply_activities
from pars.activities.small_writes import _EVENT_FIELDS, _event
from pars.activities.validation import validate_activity
from pars.activities.year_lock import HOLD_EXCLUSIVELY_SQL
from pars.audit.models import AuditAction, AuditEvent
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import round_trips
from tests.activities.test_activity_api import Api, course
from tests.activities.test_api_statements import (  # the fixture too
    rate_limited,  # noqa: F401
    stamped,
    statements,
)
from tests.reporting.test_year_lock_hold import _raw_connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the pipelined write is PostgreSQL's"
    ),
    pytest.mark.usefixtures("rate_limited"),
]


def _post(api: Api, body: dict[str, Any]) -> tuple[Any, int, list[str]]:
    """The answer to a POST, its round trips and its statements."""
    answers: list[Any] = []
    with CaptureQueriesContext(connection) as queries:
        trips = round_trips(connection, lambda: answers.append(api.post(body)))
    return answers[0], trips, statements(queries)


def test_a_new_activity_is_one_round_trip_after_the_key(provider: Provider) -> None:
    """A key this process has not verified yet is checked on its own first."""
    api = Api(provider)
    stamped(api)
    key_check.forget_all()
    response, trips, ran = _post(api, course(provider_activity_id="ONE-1", title="In one"))
    assert response.status_code == 201, response.content
    assert trips == 2  # the key with its count; the whole write
    # One transaction, ended by the pipeline's Sync (no BEGIN or COMMIT sent).
    assert len(ran) == 3
    assert "pg_advisory_xact_lock_shared" in ran[1]
    assert ran[2].startswith("WITH closed AS")
    stored = Activity.objects.get(provider=provider, provider_activity_id="ONE-1")
    assert stored.title == "In one"
    assert response.json()["title"] == "In one"
    assert response.json()["accme_activity_id"] == stored.accme_activity_id
    event = AuditEvent.objects.get(provider=provider)
    assert stored.created_by_event_id == event.pk
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE


def test_a_post_of_a_stored_activity_updates_it_with_its_trail(provider: Provider) -> None:
    api = Api(provider)
    assert api.post(course(provider_activity_id="ONE-2")).status_code == 201
    response, trips, _ = _post(api, course(provider_activity_id="ONE-2", title="Renamed"))
    assert response.status_code == 200, response.content
    # The key's check with the write as new (nothing written); as any update: BEGIN, the
    # hold with the stored record, the write, COMMIT.
    assert trips == 5
    assert Activity.objects.get(provider_activity_id="ONE-2").title == "Renamed"
    assert AuditEvent.objects.filter(provider=provider).count() == 2  # no event for nothing
    (change,) = ActivityChange.objects.filter(provider=provider)
    assert change.changes["title"] == [course()["title"], "Renamed"]
    # Sent again unchanged: nothing written, no event.
    response, _, _ = _post(api, course(provider_activity_id="ONE-2", title="Renamed"))
    assert response.status_code == 200
    assert AuditEvent.objects.filter(provider=provider).count() == 2


def test_a_new_activity_in_a_closed_year_is_refused_and_nothing_written(
    provider: Provider,
) -> None:
    year = ReportingYear.objects.create(year=2026, deadline=datetime.date(2027, 3, 31))
    AnnualReport.objects.create(
        provider=provider, reporting_year=year, attested_at=datetime.datetime.now(tz=datetime.UTC)
    )
    response, _, _ = _post(Api(provider), course(provider_activity_id="ONE-3"))
    assert response.status_code == 400, response.content
    assert [error["rule"] for error in response.json()["errors"]] == [
        "activity.reporting_year.locked"
    ]
    assert not Activity.objects.filter(provider=provider).exists()
    assert not AuditEvent.objects.filter(provider=provider).exists()


def test_an_error_in_the_pipeline_undoes_it_and_leaves_the_connection_usable(
    provider: Provider,
) -> None:
    """The hold times out behind an attestation's: the error is raised as Django's, the
    transaction is rolled back, and the next write on the same connection works."""
    record, errors = validate_activity(course(provider_activity_id="ONE-4"))
    assert record is not None
    assert not errors
    access = get_api_access(provider)
    attester = _raw_connection()
    try:
        attester.execute(HOLD_EXCLUSIVELY_SQL, [provider.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '100ms'")
        with pytest.raises(OperationalError):
            apply_activities(access, [(None, record)], channel="api", expect_new=True)
        assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    finally:
        attester.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert not Activity.objects.filter(provider=provider).exists()
    assert not AuditEvent.objects.filter(provider=provider).exists()
    result = apply_activities(access, [(None, record)], channel="api", expect_new=True)
    assert not result.errors
    assert Activity.objects.filter(provider=provider, provider_activity_id="ONE-4").exists()


def test_the_write_runs_inside_the_holds_transaction(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No BEGIN is sent: the hold and the write are one transaction because they go
    before one Sync. The write's statement, swapped here for one that counts this
    session's advisory locks, still sees the hold; after the Sync it is gone."""
    from pars.activities import small_writes
    from pars.activities.services import BatchResult

    counted = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND pid = pg_backend_pid() AND %s"
    )
    monkeypatch.setattr(small_writes, "_one_statement", lambda *a, **k: (counted, [True]))
    record, errors = validate_activity(course(provider_activity_id="ONE-5"))
    assert record is not None
    assert not errors
    # The count is the answer's last column, read as "stored already" unless 0 (then the
    # statement's one column is read as a written row, and fails).
    answer = small_writes.add_in_one_round_trip(
        get_api_access(provider), [(None, record)], "api", BatchResult()
    )
    assert answer is None
    with connection.cursor() as cursor:
        cursor.execute(counted, [True])
        assert cursor.fetchone() == (0,)  # released with the transaction, at the Sync


def test_a_new_id_stored_meanwhile_by_another_request_is_updated_with_its_trail(
    provider: Provider,
) -> None:
    """Another request's INSERT of the same ID is not committed when this POST counts the
    stored IDs (none), and is when the POST's INSERT meets it: the POST's transaction is
    rolled back at its Sync, its audit event with it, and the activity is written as an
    update, trail and all. (With an upsert there, the event was committed with no
    activity, and the request failed.) Found by a review."""
    import threading

    from django.db import connections, transaction

    from pars.testing import make_activity
    from tests.reporting.test_year_lock_hold import _until_waiting

    api = Api(provider)
    stamped(api)
    inserted, release = threading.Event(), threading.Event()

    def other_request() -> None:
        try:
            with transaction.atomic():
                make_activity(provider, provider_activity_id="RACE-1", title="First")
                inserted.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    answers: list[Any] = []

    def post() -> None:
        try:
            answers.append(api.post(course(provider_activity_id="RACE-1", title="Second")))
        finally:
            connections.close_all()

    first = threading.Thread(target=other_request)
    first.start()
    assert inserted.wait(timeout=30)
    second = threading.Thread(target=post)
    second.start()
    _until_waiting(1)  # the POST's INSERT waits for the other one's
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    (answer,) = answers
    assert answer.status_code == 200, answer.content
    stored = Activity.objects.get(provider=provider, provider_activity_id="RACE-1")
    assert stored.title == "Second"
    assert AuditEvent.objects.filter(provider=provider).count() == 1  # no event left over
    (change,) = ActivityChange.objects.filter(provider=provider)
    assert change.changes["title"] == ["First", "Second"]


def test_the_single_write_gives_every_column_of_its_audit_event_a_value(
    provider: Provider,
) -> None:
    event = _event(get_api_access(provider), "api")
    assert set(event) == {field.name for field in _EVENT_FIELDS}


def test_the_single_write_stores_its_audit_event_as_the_orm_would(provider: Provider) -> None:
    api = Api(provider)
    before = datetime.datetime.now(datetime.UTC)
    assert api.post(course(provider_activity_id="EV-1")).status_code == 201
    activity = Activity.objects.get(provider=provider, provider_activity_id="EV-1")
    assert activity.created_by_event_id is not None
    event = AuditEvent.objects.get(pk=activity.created_by_event_id)
    assert (event.provider_id, event.action, event.channel) == (
        provider.pk,
        AuditAction.ACTIVITIES_WRITTEN,
        "api",
    )
    assert event.api_key_id == ApiKey.objects.get(provider=provider).pk
    assert event.user_id is None
    assert event.reporting_year is None
    assert (event.description, event.details) == ("", {})
    assert before <= event.at <= datetime.datetime.now(datetime.UTC)
