"""The one validator and writer of completions: rules that need no database and rules
that do, corrections as versions, deletes as withdrawals, the same record twice."""

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadError
from pars.intake.rules import FieldError
from pars.intake.store import store_upload
from pars.learners.models import CompletionEvent, CompletionStatus, LearnerCompletion
from pars.learners.services import (
    CompletionRefused,
    apply_completions,
    correct_completion,
    submit_completion,
    withdraw_completion,
)
from pars.learners.validation import (
    CleanCompletion,
    load_recipients,
    npi_is_valid,
    validate_completion,
)
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register
from tests.support.learners import clean_completion

TODAY = datetime.date(2026, 11, 27)


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    return activity


def rules(errors: Iterable[FieldError]) -> list[str]:
    return sorted(error.rule for error in errors)


def check(raw: dict[str, Any]) -> tuple[CleanCompletion | None, list[FieldError]]:
    return validate_completion(raw, recipients=load_recipients(), today=TODAY)


def test_a_good_abim_row_is_clean(activity: Activity) -> None:
    record, errors = check(learner_row(activity))
    assert errors == []
    assert record is not None
    assert record.recipient == "ABIM"
    assert (record.birth_month, record.birth_day) == (12, 10)
    assert record.moc_points == Decimal(10)
    assert record.moc_credit_types == ["Medical Knowledge"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"learner_id": ""}, "learner.learner_id.required"),
        ({"learner_id": "12AB"}, "learner.learner_id.invalid"),
        ({"birth_date": "02-30"}, "learner.birth_date.invalid"),
        ({"birth_date": ""}, "learner.birth_date.required"),
        ({"recipient": "ABX"}, "learner.recipient.unknown"),
        ({"completion_date": "2027-01-01"}, "learner.completion_date.future"),
        ({"completion_date": "2024-12-31"}, "learner.completion_date.outside_window"),
        ({"moc_points": "2.1"}, "learner.moc_points.step"),
        ({"moc_points": ""}, "learner.moc_points.required"),
        ({"moc_credit_types": "Lifelong Learning"}, "learner.moc_credit_types.not_allowed"),
        ({"npi": "1234567890"}, "learner.npi.invalid"),
        ({"first_name": ""}, "learner.first_name.required"),
        ({"action": "Update"}, "learner.action.not_allowed"),
    ],
)
def test_field_rules(activity: Activity, change: dict[str, str], rule: str) -> None:
    record, errors = check(learner_row(activity, **change))
    assert record is None
    assert rule in rules(errors)


def test_messages_never_quote_personal_values(activity: Activity) -> None:
    _, errors = check(learner_row(activity, learner_id="98765X", npi="1234567890"))
    text = " ".join(error.message for error in errors)
    assert "98765X" not in text
    assert "1234567890" not in text


def test_abs_matches_without_a_board_id(activity: Activity) -> None:
    register(activity, "ABS")
    _, errors = check(
        learner_row(activity, recipient="ABS", learner_id="", moc_credit_types="Self-Assessment")
    )
    assert errors == []


def test_state_board_needs_its_own_state_and_tennessee_takes_an_npi(activity: Activity) -> None:
    base = learner_row(activity, moc_points="", moc_credit_types="", learner_id="")
    _, errors = check({**base, "recipient": "ME", "learner_id": "MD1234", "license_state": "NC"})
    assert "learner.license_state.mismatch" in rules(errors)
    _, errors = check({**base, "recipient": "NC"})
    assert "learner.learner_id.required" in rules(errors)
    assert "learner.license_state.required" in rules(errors)
    _, errors = check({**base, "recipient": "TN", "npi": "1234567893", "license_state": "TN"})
    assert errors == []
    assert npi_is_valid("1234567893")


