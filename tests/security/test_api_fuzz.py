"""Schemathesis over the web service's OpenAPI description (issue 7, "API fuzzing").

* ``test_no_operation_answers_a_server_error``: for every operation, generated requests
  with a valid key of a test provider never produce a 5xx, and responses conform to the
  documented status codes and schemas.
* ``test_every_private_operation_refuses_missing_and_wrong_keys``: every operation but
  the public ones (the rule catalogues, the OpenAPI description) answers 401 without
  credentials, with a wrong key and with a revoked key.

The schema is loaded from the Django application itself (``pars.wsgi``), so CI needs no
server. Examples are capped per operation to keep the whole file well under 90 s.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from pars.accounts.services import create_api_key
from pars.providers.models import Provider
from pars.testing import make_activity, make_provider

SCHEMA_PATH = "/api/v1/openapi.json"
PUBLIC_OPERATIONS = {
    "GET /api/v1/rules/activities",
    "GET /api/v1/rules/learners",
}
# Per operation and generation mode: small enough for CI (the whole file in about a
# minute); raise it for a deeper run: PARS_FUZZ_EXAMPLES=200 pytest tests/security/...
MAX_EXAMPLES = int(os.environ.get("PARS_FUZZ_EXAMPLES", "15"))


def _load_schema() -> Any:
    """The description /api/v1/openapi.json serves, bound to the Django WSGI application.

    Built from the NinjaAPI object rather than fetched at collection time (no request
    then, so no rate-limit counter or database is touched before the tests run); the
    application is pars.wsgi's, without its start-up refusal of the development key.
    """
    from pars.api import api

    loaded = schemathesis.openapi.from_dict(
        json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1/"), default=str))
    )
    loaded.app = get_wsgi_application()
    loaded.location = SCHEMA_PATH
    return loaded


@pytest.fixture
def fuzz_provider(db: None) -> Provider:
    provider = make_provider(name="Fuzz Medical", provider_id="0005555")
    make_activity(provider, provider_activity_id="FUZZ-1")
    return provider


@pytest.fixture
def api_key(fuzz_provider: Provider) -> str:
    return create_api_key(provider=fuzz_provider, name="fuzz")[1]


@pytest.fixture(autouse=True)
def _keep_the_test_transaction() -> Any:
    """Calls go through the raw WSGI handler, whose request signals would close the
    database connection (and with it the test's transaction); Django's test client
    disconnects them the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _no_rate_limit(settings: Any) -> None:
    # A rate limit answering 429 would cut the fuzzing short; it has its own tests.
    settings.PARS_API_RATE = ""
    settings.PARS_API_ANON_RATE = ""


schema = _load_schema()


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case: Any, api_key: str) -> None:
    response = case.call(headers={"Authorization": f"Bearer {api_key}"})
    # Never a 5xx, for every request generated (negative ones included: schemathesis may
    # also drop the key or break a parameter, which must give a 4xx).
    case.validate_response(response, checks=[not_a_server_error])
    if 200 <= response.status_code < 300:
        # Successful answers are what the description promises (Ninja documents no 401,
        # 404 or 422 shapes, so refusals are held to "not a 5xx" only).
        case.validate_response(
            response, checks=[content_type_conformance, response_schema_conformance]
        )


def _operations(client: Client) -> list[tuple[str, str]]:
    response = client.get(SCHEMA_PATH)
    assert response.status_code == 200
    paths = response.json()["paths"]
    return [
        (method.upper(), path)
        for path, item in paths.items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_private_operation_refuses_missing_and_wrong_keys(
    fuzz_provider: Provider, api_key: str
) -> None:
    client = Client()
    operations = _operations(client)
    assert len(operations) > 10
    public = {f"{method} {path}" for method, path in operations} & PUBLIC_OPERATIONS
    assert public == PUBLIC_OPERATIONS, "a public operation was renamed: update this test"
    revoked_key, revoked = create_api_key(provider=fuzz_provider, name="revoked")
    from django.utils import timezone

    revoked_key.revoked_at = timezone.now()
    revoked_key.save()
    scheme, prefix, _secret = api_key.split("_", 2)
    wrong: dict[str, dict[str, Any]] = {
        "no credentials": {},
        "wrong key": {"HTTP_AUTHORIZATION": "Bearer not-a-real-key"},
        "wrong secret": {"HTTP_AUTHORIZATION": f"Bearer {scheme}_{prefix}_{'x' * 43}"},
        "revoked key": {"HTTP_AUTHORIZATION": f"Bearer {revoked}"},
        "wrong scheme": {"HTTP_AUTHORIZATION": f"Basic {api_key}"},
    }
    failures = []
    for method, path in operations:
        if f"{method} {path}" in PUBLIC_OPERATIONS:
            continue
        for label, headers in wrong.items():
            response = client.generic(
                method, _fill(path), b"{}", content_type="application/json", **headers
            )
            if response.status_code != 401:
                failures.append(f"{method} {path} ({label}): {response.status_code}")
    assert failures == []
    # The public ones answer without a key.
    for name in PUBLIC_OPERATIONS:
        method, path = name.split(" ", 1)
        assert client.generic(method, path).status_code == 200, name


@pytest.mark.parametrize(
    ("path", "body"),
    [
        # Found by the fuzzer on PostgreSQL: the error names the unknown field "\0", and
        # storing that answer for the Idempotency-Key failed (jsonb holds no U+0000): 500.
        ("/api/v1/learner-completions", [{"\u0000": 1, "last_name": "a"}]),
        ("/api/v1/learner-completions", [{"last_name": "Love\u0000lace"}]),
        ("/api/v1/activities", {"\u0000": 1, "title": "Cardio\u0000logy"}),
    ],
    ids=["unknown field NUL", "NUL in a value", "activity with NULs"],
)
def test_nul_characters_in_a_json_body_are_no_server_error(
    api_key: str, path: str, body: Any
) -> None:
    client = Client()
    headers: dict[str, Any] = {
        "HTTP_AUTHORIZATION": f"Bearer {api_key}",
        "HTTP_IDEMPOTENCY_KEY": "nul-1",
    }
    first = client.post(path, json.dumps(body), content_type="application/json", **headers)
    assert first.status_code < 500, first.content[:300]
    again = client.post(path, json.dumps(body), content_type="application/json", **headers)
    # The retry replays the first answer (PostgreSQL's jsonb may reorder its keys).
    assert (again.status_code, again.json()) == (first.status_code, first.json())
