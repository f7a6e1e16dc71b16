"""Provider Activity IDs with any characters the dictionary allows (`CME 15/001`, `100%`,
`A#1`, `Q?`, non-ASCII) reach their activity through every path of the web service, sent
percent-encoded or (where a URL allows it) raw, and every address the API answers with is
percent-encoded and leads back to the record. No such request answers 500."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.models import UploadError
from pars.intake.store import store_upload
from pars.learners.models import ActivityRegistration
from pars.providers.models import Provider
from pars.testing import make_activity, register
from tests.activities.test_activity_api import Api, course
from tests.activities.test_uploads import row, tsv

# ID, and the Location PARS answers for it.
IDS = [
    ("CME 15/001", "/api/v1/activities/CME%2015%2F001"),
    ("100%", "/api/v1/activities/100%25"),
    ("A#1", "/api/v1/activities/A%231"),
    ("Q?1=2&x", "/api/v1/activities/Q%3F1%3D2%26x"),
    ("Über-Kurs ½ 中", "/api/v1/activities/%C3%9Cber-Kurs%20%C2%BD%20%E4%B8%AD"),
    ("a/b/c/", "/api/v1/activities/a%2Fb%2Fc%2F"),
    ("%2F", "/api/v1/activities/%252F"),
    ("..", "/api/v1/activities/%2E%2E"),
    ("x/registrations-2025", "/api/v1/activities/x%2Fregistrations-2025"),
]
NAMES = [activity_id for activity_id, _ in IDS]


def encoded(activity_id: str) -> str:
    """The ID as a client writes it in a path: one segment, every reserved character
    percent-encoded."""
    return quote(activity_id, safe="")


@pytest.fixture
def api(provider: Provider) -> Api:
    return Api(provider)


@pytest.mark.parametrize(("activity_id", "location"), IDS, ids=NAMES)
def test_post_answers_201_with_a_percent_encoded_location_that_leads_back(
    provider: Provider, api: Api, activity_id: str, location: str
) -> None:
    response = api.post(course(provider_activity_id=activity_id))
    assert response.status_code == 201, response.content
    assert response["Location"] == location
    assert response.json()["provider_activity_id"] == activity_id
    again = api.client.get(response["Location"])
    assert again.status_code == 200, again.content
    assert again.json()["provider_activity_id"] == activity_id
    assert Activity.objects.get(provider=provider).provider_activity_id == activity_id


@pytest.mark.parametrize("activity_id", NAMES)
def test_get_put_and_delete_reach_the_activity_by_its_encoded_id(
    provider: Provider, api: Api, activity_id: str
) -> None:
    path = encoded(activity_id)
    created = api.put(path, course(title="First"))
    assert created.status_code == 201, created.content
    assert created.json()["provider_activity_id"] == activity_id
    changed = api.put(path, course(title="Second", provider_activity_id=activity_id))
    assert changed.status_code == 200, changed.content
    assert api.get("/" + path).json()["title"] == "Second"
    assert api.delete(path).status_code == 204
    assert not Activity.objects.filter(provider=provider).exists()
    assert api.get("/" + path).status_code == 404


@pytest.mark.parametrize("activity_id", ["CME 15/001", "a/b/c/", "Über-Kurs ½ 中"])
def test_a_raw_slash_space_or_letter_reaches_the_activity_too(
    provider: Provider, api: Api, activity_id: str
) -> None:
    make_activity(provider, provider_activity_id=activity_id)
    response = api.get("/" + activity_id)
    assert response.status_code == 200, response.content
    assert response.json()["provider_activity_id"] == activity_id
    assert api.put(activity_id, course()).status_code == 200
    assert api.delete(activity_id).status_code == 204


def test_an_id_is_not_mistaken_for_its_neighbour(provider: Provider, api: Api) -> None:
    make_activity(provider, provider_activity_id="CME 15", title="Short")
    make_activity(provider, provider_activity_id="CME 15/001", title="Long")
    assert api.get("/" + encoded("CME 15")).json()["title"] == "Short"
    assert api.get("/" + encoded("CME 15/001")).json()["title"] == "Long"
    assert api.get("/" + encoded("CME 15/")).status_code == 404


def test_another_providers_activity_with_such_an_id_answers_404(
    provider: Provider, other_provider: Provider, api: Api
) -> None:
    make_activity(other_provider, provider_activity_id="CME 15/001")
    assert api.get("/" + encoded("CME 15/001")).status_code == 404
    assert api.delete(encoded("CME 15/001")).status_code == 404


def test_the_body_and_the_address_must_name_the_same_id(api: Api) -> None:
    response = api.put(encoded("CME 15/001"), course(provider_activity_id="CME 15/002"))
    assert response.status_code == 400
    assert [e["rule"] for e in response.json()["errors"]] == ["api.provider_activity_id.mismatch"]


@pytest.mark.parametrize(("activity_id", "location"), IDS, ids=NAMES)
def test_registrations_reach_the_activity_and_their_urls_lead_back(
    provider: Provider, api: Api, activity_id: str, location: str
) -> None:
    make_activity(provider, provider_activity_id=activity_id, ama_credits=12)
    path = f"/activities/{encoded(activity_id)}/registrations"
    client: Client = api.client
    assert client.get(f"/api/v1{path}").json() == []
    body = {"moc_points": 10, "credit_types": ["medical knowledge"], "attest": True}
    response = client.put(f"/api/v1{path}/abim", json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    saved = response.json()
    assert response["Location"] == saved["url"]
    assert saved["url"] == f"{location}/registrations/ABIM"
    assert saved["provider_activity_id"] == activity_id
    listing = client.get(f"/api/v1{path}")
    assert [r["provider_activity_id"] for r in listing.json()] == [activity_id]
    # The completions link is a query string with the ID percent-encoded.
    completions = client.get(saved["completions"])
    assert completions.status_code == 200, completions.content
    assert saved["completions"] == (
        f"/api/v1/learner-completions?activity={encoded(activity_id)}&recipient=ABIM"
    )
    assert client.delete(saved["url"]).status_code == 204
    assert not ActivityRegistration.objects.exists()


def test_an_id_ending_like_a_registration_path_still_reaches_its_activity_when_encoded(
    provider: Provider, api: Api
) -> None:
    """`X/registrations` is the registrations of `X`; the activity `X/registrations-2025`
    (and any other ID) stays the activity's."""
    activity = make_activity(provider, provider_activity_id="X")
    register(activity, "ABIM")
    listing = api.client.get("/api/v1/activities/X/registrations")
    assert [r["recipient"] for r in listing.json()] == ["ABIM"]
    make_activity(provider, provider_activity_id="X/registrations-2025")
    assert api.get("/" + encoded("X/registrations-2025")).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/%00",
        "/%FF%FE",
        "/a%0Ab",
        "/%20",
        "/" + "x" * 5000,
        "/%2F%2F%2F",
        "/%25%25",
        "/X/registrations/%00",
        "/%00/registrations",
        "/X/registrations/" + "y" * 300,
    ],
)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_odd_addresses_answer_no_server_error(
    provider: Provider, api: Api, path: str, method: str
) -> None:
    make_activity(provider, provider_activity_id="X")
    response = api.client.generic(
        method,
        f"/api/v1/activities{path}",
        json.dumps(course()),
        content_type="application/json",
    )
    assert response.status_code < 500, response.content[:300]
    assert response.status_code in (200, 201, 204, 400, 404, 405, 422), response.content[:300]


