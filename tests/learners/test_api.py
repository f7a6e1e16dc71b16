"""Learner completions in the web service: recipients, registrations, reporting (explicitly
partial), reading, correcting, resubmitting, withdrawing, the status query, learner files."""

import datetime
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.intake.models import IdempotencyKey, Upload
from pars.learners.dictionary import COMPLETION_FIELDS, REGISTRATION_FIELDS
from pars.learners.models import (
    ActivityRegistration,
    BatchStatus,
    CompletionEvent,
    CompletionStatus,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
)
from pars.learners.validation import RULES
from pars.providers.models import Provider
from pars.testing import learner_json, learner_row, make_activity, register
from tests.support.openapi import inlined

PERSONAL = {"learner_id", "npi", "license_state", "birth_date"}


class Api:
    """A client with one provider's API key."""

    def __init__(self, provider: Provider) -> None:
        _, secret = create_api_key(provider=provider)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", params)

    def send(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        data = body if isinstance(body, bytes) else json.dumps(body) if body is not None else ""
        return getattr(self.client, method)(
            f"/api/v1{path}", data, content_type="application/json", headers=headers
        )

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.send("post", path, body, **headers)

    def put(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.send("put", path, body, **headers)

    def patch(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.send("patch", path, body, **headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1{path}")

    def report(self, records: Any, **headers: str) -> Any:
        return self.post("/learner-completions", records, **headers)


@pytest.fixture
def api(provider: Provider) -> Api:
    return Api(provider)


@pytest.fixture
def other_api(other_provider: Provider) -> Api:
    return Api(other_provider)


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=12)
    register(activity, "ABIM")
    return activity


def rules(body: dict[str, Any]) -> list[str]:
    return [error["rule"] for error in body["errors"]]


def reported(api: Api, activity: Activity, **overrides: Any) -> dict[str, Any]:
    """Report one record that must be accepted; its result."""
    response = api.report([learner_json(activity, **overrides)])
    assert response.status_code == 200, response.content
    result = response.json()["results"][0]
    assert result["status"] == "accepted", result
    return result


# ---------------------------------------------------------------------------
# Recipients and the rule catalog


def test_recipients_publish_their_rules_as_data(api: Api) -> None:
    response = api.get("/recipients")
    assert response.status_code == 200
    by_code = {recipient["code"]: recipient for recipient in response.json()}
    assert {"ABIM", "ABS", "REMS", "ME", "NC", "TN"} <= set(by_code)
    abim = by_code["ABIM"]
    assert abim["kind"] == "moc_board"
    assert abim["identifier"] == {
        "kind": "board_id",
        "label": "ABIM ID",
        "pattern": r"\d{6}",
        "hint": "6 digits",
        "required": True,
        "accepts_npi": False,
        "matched": True,
    }
    assert abim["credit_types"] == ["Medical Knowledge", "Practice Assessment", "Patient Safety"]
    assert abim["required_registration_fields"] == ["moc_points", "credit_types"]
    assert abim["required_completion_fields"] == ["moc_points"]
    assert abim["variable_credit"] is True
    assert abim["points_step"] == 0.25
    assert abim["window_years"] == 2
    assert abim["earliest_completion_date"] == "2025-01-01"
    assert "I attest" in abim["attestation_text"]
    assert by_code["ABP"]["variable_credit"] is False
    assert by_code["ABS"]["identifier"]["required"] is False
    assert by_code["ABS"]["earliest_completion_date"] == "2025-01-01"
    assert by_code["TN"]["identifier"]["accepts_npi"] is True
    assert by_code["ME"]["required_completion_fields"] == ["cme_credits", "license_state"]
    assert by_code["REMS"]["registration_fields"] == ["rems_type", "rems_rpc_id"]
    # How PARS delivers is not the integrator's business (and may hold credentials).
    assert "connector" not in response.text
    Recipient.objects.filter(code="ABOS").update(active=False)
    assert "ABOS" not in {r["code"] for r in api.get("/recipients").json()}


def test_recipients_need_a_valid_key_but_the_rules_do_not(db: None) -> None:
    assert Client().get("/api/v1/recipients").status_code == 401
    wrong = Client(HTTP_AUTHORIZATION="Bearer pars_nothing_here")
    assert wrong.get("/api/v1/recipients").status_code == 401
    response = Client().get("/api/v1/rules/learners")
    assert response.status_code == 200
    catalogue = {rule["id"]: rule for rule in response.json()["rules"]}
    assert set(catalogue) == set(RULES)
    assert catalogue["learner.birth_date.invalid"]["field"] == "birth_date"
    assert "registration.attestation.required" in catalogue


# ---------------------------------------------------------------------------
# Registrations


def test_register_an_activity_then_change_read_and_remove_it(provider: Provider, api: Api) -> None:
    make_activity(provider, provider_activity_id="GR-2", ama_credits=12)
    body = {"moc_points": 10, "credit_types": ["medical knowledge"], "attest": True}
    response = api.put("/activities/GR-2/registrations/abim", body)
    assert response.status_code == 201, response.content
    assert response["Location"] == "/api/v1/activities/GR-2/registrations/ABIM"
    saved = response.json()
    assert saved["recipient"] == "ABIM"
    assert saved["moc_points"] == 10.0
    assert saved["credit_types"] == ["Medical Knowledge"]
    assert saved["attested_at"] is not None
    assert saved["last_channel"] == "api"
    assert saved["completions"] == "/api/v1/learner-completions?activity=GR-2&recipient=ABIM"
    # A registration read back can be sent back; a change answers 200.
    changed = {**saved, "moc_points": 8.5, "attest": True}
    response = api.put("/activities/GR-2/registrations/ABIM", changed)
    assert response.status_code == 200
    assert ActivityRegistration.objects.get().moc_points == 8.5
    listing = api.get("/activities/GR-2/registrations")
    assert [r["recipient"] for r in listing.json()] == ["ABIM"]
    assert api.delete("/activities/GR-2/registrations/ABIM").status_code == 204
    assert not ActivityRegistration.objects.exists()
    assert api.delete("/activities/GR-2/registrations/ABIM").status_code == 404


def test_registration_errors_carry_the_validators_rules(provider: Provider, api: Api) -> None:
    make_activity(provider, provider_activity_id="GR-2", ama_credits=5)
    path = "/activities/GR-2/registrations/ABIM"
    response = api.put(path, {"moc_points": 10, "credit_types": ["Lifelong Learning"]})
    assert response.status_code == 400
    assert sorted(rules(response.json())) == [
        "registration.attestation.required",
        "registration.credit_types.not_allowed",
        "registration.moc_points.over_credits",
    ]
    assert response.json()["detail"]
    response = api.put("/activities/GR-2/registrations/REMS", {"attest": True})
    assert rules(response.json()) == ["registration.rems_type.required"]
    response = api.put("/activities/GR-2/registrations/XYZ", {"attest": True})
    assert rules(response.json()) == ["registration.recipient.unknown"]
    response = api.put(path, {"attest": True, "moc_pionts": 3})
    assert rules(response.json()) == ["api.field.unknown"]
    response = api.put(path, {"attest": True, "recipient": "ABA"})
    assert rules(response.json()) == ["api.path.mismatch"]
    assert rules(api.put(path, b"{nope").json()) == ["api.body.invalid"]
    assert rules(api.put(path, [1]).json()) == ["api.body.invalid"]
    assert not ActivityRegistration.objects.exists()
    assert api.put("/activities/NOPE/registrations/ABIM", {"attest": True}).status_code == 404


def test_a_registration_with_completions_cannot_be_removed(api: Api, activity: Activity) -> None:
    reported(api, activity)
    response = api.delete("/activities/GR-1/registrations/ABIM")
    assert response.status_code == 409
    assert rules(response.json()) == ["registration.activity.has_completions"]
    assert ActivityRegistration.objects.count() == 1


def test_registration_routes_do_not_collide_with_the_activity_routes(
    api: Api, activity: Activity
) -> None:
    assert api.get("/activities/GR-1").json()["provider_activity_id"] == "GR-1"
    assert api.get("/activities/GR-1/registrations").json()[0]["recipient"] == "ABIM"
    assert api.get("/activities").status_code == 200
    # The activity's own PUT and DELETE are still the activity's.
    assert api.delete("/activities/GR-1/registrations/ABIM").status_code == 204
    assert Activity.objects.filter(provider_activity_id="GR-1").exists()
    assert api.delete("/activities/GR-1").status_code == 204
    assert not Activity.objects.exists()


def test_another_providers_key_reaches_no_registration(other_api: Api, activity: Activity) -> None:
    assert other_api.get("/activities/GR-1/registrations").status_code == 404
    response = other_api.put(
        "/activities/GR-1/registrations/ABIM",
        {"moc_points": 1, "credit_types": ["Medical Knowledge"], "attest": True},
    )
    assert response.status_code == 404
    assert other_api.delete("/activities/GR-1/registrations/ABIM").status_code == 404
    registration = ActivityRegistration.objects.get()
    assert registration.moc_points == 10


# ---------------------------------------------------------------------------
# Reporting completions


def test_a_list_is_explicitly_partial_with_a_result_per_record(
    provider: Provider, api: Api, activity: Activity
) -> None:
    unregistered = make_activity(provider, provider_activity_id="GR-9")
    records = [
        learner_json(activity),
        learner_json(activity, learner_id="654321", birth_date="13-01"),
        learner_json(unregistered, learner_id="111111"),
        learner_json(activity, learner_id="222222", moc_points=10, moc_credit_types=[]),
    ]
    response = api.report(records)
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {
        "received": 4,
        "accepted": 2,
        "unchanged": 0,
        "rejected": 2,
        "added": 2,
        "corrected": 0,
        "withdrawn": 0,
    }
    first, second, third, fourth = body["results"]
    completion = LearnerCompletion.objects.get(learner_id="123456")
    assert first == {
        "index": 0,
        "status": "accepted",
        "outcome": "added",
        "id": completion.pk,
        "url": f"/api/v1/learner-completions/{completion.pk}",
        "version": 1,
        "completion_status": "queued",
        "errors": [],
    }
    assert (second["status"], second["id"]) == ("rejected", None)
    assert second["errors"] == [
        {
            "row": 1,
            "field": "birth_date",
            "rule": "learner.birth_date.invalid",
            "message": RULES["learner.birth_date.invalid"].message,
        }
    ]
    assert rules(third) == ["learner.activity.not_registered"]
    assert third["errors"][0]["row"] == 2
    assert fourth["outcome"] == "added"
    assert LearnerCompletion.objects.count() == 2
    assert set(LearnerCompletion.objects.values_list("last_channel", flat=True)) == {"api"}


def test_sending_again_is_unchanged_a_change_corrects_and_delete_withdraws(
    api: Api, activity: Activity
) -> None:
    added = reported(api, activity)
    again = api.report({"records": [learner_json(activity)]}).json()
    assert again["results"][0]["status"] == "unchanged"
    assert again["results"][0]["id"] == added["id"]
    assert again["counts"]["unchanged"] == 1
    corrected = api.report([learner_json(activity, cme_credits=8)]).json()["results"][0]
    assert (corrected["status"], corrected["outcome"], corrected["version"]) == (
        "accepted",
        "corrected",
        2,
    )
    deleted = api.report([learner_json(activity, action="delete")]).json()
    assert deleted["results"][0]["outcome"] == "withdrawn"
    assert deleted["results"][0]["completion_status"] == "withdrawn"  # never sent
    assert deleted["counts"]["withdrawn"] == 1
    again = api.report([learner_json(activity, action="delete")]).json()["results"][0]
    assert again["status"] == "unchanged"
    back = api.report([learner_json(activity)]).json()["results"][0]
    assert (back["outcome"], back["completion_status"], back["id"]) == (
        "resubmitted",
        "queued",
        added["id"],
    )
    missing = api.report([learner_json(activity, learner_id="999999", action="delete")]).json()
    assert rules(missing["results"][0]) == ["learner.record.not_found"]
    assert LearnerCompletion.objects.count() == 1


def test_what_the_json_channel_itself_refuses(api: Api, activity: Activity) -> None:
    bodies: list[Any] = [b"{not json", {"record": []}, [], "text", {"records": "x"}]
    for body in bodies:
        response = api.report(body)
        assert response.status_code == 400, body
        assert rules(response.json()) == ["api.body.invalid"]
    response = api.report([learner_json(activity, learner_id=f"{n:06d}") for n in range(1001)])
    assert response.status_code == 400
    assert rules(response.json()) == ["api.body.too_many"]
    # A record that is no JSON object makes the whole request malformed: nothing written.
    response = api.report([learner_json(activity), "not a record"])
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "row": 1,
            "field": "record",
            "rule": "api.field.type",
            "message": "A record must be a JSON object.",
        }
    ]
    assert "1 of 2 records do not match the request schema" in response.json()["detail"]
    assert not LearnerCompletion.objects.exists()
    body = api.report(
        [
            learner_json(activity, learnerid="123456"),
            learner_json(activity),
            learner_json(activity, cme_credits="9"),
        ]
    ).json()
    first, second, third = body["results"]
    assert rules(first) == ["api.field.unknown"]
    assert first["errors"][0]["field"] == "learnerid"
    assert second["status"] == "accepted"
    # The same completion twice in one request: as in a file, the second is refused.
    assert rules(third) == ["learner.record.duplicate_in_file"]
    assert third["errors"][0]["field"] == "row"
    assert LearnerCompletion.objects.get().cme_credits == 10
    assert not LearnerCompletion.objects.exclude(last_channel="api").exists()


def test_json_values_are_read_as_their_json_types(api: Api, activity: Activity) -> None:
    record = {
        **learner_json(activity),
        "birth_date": "1980-12-10",
        "cme_credits": 10,
        "moc_points": 9.75,
        "moc_credit_types": ["Medical Knowledge"],
        "completion_date": "2026-03-02",
    }
    reported_id = api.report([record]).json()["results"][0]["id"]
    completion = LearnerCompletion.objects.get(pk=reported_id)
    assert (completion.birth_month, completion.birth_day) == (12, 10)
    assert completion.moc_points == 9.75
    assert completion.completion_date == datetime.date(2026, 3, 2)


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        # The spellings files may use, but not JSON: the schema is the contract.
        ({"moc_points": "abc"}, "moc_points", "api.field.type"),
        ({"moc_points": "9.75"}, "moc_points", "api.field.type"),
        ({"moc_credit_types": "Medical Knowledge"}, "moc_credit_types", "api.field.type"),
        ({"surgical_procedures": "Yes"}, "surgical_procedures", "api.field.type"),
        ({"completion_date": "03/02/2026"}, "completion_date", "api.field.invalid"),
        ({"profession": "Physician"}, "profession", "api.field.invalid"),
        ({"action": "Delete"}, "action", "api.field.invalid"),
        ({"action": "update"}, "action", "learner.action.not_allowed"),
        ({"moc_points": 9.8}, "moc_points", "learner.moc_points.step"),
    ],
)
def test_a_record_that_breaks_the_schema_makes_the_whole_list_malformed(
    api: Api, activity: Activity, change: dict[str, Any], field: str, rule: str
) -> None:
    good = learner_json(activity, learner_id="100001")
    response = api.report([good, {**learner_json(activity), **change}])
    assert response.status_code == 422, response.content
    body = response.json()
    assert (body["errors"][0]["row"], body["errors"][0]["field"]) == (1, field)
    assert rule in rules(body)
    assert "nothing was written" in body["detail"]
    assert not LearnerCompletion.objects.exists()


