"""The web service's round trips (issue 14): a POST or PUT of one activity, and a list
page, run a pinned number of SQL statements, and what they answer is what a GET reads
back; the key's lookup and its rate-limit count are one statement on PostgreSQL, and a
revoked key is refused at once."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_django import Settings

from pars.accounts import key_check
from pars.accounts.services import create_api_key, revoke_api_key
from pars.activities.models import Activity, ActivityChange, CommercialSupport
from pars.activities.year_lock import HOLD_EXCLUSIVELY_SQL, HOLD_FOR_WRITING_SQL
from pars.audit.models import AuditEvent
from pars.models import RateLimitCounter
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import make_activity, round_trips
from tests.activities.test_activity_api import Api, course, rules

pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement paths are PostgreSQL's"
)
MIDDLEWARE = "pars.accounts.ratelimit.RateLimitMiddleware"


@pytest.fixture
def rate_limited(settings: Settings) -> None:
    """The project's middleware with the rate limiter on (the suite turns it off)."""
    if MIDDLEWARE not in settings.MIDDLEWARE:
        at = settings.MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware")
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE[: at + 1],
            MIDDLEWARE,
            *settings.MIDDLEWARE[at + 1 :],
        ]
    settings.RATELIMIT_ENABLE = True
    settings.PARS_API_RATE = "1000/m"


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements a request ran, without the test's own savepoints."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]


def stamped(api: Api) -> None:
    assert api.get().status_code == 200  # the key's first use stamps it (once a minute)


# ---------------------------------------------------------------------------
# Statement counts (before: POST 10 and PUT of a change 14, then 4; list 5 then 3, with
# rate limits)


@postgresql_only
@pytest.mark.usefixtures("rate_limited")
@pytest.mark.parametrize("existing", [False, True], ids=["added", "updated"])
def test_one_write_is_two_round_trips_and_an_update_three(
    provider: Provider, existing: bool
) -> None:
    api = Api(provider)
    stamped(api)
    if existing:
        assert api.post(course(provider_activity_id="P-1")).status_code == 201
    answers: list[Any] = []

    def put() -> None:
        answers.append(
            api.put(
                "P-1",
                course(title="Renamed", supporters=[{"source": "New Co", "monetary_amount": 100}]),
            )
        )

    with CaptureQueriesContext(connection) as queries:
        trips = round_trips(connection, put)
    (response,) = answers
    assert response.status_code == (200 if existing else 201), response.content
    ran = statements(queries)
    # The key with its rate-limit count; then, sent together, the provider held for
    # writing with the stored record, and the write as if the activity were new (which
    # writes nothing when it is stored); for an update, its write. Each write reads the
    # closed years itself and writes everything in one statement.
    assert len(ran) == (4 if existing else 3), "\n".join(sql[:90] for sql in ran)
    assert ran[0].startswith("WITH k AS")  # the key and its count
    assert "pg_advisory_xact_lock_shared" in ran[1]
    assert all(sql.startswith("WITH closed AS") for sql in ran[2:])
    assert "INSERT INTO audit_auditevent" in ran[-1]
    # Outside a test's transaction a BEGIN goes before them and a COMMIT follows (a POST
    # outside any transaction sends neither: tests/activities/test_one_round_trip.py).
    assert trips == (3 if existing else 2)
    assert AuditEvent.objects.filter(provider=provider).count() == (2 if existing else 1)


@postgresql_only
@pytest.mark.usefixtures("rate_limited")
def test_a_list_page_is_two_statements(provider: Provider) -> None:
    api = Api(provider)
    for n in range(5):
        make_activity(provider, provider_activity_id=f"L-{n}")
    supported = make_activity(
        provider, provider_activity_id="L-0-S", commercial_support_received=True
    )
    for position, source in ((2, "A Co"), (1, "B Co")):  # stored out of their order
        CommercialSupport.objects.create(
            provider=provider, activity=supported, position=position, source=source
        )
    stamped(api)
    with CaptureQueriesContext(connection) as queries:
        response = api.get(limit=3)
    assert response.status_code == 200
    assert response["X-Total-Count"] == "6"
    # The key with its count; the page with the total and each activity's supporters.
    assert len(statements(queries)) == 2, "\n".join(sql[:90] for sql in statements(queries))
    page = response.json()
    assert [item["provider_activity_id"] for item in page] == ["L-0", "L-0-S", "L-1"]
    assert page[1] == read_back(api, "L-0-S")
    assert [s["source"] for s in page[1]["supporters"]] == ["B Co", "A Co"]  # by position
    assert page[0]["supporters"] == []


