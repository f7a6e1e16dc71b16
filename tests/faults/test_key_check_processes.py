"""A key revoked while two web processes remember it as verified (pars.accounts.key_check):
its next POST to either is refused, nothing written — gunicorn processes on PostgreSQL,
as production runs them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from pars.accounts.models import ApiKey
from pars.accounts.ratelimit import API_KEY_GROUP, _bucket
from pars.accounts.services import create_api_key, revoke_api_key
from pars.activities.models import Activity
from pars.models import RateLimitCounter
from pars.testing import course_json, make_provider
from tests.support.faults import child_env, requires_postgresql, stop
from tests.support.web import start_gunicorn, wait_web

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def _post(base: str, secret: str, activity_id: str) -> int:
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/api/v1/activities",
        data=json.dumps(course_json(provider_activity_id=activity_id)).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_a_key_revoked_while_two_web_processes_remember_it_is_refused_by_both(
    tmp_path: Path,
) -> None:
    provider = make_provider()
    key, secret = create_api_key(provider=provider, name="two processes")
    env = {**child_env(tmp_path / "media", tmp_path / "cache"), "PARS_DB_CONN_MAX_AGE": "60"}
    env["PARS_DEBUG"] = ""  # as deployed (and the rate limits count)
    env["PARS_SECRET_KEY"] = "two-processes-" + "x" * 40
    env["PARS_ALLOWED_HOSTS"] = "127.0.0.1"
    webs = [start_gunicorn(env, tmp_path / f"web{n}.log", threads=1) for n in (1, 2)]
    try:
        for n, (server, base) in enumerate(webs, start=1):
            wait_web(server, base, tmp_path / f"web{n}.log")
        bases = [base for _, base in webs]
        # Each process verifies the key the ordinary way, then sends its check with a write.
        statuses = [
            _post(base, secret, f"TP-{n}-{m}") for n, base in enumerate(bases) for m in (1, 2)
        ]
        assert statuses == [201] * 4, [(tmp_path / "web1.log").read_text()[-2000:], statuses]
        counter = RateLimitCounter.objects.get(bucket=_bucket(API_KEY_GROUP, key.prefix))
        assert counter.count == 4  # every request counted once
        revoke_api_key(ApiKey.objects.get(pk=key.pk))
        assert [_post(base, secret, f"TP-{n}-3") for n, base in enumerate(bases)] == [401, 401]
    finally:
        for server, _ in webs:
            stop(server)
    assert sorted(Activity.objects.values_list("provider_activity_id", flat=True)) == [
        "TP-0-1",
        "TP-0-2",
        "TP-1-1",
        "TP-1-2",
    ]
