"""The annual report in the web service: read, program summary, complete, attest."""

import datetime
import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from pars.accounts.access import get_api_access
from pars.accounts.models import Membership, Role, User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.audit.models import AuditAction, AuditEvent
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, AttestationStatement, ReportingYear
from pars.reporting.summary import activity_totals
from pars.testing import make_activity, make_contact
from tests.activities.test_activity_api import Api as ActivityApi
from tests.activities.test_activity_api import course
from tests.support.openapi import inlined

YEAR = 2025
FIGURES: dict[str, Any] = {
    "advertising_exhibit_income": "12,500.00",
    "registration_fees": 48000,
    "government_grants": "0",
    "private_donations": 2500.5,
}
SAVED = {
    "advertising_exhibit_income": "12500.00",
    "registration_fees": "48000.00",
    "government_grants": "0.00",
    "private_donations": "2500.50",
}


def _headers(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key} if key is not None else {}


class ReportApi:
    """A client with one provider's API key, for /api/v1/annual-reports/."""

    def __init__(self, provider: Provider, created_by: User | None = None) -> None:
        self.key, secret = create_api_key(provider=provider, created_by=created_by)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(self, year: int = YEAR) -> Any:
        return self.client.get(f"/api/v1/annual-reports/{year}")

    def put_summary(self, body: Any, *, year: int = YEAR, key: str | None = None) -> Any:
        return self.client.put(
            f"/api/v1/annual-reports/{year}/program-summary",
            body if isinstance(body, bytes) else json.dumps(body),
            content_type="application/json",
            headers=_headers(key),
        )

    def complete(self, *, year: int = YEAR, key: str | None = None) -> Any:
        return self.client.post(
            f"/api/v1/annual-reports/{year}/program-summary/complete", headers=_headers(key)
        )

    def attest(self, body: Any, *, year: int = YEAR, key: str | None = None) -> Any:
        return self.client.post(
            f"/api/v1/annual-reports/{year}/attestation",
            body if isinstance(body, bytes) else json.dumps(body),
            content_type="application/json",
            headers=_headers(key),
        )


def rules(response: Any) -> list[str]:
    return [error["rule"] for error in response.json()["errors"]]


@pytest.fixture
def year_2025(db: None) -> ReportingYear:
    return ReportingYear.objects.create(year=YEAR, deadline=datetime.date(2026, 3, 31))


@pytest.fixture
def api(provider: Provider, admin_user: User, year_2025: ReportingYear) -> ReportApi:
    """A key created by the provider's administrator (so it may attest)."""
    return ReportApi(provider, created_by=admin_user)


def closed_activities(provider: Provider, *amounts: int) -> None:
    """Closed 2025 activities with one monetary supporter each, through the JSON API."""
    activities = ActivityApi(provider)
    for number, amount in enumerate(amounts, start=1):
        response = activities.put(
            f"A-{number}",
            course(
                start_date="2025-05-01",
                end_date="2025-05-02",
                status="closed",
                supporters=[{"source": f"Pharma {number}", "monetary_amount": amount}],
            ),
        )
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "closed"


def ready_to_attest(provider: Provider, api: ReportApi) -> None:
    closed_activities(provider, 5000, 2500)
    assert api.put_summary(FIGURES).status_code == 200
    assert api.complete().status_code == 200


def report_row(provider: Provider) -> dict[str, Any]:
    return dict(AnnualReport.objects.filter(provider=provider).values().get())


# ---------------------------------------------------------------------------
# Reading


def test_get_reads_an_empty_report_without_creating_one(provider: Provider, api: ReportApi) -> None:
    response = api.get()
    assert response.status_code == 200
    body = response.json()
    assert body["year"] == YEAR
    assert body["deadline"] == "2026-03-31"
    assert body["stage"] == "open"
    assert body["stage_label"] == "Open"
    assert {name: body[name] for name in SAVED} == dict.fromkeys(SAVED)
    assert body["program_summary_completed_at"] is None
    assert (body["attested_at"], body["attested_by"]) == (None, None)
    assert body["attestation_statement_version"] is None
    statement = AttestationStatement.objects.get()
    assert body["current_statement"] == {
        "version": statement.version,
        "text": statement.text,
        "effective_from": statement.effective_from.isoformat(),
    }
    assert body["totals"]["activities"] == 0
    assert body["totals"]["commercial_support_monetary"] == "0.00"
    assert body["totals"]["hours_of_instruction"] == "0.00"
    labels = [task["label"] for task in body["tasks_left"]]
    assert "Complete the program summary" in labels
    assert "Read the attestation statement and attest" in labels
    assert not AnnualReport.objects.exists()