def test_an_empty_page_still_counts_them_all(provider: Provider) -> None:
    api = Api(provider)
    for n in range(3):
        make_activity(provider, provider_activity_id=f"L-{n}")
    response = api.get(offset=10)
    assert response.json() == []
    assert response["X-Total-Count"] == "3"


# ---------------------------------------------------------------------------
# The answer written is the answer read


def read_back(api: Api, activity_id: str) -> dict[str, Any]:
    response = api.get(f"/{activity_id}")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"supporters": []},
        {
            "supporters": [
                {
                    "source": "Other Co",
                    "in_kind": True,
                    "in_kind_types": ["durable_equipment"],
                    "in_kind_description": "Units",
                }
            ]
        },
        {"ama_credits": 1.25, "title": "  Spaced  "},
        {"status": "draft", "physician_learners": None, "description": ""},
    ],
    ids=["same", "no supporters", "other supporter", "numbers and text", "draft"],
)
def test_a_write_answers_what_get_reads(provider: Provider, changes: dict[str, Any]) -> None:
    api = Api(provider)
    first = api.post(course(provider_activity_id="RB-1"))
    assert first.status_code == 201
    assert first.json() == read_back(api, "RB-1")
    second = api.put("RB-1", course(**changes))
    assert second.status_code == 200, second.content
    assert second.json() == read_back(api, "RB-1")


def test_an_update_keeps_its_audit_trail(provider: Provider) -> None:
    api = Api(provider)
    assert api.post(course(provider_activity_id="AU-1")).status_code == 201
    created = Activity.objects.get(provider_activity_id="AU-1")
    events = AuditEvent.objects.count()
    response = api.put(
        "AU-1", course(title="Renamed", supporters=[{"source": "New Co", "monetary_amount": 100}])
    )
    assert response.status_code == 200
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("pk")
    assert (event.action, event.channel, event.api_key is not None) == (
        "activities.written",
        "api",
        True,
    )
    (change,) = ActivityChange.objects.filter(event=event)
    assert change.changes["title"] == ["Cardiology Update", "Renamed"]
    assert change.changes["supporters"][1] == [
        {
            "source": "New Co",
            "monetary_amount": 100,
            "in_kind": False,
            "in_kind_types": [],
            "in_kind_description": "",
        }
    ]
    updated = Activity.objects.get(pk=created.pk)
    assert updated.created_by_event_id == created.created_by_event_id  # an update keeps it
    assert list(
        CommercialSupport.objects.filter(activity=updated).values_list("source", "position")
    ) == [("New Co", 1)]
    # The same again: unchanged, nothing written, no event.
    again = api.put(
        "AU-1", course(title="Renamed", supporters=[{"source": "New Co", "monetary_amount": 100}])
    )
    assert again.status_code == 200
    assert again.json() == response.json()
    assert AuditEvent.objects.count() == events + 1


def test_a_new_activity_points_at_the_event_that_created_it(provider: Provider) -> None:
    api = Api(provider)
    assert api.post(course(provider_activity_id="EV-1")).status_code == 201
    activity = Activity.objects.get(provider_activity_id="EV-1")
    assert activity.created_by_event_id is not None
    event = AuditEvent.objects.get(pk=activity.created_by_event_id)
    assert (event.provider_id, event.action) == (provider.pk, "activities.written")
    assert not ActivityChange.objects.filter(event=event).exists()


def test_a_closed_year_is_refused_with_every_other_problem(provider: Provider) -> None:
    AnnualReport.objects.create(
        provider=provider,
        reporting_year=ReportingYear.objects.create(year=2026, deadline=datetime.date(2027, 3, 31)),
        attested_at=datetime.datetime(2027, 2, 1, tzinfo=datetime.UTC),
    )
    api = Api(provider)
    alone = api.post(course(provider_activity_id="CY-1"))
    assert alone.status_code == 400
    assert rules(alone) == ["activity.reporting_year.locked"]
    with_more = api.post(course(provider_activity_id="CY-2", title=""))
    assert with_more.status_code == 400
    assert "activity.reporting_year.locked" in rules(with_more)
    assert len(rules(with_more)) > 1
    assert not Activity.objects.filter(provider=provider).exists()


