"""The OpenAPI document is a contract clients are generated from (issue 16, item 1).

Its operation ids and schema names are what a generated client's functions and classes are
called: each operation has a short camelCase id from the checked-in list below (a new
operation, or a renamed one, fails here until the list and docs/api-changelog.md say so);
every request body is a named component shared by the operations that take it; the code
lists are enums with their labels; and a deprecated operation answers with the headers the
deprecation policy promises.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client

from pars import api_contract
from pars.activities.dictionary import FIELDS
from pars.api_deprecation import Deprecation, deprecated
from pars.intake.fields import Kind
from tests.support.openapi import inlined

SCHEMA_PATH = "/api/v1/openapi.json"
REF = "#/components/schemas/"

# operationId -> the operation. Renaming one breaks every generated client: see the
# deprecation policy in docs/api-changelog.md before changing this list.
EXPECTED_OPERATIONS = {
    "getProvider": "GET /api/v1/provider",
    "getChangelog": "GET /api/v1/changelog",
    "listActivities": "GET /api/v1/activities",
    "createActivity": "POST /api/v1/activities",
    "getActivity": "GET /api/v1/activities/{provider_activity_id}",
    "putActivity": "PUT /api/v1/activities/{provider_activity_id}",
    "deleteActivity": "DELETE /api/v1/activities/{provider_activity_id}",
    "exportActivitiesXml": "GET /api/v1/exports/activities.xml",
    "listActivityRules": "GET /api/v1/rules/activities",
    "uploadActivityFile": "POST /api/v1/uploads",
    "getUpload": "GET /api/v1/uploads/{upload_id}",
    "listUploadErrors": "GET /api/v1/uploads/{upload_id}/errors",
    "getAnnualReport": "GET /api/v1/annual-reports/{year}",
    "putProgramSummary": "PUT /api/v1/annual-reports/{year}/program-summary",
    "completeProgramSummary": "POST /api/v1/annual-reports/{year}/program-summary/complete",
    "postAttestation": "POST /api/v1/annual-reports/{year}/attestation",
    "getAnnualReportChecks": "GET /api/v1/annual-reports/{year}/checks",
    "listRecipients": "GET /api/v1/recipients",
    "listRegistrations": "GET /api/v1/activities/{provider_activity_id}/registrations",
    "getRegistration": "GET /api/v1/activities/{provider_activity_id}/registrations/{recipient}",
    "putRegistration": "PUT /api/v1/activities/{provider_activity_id}/registrations/{recipient}",
    "deleteRegistration": (
        "DELETE /api/v1/activities/{provider_activity_id}/registrations/{recipient}"
    ),
    "postLearnerCompletions": "POST /api/v1/learner-completions",
    "listLearnerCompletions": "GET /api/v1/learner-completions",
    "getLearnerCompletion": "GET /api/v1/learner-completions/{completion_id}",
    "patchLearnerCompletion": "PATCH /api/v1/learner-completions/{completion_id}",
    "deleteLearnerCompletion": "DELETE /api/v1/learner-completions/{completion_id}",
    "resubmitLearnerCompletion": "POST /api/v1/learner-completions/{completion_id}/resubmit",
    "withdrawLearnerCompletion": "POST /api/v1/learner-completions/{completion_id}/withdraw",
    "queryLearnerCompletionStatus": "POST /api/v1/learner-completions/status",
    "uploadLearnerFile": "POST /api/v1/learner-completions/uploads",
    "matchLearners": "POST /api/v1/learner-matches",
    "listWebhooks": "GET /api/v1/webhooks",
    "createWebhook": "POST /api/v1/webhooks",
    "getWebhook": "GET /api/v1/webhooks/{endpoint_id}",
    "deleteWebhook": "DELETE /api/v1/webhooks/{endpoint_id}",
    "sendWebhookTestEvent": "POST /api/v1/webhooks/{endpoint_id}/test",
    "listLearnerRules": "GET /api/v1/rules/learners",
}
# The request body each operation takes, by component name.
EXPECTED_BODIES = {
    "createActivity": "ActivityIn",
    "putActivity": "ActivityIn",
    "uploadActivityFile": "ActivityFileIn",
    "putProgramSummary": "ProgramSummaryIn",
    "postAttestation": "AttestationIn",
    "putRegistration": "RegistrationIn",
    "postLearnerCompletions": "LearnerCompletionBatch",
    "patchLearnerCompletion": "LearnerCompletionChanges",
    "queryLearnerCompletionStatus": "LearnerStatusQuery",
    "uploadLearnerFile": "LearnerFileIn",
    "matchLearners": "LearnerMatchRequest",
    "createWebhook": "WebhookIn",
}


@pytest.fixture
def document(db: None) -> dict[str, Any]:
    response = Client().get(SCHEMA_PATH)
    assert response.status_code == 200
    return response.json()


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            operation_id = operation["operationId"]
            assert operation_id not in found, f"{operation_id} is used twice"
            found[operation_id] = (f"{method.upper()} {path}", operation)
    return found


def test_every_operation_has_its_short_camel_case_id_from_the_list(
    document: dict[str, Any],
) -> None:
    operations = _operations(document)
    assert all(api_contract.is_camel_case(name) for name in operations), sorted(operations)
    assert {name: where for name, (where, _) in operations.items()} == EXPECTED_OPERATIONS


def test_every_request_body_is_a_named_component_shared_by_its_operations(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    bodies = {}
    for name, (_, operation) in _operations(document).items():
        for media in operation.get("requestBody", {}).get("content", {}).values():
            ref = media["schema"].get("$ref", "")
            assert ref.startswith(REF), f"{name}'s body is inline"
            bodies[name] = ref.removeprefix(REF)
    assert bodies == EXPECTED_BODIES
    # One learner record, whichever way the batch is sent; no names from the code.
    batch = schemas["LearnerCompletionBatch"]["oneOf"]
    assert batch[0]["items"] == {"$ref": REF + "LearnerCompletionIn"}
    assert batch[1] == {"$ref": REF + "LearnerCompletionRecords"}
    records = schemas["LearnerCompletionRecords"]["properties"]["records"]
    assert records["items"] == {"$ref": REF + "LearnerCompletionIn"}
    assert {"Activity", "Upload", "ApiError", "LearnerCompletion", "Registration"} <= set(schemas)
    assert not [name for name in schemas if name.endswith("Out") or "Params" in name]
    assert not [name for name in schemas if name.startswith("pars")]


def _first_enum(node: Any) -> dict[str, Any]:
    """The first schema with an enum in `node` (depth first)."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "enum" in value:
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(node)
    return found[0]


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        return (
            {node["$ref"].removeprefix(REF)}
            if "$ref" in node
            else set().union(*(_refs(value) for value in node.values()))
        )
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def test_the_activity_code_lists_are_enums_with_labels_in_requests_and_answers(
    document: dict[str, Any],
) -> None:
    schemas = inlined(document)["components"]["schemas"]
    request, answer = schemas["ActivityIn"]["properties"], schemas["Activity"]["properties"]
    for spec in FIELDS:
        if spec.kind not in (Kind.CHOICE, Kind.CHOICE_LIST):
            continue
        for schema in (_first_enum(request[spec.name]), _first_enum(answer[spec.name])):
            assert set(spec.choices) <= set(schema["enum"]), spec.name
            labels = dict(zip(schema["enum"], schema["x-enum-descriptions"], strict=True))
            assert all(labels[code] == label for code, label in spec.choices.items())
    assert _first_enum(answer["status"])["enum"] == ["draft", "active", "ready_to_close", "closed"]
    # `rss` and the legacy `RSS`: member names generated clients can tell apart.
    names = _first_enum(request["activity_format"])["x-enum-varnames"]
    assert "RSS" in names
    assert "LEGACY_RSS" in names


