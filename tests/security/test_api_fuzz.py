"""Schemathesis over the web service's OpenAPI description (issue 7, "API fuzzing").

* ``test_no_operation_answers_a_server_error``: for every operation, generated requests
  with a valid key of a test provider pass every check of schemathesis (what
  ``st run --checks all`` runs): no 5xx, only documented status codes, content types,
  headers and bodies, schema-valid requests accepted and schema-invalid ones refused, no
  operation that ignores its key. The one allowance: a schema-valid request refused only
  under rules that relate several values or the stored data (``BEYOND_THE_SCHEMA``),
  which JSON Schema cannot state.
* ``test_*_is_no_server_error``: a body over the size limit (413), JSON nested 50,000
  levels deep (400) on every operation with a JSON body, and a huge ``offset`` or
  ``limit`` (422), each in the API's error shape.
* ``test_every_documented_refusal_has_the_one_error_shape``: every 4xx of the OpenAPI
  description is ``ApiError``.
* ``test_every_private_operation_refuses_missing_and_wrong_keys``: every operation but
  the public ones (the rule catalogs, the OpenAPI description) answers 401 without
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
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, CheckContext
from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.transport.serialization import Binary, serialize_binary

from pars.accounts.services import create_api_key
from pars.activities.validation import RESERVED_ID
from pars.providers.models import Provider
from pars.testing import make_activity, make_provider

SCHEMA_PATH = "/api/v1/openapi.json"
PUBLIC_OPERATIONS = {
    "GET /api/v1/rules/activities",
    "GET /api/v1/rules/learners",
    "GET /api/v1/changelog",
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


@schema.hook
def filter_body(context: Any, body: Any) -> bool:
    """Leave out multipart bodies with an empty file: schemathesis's WSGI transport
    (Werkzeug) encodes an empty part without the line break before the next boundary,
    and Django then reads no file, so the request sent is not the one generated."""
    if not isinstance(body, dict):
        return True
    return not any(
        isinstance(value, bytes | Binary) and not serialize_binary(value) for value in body.values()
    )


# Rules a schema-valid request may still break: they relate several values (dates and
# reporting year, a requested status and the fields it needs, the body and the address),
# or the stored data and the world (an unknown recipient or activity, a year already
# attested, a web address PARS will not call, a file whose content is no activity file,
# an Idempotency-Key an earlier request used: 422, a list cursor PARS did not give, a
# read-only field sent with another value than the stored one, an If-Match naming
# another version than the stored one: 412).
BEYOND_THE_SCHEMA = re.compile(
    r"^(activity\.(reporting_year\.(outside_dates|locked)|end_date\.(before_start|too_long)"
    r"|[a-z_]+\.required(_[a-z]+)*|supporters\.[a-z_.]+|outcome_measures\.measurement_type"
    r"|status\.not_allowed)"
    r"|api\.provider_activity_id\.mismatch|api\.path\.mismatch"
    r"|api\.legacy_activity_type\.mismatch|api\.field\.read_only"
    r"|learner\.recipient\.unknown|registration\.[a-z_.]+"
    r"|webhook\.(url\.invalid|endpoints\.too_many|endpoint\.inactive)"
    r"|upload\.[a-z_.]+"
    r"|report\.year\.unknown|attestation\.[a-z_.]+|program_summary\.[a-z_.]+\.required"
    r"|api\.idempotency_key\.reused|api\.cursor\.invalid|api\.precondition_failed)$"
)


def _refused_only_beyond_the_schema(response: Any) -> bool:
    if response.status_code not in (400, 412, 422):
        return False
    try:
        errors = json.loads(response.content)["errors"]
    except (ValueError, KeyError, TypeError):
        return False
    return bool(errors) and all(BEYOND_THE_SCHEMA.match(error["rule"]) for error in errors)


def positive_data_accepted_unless_beyond_the_schema(
    ctx: CheckContext, response: Any, case: Any
) -> bool | None:
    """schemathesis's positive_data_acceptance, but for a refusal whose every error is a
    rule JSON Schema cannot state (any other refusal of schema-valid data still fails)."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except Failure:
        if _refused_only_beyond_the_schema(response):
            return None
        raise