def test_a_write_out_of_a_closed_year_changes_nothing_and_makes_no_event(
    provider: Provider,
) -> None:
    """The one write's statement reads the closed years among the record's year and its
    stored year: moving an activity out of an attested year is refused, nothing written."""
    api = Api(provider)
    dates_2025 = {"start_date": "2025-03-01", "end_date": "2025-03-02"}
    assert api.post(course(provider_activity_id="MV-1", **dates_2025)).status_code == 201
    AnnualReport.objects.create(
        provider=provider,
        reporting_year=ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31)),
        attested_at=datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC),
    )
    events = AuditEvent.objects.count()
    moved = api.put("MV-1", course(title="Moved to 2026"))
    assert moved.status_code == 400, moved.content
    assert rules(moved) == ["activity.reporting_year.locked"]
    assert "2025 annual report" in moved.json()["errors"][0]["message"]
    stored = Activity.objects.get(provider=provider, provider_activity_id="MV-1")
    assert (stored.reporting_year, stored.title) == (2025, course()["title"])
    assert AuditEvent.objects.count() == events  # no event for a write that did not happen
    # The open year is still written, in the same one statement.
    assert api.put("MV-2", course(title="New in 2026")).status_code == 201


# ---------------------------------------------------------------------------
# The key and its count in one statement: revocation still works at once


@pytest.mark.usefixtures("rate_limited")
def test_a_revoked_key_stops_working_at_once(provider: Provider) -> None:
    key, secret = create_api_key(provider=provider)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/activities").status_code == 200
    assert client.get("/api/v1/activities").status_code == 200
    revoke_api_key(key)
    assert client.get("/api/v1/activities").status_code == 401
    assert (
        client.post("/api/v1/activities", course(), content_type="application/json").status_code
        == 401
    )


@pytest.mark.usefixtures("rate_limited")
def test_a_wrong_secret_with_a_real_prefix_is_refused_and_not_counted_for_the_key(
    provider: Provider,
) -> None:
    _, secret = create_api_key(provider=provider)
    wrong = Client(HTTP_AUTHORIZATION=f"Bearer {secret[:-3]}xyz")
    assert wrong.get("/api/v1/activities").status_code == 401
    right = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert right.get("/api/v1/activities").status_code == 200
    # One count for the key (the right call), one for the address (the wrong one).
    assert RateLimitCounter.objects.count() == 2
    assert sorted(RateLimitCounter.objects.values_list("count", flat=True)) == [1, 1]


@pytest.mark.usefixtures("rate_limited")
def test_the_key_acts_for_its_own_provider(provider: Provider, other_provider: Provider) -> None:
    make_activity(other_provider, provider_activity_id="THEIRS")
    api = Api(provider)
    assert api.get("/THEIRS").status_code == 404
    assert api.get().json() == []


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_single_write_holds_the_provider_against_an_attestation(provider: Provider) -> None:
    """The one-statement path takes the provider's shared lock as every writer does:
    an attestation (which takes it exclusively) waits until the write commits."""
    import psycopg
    from django.db import transaction

    from pars.accounts.access import get_api_access
    from pars.activities.services import write_record
    from pars.activities.validation import validate_activity

    record, errors = validate_activity(course(provider_activity_id="LK-1"))
    assert record is not None
    assert not errors
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
    )
    attest_now = HOLD_EXCLUSIVELY_SQL.replace("pg_advisory_xact_lock", "pg_try_advisory_xact_lock")
    try:
        with transaction.atomic():
            write_record(get_api_access(provider), record, channel="api")
            assert other.execute(attest_now, [provider.pk]).fetchone() == (False,)
            other.rollback()
            # Other writers share the hold; the provider's row itself is not locked.
            shared = HOLD_FOR_WRITING_SQL.replace("pg_advisory", "pg_try_advisory")
            assert other.execute(shared, [provider.pk]).fetchone() == (True,)
            other.rollback()
            assert other.execute(
                "SELECT 1 FROM providers_provider WHERE id = %s FOR UPDATE NOWAIT", [provider.pk]
            ).fetchone() == (1,)
            other.rollback()
        assert other.execute(attest_now, [provider.pk]).fetchone() == (True,)  # committed
    finally:
        other.close()


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("rate_limited")
def test_the_rate_limit_count_alone_skips_the_disk_wait_and_the_write_does_not(
    provider: Provider,
) -> None:
    """The key's count commits without waiting for the disk (a fsync per request saved);
    the activity's write, in its own transaction after it, still waits for it."""
    api = Api(provider)
    stamped(api)
    settings_seen: dict[str, str] = {}

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        result = execute(sql, params, many, context)
        if sql.startswith(("WITH k AS", "WITH closed AS")):
            with context["connection"].connection.cursor() as raw:  # no wrapper, same session
                raw.execute("SHOW synchronous_commit")
                settings_seen["key" if sql.startswith("WITH k AS") else "write"] = raw.fetchone()[0]
        return result

    key_check.forget_all()  # the key checked on its own, not with the write
    with connection.execute_wrapper(spy), CaptureQueriesContext(connection) as queries:
        assert api.post(course(provider_activity_id="SC-1")).status_code == 201
    assert "set_config('synchronous_commit', 'off', true)" in statements(queries)[0]
    # Off for the count's own transaction alone (it ended with the statement): on for the
    # write and for what the connection runs after the count.
    assert settings_seen == {"key": "on", "write": "on"}
    assert RateLimitCounter.objects.get().count == 2  # both requests counted
    assert Activity.objects.filter(provider_activity_id="SC-1").exists()