def test_error_messages_never_quote_personal_values(api: Api, activity: Activity) -> None:
    partial = api.report([learner_json(activity, learner_id="98765X", npi="1234567890")])
    # Longer than the schema allows: the request is malformed (422), with the same rules.
    malformed = api.report([learner_json(activity, birth_date="31-31", learner_id="Z" * 41)])
    assert (partial.status_code, malformed.status_code) == (200, 422)
    text = json.dumps([partial.json(), malformed.json()])
    for value in ("98765X", "1234567890", "31-31", "Z" * 41):
        assert value not in text
    found = [rules(result) for result in partial.json()["results"]] + [rules(malformed.json())]
    assert {rule for result in found for rule in result} >= {
        "learner.learner_id.invalid",
        "learner.npi.invalid",
        "learner.birth_date.invalid",
        "learner.learner_id.too_long",
    }


def test_an_idempotent_retry_gets_the_first_answer(api: Api, activity: Activity) -> None:
    records = [learner_json(activity), learner_json(activity, birth_date="")]
    first = api.report(records, **{"Idempotency-Key": "batch-1"})
    LearnerCompletion.objects.update(cme_credits=3)  # changed behind the API's back
    replay = api.report(records, **{"Idempotency-Key": "batch-1"})
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert LearnerCompletion.objects.get().cme_credits == 3
    reused = api.report(records[:1], **{"Idempotency-Key": "batch-1"})
    assert reused.status_code == 422
    assert rules(reused.json()) == ["api.idempotency_key.reused"]
    assert IdempotencyKey.objects.count() == 1


