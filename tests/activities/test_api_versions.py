"""Safe concurrent edits (issue 16 item 4): an activity's answers carry its version as an
`ETag`; POST, PUT and DELETE with a stale `If-Match` answer 412 and change nothing; the list
pages by cursor through `Link: <…>; rel="next"`, every activity once even while others
are added between pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pars.activities.models import Activity
from pars.providers.models import Provider
from pars.testing import make_activity
from tests.activities.test_activity_api import Api, course

pytestmark = pytest.mark.django_db


def snapshot(provider: Provider) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        dict(row) for row in Activity.objects.filter(provider=provider).order_by("pk").values()
    ]
    return rows


# ---------------------------------------------------------------------------
# ETag


def test_every_answer_of_an_activity_carries_its_version(provider: Provider) -> None:
    api = Api(provider)
    created = api.post(course(provider_activity_id="V-1"))
    assert created.status_code == 201
    read = api.get("/V-1")
    assert re.fullmatch(r'"[0-9a-f]{32}"', read["ETag"])
    assert created["ETag"] == read["ETag"]
    same = api.put("V-1", course())  # unchanged: the same version
    assert same.status_code == 200
    assert same["ETag"] == read["ETag"]
    changed = api.put("V-1", course(title="Renamed"))
    assert changed["ETag"] != read["ETag"]
    assert changed["ETag"] == api.get("/V-1")["ETag"]


def test_a_stale_if_match_is_refused_and_changes_nothing(provider: Provider) -> None:
    api = Api(provider)
    old = api.post(course(provider_activity_id="V-1"))["ETag"]
    assert api.put("V-1", course(title="Theirs")).status_code == 200  # another system
    before = snapshot(provider)
    response = api.put("V-1", course(title="Mine"), **{"If-Match": old})
    assert response.status_code == 412
    body = response.json()
    assert [error["rule"] for error in body["errors"]] == ["api.precondition_failed"]
    assert body["errors"][0]["field"] == "If-Match"
    assert response["ETag"] == api.get("/V-1")["ETag"]  # the version to read again
    deleted = api.client.delete("/api/v1/activities/V-1", headers={"If-Match": old})
    assert deleted.status_code == 412
    assert deleted.json()["errors"][0]["rule"] == "api.precondition_failed"
    assert snapshot(provider) == before


def test_a_post_naming_an_existing_activity_honours_if_match(provider: Provider) -> None:
    # POST creates or updates the activity its body names: If-Match guards that one.
    api = Api(provider)
    old = api.post(course(provider_activity_id="V-1"))["ETag"]
    current = api.post(course(provider_activity_id="V-1", title="Theirs"))["ETag"]
    before = snapshot(provider)
    stale = api.post(course(provider_activity_id="V-1", title="Mine"), **{"If-Match": old})
    assert stale.status_code == 412
    assert stale.json()["errors"][0]["rule"] == "api.precondition_failed"
    assert snapshot(provider) == before
    fresh = api.post(course(provider_activity_id="V-1", title="Mine"), **{"If-Match": current})
    assert fresh.status_code == 200, fresh.content
    assert Activity.objects.get(provider_activity_id="V-1").title == "Mine"
    # `*` on a POST means "only if it exists": it does not create.
    new = api.post(course(provider_activity_id="V-2"), **{"If-Match": "*"})
    assert new.status_code == 412
    assert not Activity.objects.filter(provider_activity_id="V-2").exists()


def test_a_matching_if_match_writes(provider: Provider) -> None:
    api = Api(provider)
    version = api.post(course(provider_activity_id="V-1"))["ETag"]
    response = api.put("V-1", course(title="Mine"), **{"If-Match": f'"other", {version}'})
    assert response.status_code == 200, response.content
    assert Activity.objects.get(provider_activity_id="V-1").title == "Mine"
    deleted = api.client.delete("/api/v1/activities/V-1", headers={"If-Match": response["ETag"]})
    assert deleted.status_code == 204
    assert not Activity.objects.filter(provider=provider).exists()


def test_if_match_any_needs_the_activity_to_exist(provider: Provider) -> None:
    api = Api(provider)
    response = api.put("NEW-1", course(), **{"If-Match": "*"})
    assert response.status_code == 412
    assert not Activity.objects.exists()
    assert api.put("NEW-1", course()).status_code == 201  # without If-Match: as before
    assert api.put("NEW-1", course(title="Again"), **{"If-Match": "*"}).status_code == 200


def test_a_weak_tag_never_matches(provider: Provider) -> None:
    api = Api(provider)
    version = api.post(course(provider_activity_id="V-1"))["ETag"]
    response = api.put("V-1", course(title="Mine"), **{"If-Match": f"W/{version}"})
    assert response.status_code == 412


def test_another_providers_activity_is_not_reached_through_if_match(
    provider: Provider, other_provider: Provider
) -> None:
    theirs = Api(other_provider)
    version = theirs.post(course(provider_activity_id="T-1"))["ETag"]
    api = Api(provider)
    deleted = api.client.delete("/api/v1/activities/T-1", headers={"If-Match": version})
    assert deleted.status_code == 404
    # A PUT names this provider's own activity (none): the other's version does not match.
    assert api.put("T-1", course(), **{"If-Match": version}).status_code == 412
    assert Activity.objects.get(provider_activity_id="T-1").provider == other_provider
    assert not Activity.objects.filter(provider=provider).exists()


def test_the_openapi_document_names_if_match_and_412(db: None) -> None:
    from django.test import Client

    document = Client().get("/api/v1/openapi.json").json()
    one = next(path for path in document["paths"] if path.startswith("/api/v1/activities/{"))
    writes = [(one, "put"), (one, "delete"), ("/api/v1/activities", "post")]
    for path, method in writes:
        operation = document["paths"][path][method]
        assert "412" in operation["responses"]
        assert "If-Match" in [p["name"] for p in operation["parameters"]]
    listing = document["paths"]["/api/v1/activities"]["get"]
    assert "cursor" in [p["name"] for p in listing["parameters"]]
    assert "Link" in listing["description"]


# ---------------------------------------------------------------------------
# Cursor pages


def next_link(response: Any) -> str | None:
    header = response.get("Link")
    if header is None:
        return None
    match = re.fullmatch(r'<([^>]+)>; rel="next"', header)
    assert match, header
    return match.group(1)


def test_cursor_pages_list_every_activity_once_while_others_are_added(
    provider: Provider,
) -> None:
    for n in range(0, 20, 2):
        make_activity(provider, provider_activity_id=f"C-{n:02d}")
    existing = set(Activity.objects.values_list("provider_activity_id", flat=True))
    api = Api(provider)
    seen: list[str] = []
    response = api.get(limit=3)
    added = 1
    while True:
        assert response.status_code == 200
        assert response["X-Total-Count"] == str(Activity.objects.count())
        seen += [item["provider_activity_id"] for item in response.json()]
        link = next_link(response)
        if link is None:
            break
        # Another system adds activities before and after where the list has got to.
        make_activity(provider, provider_activity_id=f"C-{added:02d}")
        added += 2
        url = urlsplit(link)
        assert parse_qs(url.query)["limit"] == ["3"]
        response = api.client.get(f"{url.path}?{url.query}")
    assert len(seen) == len(set(seen))  # none twice
    assert existing <= set(seen)  # every one there from the start
    assert seen == sorted(seen)


def test_the_last_page_has_no_link_and_the_year_is_kept(provider: Provider) -> None:
    for n in range(4):
        make_activity(provider, provider_activity_id=f"Y-{n}", reporting_year=2026)
    make_activity(provider, provider_activity_id="Y-old", reporting_year=2025)
    api = Api(provider)
    first = api.get(limit=2, year=2026)
    link = next_link(first)
    assert link is not None
    assert parse_qs(urlsplit(link).query)["year"] == ["2026"]
    second = api.client.get(link)
    assert [item["provider_activity_id"] for item in second.json()] == ["Y-2", "Y-3"]
    assert next_link(second) is None
    assert second["X-Total-Count"] == "4"
    assert next_link(api.get(limit=4, year=2026)) is None  # exactly a full page


def test_offset_pages_still_work(provider: Provider) -> None:
    for n in range(5):
        make_activity(provider, provider_activity_id=f"O-{n}")
    response = Api(provider).get(limit=2, offset=2)
    assert [item["provider_activity_id"] for item in response.json()] == ["O-2", "O-3"]
    assert response["X-Total-Count"] == "5"


def test_a_cursor_not_from_a_link_is_refused(provider: Provider) -> None:
    response = Api(provider).get(cursor="%%%")
    assert response.status_code == 422
    assert response.json()["errors"][0]["rule"] == "api.cursor.invalid"
