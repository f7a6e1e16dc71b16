"""The web service's fast paths: a single POST writes with one plain INSERT ... ON CONFLICT
(no staging table, TRUNCATE or COPY), small and big batches store the same rows, outcomes
and audit rows, and the activity list is serialized in bulk to the very bytes the
per-record serialiser gives."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from ninja.responses import NinjaJSONEncoder

from pars.accounts.access import ProviderAccess, get_api_access
from pars.accounts.services import create_api_key
from pars.activities import services
from pars.activities.api import activities_json
from pars.activities.api_schemas import ActivityOut
from pars.activities.models import Activity, ActivityChange, CommercialSupport
from pars.activities.services import apply_activities
from pars.activities.status_needs import activity_needs
from pars.activities.validation import CleanActivity, validate_activity
from pars.providers.models import Provider
from tests.activities.test_activity_api import Api, course
from tests.activities.test_round_trip import golden  # noqa: F401 (a fixture)

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the INSERT and COPY paths are PostgreSQL's"
)

# ---------------------------------------------------------------------------
# One POST


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The COPY statements run meanwhile (psycopg's copy, which Django does not capture)."""
    seen: list[str] = []
    real = psycopg.Cursor.copy

    def recording(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(statement))
        return real(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", recording)
    return seen


@postgresql_only
@pytest.mark.parametrize("existing", [False, True], ids=["added", "updated"])
def test_one_post_is_a_few_plain_statements(
    provider: Provider, copies: list[str], existing: bool
) -> None:
    api = Api(provider)
    assert api.get().status_code == 200  # the key's first use stamps it
    if existing:
        assert api.post(course(provider_activity_id="P-1")).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = api.post(course(provider_activity_id="P-1", title="Renamed"))
    assert response.status_code == (200 if existing else 201), response.content
    statements = [query["sql"] for query in queries.captured_queries]
    assert copies == []
    for word in ("CREATE TEMP", "TRUNCATE", "COPY"):
        assert not [sql for sql in statements if word in sql.upper()], word
    # Key, savepoint, the provider held with the stored record and its supporters, one
    # statement reading the closed years and writing the audit event, the activity, its
    # supporters and the trail's changes (as a new activity: it writes nothing when the
    # activity is stored, and an update's own follows), release; the answer is the row
    # written (no read back).
    assert len(statements) == (6 if existing else 5), "\n".join(s[:90] for s in statements)
    assert statements[-2].startswith("WITH closed AS")
    assert "ev AS (INSERT INTO audit_auditevent" in statements[-2]


# ---------------------------------------------------------------------------
# Small and big batches store the same


def clean(raw: dict[str, Any]) -> CleanActivity:
    record, errors = validate_activity(raw)
    assert not errors, errors
    assert record is not None
    return record


def draft(activity_id: str, **values: Any) -> dict[str, Any]:
    return {
        "provider_activity_id": activity_id,
        "title": "Tumor Board",
        "activity_format": "course",
        "start_date": "2026-03-01",
        "end_date": "2026-03-02",
        "ama_credits": "6.5",
        "joint_providers": ["County Medical Society"],
        "commercial_support_received": "yes",
        "supporters": [{"source": "Example Pharma", "monetary_amount": "5000"}],
        **values,
    }


FIRST = [draft(f"B-{n}") for n in range(6)]
SECOND = [
    draft("B-0"),  # unchanged
    draft("B-1", title="Renamed"),  # a value
    draft("B-2", supporters=[{"source": "Device Co", "in_kind": "yes"}]),  # a supporter
    draft("B-3", supporters=[]),  # supporters dropped
    draft("B-4", ama_credits="6.50"),  # the same value written another way: unchanged
    draft("B-9", delivery_methods="in_person"),  # new
]


def _snapshot(access: ProviderAccess, results: list[Any]) -> dict[str, Any]:
    activities = Activity.objects.filter(provider=access.provider)
    pks = dict(activities.values_list("pk", "provider_activity_id"))
    skipped = ("id", "provider", "created_at", "updated_at", "created_by_event")
    fields = [f.name for f in Activity._meta.concrete_fields if f.name not in skipped]
    return {
        "rows": sorted(tuple(row) for row in activities.values_list(*fields)),
        "supporters": sorted(
            (
                pks[s.activity_id],
                s.position,
                s.source,
                s.monetary_amount,
                s.in_kind,
                tuple(s.in_kind_types),
                s.in_kind_description,
            )
            for s in CommercialSupport.objects.filter(provider=access.provider)
        ),
        "outcomes": [
            [(o.row, o.key, o.outcome, pks.get(o.id)) for o in result.outcomes]
            for result in results
        ],
        "changes": sorted(
            (c.provider_activity_id, c.action, json.dumps(c.changes, sort_keys=True))
            for c in ActivityChange.objects.filter(provider=access.provider)
        ),
        # Unchanged records keep their stamp: written once, by the first batch.
        "stamps": sorted(
            (key, stamp == created)
            for key, stamp, created in activities.values_list(
                "provider_activity_id", "updated_at", "created_at"
            )
        ),
    }


def _run(access: ProviderAccess) -> dict[str, Any]:
    results = [
        apply_activities(
            access, [(n, clean(raw)) for n, raw in enumerate(batch, start=2)], channel="api"
        )
        for batch in (FIRST, SECOND)
    ]
    return _snapshot(access, results)


@postgresql_only
@pytest.mark.parametrize("threshold", [0, 50], ids=["copy", "values"])
def test_small_and_big_batches_store_the_same(
    monkeypatch: pytest.MonkeyPatch,
    provider: Provider,
    other_provider: Provider,
    copies: list[str],
    threshold: int,
) -> None:
    """The batches through the path `threshold` picks, and through the other one."""
    other = 50 if threshold == 0 else 0
    monkeypatch.setattr(services, "SMALL_BATCH", threshold)
    first = _run(get_api_access(provider, create_api_key(provider=provider)[0]))
    assert bool(copies) == (threshold == 0)
    monkeypatch.setattr(services, "SMALL_BATCH", other)
    second = _run(get_api_access(other_provider, create_api_key(provider=other_provider)[0]))
    assert first == second
    assert [o[2] for o in first["outcomes"][1]] == [
        "unchanged",
        "updated",
        "updated",
        "updated",
        "unchanged",
        "added",
    ]
    assert len(first["changes"]) == 3


# ---------------------------------------------------------------------------
# The list, serialized in bulk


def _one_by_one(activities: Any) -> bytes:
    """The list as ninja rendered the model instances before: each through ActivityOut
    (with what the activity lacks for its next status, as the model does not hold it)."""
    dumped = []
    for activity in activities.prefetch_related("supporters"):
        needs = activity_needs(activity)
        activity.next_status = needs.next_status
        activity.missing_for_next_status = [asdict(m) for m in needs.missing]
        dumped.append(ActivityOut.from_orm(activity).model_dump())
    return json.dumps(dumped, cls=NinjaJSONEncoder).encode()


def test_the_list_is_the_same_bytes_as_one_by_one(golden: list[str], provider: Provider) -> None:  # noqa: F811
    activities = Activity.objects.filter(provider=provider).order_by("provider_activity_id")
    expected = _one_by_one(activities)
    assert json.dumps(activities_json(activities), cls=NinjaJSONEncoder).encode() == expected
    response = Api(provider).get(limit=1000)
    assert response.status_code == 200
    assert response.content == expected
    assert response["X-Total-Count"] == str(len(golden))
    assert response["Content-Type"].startswith("application/json")
    # A page, and a year.
    page = Api(provider).get(limit=3, offset=2)
    assert page.content == _one_by_one(activities[2:5])
    year = activities.first().reporting_year  # type: ignore[union-attr]
    same_year = Api(provider).get(year=year)
    assert same_year.content == _one_by_one(activities.filter(reporting_year=year))


def test_the_list_of_no_activities_is_an_empty_array(provider: Provider) -> None:
    response = Api(provider).get()
    assert (response.status_code, response.content) == (200, b"[]")
    assert response["X-Total-Count"] == "0"