def test_get_answers_the_years_totals_and_progress(provider: Provider, api: ReportApi) -> None:
    closed_activities(provider, 5000, 2500)
    make_activity(provider, provider_activity_id="OTHER-YEAR", reporting_year=2026)
    body = api.get().json()
    assert body["stage"] == "activities_complete"
    assert (body["activities_entered"], body["activities_closed"]) == (2, 2)
    totals = body["totals"]
    assert totals == {
        "activities": 2,
        "by_format": {"course": 2},
        "hours_of_instruction": "0.00",
        "ama_credits": "13.00",
        "physician_interactions": 240,
        "other_interactions": 70,
        "commercial_support_monetary": "7500.00",
        "in_kind_supports": 0,
        "commercial_supporters": 2,
        "activities_supported": 2,
    }
    computed = activity_totals(get_api_access(provider), YEAR)
    assert Decimal(totals["commercial_support_monetary"]) == computed.commercial_support_monetary
    assert Decimal(totals["ama_credits"]) == computed.ama_credits


def test_an_unknown_year_answers_404_on_every_route(provider: Provider, api: ReportApi) -> None:
    for response in (
        api.get(2031),
        api.put_summary(FIGURES, year=2031),
        api.complete(year=2031),
        api.attest({"statement_version": 1}, year=2031),
    ):
        assert response.status_code == 404
        assert rules(response) == ["report.year.unknown"]
        assert response.json()["errors"][0]["message"] == "There is no reporting year 2031."
    assert not AnnualReport.objects.exists()


# ---------------------------------------------------------------------------
# The program summary


def test_put_saves_the_figures_exactly_and_answers_them_with_two_decimals(
    provider: Provider, api: ReportApi
) -> None:
    response = api.put_summary(FIGURES)
    assert response.status_code == 200
    body = response.json()
    assert {name: body[name] for name in SAVED} == SAVED
    row = report_row(provider)
    assert row["advertising_exhibit_income"] == Decimal("12500.00")
    assert row["private_donations"] == Decimal("2500.50")
    # A JSON number is read as the decimal it spells, never through a binary float.
    response = api.put_summary({**FIGURES, "government_grants": 0.1})
    assert response.json()["government_grants"] == "0.10"
    assert report_row(provider)["government_grants"] == Decimal("0.10")
    assert api.get().json()["government_grants"] == "0.10"
    event = AuditEvent.objects.filter(action=AuditAction.PROGRAM_SUMMARY_SAVED).first()
    assert event is not None
    assert (event.channel, event.api_key, event.reporting_year) == ("api", api.key, YEAR)


def _bad(field: str, value: Any, problem: str) -> tuple[dict[str, Any], str, str]:
    return {field: value}, field, f"program_summary.{field}.{problem}"


@pytest.mark.parametrize(
    ("figures", "field", "rule"),
    [
        _bad("registration_fees", "-5", "negative"),
        _bad("registration_fees", -5, "negative"),
        _bad("government_grants", 12.345, "invalid"),  # not rounded
        _bad("government_grants", "12.345", "invalid"),
        _bad("private_donations", "lots", "invalid"),
        # Not a number, a string or null: the request is malformed (422).
        ({"private_donations": True}, "private_donations", "api.field.type"),
        ({"private_donations": [1]}, "private_donations", "api.field.type"),
        # A spelling the web form reads but the schema does not state.
        ({"private_donations": "1,2,3"}, "private_donations", "api.field.invalid"),
        _bad("registration_fees", 1e13, "too_large"),  # over the largest amount
        # Too large for a decimal division by the schema's 0.01 step: refused, not a 500.
        _bad("registration_fees", 1e26, "too_large"),
        ({"registratoin_fees": "5"}, "registratoin_fees", "api.field.unknown"),
    ],
)
def test_put_refuses_bad_figures_with_the_services_rules(
    provider: Provider, api: ReportApi, figures: dict[str, Any], field: str, rule: str
) -> None:
    assert api.put_summary(SAVED).status_code == 200
    before = report_row(provider)
    response = api.put_summary({**FIGURES, **figures})
    assert response.status_code == (422 if rule == "api.field.type" else 400)
    assert response.json()["errors"] == [
        {
            "row": None,
            "field": field,
            "rule": rule,
            "message": response.json()["errors"][0]["message"],
        }
    ]
    assert response.json()["errors"][0]["message"]
    assert report_row(provider) == before


