"""The web service's published contract: the names a generated client is built from.

django-ninja names things after the code: an operation ``pars_activities_api_create_activity``
(module and function), and a request body written out in the operation itself: our JSON
bodies are documented through ``openapi_extra`` (the views read the raw JSON and hand it
to the one validator, so ninja never sees a body model), and a multipart form becomes
ninja's inline ``MultiPartBodyParams``. A client generator names every inline schema after
its operation, so one activity became a dozen classes. This module gives them the names an
integrator reads:

* :data:`OPERATION_IDS`: one short, stable camelCase ``operationId`` per view (ParsApi's
  ``get_openapi_operation_id``); ``tests/test_openapi_contract.py`` keeps the list.
* :func:`publish`: every request body as a named component (``ActivityIn``,
  ``LearnerCompletionIn``…) referenced by every operation that takes it; the answers'
  components without ninja's ``Out`` suffix (``Activity``, ``Upload``, ``ApiError``); the
  activity's code lists as ``enum``\\s in the answers too (from the data dictionary, as
  the request schema has them); and examples.

The operation ids and schema names are part of the contract: renaming one breaks every
generated client, so it is done only as docs/api-changelog.md's deprecation policy says.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pars.activities.api_schemas import code_schema
from pars.activities.dictionary import FIELDS, LEGACY_ACTIVITY_TYPES, REQUESTED_STATUSES
from pars.api_deprecation import HEADER_DOCS
from pars.intake.fields import Kind, Status
from pars.learners.models import CompletionStatus

# The view (module.function) -> its operationId. A view missing here gets its function's
# name in camelCase, and the contract test fails until it is added.
OPERATION_IDS: dict[str, str] = {
    "pars.api.provider": "getProvider",
    "pars.api.changelog": "getChangelog",
    "pars.activities.api.activities": "listActivities",
    "pars.activities.api.create_activity": "createActivity",
    "pars.activities.api.activity": "getActivity",
    "pars.activities.api.put_activity": "putActivity",
    "pars.activities.api.delete_activity": "deleteActivity",
    "pars.activities.api.activities_xml": "exportActivitiesXml",
    "pars.activities.api.activity_rules": "listActivityRules",
    "pars.activities.upload_api.create_upload": "uploadActivityFile",
    "pars.activities.upload_api.upload_detail": "getUpload",
    "pars.activities.upload_api.upload_errors": "listUploadErrors",
    "pars.reporting.api.annual_report_detail": "getAnnualReport",
    "pars.reporting.api.put_program_summary": "putProgramSummary",
    "pars.reporting.api.complete_summary": "completeProgramSummary",
    "pars.reporting.api.post_attestation": "postAttestation",
    "pars.learners.api_registrations.recipients": "listRecipients",
    "pars.learners.api_registrations.registrations": "listRegistrations",
    "pars.learners.api_registrations.registration_detail": "getRegistration",
    "pars.learners.api_registrations.put_registration": "putRegistration",
    "pars.learners.api_registrations.delete_registration_endpoint": "deleteRegistration",
    "pars.learners.api_registrations.learner_rules": "listLearnerRules",
    "pars.learners.api_completions.batch.report_completions": "postLearnerCompletions",
    "pars.learners.api_completions.reading.list_completions": "listLearnerCompletions",
    "pars.learners.api_completions.reading.completion_detail": "getLearnerCompletion",
    "pars.learners.api_completions.corrections.correct": "patchLearnerCompletion",
    "pars.learners.api_completions.corrections.delete_completion": "deleteLearnerCompletion",
    "pars.learners.api_completions.corrections.resubmit": "resubmitLearnerCompletion",
    "pars.learners.api_completions.corrections.withdraw": "withdrawLearnerCompletion",
    "pars.learners.api_completions.status.status_query": "queryLearnerCompletionStatus",
    "pars.learners.api_completions.learner_files.upload_learners": "uploadLearnerFile",
    "pars.learners.api_matches.learner_matches": "matchLearners",
    "pars.learners.api_webhooks.list_webhooks": "listWebhooks",
    "pars.learners.api_webhooks.create_webhook": "createWebhook",
    "pars.learners.api_webhooks.webhook_detail": "getWebhook",
    "pars.learners.api_webhooks.delete_webhook": "deleteWebhook",
    "pars.learners.api_webhooks.send_webhook_test": "sendWebhookTestEvent",
    "pars.learners.api_year_checks.annual_report_checks": "getAnnualReportChecks",
}

# Request bodies by the title their schema has, or (multipart forms, which ninja titles
# MultiPartBodyParams) by operation: the component each becomes. PUT /activities/{id}
# takes the same ActivityIn as POST (there the ID in the address may be left out of it).
BODY_NAMES_BY_OPERATION = {
    "uploadActivityFile": "ActivityFileIn",
    "uploadLearnerFile": "LearnerFileIn",
}
# Schemas nested in a body that get a name of their own (by their title).
NAMED_TITLES = frozenset(
    {
        "ActivityIn",
        "LearnerCompletionIn",
        "LearnerCompletionBatch",
        "LearnerCompletionChanges",
        "LearnerStatusQuery",
        "LearnerMatchRequest",
        "RegistrationIn",
        "ProgramSummaryIn",
        "AttestationIn",
        "WebhookIn",
        "LearnerMatchLearner",
    }
)
# Objects nested in a schema's field that get a name of their own: (schema, field) -> name.
NESTED_NAMES = {
    ("ActivityIn", "outcome_measures"): "OutcomeMeasureIn",
    ("ActivityIn", "supporters"): "SupporterIn",
    ("ActivityIn", "missing_for_next_status"): "MissingField",
}
# Answers' components whose name is not theirs less "Out".
COMPONENT_NAMES = {
    "ApiErrors": "ApiError",
    "UploadErrorOut": "ApiErrorItem",
    "UploadRowErrorOut": "UploadRowError",
    "ErrorPage": "UploadErrorPage",
    "MissingOut": "MissingField",
    "RulesOut": "RuleCatalogue",
}

REF = "#/components/schemas/"
_CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def operation_id(view: Any) -> str:
    """The operationId of a view function."""
    key = f"{view.__module__}.{view.__name__}"
    if key in OPERATION_IDS:
        return OPERATION_IDS[key]
    head, *rest = view.__name__.split("_")
    return head + "".join(part.title() for part in rest)


def is_camel_case(name: str) -> bool:
    return bool(_CAMEL.match(name))


def publish(schema: dict[str, Any]) -> dict[str, Any]:
    """The document ninja generated, with the contract's names (a copy: the request
    schemas are the very dicts the JSON channel validates with)."""
    document = copy.deepcopy(schema)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    _merge_statuses(document)
    _name_bodies(document, components)
    _name_batch_object(components)
    _rename_components(document, components)
    _name_nested(components)
    _answer_enums(components)
    _name_enums(components)
    _enum_names(document)
    _examples(document, components)
    _answer_examples(document, components)
    _environment_header(document)
    _id_from_the_address(components)
    for _, _, operation in _operations(document):
        if operation.get("deprecated"):  # the headers every answer of it carries
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    response.setdefault("headers", {}).update(copy.deepcopy(HEADER_DOCS))
    return document


def _id_from_the_address(components: dict[str, Any]) -> None:
    """PUT shares ActivityIn with POST but takes the Provider Activity ID from its address:
    the one class may not call the ID required (POST refuses a body without it, rule
    ``activity.provider_activity_id.required``)."""
    activity = components.get("ActivityIn")
    if not activity or "provider_activity_id" not in activity.get("required", ()):
        return
    activity["required"] = [n for n in activity["required"] if n != "provider_activity_id"]
    field = activity.get("properties", {}).get("provider_activity_id", {})
    field["description"] = (
        field.get("description", "") + " Required on POST; PUT takes it from the address "
        "(send it equal to the address or leave it out)."
    ).strip()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in document.get("paths", {}).items()
        for method, operation in methods.items()
        if isinstance(operation, dict)
    ]


def _merge_statuses(document: dict[str, Any]) -> None:
    """One entry per status: ninja keys its responses by number, an ``openapi_extra``
    written in JSON's terms by text ("200"), and the JSON document would hold both, the
    latter (without the description) hiding the former."""
    for _, _, operation in _operations(document):
        responses = operation.get("responses", {})
        merged: dict[str, Any] = {}
        for status, response in responses.items():
            merged[str(status)] = _deep_merge(merged.get(str(status), {}), response)
        operation["responses"] = merged


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def _name_bodies(document: dict[str, Any], components: dict[str, Any]) -> None:
    for _, _, operation in _operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            body = media.get("schema")
            if not isinstance(body, dict) or "$ref" in body:
                continue
            name = BODY_NAMES_BY_OPERATION.get(operation.get("operationId", ""))
            name = name or body.get("title") or f"{operation.get('operationId', 'Request')}Body"
            media["schema"] = _component(components, str(name), body)


def _component(components: dict[str, Any], name: str, body: dict[str, Any]) -> dict[str, str]:
    """`body` as the component `name` (the first one given that name is kept), with the
    named schemas inside it as components of their own: a reference to it."""
    if name not in components:
        body = {**body, "title": name}
        components[name] = body
        components[name] = _hoist(components, body, top=True)
    return {"$ref": REF + name}


def _name_batch_object(components: dict[str, Any]) -> None:
    """The learner batch sent as an object (`{"records": [...]}`): LearnerCompletionRecords,
    not the generator's LearnerCompletionBatchType1."""
    branches = components.get("LearnerCompletionBatch", {}).get("oneOf", [])
    for index, branch in enumerate(branches):
        if branch.get("type") == "object" and "records" in branch.get("properties", {}):
            components["LearnerCompletionRecords"] = {**branch, "title": "LearnerCompletionRecords"}
            branches[index] = {"$ref": REF + "LearnerCompletionRecords"}