def test_openapi_keeps_the_documented_paths(db: None) -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/activities/{provider_activity_id}"]) == {"get", "put", "delete"}
    assert "/api/v1/activities/{provider_activity_id}/registrations" in paths
    assert "/api/v1/activities/{provider_activity_id}/registrations/{recipient}" in paths
    assert not [path for path in paths if ":" in path]


RESERVED_IDS = ["x/registrations", "x/registrations/ABIM", "x/registrations/", "registrations"]


@pytest.mark.parametrize("activity_id", RESERVED_IDS)
def test_an_id_ending_as_a_registrations_address_is_refused(
    provider: Provider, api: Api, activity_id: str
) -> None:
    """Its own address would be its registrations': never reachable, so never created."""
    response = api.post(course(provider_activity_id=activity_id))
    assert response.status_code == 400, response.content
    assert [(e["field"], e["rule"]) for e in response.json()["errors"]] == [
        ("provider_activity_id", "activity.provider_activity_id.reserved")
    ]
    put = api.put(encoded(activity_id), course())
    assert put.status_code in (400, 404, 405), put.content
    assert not Activity.objects.exists()


def test_a_file_row_with_an_id_ending_as_a_registrations_address_is_refused(
    provider: Provider, editor: User
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    content = tsv(row("U-1"), row("U-1/registrations/ABIM"))
    upload = store_upload(access, SimpleUploadedFile("activities.txt", content))
    assert list(UploadError.objects.filter(upload=upload).values_list("row", "field", "rule")) == [
        (3, "provider_activity_id", "activity.provider_activity_id.reserved")
    ]
    assert not Activity.objects.exists()