def test_put_refuses_a_body_that_is_not_a_json_object(provider: Provider, api: ReportApi) -> None:
    for body in (b"{not json", b"", json.dumps(["a", "list"]).encode(), b"12"):
        response = api.put_summary(body)
        assert response.status_code == 400
        assert rules(response) == ["api.body.invalid"]
    assert not AnnualReport.objects.exists()


def test_put_replaces_all_four_and_a_report_read_can_be_sent_back(
    provider: Provider, api: ReportApi
) -> None:
    api.put_summary(FIGURES)
    assert api.complete().status_code == 200
    # Sent back as read (read-only fields included): nothing changes, still complete.
    read = api.get().json()
    response = api.put_summary(read)
    assert response.status_code == 200
    assert response.json()["program_summary_completed_at"] == read["program_summary_completed_at"]
    # A figure left out is cleared, and the summary is no longer complete.
    response = api.put_summary(
        {name: value for name, value in SAVED.items() if name != "government_grants"}
    )
    body = response.json()
    assert body["government_grants"] is None
    assert body["program_summary_completed_at"] is None
    assert report_row(provider)["government_grants"] is None


def test_complete_needs_all_four_figures(provider: Provider, api: ReportApi) -> None:
    response = api.complete()
    assert response.status_code == 400
    assert rules(response) == [f"program_summary.{name}.required" for name in SAVED]
    api.put_summary({**SAVED, "private_donations": None})
    response = api.complete()
    assert rules(response) == ["program_summary.private_donations.required"]
    assert report_row(provider)["program_summary_completed_at"] is None
    api.put_summary(SAVED)
    response = api.complete()
    assert response.status_code == 200
    assert response.json()["program_summary_completed_at"] is not None
    assert "Complete the program summary" not in [t["label"] for t in response.json()["tasks_left"]]


# ---------------------------------------------------------------------------
# Attesting


def test_an_administrators_key_attests_and_the_year_closes(
    provider: Provider, admin_user: User, api: ReportApi
) -> None:
    make_contact(provider)
    ready_to_attest(provider, api)
    assert api.get().json()["stage"] == "ready_to_attest"
    response = api.attest({"statement_version": 1})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["stage"] == "attested"
    assert body["attested_by"] == admin_user.email
    assert body["attestation_statement_version"] == 1
    assert body["attested_at"] is not None
    assert body["tasks_left"] == []
    event = AuditEvent.objects.get(action=AuditAction.ATTESTED)
    assert (event.channel, event.api_key, event.details["attested_by"]) == (
        "api",
        api.key,
        admin_user.email,
    )
    # Closed: the summary, its completion, a new attestation and the year's activities.
    before = report_row(provider)
    for refused in (
        api.put_summary({**FIGURES, "registration_fees": "1"}),
        api.complete(),
        api.attest({"statement_version": 1}),
        ActivityApi(provider).put("A-1", course(start_date="2025-05-01", end_date="2025-05-02")),
    ):
        assert refused.status_code == 400
        assert rules(refused) == ["activity.reporting_year.locked"]
        assert "attested and closed" in refused.json()["errors"][0]["message"]
    assert report_row(provider) == before