def test_reporting_needs_a_key(activity: Activity) -> None:
    response = Client().post(
        "/api/v1/learner-completions", json.dumps([learner_json(activity)]), "application/json"
    )
    assert response.status_code == 401
    assert not LearnerCompletion.objects.exists()


# ---------------------------------------------------------------------------
# Reading


def test_the_list_pages_by_cursor_and_filters(
    provider: Provider, api: Api, activity: Activity
) -> None:
    other = make_activity(provider, provider_activity_id="GR-2")
    register(other, "ABIM")
    api.report([learner_json(activity, learner_id=f"{100000 + n}") for n in range(5)])
    api.report([learner_json(other, learner_id="200000")])
    first = api.get("/learner-completions", limit=2)
    assert first.status_code == 200
    page = first.json()
    assert len(page["results"]) == 2
    seen = [record["id"] for record in page["results"]]
    assert first["Link"] == f'<{page["next"]}>; rel="next"'
    while page["next"]:
        assert page["next"].startswith("/api/v1/learner-completions?")
        assert "limit=2" in page["next"]
        answer = api.client.get(page["next"])
        page = answer.json()
        seen += [record["id"] for record in page["results"]]
    assert "Link" not in answer  # the last page has no next
    assert sorted(seen) == sorted(LearnerCompletion.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 6
    # The last page's cursor, kept for later, brings the records changed since.
    kept = page["next_cursor"]
    assert api.get("/learner-completions", cursor=kept).json() == {
        "results": [],
        "next": None,
        "next_cursor": kept,
    }
    corrected = api.report([learner_json(activity, learner_id="100002", cme_credits=9)])
    changed_id = corrected.json()["results"][0]["id"]
    since = api.get("/learner-completions", cursor=kept).json()
    assert [record["id"] for record in since["results"]] == [changed_id]
    assert since["results"][0]["version"] == 2

    def ids(**params: Any) -> set[int]:
        response = api.get("/learner-completions", **params)
        assert response.status_code == 200, response.content
        return {record["id"] for record in response.json()["results"]}

    assert len(ids(activity="GR-2")) == 1
    assert len(ids(recipient="abim")) == 6
    one = LearnerCompletion.objects.filter(activity=other).get()
    LearnerCompletion.objects.filter(pk=one.pk).update(status=CompletionStatus.REJECTED)
    assert ids(status="rejected") == {one.pk}
    assert len(ids(status="queued,rejected")) == 6
    later = timezone.now() + datetime.timedelta(minutes=5)
    LearnerCompletion.objects.filter(pk=one.pk).update(status_changed_at=later)
    assert ids(updated_since=later.isoformat()) == {one.pk}
    naive = timezone.localtime(later).replace(tzinfo=None).isoformat()
    assert ids(updated_since=naive) == {one.pk}
    # The record whose status changed last comes last.
    assert api.get("/learner-completions").json()["results"][-1]["id"] == one.pk


def test_list_filters_that_mean_nothing_are_refused(api: Api, activity: Activity) -> None:
    for params, field in (
        ({"status": "lost"}, "status"),
        ({"recipient": "XYZ"}, "recipient"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"include": "everything"}, "include"),
    ):
        response = api.get("/learner-completions", **params)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["field"] == field


