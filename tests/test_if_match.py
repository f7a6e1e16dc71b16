"""Safe concurrent edits beyond activities: every single-record write of the web service
takes If-Match and answers 412 on a stale version, leaving the record as it was.

Registrations (PUT, DELETE), learner completions (PATCH, resubmit, withdraw, DELETE), the
annual report (program summary, complete, attestation) and webhook endpoints (DELETE).
The activities' own tests are in tests/activities/."""

import datetime
import json
from typing import Any

import pytest
from django.test import Client

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.learners.models import ActivityRegistration, LearnerCompletion, WebhookEndpoint
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import learner_json, make_activity, make_contact, register

STALE = '"00000000000000000000000000000000"'
REGISTRATION = "/activities/GR-1/registrations/ABIM"


class Api:
    """A client with one provider's API key; headers as keyword arguments."""

    def __init__(self, provider: Provider, created_by: User | None = None) -> None:
        _, secret = create_api_key(provider=provider, created_by=created_by)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}")

    def send(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body) if body is not None else ""
        return getattr(self.client, method)(
            f"/api/v1{path}", data, content_type="application/json", headers=headers
        )


def if_match(tag: str) -> dict[str, str]:
    return {"If-Match": tag}


def assert_stale(response: Any, current: str | None) -> None:
    assert response.status_code == 412, response.content
    body = response.json()
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [
        ("If-Match", "api.precondition_failed")
    ]
    assert response.get("ETag") == current


@pytest.fixture
def api(provider: Provider, admin_user: User) -> Api:
    return Api(provider, created_by=admin_user)


@pytest.fixture
def other_api(other_provider: Provider) -> Api:
    return Api(other_provider)


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=12)
    register(activity, "ABIM")
    return activity


# ---------------------------------------------------------------------------
# Registrations


def test_a_registration_is_written_only_at_the_version_read(api: Api, activity: Activity) -> None:
    read = api.get(REGISTRATION)
    assert read.status_code == 200
    tag = read["ETag"]
    body = {**read.json(), "moc_points": 8, "attest": True}
    # Someone else changes it in between: the first reader's write is refused.
    changed = api.send("put", REGISTRATION, {**body, "moc_points": 9}, **if_match(tag))
    assert changed.status_code == 200, changed.content
    assert changed["ETag"] != tag
    assert changed["ETag"] == api.get(REGISTRATION)["ETag"]
    stale = api.send("put", REGISTRATION, body, **if_match(tag))
    assert_stale(stale, changed["ETag"])
    assert ActivityRegistration.objects.get().moc_points == 9
    # A weak tag never matches (If-Match compares strongly); `*` matches any version.
    assert (
        api.send("put", REGISTRATION, body, **if_match(f"W/{changed['ETag']}")).status_code == 412
    )
    assert api.send("put", REGISTRATION, body, **if_match(f"{STALE}, *")).status_code == 200
    assert ActivityRegistration.objects.get().moc_points == 8
    # Without If-Match, as before.
    assert api.send("put", REGISTRATION, {**body, "moc_points": 7}).status_code == 200


def test_a_bad_registration_gets_its_refusal_not_412(api: Api, activity: Activity) -> None:
    response = api.send("put", REGISTRATION, {"moc_points": 8}, **if_match(STALE))
    assert response.status_code == 400
    assert "api.precondition_failed" not in response.text
    assert api.send("put", REGISTRATION, b"[", **if_match(STALE)).status_code == 400


def test_if_match_star_needs_a_registration_to_exist(api: Api, provider: Provider) -> None:
    make_activity(provider, provider_activity_id="GR-2", ama_credits=12)
    body = {"moc_points": 10, "credit_types": ["medical knowledge"], "attest": True}
    path = "/activities/GR-2/registrations/ABIM"
    assert_stale(api.send("put", path, body, **if_match("*")), None)
    assert not ActivityRegistration.objects.exists()
    created = api.send("put", path, body)
    assert created.status_code == 201
    assert created["ETag"] == api.get(path)["ETag"]


def test_a_registration_is_removed_only_at_the_version_read(api: Api, activity: Activity) -> None:
    assert_stale(api.send("delete", REGISTRATION, **if_match(STALE)), api.get(REGISTRATION)["ETag"])
    assert ActivityRegistration.objects.exists()
    tag = api.get(REGISTRATION)["ETag"]
    assert api.send("delete", REGISTRATION, **if_match(tag)).status_code == 204
    assert not ActivityRegistration.objects.exists()


