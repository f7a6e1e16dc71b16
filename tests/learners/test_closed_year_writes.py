"""A closed (attested) year's learner completions and registrations are read-only in every
channel: the JSON API (batch, correction, withdrawal), learner files and registrations
refuse a change with one rule, `learner.reporting_year.locked`, next to the record's other
problems; the same record sent again is unchanged. Staff reopening the year, or a recipient
that takes completions after attestation (domain decision 6), opens them again; another
provider's attestation closes nothing of yours."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pars.accounts.access import get_provider_access
from pars.accounts.models import Role, User
from pars.activities.models import Activity
from pars.intake.models import UploadError
from pars.intake.store import store_upload
from pars.learners.models import (
    ActivityRegistration,
    CompletionStatus,
    LearnerCompletion,
    Recipient,
)
from pars.learners.services import ActivityLookup, apply_completions, submit_completion
from pars.learners.services.writer import closed_years
from pars.learners.validation import load_recipients, validate_completion
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.reporting.services import reopen_year
from pars.testing import (
    LEARNER_ROW,
    as_json_record,
    learner_row,
    make_activity,
    make_member,
    register,
)
from tests.learners.test_api import Api
from tests.learners.test_api_channels import tsv

pytestmark = pytest.mark.django_db

RULE = "learner.reporting_year.locked"
OLD_DAY = "2025-05-02"


def _activities(provider: Provider) -> tuple[Activity, Activity]:
    old = make_activity(
        provider,
        provider_activity_id="OLD-1",
        start_date=datetime.date(2025, 5, 1),
        end_date=datetime.date(2025, 5, 2),
        reporting_year=2025,
        ama_credits=Decimal(12),
    )
    new = make_activity(provider, provider_activity_id="NEW-1", ama_credits=Decimal(12))
    register(old, "ABIM")
    register(new, "ABIM")
    return old, new


def _attest_2025(provider: Provider) -> AnnualReport:
    admin = make_member(provider, Role.ADMIN, first_name="Ada")
    year, _ = ReportingYear.objects.get_or_create(
        year=2025, defaults={"deadline": datetime.date(2026, 3, 31)}
    )
    return AnnualReport.objects.create(
        provider=provider,
        reporting_year=year,
        attested_at=datetime.datetime(2026, 2, 10, 15, 30, tzinfo=datetime.UTC),
        attested_by=admin,
    )


@pytest.fixture
def old(provider: Provider, editor: User) -> LearnerCompletion:
    """A 2025 completion (reported before the year closed), and the 2025 report attested."""
    activity, _ = _activities(provider)
    access = get_provider_access(editor, provider.provider_id)
    completion = submit_completion(
        access, learner_row(activity, completion_date=OLD_DAY), channel="web"
    )
    assert completion is not None
    _attest_2025(provider)
    return completion


def _record(activity_id: str, day: str, **overrides: Any) -> dict[str, Any]:
    """A learner record as the JSON body sends it, for the activity with this ID."""
    row = {**LEARNER_ROW, "provider_activity_id": activity_id, "completion_date": day}
    return as_json_record({**row, **overrides})


def _old(**overrides: Any) -> dict[str, Any]:
    return _record("OLD-1", OLD_DAY, **overrides)


def _new(**overrides: Any) -> dict[str, Any]:
    return _record("NEW-1", "2026-03-02", **overrides)


def _rules(result: dict[str, Any]) -> set[str]:
    return {error["rule"] for error in result["errors"]}


def _reopen(provider: Provider) -> None:
    staff = make_member(provider, Role.ADMIN, email="staff@accreditor.example", is_staff=True)
    reopen_year(
        get_provider_access(staff, provider.provider_id), 2025, reason="Learners were missing"
    )


def test_the_api_refuses_a_closed_years_changes_with_every_other_problem(
    provider: Provider, old: LearnerCompletion
) -> None:
    api = Api(provider)
    records = [
        _old(learner_id="111111"),  # a new completion
        _old(learner_id="222222", birth_date="13-01"),  # new, and its own problem
        _old(),  # the stored record again, unchanged
        _new(learner_id="444444"),  # an open year's record
    ]
    response = api.report(records)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    statuses = [result["status"] for result in results]
    assert statuses == ["rejected", "rejected", "unchanged", "accepted"]
    assert _rules(results[0]) == {RULE}
    assert _rules(results[1]) == {"learner.birth_date.invalid", RULE}
    for change in (_old(cme_credits=8), _old(action="delete")):  # a correction, a withdrawal
        [result] = api.report([change]).json()["results"]
        assert (result["status"], _rules(result)) == ("rejected", {RULE})
    message = results[0]["errors"][0]["message"]
    assert "The 2025 annual report" in message
    assert "02/10/2026" in message
    assert "reopen" in message
    old.refresh_from_db()
    assert (old.version, old.status) == (1, CompletionStatus.QUEUED)
    assert set(LearnerCompletion.objects.values_list("learner_id", flat=True)) == {
        "123456",
        "444444",
    }


def test_the_api_refuses_a_closed_years_correction_and_withdrawal(
    provider: Provider, old: LearnerCompletion
) -> None:
    api = Api(provider)
    path = f"/learner-completions/{old.pk}"
    corrected = api.patch(path, {"cme_credits": 8})
    assert corrected.status_code == 400
    assert [error["rule"] for error in corrected.json()["errors"]] == [RULE]
    for refused in (api.post(f"{path}/withdraw"), api.delete(path)):
        assert refused.status_code == 400
        assert [error["rule"] for error in refused.json()["errors"]] == [RULE]
    old.refresh_from_db()
    assert (old.version, old.cme_credits, old.status) == (1, 10, CompletionStatus.QUEUED)


def _file(provider: Provider, user: User, rows: list[dict[str, Any]]) -> Any:
    access = get_provider_access(user, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("learners.txt", tsv(rows)), kind="learners")
    upload.refresh_from_db()
    return upload


def test_a_file_applies_the_open_years_rows_and_refuses_the_closed_years(
    provider: Provider, editor: User, old: LearnerCompletion
) -> None:
    old_activity, new_activity = old.activity, Activity.objects.get(provider_activity_id="NEW-1")
    upload = _file(
        provider,
        editor,
        [
            learner_row(old_activity, completion_date=OLD_DAY, learner_id="111111"),
            learner_row(new_activity, learner_id="222222"),
            learner_row(old_activity, completion_date=OLD_DAY, learner_id="12AB"),
            learner_row(old_activity, completion_date=OLD_DAY),  # the stored record again
            learner_row(new_activity, learner_id="333333"),
        ],
    )
    assert upload.status == "partial", upload.message
    assert (upload.added, upload.rejected) == (2, 2)
    errors = {
        (row, rule)
        for row, rule in UploadError.objects.filter(upload=upload).values_list("row", "rule")
    }
    assert errors == {(2, RULE), (4, "learner.learner_id.invalid"), (4, RULE)}
    assert set(LearnerCompletion.objects.values_list("learner_id", flat=True)) == {
        "123456",
        "222222",
        "333333",
    }


def test_after_staff_reopen_the_year_every_channel_takes_changes_again(
    provider: Provider, editor: User, old: LearnerCompletion
) -> None:
    api = Api(provider)
    [refused] = api.report([_old(learner_id="111111")]).json()["results"]
    assert _rules(refused) == {RULE}
    _reopen(provider)
    response = api.report([_old(learner_id="111111")])
    assert response.json()["results"][0]["status"] == "accepted", response.content
    assert api.patch(f"/learner-completions/{old.pk}", {"cme_credits": 8}).status_code == 200
    upload = _file(
        provider, editor, [learner_row(old.activity, completion_date=OLD_DAY, learner_id="222222")]
    )
    assert (upload.status, upload.added) == ("succeeded", 1), upload.message
    assert api.post(f"/learner-completions/{old.pk}/withdraw").status_code == 200


def test_a_recipient_that_takes_completions_after_attestation_stays_writable(
    provider: Provider, editor: User, old: LearnerCompletion
) -> None:
    Recipient.objects.filter(code="ABIM").update(accepts_completions_after_attestation=True)
    api = Api(provider)
    response = api.report([_old(learner_id="111111")])
    assert response.json()["results"][0]["status"] == "accepted", response.content
    assert api.patch(f"/learner-completions/{old.pk}", {"cme_credits": 8}).status_code == 200
    upload = _file(
        provider, editor, [learner_row(old.activity, completion_date=OLD_DAY, learner_id="222222")]
    )
    assert (upload.status, upload.added) == ("succeeded", 1), upload.message


def test_another_providers_attestation_closes_nothing_of_yours(
    provider: Provider, other_provider: Provider, editor: User
) -> None:
    _activities(provider)
    _activities(other_provider)
    _attest_2025(other_provider)
    response = Api(provider).report([_old(learner_id="111111")])
    assert response.json()["results"][0]["status"] == "accepted", response.content
    # The other provider's own 2025 completions are closed.
    [refused] = Api(other_provider).report([_old(learner_id="222222")]).json()["results"]
    assert _rules(refused) == {RULE}


def test_a_closed_years_registration_is_not_changed_or_removed(
    provider: Provider, old: LearnerCompletion
) -> None:
    api = Api(provider)
    path = "/activities/OLD-1/registrations/ABIM"
    changed = api.put(
        path, {"moc_points": 8, "credit_types": ["Medical Knowledge"], "attest": True}
    )
    assert changed.status_code == 400, changed.content
    assert RULE in {error["rule"] for error in changed.json()["errors"]}
    removed = api.delete(path)
    assert RULE in {error["rule"] for error in removed.json()["errors"]}
    assert ActivityRegistration.objects.get(activity=old.activity).moc_points == Decimal(10)


def test_the_public_learner_rules_list_the_closed_year_rule(client: Client) -> None:
    page = client.get("/rules/learners/").content.decode()
    assert f'id="{RULE}"' in page
    assert "reopen" in page


def test_a_year_attested_between_the_check_and_the_write_is_seen(
    provider: Provider, editor: User
) -> None:
    """A file's closed years are read with its first rows; the writer holds the provider
    and reads them again before it writes, so an attestation meanwhile is not missed."""
    old_activity, _ = _activities(provider)
    access = get_provider_access(editor, provider.provider_id)
    lookup = ActivityLookup(access)
    lookup.load(["OLD-1"])
    assert closed_years(lookup).closures == {}  # read before the attestation
    _attest_2025(provider)
    record, errors = validate_completion(
        learner_row(old_activity, completion_date=OLD_DAY), recipients=load_recipients()
    )
    assert record is not None, errors
    result = apply_completions(access, [(2, record)], channel="web", lookup=lookup)
    assert [error.rule for error in result.errors] == [RULE]
    assert not LearnerCompletion.objects.exists()