def test_lists_leave_personal_fields_out_unless_asked(api: Api, activity: Activity) -> None:
    reported(api, activity, npi="1234567893")
    record = api.get("/learner-completions").json()["results"][0]
    assert not PERSONAL & set(record)
    assert "123456" not in json.dumps(record)
    assert "1234567893" not in json.dumps(record)
    assert (record["first_name"], record["provider_activity_id"]) == ("Ada", "GR-1")
    record = api.get("/learner-completions", include="personal").json()["results"][0]
    assert {name: record[name] for name in PERSONAL} == {
        "learner_id": "123456",
        "npi": "1234567893",
        "license_state": "",
        "birth_date": "12-10",
    }


def test_a_record_shows_its_status_history_and_deliveries(api: Api, activity: Activity) -> None:
    result = reported(api, activity)
    completion = LearnerCompletion.objects.get(pk=result["id"])
    batch = DeliveryBatch.objects.create(
        recipient=completion.recipient,
        status=BatchStatus.DONE,
        items_count=1,
        sent_at=timezone.now(),
        finished_at=timezone.now(),
    )
    DeliveryItem.objects.create(
        provider=completion.provider,
        batch=batch,
        completion=completion,
        version=1,
        action="submit",
        payload={"learner_id": "123456"},
        outcome="rejected",
        reason="Board ID not found",
        reason_code="ID_NOT_FOUND",
    )
    LearnerCompletion.objects.filter(pk=completion.pk).update(
        status=CompletionStatus.REJECTED,
        status_reason="Board ID not found",
        status_code="ID_NOT_FOUND",
        ever_sent=True,
    )
    CompletionEvent.objects.create(
        provider=completion.provider,
        completion=completion,
        kind="rejected",
        version=1,
        detail="Board ID not found",
    )
    response = api.get(f"/learner-completions/{completion.pk}")
    assert response.status_code == 200
    record = response.json()
    assert set(record) >= {spec.name for spec in COMPLETION_FIELDS}
    assert (record["status"], record["status_label"]) == ("rejected", "Rejected")
    assert (record["status_reason"], record["status_code"]) == (
        "Board ID not found",
        "ID_NOT_FOUND",
    )
    assert record["learner_id"] == "123456"
    assert record["moc_credit_types"] == ["Medical Knowledge"]
    assert record["cme_credits"] == 10.0
    assert [event["kind"] for event in record["events"]] == ["rejected"]
    assert record["deliveries"] == [
        {
            "version": 1,
            "action": "submit",
            "outcome": "rejected",
            "reason": "Board ID not found",
            "reason_code": "ID_NOT_FOUND",
            "batch_status": "done",
            "sent_at": record["deliveries"][0]["sent_at"],
            "finished_at": record["deliveries"][0]["finished_at"],
        }
    ]
    assert "payload" not in response.text
    assert api.get("/learner-completions/999999").status_code == 404