def test_attesting_needs_the_current_statement_version(provider: Provider, api: ReportApi) -> None:
    ready_to_attest(provider, api)
    for body, rule in (
        ({}, "attestation.statement_version.required"),
        (b"", "api.body.invalid"),
        ({"statement_version": "1"}, "api.field.type"),
        ({"statement_version": True}, "api.field.type"),
        ({"statement_version": 2}, "attestation.statement_version.not_current"),
        ({"statement_version": 0}, "attestation.statement_version.not_current"),
    ):
        response = api.attest(body)
        assert response.status_code == (422 if rule == "api.field.type" else 400), body
        assert rules(response) == [rule]
        assert response.json()["errors"][0]["field"] in ("statement_version", "body")
    # A new statement is published: the text shown before is no longer the one to attest to.
    AttestationStatement.objects.create(
        version=2, text="The revised statement.", effective_from=datetime.date(2026, 6, 1)
    )
    response = api.attest({"statement_version": 1})
    assert rules(response) == ["attestation.statement_version.not_current"]
    assert "version 2" in response.json()["errors"][0]["message"]
    assert report_row(provider)["attested_at"] is None
    assert api.get().json()["current_statement"]["version"] == 2
    response = api.attest({"statement_version": 2})
    assert response.status_code == 200
    assert response.json()["attestation_statement_version"] == 2


def test_attesting_an_incomplete_year_is_refused(provider: Provider, api: ReportApi) -> None:
    response = api.attest({"statement_version": 1})
    assert response.status_code == 400
    assert rules(response) == [
        "attestation.activities_incomplete",
        "attestation.program_summary_incomplete",
    ]
    make_activity(provider, provider_activity_id="OPEN-1", reporting_year=YEAR)
    api.put_summary(SAVED)
    api.complete()
    response = api.attest({"statement_version": 1})
    assert rules(response) == ["attestation.activities_incomplete"]
    assert "1 still open" in response.json()["errors"][0]["message"]
    assert report_row(provider)["attested_at"] is None


def test_a_key_whose_creator_is_not_an_administrator_cannot_attest(
    provider: Provider, admin_user: User, editor: User, api: ReportApi
) -> None:
    ready_to_attest(provider, api)
    editors_key = ReportApi(provider, created_by=editor)
    nobodys_key = ReportApi(provider)  # made by an operator command: no creator
    for key in (editors_key, nobodys_key):
        response = key.attest({"statement_version": 1})
        assert response.status_code == 400
        assert rules(response) == ["attestation.not_administrator"]
    # The administrator who made the key is demoted: the key can no longer attest ...
    Membership.objects.filter(user=admin_user, provider=provider).update(role=Role.EDITOR)
    response = api.attest({"statement_version": 1})
    assert rules(response) == ["attestation.not_administrator"]
    # ... nor once they leave the provider, even as an administrator elsewhere.
    Membership.objects.filter(user=admin_user, provider=provider).delete()
    elsewhere = Provider.objects.create(provider_id="0007777", name="Elsewhere")
    Membership.objects.create(user=admin_user, provider=elsewhere, role=Role.ADMIN)
    assert rules(api.attest({"statement_version": 1})) == ["attestation.not_administrator"]
    assert report_row(provider)["attested_at"] is None
    assert not AuditEvent.objects.filter(action=AuditAction.ATTESTED).exists()
    # Their key still saves the summary (any key may edit), it just cannot attest.
    assert editors_key.put_summary(FIGURES).status_code == 200


# ---------------------------------------------------------------------------
# Idempotency


def test_a_retried_write_with_the_same_key_is_answered_once(
    provider: Provider, api: ReportApi
) -> None:
    first = api.put_summary(FIGURES, key="sum-1")
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first
    # Meanwhile the figures change through another request ...
    api.put_summary({**FIGURES, "registration_fees": "1"})
    # ... a retry of the first gets its answer again and writes nothing.
    again = api.put_summary(FIGURES, key="sum-1")
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert report_row(provider)["registration_fees"] == Decimal("1.00")
    assert AuditEvent.objects.filter(action=AuditAction.PROGRAM_SUMMARY_SAVED).count() == 2
    # The same key with another body is refused.
    reused = api.put_summary(SAVED, key="sum-1")
    assert reused.status_code == 422
    assert rules(reused) == ["api.idempotency_key.reused"]
    # ... and on another route (the fingerprint has the method and the path).
    assert api.complete(key="sum-1").status_code == 422


