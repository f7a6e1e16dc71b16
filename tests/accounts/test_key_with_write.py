"""The key check of a new activity's POST sent with its write (pars.accounts.key_check,
PostgreSQL): one round trip in all, and a key that is no longer good gets exactly what it
got before (401, 429), with nothing written."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from pars.accounts import key_check
from pars.accounts.models import ApiKey
from pars.accounts.services import create_api_key, revoke_api_key
from pars.activities.models import Activity
from pars.activities.year_lock import HOLD_EXCLUSIVELY_SQL
from pars.audit.models import AuditEvent
from pars.models import RateLimitCounter
from pars.providers.models import Provider
from pars.testing import make_provider, round_trips
from tests.activities.test_activity_api import Api, course
from tests.activities.test_api_statements import (  # the fixture too
    rate_limited,  # noqa: F401
    stamped,
    statements,
)
from tests.support.plans import analyze, explain_generic, quadratic_reads

key_check_function = importlib.import_module("pars.accounts.migrations.0005_api_key_check_function")

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's pipeline"),
    pytest.mark.usefixtures("rate_limited"),
]


def _post(api: Api, body: Any, **headers: str) -> tuple[Any, int, list[str]]:
    answers: list[Any] = []
    with CaptureQueriesContext(connection) as queries:
        trips = round_trips(connection, lambda: answers.append(api.post(body, **headers)))
    return answers[0], trips, statements(queries)


def _verified(provider: Provider) -> tuple[Api, ApiKey]:
    """A client whose key this process has verified (by a first request)."""
    api = Api(provider)
    stamped(api)
    return api, ApiKey.objects.get(provider=provider)


def _uses(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.security_event  # type: ignore[attr-defined]
        for record in caplog.records
        if getattr(record, "security_event", None) in ("api_key_used", "api_key_rejected")
    ]


def test_a_verified_key_is_checked_with_the_write_in_one_round_trip(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    api, _ = _verified(provider)
    counted = RateLimitCounter.objects.get().count
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pars.security"):
        response, trips, ran = _post(api, course(provider_activity_id="KW-1"))
    assert response.status_code == 201, response.content
    assert trips == 1  # as a bare insert's
    assert len(ran) == 2  # the check with the provider's hold, then the write
    assert "pars_api_key_check" in ran[0]
    assert "pg_advisory_xact_lock_shared" in ran[0]
    assert Activity.objects.filter(provider=provider, provider_activity_id="KW-1").exists()
    assert RateLimitCounter.objects.get().count == counted + 1  # counted as before
    assert _uses(caplog) == ["api_key_used"]


@contextmanager
def _attestation_holding(provider: Provider, lock_timeout: str) -> Iterator[None]:
    """Another connection holds the provider's years as an attestation does, while this
    one waits at most `lock_timeout` for a lock."""
    attestation = connection.copy()
    try:
        attestation.set_autocommit(False)
        with attestation.cursor() as cursor:
            cursor.execute(HOLD_EXCLUSIVELY_SQL, [provider.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = %s", [lock_timeout])
        yield
    finally:
        attestation.rollback()
        attestation.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def test_a_refused_key_does_not_wait_for_the_hold_its_statement_takes(
    provider: Provider,
) -> None:
    """The hold is taken only once the check has passed: a key revoked meanwhile is
    refused at once even while an attestation holds the provider's years (taking the
    hold first would wait, here until the lock timeout)."""
    api, key = _verified(provider)
    revoke_api_key(key)
    with _attestation_holding(provider, "1s"):
        response, _, ran = _post(api, course(provider_activity_id="KW-H"))
    assert response.status_code == 401, response.content
    assert "pg_advisory_xact_lock_shared" in ran[0]
    assert not Activity.objects.filter(provider_activity_id="KW-H").exists()


def test_a_passed_check_takes_the_hold_before_the_write(provider: Provider) -> None:
    """The check's statement takes the writers' hold once the check has passed: a good key's
    write waits behind an attestation (here until the lock timeout, nothing written)."""
    api, _ = _verified(provider)
    with (
        _attestation_holding(provider, "300ms"),
        pytest.raises(OperationalError, match="lock timeout"),
    ):
        api.post(course(provider_activity_id="KW-W"))
    assert not Activity.objects.filter(provider_activity_id="KW-W").exists()
    assert api.post(course(provider_activity_id="KW-W")).status_code == 201  # once released


def test_the_check_function_is_volatile() -> None:
    """A VOLATILE function is evaluated where it stands; declared STABLE, PostgreSQL could
    drop an unused subquery calling it (a review saw it do so)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT provolatile FROM pg_proc WHERE proname = 'pars_api_key_check'")
        assert cursor.fetchall() == [("v",)]