def test_another_providers_registration_is_not_found(other_api: Api, activity: Activity) -> None:
    body = {"moc_points": 1, "attest": True}
    assert other_api.get(REGISTRATION).status_code == 404
    for method in ("put", "delete"):
        response = other_api.send(method, REGISTRATION, body, **if_match("*"))
        assert response.status_code == 404, method
    assert ActivityRegistration.objects.get().moc_points == 10


# ---------------------------------------------------------------------------
# Learner completions


@pytest.fixture
def completion_path(api: Api, activity: Activity) -> str:
    response = api.send("post", "/learner-completions", [learner_json(activity)])
    assert response.status_code == 200, response.content
    return f"/learner-completions/{response.json()['results'][0]['id']}"


def test_a_completion_is_corrected_only_at_the_version_read(api: Api, completion_path: str) -> None:
    read = api.get(completion_path)
    tag = read["ETag"]
    assert_stale(api.send("patch", completion_path, {"cme_credits": 8}, **if_match(STALE)), tag)
    assert LearnerCompletion.objects.get().version == 1
    # Refused on its own merits: the refusal, not 412.
    refused = api.send("patch", completion_path, {"cme_credit": 1}, **if_match(STALE))
    assert refused.status_code == 400
    corrected = api.send("patch", completion_path, {"cme_credits": 8}, **if_match(tag))
    assert corrected.status_code == 200, corrected.content
    assert corrected.json()["version"] == 2
    assert corrected["ETag"] == api.get(completion_path)["ETag"] != tag
    # The first version's tag is stale now.
    assert_stale(
        api.send("patch", completion_path, {"cme_credits": 9}, **if_match(tag)), corrected["ETag"]
    )
    assert api.send("patch", completion_path, {"cme_credits": 9}).status_code == 200


def test_a_completion_is_withdrawn_or_resubmitted_only_at_the_version_read(
    api: Api, completion_path: str
) -> None:
    tag = api.get(completion_path)["ETag"]
    for method, suffix in (("post", "/withdraw"), ("post", "/resubmit"), ("delete", "")):
        assert_stale(api.send(method, completion_path + suffix, **if_match(STALE)), tag)
    assert LearnerCompletion.objects.get().status == "queued"
    assert api.send("post", completion_path + "/resubmit", **if_match(tag)).status_code == 200
    response = api.send("delete", completion_path, **if_match(tag))
    assert response.status_code == 200
    assert LearnerCompletion.objects.get().status == "withdrawn"
    assert api.send("post", completion_path + "/withdraw", **if_match(tag)).status_code == 412


def test_another_providers_completion_is_not_found(other_api: Api, completion_path: str) -> None:
    assert other_api.get(completion_path).status_code == 404
    for method, suffix in (("patch", ""), ("post", "/withdraw"), ("delete", "")):
        response = other_api.send(method, completion_path + suffix, {}, **if_match("*"))
        assert response.status_code == 404, (method, suffix)
    assert LearnerCompletion.objects.get().status == "queued"


# ---------------------------------------------------------------------------
# The annual report

YEAR = "/annual-reports/2025"
FIGURES = {
    "advertising_exhibit_income": "100",
    "registration_fees": "0",
    "government_grants": "0",
    "private_donations": "0",
}


@pytest.fixture
def year_2025(db: None) -> ReportingYear:
    return ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31))


def test_the_program_summary_is_saved_only_at_the_version_read(
    api: Api, provider: Provider, year_2025: ReportingYear
) -> None:
    tag = api.get(YEAR)["ETag"]
    saved = api.send("put", f"{YEAR}/program-summary", FIGURES, **if_match(tag))
    assert saved.status_code == 200, saved.content
    assert saved["ETag"] == api.get(YEAR)["ETag"] != tag
    again = api.send("put", f"{YEAR}/program-summary", {**FIGURES, "government_grants": 5})
    assert again.status_code == 200
    stale = api.send(
        "put", f"{YEAR}/program-summary", {**FIGURES, "private_donations": 1}, **if_match(tag)
    )
    assert_stale(stale, again["ETag"])
    report = AnnualReport.objects.get(provider=provider)
    assert (report.government_grants, report.private_donations) == (5, 0)
    # Refused on its own merits: the refusal, not 412.
    bad = api.send("put", f"{YEAR}/program-summary", {"registration_fees": -1}, **if_match(tag))
    assert bad.status_code == 400
    assert_stale(
        api.send("post", f"{YEAR}/program-summary/complete", **if_match(tag)), again["ETag"]
    )
    assert AnnualReport.objects.get().program_summary_completed_at is None