def test_each_code_list_is_one_named_enum_shared_by_requests_and_answers(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]

    def field(schema: str, name: str) -> set[str]:
        return _refs(schemas[schema]["properties"][name])

    assert field("ActivityIn", "activity_format") == field("Activity", "activity_format")
    assert field("Activity", "activity_format") == {"ActivityFormat"}
    assert field("ActivityIn", "delivery_methods") == field("Activity", "delivery_methods")
    assert field("ActivityIn", "state") == {"State"}
    assert field("LearnerCompletionIn", "profession") == {"Profession"}
    assert field("LearnerCompletion", "profession") == {"Profession"}
    assert schemas["ActivityFormat"]["enum"][0] == "course"
    assert schemas["LearnerCompletionStatus"]["x-enum-descriptions"]


def test_bodies_and_the_error_shape_have_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name in ("ActivityIn", "LearnerCompletionIn", "LearnerCompletionBatch", "ApiError"):
        assert schemas[name]["examples"], name
    create = document["paths"]["/api/v1/activities"]["post"]
    assert create["requestBody"]["content"]["application/json"]["example"]["title"]


def test_the_examples_are_what_the_service_accepts(provider: Any) -> None:
    from tests.learners.test_api import Api

    api = Api(provider)
    response = api.post("/activities", api_contract.ACTIVITY_EXAMPLE)
    assert response.status_code == 201, response.content


