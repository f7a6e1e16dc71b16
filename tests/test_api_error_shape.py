"""Every refusal of the web service has one shape, in its description and in its answers.

The OpenAPI document served at /api/v1/openapi.json is walked: each operation's 4xx
responses refer to the one error schema, ``ApiError``
(``{"detail", "errors": [{"row", "field", "rule", "message"}]}``, ``pars/lib/api_errors.py``).
Then each operation is sent a request that provokes each of its documented 400, 401, 404
and 422: a body that is no JSON (400), no key (401), another provider's record (404), a
value of the wrong JSON type or a malformed parameter (422); every answer must have that
shape. ``NOT_PROVOKED`` names, with the reason, the few documented refusals no request of
a test can bring about alone.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pars.accounts.services import create_api_key
from pars.intake.models import Upload
from pars.learners.models import LearnerCompletion, WebhookEndpoint
from pars.providers.models import Provider
from pars.reporting.models import ReportingYear
from pars.testing import learner_json, make_activity, register

SCHEMA_PATH = "/api/v1/openapi.json"
ERROR_REF = {"$ref": "#/components/schemas/ApiError"}
PROVOKED = ("400", "401", "404", "422")
UNREACHABLE_422 = (
    "its parameters are free text or whole numbers in the path: a malformed value matches "
    "no address or no record (404)"
)
# Documented refusals no request of a test can bring about, and why.
NOT_PROVOKED: dict[tuple[str, str, str], str] = {
    ("GET", "/api/v1/activities/{provider_activity_id}", "422"): UNREACHABLE_422,
    ("DELETE", "/api/v1/activities/{provider_activity_id}", "422"): UNREACHABLE_422,
    ("GET", "/api/v1/activities/{provider_activity_id}/registrations", "422"): UNREACHABLE_422,
    (
        "DELETE",
        "/api/v1/activities/{provider_activity_id}/registrations/{recipient}",
        "422",
    ): UNREACHABLE_422,
    ("GET", "/api/v1/annual-reports/{year}", "422"): UNREACHABLE_422,
    ("GET", "/api/v1/annual-reports/{year}/checks", "422"): UNREACHABLE_422,
    ("GET", "/api/v1/learner-completions/{completion_id}", "422"): UNREACHABLE_422,
    ("DELETE", "/api/v1/learner-completions/{completion_id}", "422"): UNREACHABLE_422,
    (
        "GET",
        "/api/v1/activities/{provider_activity_id}/registrations/{recipient}",
        "422",
    ): UNREACHABLE_422,
    ("GET", "/api/v1/webhooks/{endpoint_id}", "422"): UNREACHABLE_422,
    ("DELETE", "/api/v1/webhooks/{endpoint_id}", "422"): UNREACHABLE_422,
    ("POST", "/api/v1/webhooks/{endpoint_id}/test", "422"): UNREACHABLE_422,
    ("PUT", "/api/v1/activities/{provider_activity_id}", "404"): (
        "PUT adds the activity when the key's provider has none with this ID"
    ),
    ("DELETE", "/api/v1/learner-completions/{completion_id}", "400"): (
        "withdrawing never refuses (a withdrawn record is answered unchanged); the 400 is "
        "the response list it shares with the other one-record writes"
    ),
    ("POST", "/api/v1/learner-completions/{completion_id}/withdraw", "400"): (
        "withdrawing never refuses (a withdrawn record is answered unchanged); the 400 is "
        "the response list it shares with the other one-record writes"
    ),
}


def _description() -> dict[str, Any]:
    response = Client().get(SCHEMA_PATH)
    assert response.status_code == 200
    return response.json()


def _operations(description: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in description["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


@pytest.fixture(scope="module")
def description(django_db_setup: None, django_db_blocker: Any) -> dict[str, Any]:
    with django_db_blocker.unblock():  # once for the module: the served description
        return _description()


def test_every_documented_refusal_refers_to_the_one_error_schema(
    description: dict[str, Any],
) -> None:
    refusals = {
        f"{method} {path} {status}": answer
        for method, path, operation in _operations(description)
        for status, answer in operation["responses"].items()
        if status.startswith("4")
    }
    assert len(refusals) > 100
    wrong = [
        name
        for name, answer in refusals.items()
        if list(answer.get("content", {})) != ["application/json"]
        or answer["content"]["application/json"]["schema"] != ERROR_REF
    ]
    assert wrong == []
    schemas = description["components"]["schemas"]
    shape = schemas["ApiError"]
    assert set(shape["required"]) == set(shape["properties"]) == {"detail", "errors"}
    assert shape["properties"]["detail"]["type"] == "string"
    item = shape["properties"]["errors"]["items"]
    error = schemas[item["$ref"].rsplit("/", 1)[1]]
    assert set(error["required"]) == set(error["properties"]) == {"row", "field", "rule", "message"}


# ---------------------------------------------------------------------------
# Provoking each refusal


def assert_error_shape(response: Any, status: int, name: str) -> None:
    """The answer is `status`, JSON, exactly ``{"detail", "errors": [{row, field, rule,
    message}, ...]}`` with at least one error."""
    assert response.status_code == status, (name, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), name
    body = response.json()
    assert isinstance(body, dict), (name, body)
    assert set(body) == {"detail", "errors"}, (name, body)
    assert isinstance(body["detail"], str), (name, body)
    assert body["detail"], (name, body)
    assert isinstance(body["errors"], list), (name, body)
    assert body["errors"], (name, body)
    for error in body["errors"]:
        assert set(error) == {"row", "field", "rule", "message"}, (name, error)
        assert error["row"] is None or isinstance(error["row"], int), (name, error)
        for key in ("field", "rule", "message"):
            assert isinstance(error[key], str), (name, error)
            assert error[key], (name, error)


@dataclass
class Setting:
    """The key's provider's path values, another provider's, and a way to close a year."""

    secret: str
    theirs: dict[str, str]
    ours: dict[str, str]
    monkeypatch: pytest.MonkeyPatch