def _name_nested(components: dict[str, Any]) -> None:
    """The objects of NESTED_NAMES as components (an existing one of that name is the
    same shape: MissingField, which ActivityIn has as a read-only field)."""

    def replace(node: Any, name: str) -> Any:
        if isinstance(node, list):
            return [replace(item, name) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get("type") == "object" and "properties" in node:
            components.setdefault(name, {**node, "title": name})
            return {"$ref": REF + name}
        return {key: replace(value, name) for key, value in node.items()}

    for (owner, field), name in NESTED_NAMES.items():
        properties = components.get(owner, {}).get("properties", {})
        if field in properties:
            properties[field] = replace(properties[field], name)


def _hoist(components: dict[str, Any], node: Any, *, top: bool = False) -> Any:
    if isinstance(node, list):
        return [_hoist(components, item) for item in node]
    if not isinstance(node, dict):
        return node
    title = node.get("title")
    if not top and isinstance(title, str) and title in NAMED_TITLES:
        return _component(components, title, node)
    return {key: _hoist(components, value) for key, value in node.items()}


def _rename_components(document: dict[str, Any], components: dict[str, Any]) -> None:
    renamed: dict[str, str] = {}
    for name in list(components):
        new = COMPONENT_NAMES.get(name)
        if new is None and name.endswith("Out") and name[:-3] not in components:
            new = name[:-3]
        if new and new not in components:
            renamed[name] = new
    for old, new in renamed.items():
        components[new] = components.pop(old)
        if components[new].get("title") == old:
            components[new]["title"] = new
    refs = {REF + old: REF + new for old, new in renamed.items()}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str) and node["$ref"] in refs:
                node["$ref"] = refs[node["$ref"]]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


