"""The JSON contract's compiled first check (issue 14): a body it passes has no violation
by the library's own reading, and every body it cannot pass is told as before."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pars.activities.api_schemas import POST_SCHEMA, PUT_SCHEMA
from pars.lib import json_contract
from pars.testing import course_json


def slow(schema: Any, value: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    with monkeypatch.context() as patched:
        patched.setattr(json_contract, "_passes_compiled", lambda schema, value: False)
        return json_contract.violations(schema, value)


def course(**changes: Any) -> dict[str, Any]:
    body = course_json(provider_activity_id="C-1")
    body.update(changes)
    return body


# Values where a JSON reading and a Python one may part: numbers at their edges, dates
# that look right, text with control characters and odd whitespace.
BODIES: list[Any] = [
    course(),
    course(ama_credits=0.07),
    course(ama_credits=0.25),
    course(ama_credits=6.5),
    course(ama_credits=1e-7),
    course(ama_credits=float("nan")),
    course(ama_credits=float("inf")),
    course(ama_credits=-0.0),
    course(ama_credits=True),
    course(physician_learners=2.0),
    course(physician_learners=2.5),
    course(physician_learners=10**30),
    course(physician_learners=-1),
    course(start_date="2026-02-30"),
    course(start_date="2026-2-03"),
    course(start_date="2026-02-03\n"),
    course(start_date="2026-02-03T00:00:00"),
    course(title="Title\n"),
    course(title="\n"),
    course(title="\u00a0"),
    course(title="A\x00B"),
    course(title="x" * 501),
    course(title="\ud800"),
    course(provider_activity_id="A/B %"),
    course(activity_format="Course"),
    course(delivery_methods=[]),
    course(delivery_methods="in_person"),
    course(supporters=[{"source": "X", "monetary_amount": 0.001}]),
    course(supporters=[{"source": "X", "monetary_amount": "5"}]),
    course(supporters=[{"source": "X", "unknown": 1}]),
    course(outcome_measures=[{"outcome": "learner_competence"}]),
    course(unknown_field=1),
    {},
    [],
    None,
]


@pytest.mark.parametrize("schema", [POST_SCHEMA, PUT_SCHEMA], ids=["post", "put"])
@pytest.mark.parametrize("body", BODIES)
def test_the_compiled_check_tells_what_the_library_tells(
    schema: Any, body: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert json_contract.violations(schema, copy.deepcopy(body)) == slow(
        schema, copy.deepcopy(body), monkeypatch
    )


def test_a_valid_body_is_not_walked_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    def walked(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the library's walk ran for a valid body")

    monkeypatch.setattr(json_contract._Validator, "iter_errors", walked)
    assert json_contract.violations(POST_SCHEMA, course()) == []


def test_a_schema_the_compiled_check_cannot_read_is_read_by_the_library() -> None:
    schema = {"type": "string", "pattern": "\\Z"}  # Python's regex, not ECMA's
    assert json_contract.violations(schema, "x") == []
    assert [v.keyword for v in json_contract.violations(schema, 1)] == ["type"]