def test_an_attestation_with_if_match_attests_to_the_report_as_read(
    api: Api, provider: Provider, year_2025: ReportingYear
) -> None:
    make_contact(provider)
    make_activity(provider, reporting_year=2025, status="closed")
    assert api.send("put", f"{YEAR}/program-summary", FIGURES).status_code == 200
    assert api.send("post", f"{YEAR}/program-summary/complete").status_code == 200
    read = api.get(YEAR)
    assert read.json()["stage"] == "ready_to_attest", read.json()
    tag = read["ETag"]
    # The figures change after the person attesting read them: not attested.
    changed = api.send("put", f"{YEAR}/program-summary", {**FIGURES, "private_donations": 9})
    assert api.send("post", f"{YEAR}/program-summary/complete").status_code == 200
    stale = api.send("post", f"{YEAR}/attestation", {"statement_version": 1}, **if_match(tag))
    assert_stale(stale, api.get(YEAR)["ETag"])
    assert changed.status_code == 200
    assert AnnualReport.objects.get().attested_at is None
    # A bad body gets its own refusal.
    assert api.send("post", f"{YEAR}/attestation", {}, **if_match(tag)).status_code == 400
    current = api.get(YEAR)["ETag"]
    response = api.send(
        "post", f"{YEAR}/attestation", {"statement_version": 1}, **if_match(current)
    )
    assert response.status_code == 200, response.content
    assert AnnualReport.objects.get().attested_at is not None


def test_another_providers_key_writes_only_its_own_report(
    api: Api, other_api: Api, provider: Provider, year_2025: ReportingYear
) -> None:
    assert api.send("put", f"{YEAR}/program-summary", FIGURES).status_code == 200
    mine = api.get(YEAR)["ETag"]
    # My report's version means nothing on the other provider's report.
    response = other_api.send("put", f"{YEAR}/program-summary", FIGURES, **if_match(mine))
    assert response.status_code in (200, 412)
    assert AnnualReport.objects.get(provider=provider).advertising_exhibit_income == 100
    assert api.get(YEAR)["ETag"] == mine


# ---------------------------------------------------------------------------
# Webhook endpoints


def test_a_webhook_endpoint_is_removed_only_at_the_version_read(
    api: Api, other_api: Api, db: None
) -> None:
    created = api.send("post", "/webhooks", {"url": "https://hooks.example.org/pars"})
    assert created.status_code == 201, created.content
    path = f"/webhooks/{created.json()['id']}"
    read = api.get(path)
    assert read.status_code == 200
    assert "secret" not in read.json()
    assert read["ETag"] == created["ETag"]
    assert other_api.get(path).status_code == 404
    assert other_api.send("delete", path, **if_match("*")).status_code == 404
    WebhookEndpoint.objects.update(description="Changed on the web page")
    assert_stale(api.send("delete", path, **if_match(created["ETag"])), api.get(path)["ETag"])
    assert WebhookEndpoint.objects.exists()
    assert api.send("delete", path, **if_match(api.get(path)["ETag"])).status_code == 204
    assert not WebhookEndpoint.objects.exists()


# ---------------------------------------------------------------------------
# The contract


def test_every_write_documents_if_match_and_412(db: None) -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    writes = [
        ("/api/v1/activities/{provider_activity_id}/registrations/{recipient}", "put"),
        ("/api/v1/activities/{provider_activity_id}/registrations/{recipient}", "delete"),
        ("/api/v1/learner-completions/{completion_id}", "patch"),
        ("/api/v1/learner-completions/{completion_id}", "delete"),
        ("/api/v1/learner-completions/{completion_id}/withdraw", "post"),
        ("/api/v1/learner-completions/{completion_id}/resubmit", "post"),
        ("/api/v1/annual-reports/{year}/program-summary", "put"),
        ("/api/v1/annual-reports/{year}/program-summary/complete", "post"),
        ("/api/v1/annual-reports/{year}/attestation", "post"),
        ("/api/v1/webhooks/{endpoint_id}", "delete"),
    ]
    for path, method in writes:
        operation = paths[path][method]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert "If-Match" in headers, (path, method)
        assert "412" in operation["responses"], (path, method)
    reads = [
        "/api/v1/activities/{provider_activity_id}/registrations/{recipient}",
        "/api/v1/learner-completions/{completion_id}",
        "/api/v1/annual-reports/{year}",
        "/api/v1/webhooks/{endpoint_id}",
    ]
    for path in reads:
        assert "ETag" in paths[path]["get"]["responses"]["200"]["headers"], path