# ---------------------------------------------------------------------------
# Correcting, resubmitting, withdrawing


def test_patch_corrects_as_a_new_version(api: Api, activity: Activity) -> None:
    result = reported(api, activity)
    path = f"/learner-completions/{result['id']}"
    response = api.patch(path, {"cme_credits": 8, "learner_id": "654321"})
    assert response.status_code == 200, response.content
    record = response.json()
    assert (record["version"], record["cme_credits"], record["learner_id"]) == (2, 8.0, "654321")
    assert record["events"][-1]["kind"] == "corrected"
    assert sorted(record["events"][-1]["changed_fields"]) == ["cme_credits", "learner_id"]
    assert "654321" not in json.dumps(record["events"])
    # A record read back and sent back changes nothing.
    again = api.patch(path, api.get(path).json())
    assert again.status_code == 200
    assert again.json()["version"] == 2


def test_patch_refusals(api: Api, activity: Activity) -> None:
    path = f"/learner-completions/{reported(api, activity)['id']}"
    response = api.patch(path, {"learner_id": "12AB", "birth_date": "02-30"})
    assert response.status_code == 400
    assert sorted(rules(response.json())) == [
        "learner.birth_date.invalid",
        "learner.learner_id.invalid",
    ]
    assert "12AB" not in response.text
    response = api.patch(path, {"moc_points": 11})
    assert rules(response.json()) == ["learner.moc_points.over_registered"]
    response = api.patch(path, {"recipient": "ABA", "provider_activity_id": "GR-2"})
    assert sorted(rules(response.json())) == ["api.field.not_changeable"] * 2
    response = api.patch(path, {"action": "delete"})
    assert rules(response.json()) == ["api.field.not_changeable"]
    assert rules(api.patch(path, {"cme_credit": 1}).json()) == ["api.field.unknown"]
    assert rules(api.patch(path, b"[").json()) == ["api.body.invalid"]
    # The same activity and recipient, however written, are no change of placement.
    response = api.patch(path, {"recipient": "abim", "provider_activity_id": "GR-1"})
    assert response.status_code == 200
    assert LearnerCompletion.objects.get().version == 1