ALL_CHECKS = [
    *(check for check in CHECKS.get_all() if check is not positive_data_acceptance),
    positive_data_accepted_unless_beyond_the_schema,
]


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
    # The key on every request but those whose negative mutation is a missing
    # Authorization header (with it, they would be valid requests).
    negated = case.operation.schema.is_security_param_negated(case)
    case.call_and_validate(
        headers={} if negated else {"Authorization": f"Bearer {api_key}"},
        checks=ALL_CHECKS,
        # What every server sets (the rate limits count client addresses).
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
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


# ---------------------------------------------------------------------------
# Requests that answered 500: in the API's error shape on every JSON operation


def _json_operations() -> list[tuple[str, str]]:
    from pars.api import api

    paths = api.get_openapi_schema(path_prefix="/api/v1/")["paths"]
    return [
        (method.upper(), path)
        for path, item in paths.items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


JSON_OPERATIONS = _json_operations()
JSON_IDS = [f"{method} {path}" for method, path in JSON_OPERATIONS]


@pytest.fixture
def existing(fuzz_provider: Provider, api_key: str) -> dict[str, str]:
    """Path values naming records of the key's provider, so each operation reads its body."""
    import datetime

    from pars.activities.models import Activity
    from pars.reporting.models import ReportingYear
    from pars.testing import learner_json, register

    activity = Activity.objects.get(provider=fuzz_provider, provider_activity_id="FUZZ-1")
    register(activity, "ABIM")
    ReportingYear.objects.create(year=2026, deadline=datetime.date(2027, 3, 31))
    reported = Client().post(
        "/api/v1/learner-completions",
        json.dumps([learner_json(activity)]),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )
    completion_id = reported.json()["results"][0]["id"]
    assert completion_id, reported.content
    return {
        "provider_activity_id": "FUZZ-1",
        "recipient": "ABIM",
        "completion_id": str(completion_id),
        "year": "2026",
    }


def _send(method: str, path: str, values: dict[str, str], body: bytes, api_key: str) -> Any:
    address = re.sub(r"\{([^}]+)\}", lambda match: values[match.group(1)], path)
    return Client().generic(
        method,
        address,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )


def _assert_error_shape(response: Any, status: int, rule: str) -> None:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["detail"]
    assert [error["rule"] for error in body["errors"]] == [rule]


def test_there_are_json_operations_to_test() -> None:
    assert len(JSON_OPERATIONS) >= 8


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS, ids=JSON_IDS)
def test_a_body_over_the_size_limit_is_413_not_a_server_error(
    method: str, path: str, existing: dict[str, str], api_key: str, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = json.dumps({"description": "x" * 2_000}).encode()
    response = _send(method, path, existing, body, api_key)
    _assert_error_shape(response, 413, "api.body.too_large")


@pytest.mark.parametrize(("method", "path"), JSON_OPERATIONS, ids=JSON_IDS)
def test_json_nested_50000_levels_deep_is_400_not_a_server_error(
    method: str, path: str, existing: dict[str, str], api_key: str
) -> None:
    body = b"[" * 50_000 + b"]" * 50_000
    response = _send(method, path, existing, body, api_key)
    _assert_error_shape(response, 400, "api.body.invalid")
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "/api/v1/activities?offset=100000000000000000000",
        "/api/v1/activities?limit=100000000000000000000",
        "/api/v1/activities?offset=-1",
        "/api/v1/learner-completions?limit=100000000000000000000",
        "/api/v1/uploads/{upload}/errors?offset=100000000000000000000",
        "/api/v1/uploads/{upload}/errors?limit=100000000000000000000",
    ],
)
def test_a_huge_offset_or_limit_is_422_not_a_server_error(
    query: str, fuzz_provider: Provider, api_key: str
) -> None:
    from pars.intake.models import Upload

    upload = Upload.objects.create(provider=fuzz_provider, original_name="a.txt", size=1)
    response = Client().get(query.format(upload=upload.pk), HTTP_AUTHORIZATION=f"Bearer {api_key}")
    _assert_error_shape(response, 422, "api.parameter.invalid")


def test_refusals_outside_the_views_have_the_error_shape(api_key: str) -> None:
    client = Client()
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    _assert_error_shape(client.get("/api/v1/no-such-thing", **headers), 404, "api.not_found")
    _assert_error_shape(
        client.get("/api/v1/learner-completions/not-a-number", **headers), 404, "api.not_found"
    )
    _assert_error_shape(client.get("/api/v1/provider"), 401, "api.key.invalid")
    not_allowed = client.patch("/api/v1/provider", **headers)
    _assert_error_shape(not_allowed, 405, "api.method.not_allowed")
    assert not_allowed["Allow"] == "GET"


def test_every_documented_refusal_has_the_one_error_shape() -> None:
    from pars.api import api

    description = api.get_openapi_schema(path_prefix="/api/v1/")
    refusals = {
        f"{method.upper()} {path} {status}": answer.get("content", {})
        for path, item in description["paths"].items()
        for method, operation in item.items()
        for status, answer in operation["responses"].items()
        if str(status).startswith("4")
    }
    assert len(refusals) > 100
    wrong = [
        name
        for name, content in refusals.items()
        if list(content) != ["application/json"]
        or content["application/json"]["schema"] != {"$ref": "#/components/schemas/ApiError"}
    ]
    assert wrong == []
    shape = description["components"]["schemas"]["ApiError"]
    assert set(shape["required"]) == {"detail", "errors"}