def test_a_key_revoked_since_it_was_verified_is_refused_and_nothing_written(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    api, key = _verified(provider)
    revoke_api_key(key)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pars.security"):
        response, _, _ = _post(api, course(provider_activity_id="KW-2"))
    assert response.status_code == 401, response.content
    assert response.json()["errors"][0]["field"] == "Authorization"
    assert not Activity.objects.filter(provider=provider).exists()
    assert not AuditEvent.objects.filter(provider=provider).exists()
    assert _uses(caplog) == ["api_key_rejected"]  # never logged as used
    assert key_check.recalled(api.client.defaults["HTTP_AUTHORIZATION"][7:]) is None


def test_a_provider_changed_since_the_key_was_verified_writes_once_with_it_read_afresh(
    provider: Provider,
) -> None:
    """Its row's new version fails the check: nothing written; run again the ordinary way
    it writes once, and the key is remembered as it now is (the next POST: one trip)."""
    api, _ = _verified(provider)
    Provider.objects.filter(pk=provider.pk).update(name="Renamed provider")
    response, trips, _ = _post(api, course(provider_activity_id="KW-3"))
    assert response.status_code == 201, response.content
    assert trips == 3  # the check with the write (rolled back); the key; the write
    assert Activity.objects.filter(provider=provider).count() == 1
    assert AuditEvent.objects.filter(provider=provider).count() == 1
    response, trips, _ = _post(api, course(provider_activity_id="KW-4"))
    assert (response.status_code, trips) == (201, 1)


def test_a_verified_key_over_its_rate_limit_gets_429_and_nothing_written(
    provider: Provider, settings: Any
) -> None:
    settings.PARS_API_RATE = "1/h"  # an hour: no window ends mid-test
    api, _ = _verified(provider)  # its first request counted: the limit is reached
    response, _, ran = _post(api, course(provider_activity_id="KW-5"))
    assert "pars_api_key_check" in ran[0]  # sent with the write first, refused
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) >= 1
    assert not Activity.objects.filter(provider=provider).exists()
    assert not AuditEvent.objects.filter(provider=provider).exists()


def test_a_request_that_writes_nothing_still_has_its_key_checked_before_it_answers(
    provider: Provider,
) -> None:
    api, key = _verified(provider)
    response, _, ran = _post(api, {"title": "no ID"})
    assert response.status_code == 400, response.content
    assert "pars_api_key_check" in ran[0]  # checked and counted first, then the body's reads
    revoke_api_key(key)
    response, _, _ = _post(api, {"title": "no ID"})
    assert response.status_code == 401  # not the body's errors


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?dry_run=true", {}),
        ("", {"Idempotency-Key": "same"}),
        ("", {"If-Match": '"0"'}),
    ],
    ids=["dry run", "Idempotency-Key", "If-Match"],
)
def test_writes_in_a_transaction_of_their_own_are_counted_as_any_request(
    provider: Provider, settings: Any, query: str, headers: dict[str, str]
) -> None:
    """Their transaction (a dry run's is always rolled back) would take the count with it:
    their key is checked and counted on its own, first."""
    settings.PARS_API_RATE = "3/h"  # an hour: no window ends mid-test
    api, _ = _verified(provider)  # counted: 1
    statuses = []
    for n in range(4):
        response = api.client.post(
            f"/api/v1/activities{query}",
            json.dumps(course(provider_activity_id=f"KW-T{n}")),
            content_type="application/json",
            headers=headers,
        )
        statuses.append(response.status_code)
    assert statuses[2:] == [429, 429], statuses
    assert RateLimitCounter.objects.get().count == 5


def test_a_statement_in_a_transaction_gives_the_deferred_check_up_before_it_runs(
    provider: Provider,
) -> None:
    """The guard's safety net: a request that would run its first statement in a
    transaction is run again the ordinary way, nothing run, nothing counted."""
    api, key = _verified(provider)
    counted = RateLimitCounter.objects.get().count
    verified = key_check.recalled(api.client.defaults["HTTP_AUTHORIZATION"][7:])
    assert verified is not None
    check = key_check.PendingCheck(verified, "bucket", 2**40, 1000)
    ran = []

    def view(request: Any) -> Any:
        with transaction.atomic():
            ran.append(ApiKey.objects.get(pk=key.pk))
        return "answered"

    assert key_check.run_deferred(check, RequestFactory().post("/"), view) is None
    assert ran == []
    assert RateLimitCounter.objects.get().count == counted


def test_without_the_check_function_posts_go_the_ordinary_way(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    """Code deployed before its migration: a warning, and POSTs answer as before."""
    api, _ = _verified(provider)
    with connection.cursor() as cursor:
        cursor.execute(key_check_function.DROP)
    try:
        response, _, _ = _post(api, course(provider_activity_id="KW-8"))
        assert response.status_code == 201, response.content
        assert "run the migrations" in caplog.text
        response, trips, _ = _post(api, course(provider_activity_id="KW-9"))
        assert (response.status_code, trips) == (201, 2)  # not deferred any more
    finally:
        with connection.cursor() as cursor:
            cursor.execute(key_check_function.CREATE)
    assert Activity.objects.filter(provider=provider).count() == 2


def test_the_check_reads_its_key_provider_and_counter_by_index_on_analyzed_tables(
    provider: Provider,
) -> None:
    """Planned once for any values (a prepared statement's generic plan) from statistics of
    many providers, keys and counters, the check still reads one row of each."""
    # About the accreditor's number of providers (a one-page table is read whole anyway).
    Provider.objects.bulk_create(
        Provider(provider_id=f"08{n:05d}", name=f"Other {n}") for n in range(2000)
    )
    for number in range(200):
        create_api_key(provider=make_provider(provider_id=f"09{number:05d}"))
    RateLimitCounter.objects.bulk_create(
        RateLimitCounter(bucket=f"{n:064x}", window_end=2**40, count=1) for n in range(2000)
    )
    api, _ = _verified(provider)
    sent: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "pars_api_key_check" in sql:
            sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert api.post(course(provider_activity_id="KW-P")).status_code == 201
    tables = {ApiKey._meta.db_table, Provider._meta.db_table, RateLimitCounter._meta.db_table}
    analyze(*tables)
    ((sql, params),) = sent
    with transaction.atomic():  # the plan's run (a count) is undone
        plan = explain_generic(sql, params)
        transaction.set_rollback(True)
    assert quadratic_reads(plan, tables, keys=1) == []