# An answer's text fields that are codes take the enum of the request's field of that name
# (the request schemas are generated from the data dictionaries).
ANSWERS_OF_REQUESTS = {
    "LearnerCompletion": "LearnerCompletionIn",
    "LearnerCompletionDetail": "LearnerCompletionIn",
    "Registration": "RegistrationIn",
}


def _enum_of(field: dict[str, Any]) -> dict[str, Any] | None:
    for branch in (field, *field.get("anyOf", ())):
        if "enum" in branch and branch.get("type") == "string":
            return {key: branch[key] for key in ("enum", "x-enum-descriptions") if key in branch}
    return None


def _copy_enums(answer: dict[str, Any] | None, request: dict[str, Any] | None) -> None:
    if not answer or not request:
        return
    sent = request.get("properties", {})
    for name, field in answer.get("properties", {}).items():
        codes = _enum_of(sent.get(name, {}))
        if codes is None:
            continue
        for branch in (field, *field.get("anyOf", ())):
            if branch.get("type") == "string" and "enum" not in branch:
                branch.update(copy.deepcopy(codes))


def _answer_enums(components: dict[str, Any]) -> None:
    """The activity's codes in the answer as the request has them (the data dictionary's
    lists, "" for a field left empty): generated clients get enums for both."""
    for answer, request in ANSWERS_OF_REQUESTS.items():
        _copy_enums(components.get(answer), components.get(request))
    for name in ("LearnerCompletion", "LearnerCompletionDetail"):
        status = components.get(name, {}).get("properties", {}).get("status")
        if status is not None:
            status["enum"] = list(CompletionStatus.values)
            status["x-enum-descriptions"] = [str(label) for label in CompletionStatus.labels]
    activity = components.get("Activity")
    if not activity:
        return
    properties = activity.get("properties", {})
    for spec in FIELDS:
        field = properties.get(spec.name)
        if field is None:
            continue
        if spec.kind is Kind.CHOICE:  # as the request has it: "" only where it may be empty
            field.pop("type", None)
            field.update(code_schema(spec, blank=spec.required_for is not Status.DRAFT))
        elif spec.kind is Kind.CHOICE_LIST:
            field["items"] = code_schema(spec)
    if "status" in properties:
        properties["status"].update(
            {
                "enum": list(REQUESTED_STATUSES),
                "x-enum-descriptions": list(REQUESTED_STATUSES.values()),
            }
        )
    if "legacy_activity_type" in properties:
        properties["legacy_activity_type"].update(
            {
                "enum": [*LEGACY_ACTIVITY_TYPES, ""],
                "x-enum-descriptions": [
                    *(f"Legacy activity type {code}" for code in LEGACY_ACTIVITY_TYPES),
                    "None",
                ],
            }
        )


