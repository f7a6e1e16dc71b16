"""REMS and state-board records are never stuck (issue 15, point 10).

Through the real path: a provider reports through the web service, the task worker
delivers to the registry simulator, and the provider reads the status on the API and on
the learner pages. REMS records are *reported* (the REMS program matches no identities:
they go into the REMS report); state-board records are matched by license number and
license state; a held record says what did not match and how to fix it.
"""

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.datareports.rems_report import activity_rows, learner_rows
from pars.learners.connectors.simulator import add_to_registry
from pars.learners.delivery import release_held
from pars.learners.models import (
    CompletionEvent,
    CompletionStatus,
    LearnerCompletion,
    Recipient,
    RegistryLearner,
)
from pars.providers.models import Provider
from pars.testing import make_activity, register

REMS_RECORD: dict[str, Any] = {
    "recipient": "REMS",
    "first_name": "José",
    "last_name": "Núñez-O'Brien",
    "birth_date": "02-28",
    "learner_id": "L-0042",  # the provider's own key: no registry knows it
    "completion_date": "2026-03-02",
    "cme_credits": 2,
    "profession": "physician assistant",
    "practice_state": "MI",
    "dea_registration": "individual",
    "practice_area": "pain",
    "surgical_procedures": False,
    "time_in_practice": "6-10 years",
}
NC_KNOWN: dict[str, Any] = {
    "recipient": "NC",
    "first_name": "Grace",
    "last_name": "Hopper",
    "birth_date": "12-09",
    "learner_id": "2009-00417",
    "license_state": "NC",
    "completion_date": "2026-03-02",
    "cme_credits": 2,
}
NC_UNKNOWN = {**NC_KNOWN, "first_name": "Jane", "last_name": "Doe", "learner_id": "12345"}
# The board knows this license number, with another birth date.
NC_OTHER_BIRTHDAY = {**NC_KNOWN, "first_name": "Alan", "last_name": "Turing"}
NC_OTHER_BIRTHDAY.update(learner_id="2011-00032", birth_date="06-24")
HELD_TEXT = (
    "No North Carolina license 12345 found for Jane Doe: check the license number and license state"
)


class Api:
    def __init__(self, provider: Provider) -> None:
        _, secret = create_api_key(provider=provider)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}")

    def report(self, records: list[dict[str, Any]]) -> Any:
        return self.client.post(
            "/api/v1/learner-completions", json.dumps(records), content_type="application/json"
        )


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="OP-1", ama_credits=2)
    register(activity, "REMS")
    register(activity, "NC")
    return activity


@pytest.fixture
def nc_registry(db: None) -> None:
    """North Carolina's board knows Grace Hopper by her license; another state's license
    with the same number is someone else."""
    add_to_registry(
        "NC",
        [
            {
                "learner_id": "2009-00417",
                "first_name": "Grace",
                "last_name": "Hopper",
                "birth_month": 12,
                "birth_day": 9,
                "license_state": "NC",
            },
            {
                "learner_id": "2011-00032",
                "first_name": "Alan",
                "last_name": "Turing",
                "birth_month": 6,
                "birth_day": 23,
                "license_state": "NC",
            },
            {
                "learner_id": "12345",
                "first_name": "Jane",
                "last_name": "Doe",
                "birth_month": 12,
                "birth_day": 9,
                "license_state": "ME",
            },
        ],
    )


def deliver(api: Api, activity: Activity, records: list[dict[str, Any]]) -> dict[str, int]:
    """Report the records, run delivery as the worker does; their IDs by last name."""
    body = [{"provider_activity_id": activity.provider_activity_id, **r} for r in records]
    response = api.report(body)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [result["status"] for result in results] == ["accepted"] * len(records), results
    call_command("deliver_completions")
    return {
        record["last_name"]: result["id"] for record, result in zip(records, results, strict=True)
    }