def test_a_retried_attestation_is_replayed_and_a_refusal_too(
    provider: Provider, api: ReportApi
) -> None:
    refused = api.attest({"statement_version": 1}, key="att-early")
    assert refused.status_code == 400
    ready_to_attest(provider, api)
    replayed = api.attest({"statement_version": 1}, key="att-early")
    assert (replayed.status_code, replayed["Idempotent-Replayed"]) == (400, "true")
    assert replayed.json() == refused.json()
    assert report_row(provider)["attested_at"] is None
    first = api.attest({"statement_version": 1}, key="att-1")
    assert first.status_code == 200
    again = api.attest({"statement_version": 1}, key="att-1")
    assert (again.status_code, again["Idempotent-Replayed"]) == (200, "true")
    assert again.json() == first.json()
    assert AuditEvent.objects.filter(action=AuditAction.ATTESTED).count() == 1
    completed = api.complete(key="complete-1")
    assert rules(completed) == ["activity.reporting_year.locked"]


def test_an_invalid_idempotency_key_is_refused(provider: Provider, api: ReportApi) -> None:
    response = api.put_summary(FIGURES, key="x" * 201)
    assert response.status_code == 422
    assert rules(response) == ["api.idempotency_key.invalid"]
    assert not AnnualReport.objects.exists()


# ---------------------------------------------------------------------------
# The description and the tenancy rule


def test_openapi_documents_the_annual_report_endpoints(year_2025: ReportingYear) -> None:
    schema = Client().get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    base = "/api/v1/annual-reports/{year}"
    expected = {
        base: "get",
        f"{base}/program-summary": "put",
        f"{base}/program-summary/complete": "post",
        f"{base}/attestation": "post",
    }
    for path, method in expected.items():
        operation = paths[path][method]
        assert operation["tags"] == ["annual report"]
        assert operation["summary"]
        assert operation["security"] == [{"ApiKeyAuth": []}]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/AnnualReport"
        }
        assert "404" in operation["responses"]
        if method != "get":
            assert "400" in operation["responses"]
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert headers == ["Idempotency-Key", "If-Match"]
            assert "activity.reporting_year.locked" in operation["description"]
    put_body = inlined(schema)["paths"][f"{base}/program-summary"]["put"]["requestBody"]["content"]
    figures = put_body["application/json"]["schema"]["properties"]
    assert set(figures) == set(SAVED)
    assert {kind["type"] for kind in figures["registration_fees"]["anyOf"]} == {
        "string",
        "number",
        "null",
    }
    attest_body = inlined(schema)["paths"][f"{base}/attestation"]["post"]["requestBody"]["content"]
    assert (
        attest_body["application/json"]["schema"]["properties"]["statement_version"]["type"]
        == "integer"
    )
    assert (
        "attestation.statement_version.not_current"
        in paths[f"{base}/attestation"]["post"]["description"]
    )
    report = schema["components"]["schemas"]["AnnualReport"]["properties"]
    assert {"totals", "current_statement", "tasks_left", "stage", *SAVED} <= set(report)
    assert "two decimals" in report["registration_fees"]["description"]


def test_another_providers_key_never_sees_or_changes_this_report(
    provider: Provider, other_provider: Provider, mallory: User, api: ReportApi
) -> None:
    ready_to_attest(provider, api)
    before = report_row(provider)
    activities_before = list(Activity.objects.filter(provider=provider).values())
    other = ReportApi(other_provider, created_by=mallory)
    body = other.get().json()
    assert {name: body[name] for name in SAVED} == dict.fromkeys(SAVED)
    assert body["totals"]["activities"] == 0
    assert body["stage"] == "open"
    assert "Pharma" not in other.get().text
    # Its writes act on its own report only.
    assert other.put_summary({**FIGURES, "registration_fees": "1"}).status_code == 200
    assert other.complete().status_code == 200
    refused = other.attest({"statement_version": 1})
    assert rules(refused) == ["attestation.activities_incomplete"]
    assert report_row(provider) == before
    assert list(Activity.objects.filter(provider=provider).values()) == activities_before
    theirs = AnnualReport.objects.get(provider=other_provider)
    assert theirs.registration_fees == Decimal("1.00")
    # Ours attests; theirs is still open and its key still reads only its own.
    assert api.attest({"statement_version": 1}).status_code == 200
    body = other.get().json()
    assert (body["attested_at"], body["attested_by"]) == (None, None)
    assert body["registration_fees"] == "1.00"
    assert other.put_summary(SAVED).status_code == 200