def test_the_rate_limit_answers_in_the_error_shape(api_key: str, settings: Any) -> None:
    import time

    import time_machine

    settings.RATELIMIT_ENABLE = True
    settings.PARS_API_RATE = "1/m"
    client = Client()
    headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    with time_machine.travel(time.time(), tick=False):  # one counting window
        assert client.get("/api/v1/provider", **headers).status_code == 200
        limited = client.get("/api/v1/provider", **headers)
    _assert_error_shape(limited, 429, "api.rate_limited")
    assert int(limited["Retry-After"]) > 0


# ---------------------------------------------------------------------------
# Provider Activity IDs with any characters the dictionary allows, in paths and bodies

# What a provider's own IDs hold: `/`, `%`, spaces, `#`, `?`, URL delimiters, non-ASCII.
ID_CHARACTERS = st.sampled_from(
    [*"AZaz09-_.", *" /%#?&=+;:@!$'()*,~[]", *"éüßøΩ中½", "\U0001f600", "\u00a0"]
)
# `<id>/registrations[/<recipient>]` is the address of the activity <id>'s registrations:
# an ID so ending is refused (RESERVED_ID), every other one goes through.
ACTIVITY_IDS = (
    st.text(ID_CHARACTERS, min_size=1, max_size=60)
    .map(str.strip)
    .filter(lambda text: bool(text) and not RESERVED_ID.search(text))
)
RESERVED_IDS = st.builds(
    lambda head, tail: (head + tail).strip(),
    st.text(ID_CHARACTERS, max_size=30),
    st.sampled_from(["/registrations", "/registrations/", "/registrations/ABIM", "registrations"]),
).filter(RESERVED_ID.search)


@pytest.mark.django_db
@given(activity_id=ACTIVITY_IDS)
@settings(
    max_examples=MAX_EXAMPLES * 4,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_any_activity_id_goes_through_every_path_and_body(activity_id: str, api_key: str) -> None:
    from urllib.parse import quote

    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    segment = quote(activity_id, safe="")
    path = f"/api/v1/activities/{segment}"
    body = json.dumps(
        {
            "title": "Grand Rounds",
            "activity_format": "rss",
            "start_date": "2026-01-05",
            "end_date": "2026-06-29",
        }
    )
    created = client.put(path, body, content_type="application/json")
    assert created.status_code in (200, 201), created.content[:300]
    assert created.json()["provider_activity_id"] == activity_id
    if created.status_code == 201:
        assert created["Location"].replace("%2E", ".") == path
    read = client.get(created.get("Location", path))
    assert (read.status_code, read.json()["provider_activity_id"]) == (200, activity_id)
    posted = client.post(
        "/api/v1/activities",
        json.dumps({**json.loads(body), "provider_activity_id": activity_id}),
        content_type="application/json",
    )
    assert posted.status_code == 200, posted.content[:300]  # the same record: unchanged
    registrations = client.get(f"{path}/registrations")
    assert (registrations.status_code, registrations.json()) == (200, [])
    gone = client.delete(f"{path}/registrations/ABIM")
    assert gone.status_code == 404, gone.content[:300]
    assert client.delete(path).status_code == 204
    assert client.get(path).status_code == 404


@pytest.mark.django_db
@given(activity_id=RESERVED_IDS)
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_an_activity_id_ending_as_a_registrations_address_is_refused(
    activity_id: str, api_key: str
) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    body = {
        "provider_activity_id": activity_id,
        "title": "Grand Rounds",
        "activity_format": "rss",
        "start_date": "2026-01-05",
        "end_date": "2026-06-29",
    }
    posted = client.post("/api/v1/activities", json.dumps(body), content_type="application/json")
    assert posted.status_code == 400, posted.content[:300]
    assert "activity.provider_activity_id.reserved" in {e["rule"] for e in posted.json()["errors"]}


@pytest.mark.parametrize(
    "activity_id",
    ["CME 15/001", "100%", "A#1", "Q?x=1", "Ünïcødé 中", "a/b/", "%2F", "..", "\U0001f600"],
)
def test_an_activity_id_with_any_characters_is_no_server_error(
    activity_id: str, api_key: str
) -> None:
    from urllib.parse import quote

    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    body = {
        "provider_activity_id": activity_id,
        "title": "Grand Rounds",
        "activity_format": "rss",
        "start_date": "2026-01-05",
        "end_date": "2026-06-29",
    }
    created = client.post("/api/v1/activities", json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content[:300]
    location = created["Location"]
    assert location == f"/api/v1/activities/{quote(activity_id, safe='')}".replace("/..", "/%2E%2E")
    for method in ("GET", "PUT", "DELETE"):
        for address in (location, f"{location}/registrations", f"{location}/registrations/X"):
            response = client.generic(
                method, address, json.dumps(body), content_type="application/json"
            )
            assert response.status_code < 500, (method, address, response.content[:300])