def test_a_rems_record_is_reported_not_matched_and_counted_in_the_rems_report(
    provider: Provider, activity: Activity
) -> None:
    api = Api(provider)
    ids = deliver(api, activity, [REMS_RECORD])
    assert not RegistryLearner.objects.filter(recipient_code="REMS").exists()

    record = api.get(f"/learner-completions/{ids["Núñez-O'Brien"]}").json()
    assert (record["status"], record["status_label"]) == ("reported", "Reported")
    assert record["status_code"] == ""
    assert record["what_to_do"] == ""
    assert [event["kind"] for event in record["events"]][-2:] == ["sent", "reported"]
    listed = api.get("/learner-completions?status=reported").json()["results"]
    assert [row["id"] for row in listed] == [ids["Núñez-O'Brien"]]

    # Staff's REMS report counts it, with its status.
    rows = list(learner_rows(2026))
    assert [(row[1], row[2], row[-1]) for row in rows] == [("OP-1", "REMS", "Reported")]
    (activity_row,) = activity_rows(2026)
    assert activity_row[-2:] == (1, 1)  # REMS completions, of which taken by REMS


def test_the_rems_recipient_says_in_its_data_that_it_only_receives_reports(
    provider: Provider,
) -> None:
    rems = Recipient.objects.get(code="REMS")
    assert rems.matches_learners is False
    boards = Recipient.objects.exclude(code="REMS")
    assert set(boards.values_list("matches_learners", flat=True)) == {True}
    published = Api(provider).get("/recipients").json()
    matched = {row["code"]: row["identifier"]["matched"] for row in published}
    assert (matched["REMS"], matched["NC"], matched["ABIM"]) == (False, True, True)


def test_state_board_records_match_by_licence_number_and_state(
    provider: Provider, activity: Activity, nc_registry: None
) -> None:
    api = Api(provider)
    ids = deliver(api, activity, [NC_KNOWN, NC_UNKNOWN, NC_OTHER_BIRTHDAY])

    known = api.get(f"/learner-completions/{ids['Hopper']}").json()
    assert known["status"] == "accepted"
    held = api.get(f"/learner-completions/{ids['Doe']}").json()
    assert (held["status"], held["status_code"]) == ("held", "identity_mismatch")
    # The license 12345 the board knows is a Maine one: not this learner's.
    assert held["what_to_do"].startswith(HELD_TEXT), held["what_to_do"]
    assert "then correct the record" in held["what_to_do"]
    other = api.get(f"/learner-completions/{ids['Turing']}").json()
    assert other["what_to_do"].startswith(
        "North Carolina license 2011-00032 is in the NC registry, but the birth date differs "
        "for Alan Turing: check the license number and license state, the name and birth date"
    ), other["what_to_do"]
    assert "PATCH /api/v1/learner-completions/" in held["what_to_do"]
    # The stored reason (also in webhooks and logs) quotes no identifier or name.
    stored = LearnerCompletion.objects.get(pk=ids["Doe"])
    assert "12345" not in stored.status_reason
    assert "Doe" not in stored.status_reason
    assert "North Carolina" in stored.status_reason
    # A list without personal data says what to do without quoting them.
    listed = api.get(f"/learner-completions?status=held&activity={activity.provider_activity_id}")
    listed = [row for row in listed.json()["results"] if row["id"] == ids["Doe"]]
    assert "12345" not in listed[0]["what_to_do"]
    assert "Doe" not in listed[0]["what_to_do"]
    assert "license number and license state" in listed[0]["what_to_do"]


def test_a_held_rems_record_left_from_before_is_released_without_a_lookup(
    provider: Provider, activity: Activity
) -> None:
    api = Api(provider)
    ids = deliver(api, activity, [REMS_RECORD])
    LearnerCompletion.objects.filter(pk=ids["Núñez-O'Brien"]).update(
        status=CompletionStatus.HELD, status_code="identity_mismatch", status_reason="Not found."
    )
    assert release_held("REMS") == 1
    call_command("deliver_completions")
    record = LearnerCompletion.objects.get(pk=ids["Núñez-O'Brien"])
    assert (record.status, record.version) == (CompletionStatus.REPORTED, 2)
    assert CompletionEvent.objects.filter(completion=record, kind="released").exists()


def test_the_provider_sees_its_reported_and_held_records_with_what_to_do(
    provider: Provider,
    activity: Activity,
    nc_registry: None,
    editor: User,
    mallory: User,
    client_as: Any,
) -> None:
    ids = deliver(Api(provider), activity, [REMS_RECORD, NC_KNOWN, NC_UNKNOWN])
    client = client_as(editor)
    listing = client.get(reverse("learners:list", args=[provider.provider_id])).content.decode()
    assert 'data-status="reported">Reported</span>' in listing
    assert 'data-status="held">Held (learner not matched)</span>' in listing
    held_url = reverse("learners:detail", args=[provider.provider_id, ids["Doe"]])
    page = client.get(held_url).content.decode()
    assert HELD_TEXT in page
    assert "then correct the record" in page
    rems_url = reverse("learners:detail", args=[provider.provider_id, ids["Núñez-O'Brien"]])
    rems_page = client.get(rems_url).content.decode()
    assert 'data-status="reported">Reported</span>' in rems_page
    assert "REMS report" in rems_page
    # Another provider's user reaches neither record.
    other = client_as(mallory)
    assert other.get(held_url).status_code == 404
    assert other.get(rems_url).status_code == 404


def test_another_providers_key_reaches_no_record(
    provider: Provider, other_provider: Provider, activity: Activity
) -> None:
    ids = deliver(Api(provider), activity, [REMS_RECORD])
    response = Api(other_provider).get(f"/learner-completions/{ids["Núñez-O'Brien"]}")
    assert response.status_code == 404


@pytest.mark.django_db(transaction=True)
def test_migration_0011_requeues_held_rems_records_and_goes_back() -> None:
    """A REMS record a registry lookup held before 0011 is queued again (a new version);
    going back, a reported record reads as accepted."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("learners", "0010_separate_credit_type_keys")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    provider = Provider.objects.create(name="Riverside Health", provider_id="0001234")
    activity = make_activity(provider, provider_activity_id="OP-1", ama_credits=2)
    rems = old.get_model("learners", "Recipient").objects.get(code="REMS")
    held = old.get_model("learners", "LearnerCompletion").objects.create(
        provider_id=provider.pk,
        activity_id=activity.pk,
        recipient_id=rems.pk,
        learner_key="id:L-0042",
        first_name="José",
        last_name="Núñez",
        birth_month=2,
        birth_day=28,
        learner_id="L-0042",
        completion_date=activity.end_date,
        status="held",
        status_code="identity_mismatch",
        status_reason="No learner with this Learner identifier is in the REMS registry.",
    )

    MigrationExecutor(connection).migrate(leaves)
    record = LearnerCompletion.objects.get(pk=held.pk)
    assert (record.status, record.version, record.status_code) == ("queued", 2, "")
    assert CompletionEvent.objects.filter(completion=record, kind="released").count() == 1
    assert Recipient.objects.get(code="REMS").matches_learners is False

    LearnerCompletion.objects.filter(pk=held.pk).update(status=CompletionStatus.REPORTED)
    MigrationExecutor(connection).migrate(before)
    old_model = MigrationExecutor(connection).loader.project_state(before).apps
    back = old_model.get_model("learners", "LearnerCompletion").objects.get(pk=held.pk)
    assert back.status == "accepted"
    MigrationExecutor(connection).migrate(leaves)
