"""An activity that learner records refer to is never deleted, by any channel or path.

Its completions were reported to boards (accepted, held, withdrawn: history either way),
so a delete that cascaded to them would lose what the boards hold. Every channel (web
form, TSV, XLSX and XML files, the JSON API) goes through the one activity writer, which
refuses with rule ``activity.delete.has_learner_records`` and says what to do instead;
Django refuses a direct ``Activity.delete()`` (PROTECT / RESTRICT) and the database
refuses a raw DELETE (its foreign key).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError, RestrictedError
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity, ActivityChange, CommercialSupport
from pars.activities.validation import HAS_LEARNER_RECORDS_RULE, RULES
from pars.learners.models import (
    ActivityRegistration,
    CompletionEvent,
    CompletionEventKind,
    CompletionStatus,
    DeliveryAction,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
)
from pars.learners.services import delete_registration
from pars.providers.models import Provider
from pars.testing import make_activity, register
from tests.activities.test_activity_api import Api
from tests.activities.test_activity_form import course_form
from tests.reporting.test_commercial_support_totals import (
    Record,
    _media,  # noqa: F401 (an autouse fixture: uploads go to a temporary directory)
    channel_driver,
)

KEPT = "KEPT-1"


def _accepted_completion(activity: Activity) -> LearnerCompletion:
    """A completion the board accepted, with its history and the delivery that sent it."""
    recipient = Recipient.objects.get(code="ABIM")
    completion = LearnerCompletion.objects.create(
        provider=activity.provider,
        activity=activity,
        recipient=recipient,
        learner_key="id:123456",
        first_name="Ada",
        last_name="Lovelace",
        birth_month=12,
        birth_day=10,
        learner_id="123456",
        completion_date=activity.end_date,
        status=CompletionStatus.ACCEPTED,
        ever_sent=True,
    )
    for kind in (CompletionEventKind.CREATED, CompletionEventKind.SENT):
        CompletionEvent.objects.create(
            provider=activity.provider, completion=completion, kind=kind, version=1
        )
    batch = DeliveryBatch.objects.create(recipient=recipient, items_count=1)
    DeliveryItem.objects.create(
        provider=activity.provider,
        batch=batch,
        completion=completion,
        version=1,
        action=DeliveryAction.SUBMIT,
        payload={"ref": str(completion.pk)},
        outcome="accepted",
    )
    return completion


@pytest.fixture
def kept(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id=KEPT)
    CommercialSupport.objects.create(
        provider=provider, activity=activity, position=1, source="Example Pharma"
    )
    register(activity, "ABIM")
    _accepted_completion(activity)
    return activity


def snapshot(provider: Provider) -> dict[str, Any]:
    """What a refused delete must leave as it was."""
    return {
        "activities": list(
            Activity.objects.filter(provider=provider).values_list("provider_activity_id")
        ),
        "supporters": CommercialSupport.objects.filter(provider=provider).count(),
        "registrations": ActivityRegistration.objects.filter(provider=provider).count(),
        "completions": list(
            LearnerCompletion.objects.filter(provider=provider).values_list("pk", "status")
        ),
        "events": CompletionEvent.objects.filter(provider=provider).count(),
        "deliveries": DeliveryItem.objects.filter(provider=provider).count(),
        "changes": ActivityChange.objects.filter(provider=provider).count(),
    }


def _assert_refused(errors: list[tuple[Any, str, str, str]]) -> None:
    assert [(field, rule) for _, field, rule, _ in errors] == [
        ("provider_activity_id", HAS_LEARNER_RECORDS_RULE)
    ]
    message = errors[0][3]
    assert message == RULES[HAS_LEARNER_RECORDS_RULE].message
    assert "cannot be deleted" in message  # why
    assert "Withdraw the completions" in message  # and what to do instead
    assert "sent to the board" in message


@pytest.mark.parametrize("channel", ["web", "tsv", "xlsx", "xml"])
def test_every_channel_refuses_to_delete_an_activity_with_completions(
    channel: str, provider: Provider, editor: User, kept: Activity
) -> None:
    before = snapshot(provider)
    sent = channel_driver(channel, provider, editor).delete([KEPT])
    _assert_refused(sent.errors)
    if channel in ("tsv", "xlsx"):
        assert sent.errors[0][0] == 2  # the row of the file (after the header)
    if channel == "xml":
        assert sent.errors[0][0] == 1  # the activity's position in the document
    if channel == "web":
        assert "activity.delete.has_learner_records" in sent.page
    assert snapshot(provider) == before


def test_a_file_with_such_a_delete_is_not_applied_at_all(
    provider: Provider, editor: User, kept: Activity
) -> None:
    """Activity files are all or nothing: the other rows of the file wait too."""
    before = snapshot(provider)
    driver: Any = channel_driver("tsv", provider, editor)
    sent = driver._send([("upsert", Record("NEW-1")), ("delete", Record(KEPT))])
    assert [(row, rule) for row, _, rule, _ in sent.errors] == [(3, HAS_LEARNER_RECORDS_RULE)]
    assert snapshot(provider) == before


def test_the_api_answers_409_with_the_rule(provider: Provider, kept: Activity) -> None:
    before = snapshot(provider)
    response = Api(provider).delete(KEPT)
    assert response.status_code == 409
    body = response.json()
    _assert_refused([(e["row"], e["field"], e["rule"], e["message"]) for e in body["errors"]])
    assert snapshot(provider) == before
    spec = Client().get("/api/v1/openapi.json").json()
    documented = spec["paths"]["/api/v1/activities/{provider_activity_id}"]["delete"]
    assert "409" in documented["responses"]


@pytest.mark.parametrize(
    "status", [CompletionStatus.QUEUED, CompletionStatus.HELD, CompletionStatus.WITHDRAWN]
)
def test_any_completion_keeps_the_activity(
    status: str, provider: Provider, editor: User, kept: Activity
) -> None:
    LearnerCompletion.objects.filter(activity=kept).update(status=status)
    sent = channel_driver("web", provider, editor).delete([KEPT])
    assert sent.rules == {HAS_LEARNER_RECORDS_RULE}
    assert Activity.objects.filter(pk=kept.pk).exists()


def test_a_registration_alone_keeps_it_until_removed(
    provider: Provider, editor: User, client_as: Any
) -> None:
    activity = make_activity(provider, provider_activity_id="REG-1")
    registration = register(activity, "ABIM")
    driver = channel_driver("web", provider, editor)
    assert driver.delete(["REG-1"]).rules == {HAS_LEARNER_RECORDS_RULE}
    # Removing the registration (allowed: no completions) frees the activity; the
    # delete is audited as before, with every reported value.
    delete_registration(
        get_provider_access(editor, provider.provider_id), registration, channel="web"
    )
    assert driver.delete(["REG-1"]).errors == []
    assert not Activity.objects.filter(pk=activity.pk).exists()
    change = ActivityChange.objects.get(provider=provider, provider_activity_id="REG-1")
    assert change.action == "deleted"
    assert change.changes["title"] == [activity.title, None]


def test_renaming_it_in_the_form_is_refused_too(
    provider: Provider, editor: User, client_as: Any, kept: Activity
) -> None:
    """A rename writes the record under its new ID and deletes the old one."""
    before = snapshot(provider)
    response = client_as(editor).post(
        reverse("activities:edit", args=[provider.provider_id, kept.pk]),
        course_form(provider_activity_id="KEPT-2", supporters=None),
    )
    assert response.status_code == 400
    assert HAS_LEARNER_RECORDS_RULE in {item.error.rule for item in response.context["summary"]}
    assert snapshot(provider) == before


def test_django_refuses_a_direct_delete(kept: Activity, provider: Provider) -> None:
    with pytest.raises(ProtectedError):
        kept.delete()
    with pytest.raises(ProtectedError):  # the provider's completions are kept as well
        provider.delete()
    registered_only = make_activity(provider, provider_activity_id="REG-2")
    register(registered_only, "ABIM")
    with pytest.raises(RestrictedError):
        registered_only.delete()
    assert LearnerCompletion.objects.filter(activity=kept).count() == 1


def test_the_database_refuses_a_raw_delete(kept: Activity) -> None:
    """Past Django (raw SQL): the foreign keys refuse, at the latest when checked."""
    table = Activity._meta.db_table
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [kept.pk])  # noqa: S608
        with pytest.raises(IntegrityError):
            connection.check_constraints()
        transaction.set_rollback(True)
    assert LearnerCompletion.objects.filter(activity=kept).count() == 1