@pytest.fixture
def setting(
    provider: Provider, other_provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> Setting:
    ReportingYear.objects.create(year=2026, deadline=datetime.date(2027, 3, 31))
    _, secret = create_api_key(provider=provider)
    _, their_secret = create_api_key(provider=other_provider)
    values: list[dict[str, str]] = []
    for owner, key in ((other_provider, their_secret), (provider, secret)):
        activity = make_activity(owner, provider_activity_id=f"ACT-{owner.provider_id}")
        register(activity, "ABIM")
        reported = Client().post(
            "/api/v1/learner-completions",
            json.dumps([learner_json(activity)]),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert reported.status_code == 200, reported.content
        upload = Upload.objects.create(provider=owner, original_name="a.txt", size=1)
        endpoint = WebhookEndpoint.objects.create(
            provider=owner, url="https://example.org/hook", secret="s" * 32
        )
        values.append(
            {
                "provider_activity_id": activity.provider_activity_id,
                "recipient": "ABIM",
                "completion_id": str(
                    LearnerCompletion.objects.get(provider=owner, activity=activity).pk
                ),
                "upload_id": str(upload.pk),
                "endpoint_id": str(endpoint.pk),
                "year": "2026",
            }
        )
    theirs, ours = values
    theirs["year"] = "1999"  # no such reporting year (years are not a provider's records)
    make_activity(provider, provider_activity_id="ALONE-1")  # no learner refers to it
    return Setting(secret, theirs, ours, monkeypatch)


def _address(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda match: values[match.group(1)], path)


def _content(operation: dict[str, Any]) -> dict[str, Any]:
    return operation.get("requestBody", {}).get("content", {})


def _parameters(operation: dict[str, Any], where: str) -> list[dict[str, Any]]:
    return [p for p in operation.get("parameters", []) if p["in"] == where]


def _types(description: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = _resolve(description, schema)
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for branch in schema.get("anyOf", []):
        found |= _types(description, branch)
    return found


def _resolve(description: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = description["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def request(
    method: str,
    address: str,
    body: bytes = b"",
    *,
    key: str | None,
    files: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    extra = dict(headers or {})
    if key is not None:
        extra["Authorization"] = f"Bearer {key}"
    if files is not None:
        return Client().post(address, files, headers=extra)
    return Client().generic(method, address, body, content_type="application/json", headers=extra)


# JSON values of each type, in the order a wrong one is picked.
SAMPLES: list[tuple[set[str], Any]] = [
    ({"boolean"}, True),
    ({"integer", "number"}, 12345),
    ({"string"}, "text"),
]


def _wrong_type_body(description: dict[str, Any], operation: dict[str, Any]) -> bytes:
    """A body whose first property gets a value of a JSON type it does not take (in the
    object, or in the first item of an array)."""
    schema = _resolve(description, _content(operation)["application/json"]["schema"])
    if "oneOf" in schema:  # an array, or an object holding it: the array
        schema = _resolve(description, schema["oneOf"][0])
    is_list = schema.get("type") == "array"
    item = _resolve(description, schema["items"]) if is_list else schema
    name, prop = next(iter(item["properties"].items()))
    allowed = _types(description, prop)
    value = next(sample for types, sample in SAMPLES if not types & allowed)
    return json.dumps([{name: value}] if is_list else {name: value}).encode()


Send = Callable[[Setting], Any]


def _close_2026(setting: Setting) -> None:
    setting.monkeypatch.setattr(
        "pars.activities.year_lock._locked_years",
        lambda provider, years=None, *, for_update=False: {2026},
    )


def _delete_in_a_closed_year(s: Setting) -> Any:
    _close_2026(s)
    return request("DELETE", "/api/v1/activities/ALONE-1", key=s.secret)


def _test_an_inactive_endpoint(s: Setting) -> Any:
    WebhookEndpoint.objects.filter(pk=s.ours["endpoint_id"]).update(active=False)
    return request("POST", f"/api/v1/webhooks/{s.ours['endpoint_id']}/test", key=s.secret)


def _resubmit_while_withdrawing(s: Setting) -> Any:
    LearnerCompletion.objects.filter(pk=s.ours["completion_id"]).update(status="withdrawal_queued")
    address = f"/api/v1/learner-completions/{s.ours['completion_id']}/resubmit"
    return request("POST", address, key=s.secret)


# Refusals the generic requests below do not reach, by operation.
SPECIAL: dict[tuple[str, str, str], Send] = {
    ("DELETE", "/api/v1/activities/{provider_activity_id}", "400"): _delete_in_a_closed_year,
    (
        "POST",
        "/api/v1/annual-reports/{year}/program-summary/complete",
        "400",
    ): lambda s: request(
        "POST", "/api/v1/annual-reports/2026/program-summary/complete", key=s.secret
    ),
    ("GET", "/api/v1/learner-completions", "400"): lambda s: request(
        "GET", "/api/v1/learner-completions?cursor=not-one-PARS-gave", key=s.secret
    ),
    (
        "POST",
        "/api/v1/learner-completions/{completion_id}/resubmit",
        "400",
    ): _resubmit_while_withdrawing,
    # The envelope (`recipient` and a `learners` array) is checked first, then the types.
    ("POST", "/api/v1/webhooks/{endpoint_id}/test", "400"): _test_an_inactive_endpoint,
    ("POST", "/api/v1/learner-matches", "422"): lambda s: request(
        "POST", "/api/v1/learner-matches", b'{"recipient": 5, "learners": []}', key=s.secret
    ),
}


def provocation(description: dict[str, Any], method: str, path: str, status: str) -> Send | None:
    """The request that should answer `status` for this operation (None: none known)."""
    if (method, path, status) in SPECIAL:
        return SPECIAL[(method, path, status)]
    operation = description["paths"][path][method.lower()]
    content = _content(operation)

    def ours(setting: Setting) -> str:
        return _address(path, setting.ours)

    if status == "401":  # no key
        return lambda s: request(method, ours(s), key=None)
    if status == "404":  # another provider's record
        return lambda s: request(method, _address(path, s.theirs), key=s.secret)
    if status == "400" and "application/json" in content:  # a body that is no JSON
        return lambda s: request(method, ours(s), b"{not json", key=s.secret)
    if status == "400" and "multipart/form-data" in content:  # an empty file
        empty = {"file": SimpleUploadedFile("learners.txt", b"")}
        return lambda s: request(method, ours(s), key=s.secret, files=empty)
    if status == "422" and "application/json" in content:  # a value of the wrong JSON type
        body = _wrong_type_body(description, operation)
        return lambda s: request(method, ours(s), body, key=s.secret)
    if status == "422" and "multipart/form-data" in content:  # no file at all
        return lambda s: request(method, ours(s), key=s.secret, files={"format": "tsv"})
    headers = {p["name"] for p in _parameters(operation, "header")}
    if status == "422" and "Idempotency-Key" in headers:  # a key longer than allowed
        return lambda s: request(
            method, ours(s), key=s.secret, headers={"Idempotency-Key": "k" * 201}
        )
    numbers = [
        p["name"]
        for p in _parameters(operation, "query")
        if "integer" in _types(description, p["schema"])
    ]
    if status == "422" and numbers:  # a whole number that is not one
        return lambda s: request(method, f"{ours(s)}?{numbers[0]}=many", key=s.secret)
    in_path = [
        p["name"]
        for p in _parameters(operation, "path")
        if "integer" in _types(description, p["schema"])
    ]
    if status == "422" and in_path:  # the same in the path
        return lambda s: request(
            method, _address(path, {**s.ours, in_path[0]: "many"}), key=s.secret
        )
    return None


def _cases() -> list[tuple[str, str, str]]:
    from pars.api import api

    served = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1/"), default=str))
    return [
        (method, path, status)
        for method, path, operation in _operations(served)
        for status in sorted(operation["responses"])
        if status in PROVOKED
    ]


CASES = _cases()


@pytest.mark.parametrize(
    ("method", "path", "status"), CASES, ids=[f"{m} {p} {s}" for m, p, s in CASES]
)
def test_each_documented_refusal_answers_in_the_one_shape(
    description: dict[str, Any], setting: Setting, method: str, path: str, status: str
) -> None:
    if (method, path, status) in NOT_PROVOKED:
        pytest.skip(NOT_PROVOKED[(method, path, status)])
    send = provocation(description, method, path, status)
    assert send is not None, "no request provokes it: add one, or a reason to NOT_PROVOKED"
    assert_error_shape(send(setting), int(status), f"{method} {path}")


def test_the_walk_provokes_the_refusals_the_issue_names() -> None:
    statuses = {status for _, _, status in CASES}
    assert set(PROVOKED) <= statuses
    assert len(CASES) > 60