# The components whose code lists become enums of their own, in this order (the first to
# use a name keeps it; another list under the same field name is prefixed with its schema).
ENUM_OWNERS = (
    "Activity",
    "ActivityIn",
    "OutcomeMeasureIn",
    "SupporterIn",
    "LearnerCompletion",
    "LearnerCompletionDetail",
    "LearnerCompletionIn",
    "LearnerCompletionChanges",
    "LearnerStatusQuery",
    "LearnerMatchRequest",
    "LearnerMatchLearner",
    "Registration",
    "RegistrationIn",
)


def _enum_name(field: str) -> str:
    """delivery_methods -> DeliveryMethod (a list's items are one of them)."""
    name = "".join(part.title() for part in field.split("_"))
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name[:-1] if name.endswith("s") and not name.endswith(("ss", "us")) else name


def _name_enums(components: dict[str, Any]) -> None:
    """Each code list once, as a component named after its field (ActivityFormat, State,
    DeliveryMethod…) that every schema using it refers to: a generated client has one
    enum per list, not one per schema and field."""
    named: dict[str, list[Any]] = {}

    def name_for(owner: str, field: str, codes: list[Any]) -> str:
        base = _enum_name(field)
        if base in components and base not in named:  # an object schema has that name
            base += "Code"
        same = [name for name, known in named.items() if known == codes and name.endswith(base)]
        if same:
            return same[0]
        name = base if base not in named else owner + base
        named[name] = codes
        return name

    def place(owner: str, field: str, node: Any) -> Any:
        if isinstance(node, list):
            return [place(owner, field, item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get("type") == "string" and "enum" in node and "x-enum-descriptions" in node:
            codes = {key: node[key] for key in ("type", "enum", "x-enum-descriptions")}
            name = name_for(owner, field, node["enum"])
            components.setdefault(name, {"title": name, **codes})
            rest = {key: value for key, value in node.items() if key not in codes}
            return {"allOf": [{"$ref": REF + name}], **rest} if rest else {"$ref": REF + name}
        return {
            key: (
                {sub: place(owner, sub, value[sub]) for sub in value}
                if key == "properties" and isinstance(value, dict)
                else place(owner, field, value)
            )
            for key, value in node.items()
        }

    for owner in ENUM_OWNERS:
        if owner in components:
            components[owner] = place(owner, owner, components[owner])


def _constant(value: str) -> str:
    return re.sub(r"\W+", "_", value).strip("_").upper() or "BLANK"


def _enum_names(node: Any) -> None:
    """Names for the codes of an enum whose codes differ only in case (the Activity Format
    takes `rss` and the legacy `RSS`): generated clients name enum members in capitals, so
    they get ``x-enum-varnames`` (the legacy codes as LEGACY_…)."""
    if isinstance(node, list):
        for item in node:
            _enum_names(item)
        return
    if not isinstance(node, dict):
        return
    values = node.get("enum")
    if isinstance(values, list) and all(isinstance(value, str) for value in values):
        names = [_constant(value) for value in values]
        if len(set(names)) < len(names):
            labels = node.get("x-enum-descriptions") or [""] * len(values)
            seen: set[str] = set()
            for index, label in enumerate(labels):
                if names[index] in seen:
                    prefix = "LEGACY_" if str(label).startswith("Legacy") else "ALSO_"
                    names[index] = prefix + names[index]
                seen.add(names[index])
            node["x-enum-varnames"] = names
    for value in node.values():
        _enum_names(value)


# ---------------------------------------------------------------------------
# Examples: what a client sends and gets, for the docs page and generated clients.

ACTIVITY_EXAMPLE: dict[str, Any] = {
    "provider_activity_id": "CARD-2026-01",
    "title": "Cardiology Update",
    "activity_format": "course",
    "delivery_methods": ["in_person"],
    "start_date": "2026-03-01",
    "end_date": "2026-03-02",
    "description": "Heart failure and arrhythmia, for internists.",
    "city": "Chicago",
    "state": "IL",
    "country": "USA",
    "providership": "direct",
    "ama_credits": 6.5,
    "physician_learners": 120,
    "other_learners": 35,
    "commercial_support_received": False,
    "outcome_measures": [{"outcome": "learner_competence", "measurement_types": ["objective"]}],
    "listed_on_passport": False,
}
COMPLETION_EXAMPLE: dict[str, Any] = {
    "provider_activity_id": "CARD-2026-01",
    "recipient": "ABIM",
    "first_name": "Avery",
    "last_name": "Quinn",
    "birth_date": "07-14",
    "learner_id": "123456",
    "completion_date": "2026-03-02",
    "moc_points": 6.5,
}
ERROR_EXAMPLE: dict[str, Any] = {
    "detail": "Activity Format must be one of the codes listed.",
    "errors": [
        {
            "row": None,
            "field": "activity_format",
            "rule": "activity_format.invalid",
            "message": "Activity Format must be one of the codes listed.",
        }
    ],
}
_BODY_EXAMPLES = {
    "ActivityIn": ACTIVITY_EXAMPLE,
    "LearnerCompletionIn": COMPLETION_EXAMPLE,
    "LearnerCompletionBatch": {"records": [COMPLETION_EXAMPLE]},
}


def _examples(document: dict[str, Any], components: dict[str, Any]) -> None:
    for name, example in _BODY_EXAMPLES.items():
        if name in components:
            components[name]["examples"] = [example]
    if "ApiError" in components:
        components["ApiError"]["examples"] = [ERROR_EXAMPLE]
    for _, _, operation in _operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            ref = media.get("schema", {}).get("$ref", "")
            name = ref.removeprefix(REF)
            if name in _BODY_EXAMPLES and "example" not in media:
                media["example"] = _BODY_EXAMPLES[name]


# Examples of the answers: every schema a 2xx answer names (or lists) gets one, built from
# the request examples' values and a live record's typical values, the rest from the
# schema itself (its first code, its format). tests/test_openapi_contract.py checks that
# every one validates against its own schema.
ANSWER_VALUES: dict[str, Any] = {
    **ACTIVITY_EXAMPLE,
    **COMPLETION_EXAMPLE,
    "id": 42,
    "number": 3,
    "provider_id": "0001234",
    "name": "Riverside Health",
    "accreditor_type": "accme",
    "accreditation_status": "accredited",
    "accme_activity_id": "202612345",
    "url": "https://pars.example.org/api/v1/uploads/42",
    "original_name": "activities.tsv",
    "file_format": "tsv",
    "layout": "tab-delimited",
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "size": 2048,
    "code": "ABIM",
    "kind": "moc_board",
    "kind_label": "MOC board",
    "detail": "1 record added.",
    "message": "Finished: 2 activities added.",
    "description": "Heart failure and arrhythmia, for internists.",
    "reporting_year": 2026,
    "year": 2026,
    "policy": "Changes are announced here at least 6 months before they take effect.",
    "docs": "https://pars.example.org/docs/api-changelog",
    "last_error": "",
    "secret": "whsec_3q2-7Zb1xYvXw0",
    "credit_types": ["Medical Knowledge"],
    "moc_credit_types": ["Medical Knowledge"],
    "npi": "1234567893",
    "status_label": "Queued for the recipient",
    "status_reason": "",
    "status_code": "",
    "what_to_do": "",
    "last_channel": "api",
    "joint_providers": [],
}
# Values by schema where the field's name alone does not say (an upload's title is not an
# activity's).
ANSWER_VALUES_BY_SCHEMA: dict[str, dict[str, Any]] = {
    "Upload": {
        "title": "Activity upload #3",
        "status": "succeeded",
        "status_label": "Succeeded",
        "finished": True,
        "notices": [],
        "duplicate_of": None,
        "progress": {"done": 2, "total": 2},
        "rows_total": 2,
        "added": 2,
        "updated": 0,
        "deleted": 0,
        "rejected": 0,
        "error_count": 0,
        "errors_stored": 0,
        "errors": [],
        "errors_next": None,
    },
    "UploadAccepted": {"title": "Activity upload #3", "status": "queued"},
    "UploadRowError": {
        "row": 3,
        "field": "end_date",
        "rule": "end_date.before_start",
        "message": "End Date must be on or after Start Date.",
        "record": "FILE-2",
        "column": "End Date",
    },
    "UploadErrorPage": {"count": 1, "error_count": 1, "next": None},
    "ApiErrorItem": {
        "row": 1,
        "field": "end_date",
        "rule": "end_date.before_start",
        "message": "End Date must be on or after Start Date.",
    },
    "Recipient": {
        "name": "American Board of Internal Medicine",
        "state": "",
        "attestation_text": "The activity meets the ABIM MOC requirements.",
        "registration_fields": ["moc_points", "credit_types"],
        "required_registration_fields": ["moc_points", "credit_types"],
        "practice_areas": [],
        "feedback_types": [],
        "required_completion_fields": ["first_name", "last_name", "birth_date", "learner_id"],
        "variable_credit": True,
        "points_step": 0.25,
        "window_years": 1,
    },
    "Registration": {
        "recipient_name": "American Board of Internal Medicine",
        "practice_areas": [],
        "participation_threshold": None,
        "feedback_type": "",
        "internal_id": "",
        "rems_type": "",
        "rems_rpc_id": "",
        "last_channel": "api",
        "url": "https://pars.example.org/api/v1/activities/CARD-2026-01/registrations/ABIM",
        "completions": "https://pars.example.org/api/v1/learners/completions?activity=CARD-2026-01",
    },
    "LearnerRecordResult": {
        "index": 0,
        "status": "accepted",
        "outcome": "added",
        "completion_status": "queued",
        "errors": [],
    },
    "Webhook": {
        "url": "https://lms.example.org/hooks/pars",
        "description": "Completion statuses for our LMS",
        "active": True,
        "last_failure_at": None,
        "last_status_code": 200,
        "last_outcome": "200 OK",
    },
    "NewWebhook": {
        "url": "https://lms.example.org/hooks/pars",
        "description": "Completion statuses for our LMS",
        "active": True,
        "last_success_at": None,
        "last_failure_at": None,
        "last_attempt_at": None,
        "last_status_code": None,
        "last_outcome": "",
    },
}
ANSWER_FORMATS = {
    "date": "2026-03-02",
    "date-time": "2026-03-02T15:04:05Z",
    "uri": "https://pars.example.org/",
    "email": "cme@riverside.example.org",
    "uuid": "6f1c2d3e-4b5a-4c6d-8e7f-8091a2b3c4d5",
}


def answer_schema_names(document: dict[str, Any]) -> list[str]:
    """The components a 2xx answer is (or lists), in the document's order: each gets an
    example (tests/test_openapi_examples.py checks them)."""
    names: list[str] = []
    for _, _, operation in _operations(document):
        for status, response in operation.get("responses", {}).items():
            if not str(status).startswith("2"):
                continue
            for media in response.get("content", {}).values():
                schema = media.get("schema", {})
                ref = schema.get("$ref") or schema.get("items", {}).get("$ref", "")
                name = str(ref).removeprefix(REF)
                if name and name not in names:
                    names.append(name)
    return names


def _example_of(
    components: dict[str, Any], node: Any, field: str = "", depth: int = 0, owner: str = ""
) -> Any:
    if not isinstance(node, dict) or depth > 8:
        return None
    if "$ref" in node:
        name = str(node["$ref"]).removeprefix(REF)
        target = components.get(name, {})
        if target.get("examples"):
            return copy.deepcopy(target["examples"][0])
        return _example_of(components, target, field, depth + 1, owner=name)
    for key in ("allOf", "oneOf", "anyOf"):
        branches = [b for b in node.get(key, ()) if b.get("type") != "null"]
        if branches:
            return _example_of(components, branches[0], field, depth + 1)
    if "anyOf" in node:  # only null
        return None
    if "enum" in node:
        hinted = ANSWER_VALUES.get(field)
        return hinted if hinted in node["enum"] else node["enum"][0]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        chosen = ANSWER_VALUES_BY_SCHEMA.get(owner, {})
        return {
            name: (
                copy.deepcopy(chosen[name])
                if name in chosen
                else _example_of(components, sub, name, depth + 1)
            )
            for name, sub in node.get("properties", {}).items()
        }
    if kind == "array":
        hinted = ANSWER_VALUES.get(field)
        if isinstance(hinted, list):
            return copy.deepcopy(hinted)
        item = _example_of(components, node.get("items", {}), field, depth + 1)
        return [] if item is None else [item]
    hinted = ANSWER_VALUES.get(field)
    if kind == "boolean":
        return hinted if isinstance(hinted, bool) else False
    if kind == "integer":
        return hinted if type(hinted) is int else max(1, int(node.get("minimum", 1)))
    if kind == "number":
        return hinted if isinstance(hinted, (int, float)) and type(hinted) is not bool else 1.0
    if kind == "string":
        if node.get("format") in ANSWER_FORMATS:
            return ANSWER_FORMATS[node["format"]]
        if isinstance(hinted, str):
            return hinted
        return field.replace("_", " ").capitalize() or "text"
    return None


def _answer_examples(document: dict[str, Any], components: dict[str, Any]) -> None:
    """An example for each answer's schema (the components inside it first, so that an
    answer's example reuses theirs)."""
    for name in answer_schema_names(document):
        schema = components.get(name)
        if schema is None or schema.get("examples"):
            continue
        schema["examples"] = [_example_of(components, schema, owner=name)]


# Every answer of the web service says which environment it came from (a test key's
# answers "sandbox"): pars.accounts.environment sets it, on refusals too.
ENVIRONMENT_HEADER = {
    "X-PARS-Environment": {
        "description": "Which data the request acted on: `live`, or `sandbox` for a test "
        "key (`pars_test_…`), whose data never reaches reports, exports or boards.",
        "schema": {"type": "string", "enum": ["live", "sandbox"]},
    }
}
BEARER_DESCRIPTION = (
    "An API key, sent as `Authorization: Bearer <key>`. Live keys (`pars_…`) act on the "
    "provider's data. Test keys (`pars_test_…`), created on the provider's Sandbox page, "
    "act only on its sandbox: a separate copy of the provider whose data never reaches "
    "reports, exports or boards (learner records go to the registry simulator). Every "
    "answer's `X-PARS-Environment` header says which one a request reached."
)


def _environment_header(document: dict[str, Any]) -> None:
    for _, _, operation in _operations(document):
        for response in operation.get("responses", {}).values():
            if isinstance(response, dict):
                response.setdefault("headers", {}).update(copy.deepcopy(ENVIRONMENT_HEADER))
    schemes = document.get("components", {}).get("securitySchemes", {})
    for scheme in schemes.values():
        if scheme.get("scheme") == "bearer":
            scheme["description"] = BEARER_DESCRIPTION
