"""Every answer of the web service has an example in its schema, and each example is valid
by its own schema (issue 16, item 1: "examples for each request and response"); every
operation documents the X-PARS-Environment header, and the key scheme the test keys."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from pars.api_contract import answer_schema_names


@pytest.fixture
def document(db: None) -> dict[str, Any]:
    answer = Client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json())


def validator(document: dict[str, Any], name: str) -> Draft202012Validator:
    """A validator of the component `name`, its references resolved in the document."""
    registry: Registry = Registry().with_resource(
        "urn:pars", Resource.from_contents(document, default_specification=DRAFT202012)
    )
    return Draft202012Validator({"$ref": f"urn:pars#/components/schemas/{name}"}, registry=registry)


def test_every_answer_schema_has_an_example_that_its_schema_accepts(
    document: dict[str, Any],
) -> None:
    names = answer_schema_names(document)
    for expected in ("Activity", "Upload", "Registration", "LearnerCompletionPage", "Provider"):
        assert expected in names
    components = document["components"]["schemas"]
    for name in names:
        examples = components[name].get("examples")
        assert examples, f"{name} has no example"
        errors = [e.message for e in validator(document, name).iter_errors(examples[0])]
        assert errors == [], f"{name}: {errors}"


def test_the_examples_check_catches_a_wrong_example(document: dict[str, Any]) -> None:
    """The check above can fail: an Activity whose format is no code is refused."""
    example = dict(document["components"]["schemas"]["Activity"]["examples"][0])
    example["activity_format"] = "no-such-code"
    assert list(validator(document, "Activity").iter_errors(example))


def test_the_activity_example_is_the_request_examples_activity(document: dict[str, Any]) -> None:
    example = document["components"]["schemas"]["Activity"]["examples"][0]
    assert (example["provider_activity_id"], example["title"]) == (
        "CARD-2026-01",
        "Cardiology Update",
    )


def test_every_operation_documents_the_environment_header(document: dict[str, Any]) -> None:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                header = response.get("headers", {}).get("X-PARS-Environment")
                assert header, f"{method.upper()} {path} {status}"
                assert header["schema"]["enum"] == ["live", "sandbox"]
    scheme = document["components"]["securitySchemes"]["ApiKeyAuth"]
    assert "pars_test_" in scheme["description"]