def test_a_view_missing_from_the_list_still_gets_a_camel_case_id() -> None:
    def upload_learner_photos(request: Any) -> None:  # pragma: no cover - never called
        return None

    assert api_contract.operation_id(upload_learner_photos) == "uploadLearnerPhotos"


# ---------------------------------------------------------------------------
# The changelog and the deprecation policy


def test_the_changelog_is_served_and_linked_from_the_api_docs(document: dict[str, Any]) -> None:
    response = Client().get("/api/v1/changelog")
    assert response.status_code == 200
    body = response.json()
    assert "12 months" in body["policy"]
    summaries = " ".join(c["summary"] for r in body["releases"] for c in r["changes"])
    assert "operationId" in summaries
    assert "ActivityIn" in summaries
    assert "/api/v1/changelog" in document["info"]["description"]


def test_the_changelog_and_its_docs_page_list_the_same_changes() -> None:
    from pathlib import Path

    from pars.api_changelog import CHANGES

    page = (Path(__file__).resolve().parents[1] / "docs" / "api-changelog.md").read_text()
    for release in CHANGES:
        assert release["date"] in page
        for change in release["changes"]:
            assert change["summary"].split(" (")[0].split(";")[0][:60] in " ".join(page.split())


def test_a_deprecation_shorter_than_twelve_months_is_refused() -> None:
    with pytest.raises(ValueError, match="365 days"):
        deprecated(
            since=datetime.date(2027, 1, 1), sunset=datetime.date(2027, 6, 1), successor="/x"
        )


def test_headers_follow_the_rfcs() -> None:
    info = Deprecation(datetime.date(2027, 1, 4), datetime.date(2028, 1, 4), "/api/v1/new")
    headers = info.headers()
    assert headers["Deprecation"] == "@1799020800"
    assert headers["Sunset"] == "Tue, 04 Jan 2028 00:00:00 GMT"
    assert headers["Link"].startswith('</api/v1/new>; rel="successor-version"')


@pytest.mark.urls("tests.support.deprecated_api")
def test_a_deprecated_operation_answers_with_deprecation_and_sunset_headers(db: None) -> None:
    for path in ("/old-api/v1/old-data", "/old-api/v1/old-response"):
        response = Client().get(path)
        assert response.status_code == 200
        assert response["Deprecation"] == "@1799020800", path
        assert response["Sunset"] == "Tue, 04 Jan 2028 00:00:00 GMT"
        assert 'rel="successor-version"' in response["Link"]
    current = Client().get("/old-api/v1/current")
    assert current.status_code == 200
    assert "Deprecation" not in current
    assert "Sunset" not in current
    document = Client().get("/old-api/v1/openapi.json").json()
    operation = document["paths"]["/old-api/v1/old-data"]["get"]
    assert operation["deprecated"] is True
    assert "2028-01-04" in operation["description"]
    assert "deprecated" not in document["paths"]["/old-api/v1/current"]["get"]