def test_writer_checks_registration_dates_and_points(
    provider: Provider, editor: User, activity: Activity
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    unregistered = make_activity(provider, provider_activity_id="GR-2")
    rows = [
        learner_row(unregistered),
        learner_row(activity, completion_date="2026-02-01"),
        learner_row(activity, moc_points="12"),
        learner_row(activity, moc_credit_types="Patient Safety"),
        learner_row(activity, provider_activity_id="NOPE"),
        learner_row(activity),
    ]
    recipients = load_recipients()
    records = [
        (number, clean_completion(raw, recipients=recipients, today=TODAY))
        for number, raw in enumerate(rows, start=2)
    ]
    result = apply_completions(access, records, channel="api")
    assert {(error.row, error.rule) for error in result.errors} == {
        (2, "learner.activity.not_registered"),
        (3, "learner.completion_date.outside_activity"),
        (4, "learner.moc_points.over_registered"),
        (5, "learner.moc_credit_types.not_registered"),
        (6, "learner.activity.not_found"),
    }
    assert result.added == 1
    completion = LearnerCompletion.objects.get()
    assert completion.status == CompletionStatus.QUEUED
    assert completion.provider == provider


def test_same_record_twice_changes_nothing_and_a_change_is_a_new_version(
    provider: Provider, editor: User, activity: Activity
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    first = submit_completion(access, learner_row(activity), channel="api")
    again = submit_completion(access, learner_row(activity), channel="api")
    assert first is not None
    assert again is not None
    assert first.pk == again.pk
    assert again.version == 1
    changed = submit_completion(access, learner_row(activity, cme_credits="8"), channel="api")
    assert changed is not None
    assert changed.pk == first.pk
    assert changed.version == 2
    assert changed.cme_credits == Decimal(8)
    event = CompletionEvent.objects.get(completion=changed, kind="corrected")
    assert event.changed_fields == ["cme_credits"]


def test_correcting_the_identifier_keeps_history_without_values(
    provider: Provider, editor: User, activity: Activity
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    completion = submit_completion(
        access, learner_row(activity, learner_id="111111"), channel="web"
    )
    assert completion is not None
    corrected = correct_completion(access, completion, {"learner_id": "222222"}, channel="web")
    assert corrected.learner_id == "222222"
    assert corrected.version == 2
    event = corrected.events.get(kind="corrected")
    assert event.changed_fields == ["learner_id"]
    assert "111111" not in event.detail
    assert "222222" not in event.detail
    with pytest.raises(CompletionRefused) as refused:
        correct_completion(access, corrected, {"learner_id": "bad"}, channel="web")
    assert rules(refused.value.errors) == ["learner.learner_id.invalid"]


def test_a_delete_of_an_unsent_record_withdraws_it_at_once(
    provider: Provider, editor: User, activity: Activity
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    completion = submit_completion(access, learner_row(activity), channel="web")
    assert completion is not None
    withdrawn = withdraw_completion(access, completion, channel="web")
    assert withdrawn.status == CompletionStatus.WITHDRAWN
    back = submit_completion(access, learner_row(activity), channel="web")
    assert back is not None
    assert back.pk == completion.pk
    assert back.status == CompletionStatus.QUEUED
    assert [event.kind for event in back.events.all()] == ["deleted", "resubmitted"]


def tsv(rows: list[dict[str, Any]]) -> bytes:
    header = list(rows[0])
    lines = ["\t".join(header)] + [
        "\t".join(str(row.get(name, "")) for name in header) for row in rows
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_learner_file_is_explicitly_partial_and_safe_to_upload_again(
    provider: Provider, editor: User, activity: Activity
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    rows = [learner_row(activity, learner_id=f"{100000 + n}", last_name=f"L{n}") for n in range(5)]
    rows[2]["birth_date"] = "13-01"
    rows[4]["moc_points"] = "99"
    content = tsv(rows)
    upload = store_upload(access, SimpleUploadedFile("learners.txt", content), kind="learners")
    upload.refresh_from_db()
    assert upload.status == "partial", upload.message
    assert (upload.added, upload.rejected) == (3, 2)
    assert sorted(UploadError.objects.filter(upload=upload).values_list("row", "rule")) == [
        (4, "learner.birth_date.invalid"),
        (6, "learner.moc_points.over_registered"),
    ]
    assert LearnerCompletion.objects.count() == 3

    rows[2]["birth_date"] = "01-13"
    rows[4]["moc_points"] = "9"
    fixed = store_upload(access, SimpleUploadedFile("learners.txt", tsv(rows)), kind="learners")
    fixed.refresh_from_db()
    assert fixed.status == "succeeded", fixed.message
    assert (fixed.added, fixed.unchanged) == (2, 3)
    assert LearnerCompletion.objects.count() == 5
    assert set(LearnerCompletion.objects.values_list("version", flat=True)) == {1}


def test_an_unreadable_learner_file_applies_nothing(
    provider: Provider, editor: User, activity: Activity
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    content = b"Title\tSomething\nx\ty\n"
    upload = store_upload(access, SimpleUploadedFile("l.txt", content), kind="learners")
    upload.refresh_from_db()
    assert upload.status == "rejected"
    assert "header" in upload.message
    assert not LearnerCompletion.objects.exists()
    assert Upload.objects.filter(kind="learners").count() == 1