@postgresql_only
@pytest.mark.usefixtures("rate_limited")
def test_the_statements_every_write_runs_are_prepared_on_their_connection(
    provider: Provider,
) -> None:
    """The key with its count, a single write's hold with its stored record, and the write
    itself, are parsed and planned once per connection (psycopg prepares them after its
    threshold), and answer as before."""
    api = Api(provider)
    for n in range(7):
        assert api.post(course(provider_activity_id=f"PR-{n}")).status_code == 201
    assert api.put("PR-0", course(title="Renamed")).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert [s for s in prepared if s.startswith("WITH k AS")], prepared
    assert [s for s in prepared if "pg_advisory_xact_lock_shared" in s], prepared
    assert [s for s in prepared if s.startswith("WITH closed AS")], prepared
    assert read_back(api, "PR-0")["title"] == "Renamed"
    assert RateLimitCounter.objects.get().count == 9


@postgresql_only
@pytest.mark.usefixtures("rate_limited")
def test_the_long_write_statement_is_split_at_its_placeholders_once(provider: Provider) -> None:
    """psycopg remembers how a statement's text splits at its placeholders only up to a
    length, which a single write's statement (70 columns) passes: PARS raises it, so that
    writes after the first reuse the split (about 0.4 ms of each write)."""
    from psycopg import _queries

    api = Api(provider)
    assert api.post(course(provider_activity_id="SPLIT-0")).status_code == 201
    before = _queries._query2pg.cache_info()
    for n in range(1, 4):
        assert api.post(course(provider_activity_id=f"SPLIT-{n}")).status_code == 201
    after = _queries._query2pg.cache_info()
    assert after.misses == before.misses  # every statement of these writes was remembered
    assert after.hits - before.hits >= 3 * 3  # key+count, hold+stored and the write, each time


@postgresql_only
@pytest.mark.usefixtures("rate_limited")
@pytest.mark.parametrize("existing", [False, True], ids=["added", "updated"])
def test_without_pipelines_a_write_sends_its_statements_one_by_one(
    provider: Provider, existing: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a libpq older than 14 (no pipeline mode): the hold with the stored record, then
    the write, each its own round trip; the same activity stored."""
    from pars.lib import prepared

    monkeypatch.setattr(prepared, "pipelines", lambda: False)
    api = Api(provider)
    stamped(api)
    if existing:
        assert api.post(course(provider_activity_id="NP-1")).status_code == 201
    answers: list[Any] = []
    with CaptureQueriesContext(connection) as queries:
        trips = round_trips(
            connection,
            lambda: answers.append(api.post(course(provider_activity_id="NP-1", title="Plain"))),
        )
    assert answers[0].status_code == (200 if existing else 201), answers[0].content
    ran = statements(queries)
    assert len(ran) == 3
    assert trips == 3
    assert "pg_advisory_xact_lock_shared" in ran[1]
    assert read_back(api, "NP-1")["title"] == "Plain"


@postgresql_only
@pytest.mark.parametrize("kept", [60, 0], ids=["kept", "per-request"])
def test_kept_connections_plan_prepared_statements_once(kept: int) -> None:
    """A connection that is kept sets plan_cache_mode as it opens (its prepared statements
    get one generic plan); one opened per request does not (it never prepares)."""
    from django.db import connections

    fresh = connections.create_connection("default")
    fresh.settings_dict = {**fresh.settings_dict, "CONN_MAX_AGE": kept}
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SHOW plan_cache_mode")
            (mode,) = cursor.fetchone()
    finally:
        fresh.close()
    assert mode == ("force_generic_plan" if kept else "auto")