def test_resubmit_a_rejected_record_and_withdraw_one(api: Api, activity: Activity) -> None:
    result = reported(api, activity)
    completion_id = result["id"]
    unchanged = api.post(f"/learner-completions/{completion_id}/resubmit")
    assert unchanged.status_code == 200
    assert unchanged.json()["version"] == 1
    LearnerCompletion.objects.filter(pk=completion_id).update(
        status=CompletionStatus.REJECTED, status_reason="Board ID not found", ever_sent=True
    )
    response = api.post(f"/learner-completions/{completion_id}/resubmit")
    record = response.json()
    assert (record["status"], record["version"], record["status_reason"]) == ("queued", 2, "")
    assert record["events"][-1]["kind"] == "resubmitted"
    # Sent before, so the withdrawal is queued for the recipient.
    response = api.post(f"/learner-completions/{completion_id}/withdraw")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawal_queued"
    again = api.delete(f"/learner-completions/{completion_id}")
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["version"]) == ("withdrawal_queued", 3)


def test_delete_withdraws_a_record_never_sent_at_once(api: Api, activity: Activity) -> None:
    completion_id = reported(api, activity)["id"]
    response = api.delete(f"/learner-completions/{completion_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert LearnerCompletion.objects.get().status == CompletionStatus.WITHDRAWN


def test_another_providers_key_reaches_no_completion(
    api: Api, other_api: Api, activity: Activity
) -> None:
    completion_id = reported(api, activity)["id"]
    path = f"/learner-completions/{completion_id}"
    assert other_api.get(path).status_code == 404
    assert other_api.patch(path, {"cme_credits": 1}).status_code == 404
    assert other_api.post(f"{path}/resubmit").status_code == 404
    assert other_api.post(f"{path}/withdraw").status_code == 404
    assert other_api.delete(path).status_code == 404
    assert other_api.get("/learner-completions").json()["results"] == []
    query = {
        "provider_activity_id": "GR-1",
        "birth_date": "12-10",
        "completion_date": "2026-03-02",
        "learner_id": "123456",
    }
    assert other_api.post("/learner-completions/status", query).json() == {"results": []}
    # Its report names an activity it does not have: refused, ours untouched.
    body = other_api.report([learner_json(activity)]).json()
    assert rules(body["results"][0]) == ["learner.activity.not_found"]
    completion = LearnerCompletion.objects.get()
    assert (completion.version, completion.status) == (1, CompletionStatus.QUEUED)
    assert Client().patch(f"/api/v1{path}", "{}", "application/json").status_code == 401


# ---------------------------------------------------------------------------
# The status query


def test_the_status_query_finds_a_record_without_personal_data_in_the_url(
    api: Api, activity: Activity
) -> None:
    completion_id = reported(api, activity)["id"]
    query = {
        "provider_activity_id": "GR-1",
        "birth_date": "1975-12-10",
        "completion_date": "2026-03-02",
        "learner_id": "123456",
    }
    response = api.post("/learner-completions/status", query)
    assert response.status_code == 200
    (record,) = response.json()["results"]
    assert (record["id"], record["status"]) == (completion_id, "queued")
    assert not PERSONAL & set(record)
    Activity.objects.filter(pk=activity.pk).update(accme_activity_id="123456789")
    by_accme = {**query, "provider_activity_id": None, "accme_activity_id": "123456789"}
    assert len(api.post("/learner-completions/status", by_accme).json()["results"]) == 1
    by_npi = {**query, "learner_id": "", "npi": "1234567893"}
    assert api.post("/learner-completions/status", by_npi).json() == {"results": []}
    for change in (
        {"birth_date": "12-11"},
        {"completion_date": "2026-03-01"},
        {"recipient": "ABA"},
    ):
        assert api.post("/learner-completions/status", {**query, **change}).json() == {
            "results": []
        }
    response = api.post("/learner-completions/status", {"birth_date": "13-40"})
    assert response.status_code == 400
    assert sorted(rules(response.json())) == [
        "learner.activity.required",
        "learner.birth_date.invalid",
        "learner.completion_date.required",
        "learner.learner_id.required",
    ]
    assert api.get("/learner-completions/status").status_code == 405


# ---------------------------------------------------------------------------
# Learner files


def tsv(rows: list[dict[str, Any]]) -> bytes:
    header = list(rows[0])
    lines = ["\t".join(header)]
    lines += ["\t".join(str(row.get(name, "")) for name in header) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def test_a_learner_file_is_accepted_and_followed_at_the_upload_endpoint(
    api: Api, activity: Activity
) -> None:
    rows = [learner_row(activity), learner_row(activity, learner_id="654321", birth_date="13-1")]
    content = tsv(rows)
    response = api.client.post(
        "/api/v1/learner-completions/uploads",
        {"file": SimpleUploadedFile("learners.txt", content)},
        headers={"Idempotency-Key": "file-1"},
    )
    assert response.status_code == 202, response.content
    accepted = response.json()
    assert response["Location"] == accepted["url"] == f"/api/v1/uploads/{accepted['id']}"
    upload = Upload.objects.get()
    assert (upload.kind, upload.via_api) == ("learners", True)
    status = api.client.get(accepted["url"]).json()
    assert status["finished"] is True
    assert (status["status"], status["added"], status["rejected"]) == ("partial", 1, 1)
    assert [(e["row"], e["rule"]) for e in status["errors"]] == [(3, "learner.birth_date.invalid")]
    replay = api.client.post(
        "/api/v1/learner-completions/uploads",
        {"file": SimpleUploadedFile("learners.txt", content)},
        headers={"Idempotency-Key": "file-1"},
    )
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == accepted
    assert Upload.objects.count() == 1
    refused = api.client.post(
        "/api/v1/learner-completions/uploads",
        {"file": SimpleUploadedFile("learners.txt", content), "format": "pdf"},
    )
    assert refused.status_code == 400
    assert rules(refused.json()) == ["upload.format.unknown"]
    assert Client().post("/api/v1/learner-completions/uploads").status_code == 401


# ---------------------------------------------------------------------------
# Read-only endpoints write nothing


def test_reads_write_nothing(api: Api, activity: Activity) -> None:
    completion_id = reported(api, activity)["id"]

    def state() -> list[Any]:
        return [
            list(LearnerCompletion.objects.values()),
            list(CompletionEvent.objects.values()),
            list(ActivityRegistration.objects.values()),
        ]

    before = state()
    api.get("/learner-completions", include="personal")
    api.get(f"/learner-completions/{completion_id}")
    api.get("/activities/GR-1/registrations")
    api.get("/recipients")
    api.post(
        "/learner-completions/status",
        {
            "provider_activity_id": "GR-1",
            "birth_date": "12-10",
            "completion_date": "2026-03-02",
            "learner_id": "123456",
        },
    )
    assert state() == before


# ---------------------------------------------------------------------------
# The OpenAPI description


def test_openapi_describes_the_learner_bodies_with_the_dictionarys_names(db: None) -> None:
    spec = inlined(Client().get("/api/v1/openapi.json").json())
    paths = spec["paths"]
    completion_names = {spec.name for spec in COMPLETION_FIELDS}

    def body(path: str, method: str) -> dict[str, Any]:
        operation = paths[f"/api/v1{path}"][method]
        assert operation["summary"]
        return operation["requestBody"]["content"]["application/json"]["schema"]

    batch = body("/learner-completions", "post")
    as_list, as_object = batch["oneOf"]
    assert as_list["maxItems"] == 1000
    record = as_list["items"]["properties"]
    assert set(record) == completion_names | {"action"}
    assert as_object["properties"]["records"]["items"]["properties"] == record
    # Optional values: the value's schema, or null.
    value = {name: field["anyOf"][0] for name, field in record.items()}
    assert {field["anyOf"][1]["type"] for field in record.values()} == {"null"}
    assert value["completion_date"]["format"] == "date"
    assert value["moc_points"]["multipleOf"] == 0.25
    assert value["moc_credit_types"]["type"] == "array"
    assert "physician" in value["profession"]["enum"]
    assert value["profession"]["x-enum-descriptions"][0] == "Physician"
    assert value["action"]["enum"] == ["add", "delete"]
    changes = body("/learner-completions/{completion_id}", "patch")["properties"]
    assert set(changes) == completion_names - {
        "provider_activity_id",
        "accme_activity_id",
        "recipient",
    }
    registration = body("/activities/{provider_activity_id}/registrations/{recipient}", "put")
    assert set(registration["properties"]) == {spec.name for spec in REGISTRATION_FIELDS} | {
        "attest"
    }
    assert registration["required"] == ["attest"]
    matches = body("/learner-matches", "post")
    assert set(matches["properties"]["learners"]["items"]["properties"]) <= completion_names
    schemas = spec["components"]["schemas"]
    assert set(schemas["LearnerCompletion"]["properties"]) >= completion_names
    assert set(schemas["LearnerCompletionDetail"]["properties"]) >= {"events", "deliveries"}
    assert set(schemas["Registration"]["properties"]) >= {s.name for s in REGISTRATION_FIELDS}
    assert "Recipient" in schemas
    for path in (
        "/recipients",
        "/activities/{provider_activity_id}/registrations",
        "/learner-completions",
        "/learner-completions/{completion_id}",
        "/learner-completions/{completion_id}/resubmit",
        "/learner-completions/{completion_id}/withdraw",
        "/learner-completions/status",
        "/learner-completions/uploads",
        "/learner-matches",
        "/webhooks",
        "/webhooks/{endpoint_id}",
        "/rules/learners",
    ):
        assert f"/api/v1{path}" in paths, path
    assert "400" in paths["/api/v1/learner-completions"]["post"]["responses"]
    assert (
        "409"
        in paths["/api/v1/activities/{provider_activity_id}/registrations/{recipient}"]["delete"][
            "responses"
        ]
    )
