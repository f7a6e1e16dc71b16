"""The learner pages of a provider's workspace: an activity's registrations, the list of
learner completions, one record and its history, reporting one learner, correcting,
resubmitting and withdrawing. Every change goes through the one validator and writer;
the pages show its errors on the fields."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.learners.models import (
    ActivityRegistration,
    BatchStatus,
    CompletionEvent,
    CompletionStatus,
    DeliveryAction,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
)
from pars.learners.services import submit_completion
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register


@pytest.fixture
def activity(provider: Provider) -> Activity:
    return make_activity(
        provider,
        provider_activity_id="GR-1",
        title="Grand Rounds: Heart Failure",
        ama_credits=Decimal(12),
        meets_mips=True,
    )


@pytest.fixture
def registered(activity: Activity) -> Activity:
    register(activity, "ABIM")
    return activity


def url(name: str, provider: Provider, **kwargs: Any) -> str:
    return reverse(name, kwargs={"provider_id": provider.provider_id, **kwargs})


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def report(provider: Provider, user: User, activity: Activity, **changes: Any) -> LearnerCompletion:
    access = get_provider_access(user, provider.provider_id)
    completion = submit_completion(access, learner_row(activity, **changes), channel="web")
    assert completion is not None  # an added record, not a withdrawal
    return completion


# ---------------------------------------------------------------------------
# Registrations


def test_the_activity_page_lists_its_registrations_and_mips(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    page = client_as(editor).get(url("activities:detail", provider, pk=registered.pk))
    body = text(page)
    assert page.status_code == 200
    assert 'id="registrations"' in body
    assert "MIPS improvement activity: <strong>Yes</strong>" in body
    assert url("learners:registration", provider, pk=registered.pk, code="ABIM") in body
    assert "MOC Points: 10" in body
    assert "Medical Knowledge" in body
    assert "Register with a recipient" in body


def test_registering_shows_the_boards_fields_code_lists_and_attestation(
    client_as: Callable[[User], Client], provider: Provider, editor: User, activity: Activity
) -> None:
    client = client_as(editor)
    choose = client.get(url("learners:registration_new", provider, pk=activity.pk))
    assert choose.status_code == 200
    assert "ABIM: American Board of Internal Medicine" in choose.content.decode()
    chosen = client.get(
        url("learners:registration_new", provider, pk=activity.pk), {"recipient": "ABIM"}
    )
    form_url = url("learners:registration", provider, pk=activity.pk, code="ABIM")
    assert chosen.status_code == 302
    assert chosen["Location"] == form_url
    page = client.get(form_url)
    body = text(page)
    assert page.status_code == 200
    for label in ("MOC Points", "MOC Credit Types", "Feedback Type", "Credit Claim Date"):
        assert label in body
    for credit_type in ("Medical Knowledge", "Practice Assessment", "Patient Safety"):
        assert f'value="{credit_type}"' in body
    assert "Score report" in body  # a feedback type, offered as a choice
    recipient = Recipient.objects.get(code="ABIM")
    assert recipient.attestation_text[:60] in body
    assert "I attest" in body
    assert "MIPS improvement activity: <strong>Yes</strong>" in body
    assert "REMS Type" not in body  # not asked by ABIM


def test_a_registration_without_attestation_or_points_shows_the_validators_errors(
    client_as: Callable[[User], Client], provider: Provider, editor: User, activity: Activity
) -> None:
    form_url = url("learners:registration", provider, pk=activity.pk, code="ABIM")
    response = client_as(editor).post(
        form_url, {"moc_points": "13", "credit_types": ["Medical Knowledge"]}
    )
    body = text(response)
    assert response.status_code == 400
    assert "registration.attestation.required" in body
    assert "registration.moc_points.over_credits" in body
    assert "MOC Points (13) may not exceed the activity&#x27;s AMA credits (12" in body
    assert '<a href="#field-moc_points">MOC Points</a>' in body
    assert not ActivityRegistration.objects.exists()

    response = client_as(editor).post(form_url, {"attest": "on", "credit_types": ["Nope"]})
    body = text(response)
    assert response.status_code == 400
    assert "registration.moc_points.required" in body
    assert "registration.credit_types.not_allowed" in body


def test_a_registration_is_saved_attested_and_edited_prefilled(
    client_as: Callable[[User], Client], provider: Provider, editor: User, activity: Activity
) -> None:
    client = client_as(editor)
    form_url = url("learners:registration", provider, pk=activity.pk, code="ABIM")
    response = client.post(
        form_url,
        {
            "moc_points": "10.5",
            "credit_types": ["Medical Knowledge", "Patient Safety"],
            "feedback_type": "Score report",
            "participation_threshold": "70",
            "credit_claim_date": "2026-12-31",
            "attest": "on",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith(f"/activities/{activity.pk}/#registrations")
    registration = ActivityRegistration.objects.get()
    assert registration.provider == provider
    assert registration.moc_points == Decimal("10.5")
    assert registration.credit_types == ["Medical Knowledge", "Patient Safety"]
    assert registration.participation_threshold == 70
    assert registration.credit_claim_date == datetime.date(2026, 12, 31)
    assert registration.attested_by == editor
    assert registration.attested_at is not None

    body = text(client.get(form_url))
    assert 'value="10.5"' in body
    assert re.search(r'value="Patient Safety"[^>]*checked', body)
    assert not re.search(r'value="Practice Assessment"[^>]*checked', body)
    assert 'value="2026-12-31"' in body
    assert "Last attested" in body
    assert "Save registration" in body


def test_a_state_board_asks_only_the_attestation_and_rems_its_type(
    client_as: Callable[[User], Client], provider: Provider, editor: User, activity: Activity
) -> None:
    client = client_as(editor)
    body = text(client.get(url("learners:registration", provider, pk=activity.pk, code="ME")))
    assert "asks for no registration details besides the attestation" in body
    response = client.post(
        url("learners:registration", provider, pk=activity.pk, code="ME"), {"attest": "on"}
    )
    assert response.status_code == 302
    response = client.post(
        url("learners:registration", provider, pk=activity.pk, code="REMS"),
        {"attest": "on", "rems_rpc_id": "EG-1"},
    )
    body = text(response)
    assert response.status_code == 400
    assert "registration.rems_type.required" in body
    assert "RPC ID has the form EG-######-###." in body
    assert list(ActivityRegistration.objects.values_list("recipient__code", flat=True)) == ["ME"]


def test_a_registration_with_live_completions_cannot_be_removed(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    client = client_as(editor)
    delete_url = url("learners:registration_delete", provider, pk=registered.pk, code="ABIM")
    completion = report(provider, editor, registered)
    assert client.get(delete_url).status_code == 200
    response = client.post(delete_url)
    assert response.status_code == 400
    assert "withdraw them first" in response.content.decode()
    assert ActivityRegistration.objects.count() == 1

    client.post(url("learners:withdraw", provider, pk=completion.pk))
    response = client.post(delete_url)
    assert response.status_code == 302
    assert not ActivityRegistration.objects.exists()


def test_an_unknown_recipient_or_registration_is_404(
    client_as: Callable[[User], Client], provider: Provider, editor: User, activity: Activity
) -> None:
    client = client_as(editor)
    assert (
        client.get(url("learners:registration", provider, pk=activity.pk, code="XYZ")).status_code
        == 404
    )
    assert (
        client.get(
            url("learners:registration_delete", provider, pk=activity.pk, code="ABIM")
        ).status_code
        == 404
    )


def test_read_only_users_see_registrations_but_cannot_change_them(
    client_as: Callable[[User], Client], provider: Provider, reader: User, registered: Activity
) -> None:
    client = client_as(reader)
    detail = text(client.get(url("activities:detail", provider, pk=registered.pk)))
    assert "Register with a recipient" not in detail
    assert "Report a learner" not in detail
    form_url = url("learners:registration", provider, pk=registered.pk, code="ABIM")
    page = client.get(form_url)
    assert page.status_code == 200
    assert "read-only" in page.content.decode()
    assert client.post(form_url, {"attest": "on", "moc_points": "5"}).status_code == 403
    for name in ("learners:registration_new", "learners:registration_delete"):
        kwargs: dict[str, Any] = {"pk": registered.pk}
        if name.endswith("delete"):
            kwargs["code"] = "ABIM"
        assert client.get(url(name, provider, **kwargs)).status_code == 403
        assert client.post(url(name, provider, **kwargs)).status_code == 403
    assert ActivityRegistration.objects.get().moc_points == Decimal(10)


# ---------------------------------------------------------------------------
# The list


def test_the_list_counts_filters_searches_and_pages(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    other = make_activity(provider, provider_activity_id="GR-2")
    register(other, "ABIM")
    register(other, "ABS")
    report(provider, editor, registered, first_name="Ada", last_name="Lovelace")
    report(
        provider, editor, registered, first_name="Grace", last_name="Hopper", learner_id="222222"
    )
    rejected = report(provider, editor, other, first_name="Alan", last_name="Turing")
    LearnerCompletion.objects.filter(pk=rejected.pk).update(
        status=CompletionStatus.REJECTED, status_reason="ABIM does not know this activity."
    )
    report(
        provider,
        editor,
        other,
        recipient="ABS",
        learner_id="",
        first_name="Katherine",
        last_name="Johnson",
        moc_credit_types="Accredited CME",
    )
    client = client_as(editor)
    list_url = url("learners:list", provider)

    body = text(client.get(list_url))
    assert "4 records" in body
    assert f'href="{list_url}?status=queued"><strong>3</strong> Queued' in body
    assert f'href="{list_url}?status=rejected"><strong>1</strong> Rejected' in body
    assert "ABIM does not know this activity." in body
    assert "Ada Lovelace" in body

    body = text(client.get(list_url, {"status": "rejected"}))
    assert "1 record match" in body
    assert "Alan Turing" in body
    assert "Ada Lovelace" not in body

    body = text(client.get(list_url, {"recipient": "abs"}))
    assert "Katherine Johnson" in body
    assert "Grace Hopper" not in body

    body = text(client.get(list_url, {"activity": str(registered.pk)}))
    assert "2 records match" in body
    assert "Alan Turing" not in body

    body = text(client.get(list_url, {"q": "grace hop"}))
    assert "1 record match" in body
    assert "Grace Hopper" in body

    # The status badges say the status in words, not in color only.
    assert re.search(r'data-status="rejected">Rejected</span>', text(client.get(list_url)))


def test_the_list_pages_keep_the_filters(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    first = report(provider, editor, registered)
    rows = [
        LearnerCompletion(
            provider=provider,
            activity=registered,
            recipient=first.recipient,
            learner_key=f"key-{n}",
            first_name="Learner",
            last_name=f"Number{n:02d}",
            birth_month=1,
            birth_day=1,
            learner_id=f"{300000 + n}",
            completion_date=datetime.date(2026, 3, 2),
        )
        for n in range(60)
    ]
    LearnerCompletion.objects.bulk_create(rows)
    client = client_as(editor)
    body = text(client.get(url("learners:list", provider), {"status": "queued"}))
    assert "Page 1 of 2" in body
    assert "?status=queued&amp;page=2" in body
    body = text(client.get(url("learners:list", provider), {"status": "queued", "page": "2"}))
    assert "Page 2 of 2" in body


def test_read_only_users_see_the_list_without_the_report_link(
    client_as: Callable[[User], Client],
    provider: Provider,
    reader: User,
    editor: User,
    registered: Activity,
) -> None:
    report(provider, editor, registered)
    body = text(client_as(reader).get(url("learners:list", provider)))
    assert "Ada Lovelace" in body
    assert "Report one learner" not in body


# ---------------------------------------------------------------------------
# One record


def test_a_record_shows_its_status_reason_history_and_delivery_outcomes(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    completion = report(provider, editor, registered)
    batch = DeliveryBatch.objects.create(
        recipient=completion.recipient, status=BatchStatus.DONE, items_count=1
    )
    DeliveryItem.objects.create(
        provider=provider,
        batch=batch,
        completion=completion,
        version=1,
        action=DeliveryAction.SUBMIT,
        payload={},
        outcome="held",
        reason="No learner with this ABIM ID is in the registry.",
    )
    LearnerCompletion.objects.filter(pk=completion.pk).update(
        status=CompletionStatus.HELD,
        status_reason="No learner with this ABIM ID is in the registry.",
        status_code="learner_not_found",
    )
    CompletionEvent.objects.create(
        provider=provider, completion=completion, kind="held", version=1, detail="not matched"
    )
    body = text(client_as(editor).get(url("learners:detail", provider, pk=completion.pk)))
    assert "Ada Lovelace: GR-1 → ABIM" in body
    assert 'data-status="held">Held (learner not matched)</span>' in body
    assert "Why it is held" in body
    assert "<code>learner_not_found</code>" in body
    assert "ABIM ID</dt><dd>123456" in body  # the provider's own data, unmasked
    assert "Birth Month and Day</dt><dd>12-10" in body
    history = body.split('id="history"')[1].split("</table>")[0]
    assert "Submitted" in history
    assert "Held: learner not matched" in history
    assert "not matched" in history
    deliveries = body.split('id="deliveries"')[1].split("</table>")[0]
    assert f"<td>{batch.pk}</td>" in deliveries
    assert "<td>Submit</td><td>Held</td>" in deliveries
    assert "No learner with this ABIM ID is in the registry." in deliveries
    # As connectors answer it: "rejected, identity_mismatch", which holds the record.
    DeliveryItem.objects.filter(batch=batch).update(
        outcome="rejected", reason_code="identity_mismatch"
    )
    body = text(client_as(editor).get(url("learners:detail", provider, pk=completion.pk)))
    deliveries = body.split('id="deliveries"')[1].split("</table>")[0]
    assert "<td>Submit</td><td>Learner not matched (held)</td>" in deliveries
    for action in ("Correct", "Resubmit", "Withdraw"):
        assert f">{action}</" in body


def test_reporting_one_learner_chooses_the_registration_then_validates_per_field(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    client = client_as(editor)
    new_url = url("learners:new", provider)
    registration = ActivityRegistration.objects.get()
    choose = text(client.get(new_url))
    assert f'<option value="{registration.pk}">GR-1: Grand Rounds: Heart Failure → ABIM' in choose

    page = text(client.get(new_url, {"registration": registration.pk}))
    assert "ABIM ID" in page
    assert "MOC Points" in page
    assert 'value="Medical Knowledge"' in page
    assert "Practice Assessment" not in page  # not registered for this activity
    assert "Profession" not in page  # REMS only

    good = {
        "registration": registration.pk,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        "learner_id": "12AB",
        "completion_date": "2026-03-02",
        "cme_credits": "10",
        "moc_points": "11",
        "moc_credit_types": ["Medical Knowledge"],
    }
    response = client.post(new_url, good)
    body = text(response)
    assert response.status_code == 400
    assert "learner.learner_id.invalid" in body
    assert '<a href="#field-learner_id">ABIM ID</a>' in body
    assert "12AB" not in body.split('id="form-errors"')[1].split("</article>")[0]
    assert not LearnerCompletion.objects.exists()

    response = client.post(new_url, {**good, "learner_id": "123456"})
    body = text(response)
    assert response.status_code == 400
    assert "learner.moc_points.over_registered" in body  # the writer's rule, shown alike

    response = client.post(new_url, {**good, "learner_id": "123456", "moc_points": "10"})
    completion = LearnerCompletion.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("learners:detail", provider, pk=completion.pk)
    assert completion.status == CompletionStatus.QUEUED
    assert completion.last_channel == "web"
    assert completion.moc_credit_types == ["Medical Knowledge"]


def test_without_registrations_the_new_page_explains_what_to_do(
    client_as: Callable[[User], Client], provider: Provider, editor: User
) -> None:
    body = text(client_as(editor).get(url("learners:new", provider)))
    assert "No activity is registered with a recipient yet" in body


def test_correcting_prefills_the_record_and_makes_a_new_version(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    completion = report(provider, editor, registered, learner_id="111111")
    client = client_as(editor)
    correct_url = url("learners:correct", provider, pk=completion.pk)
    page = text(client.get(correct_url))
    for value in ('value="Ada"', 'value="12-10"', 'value="111111"', 'value="2026-03-02"'):
        assert value in page
    assert re.search(r'value="Medical Knowledge"[^>]*checked', page)

    fields = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        "learner_id": "bad",
        "npi": "",
        "completion_date": "2026-03-02",
        "cme_credits": "10",
        "moc_points": "10",
        "moc_credit_types": ["Medical Knowledge"],
    }
    response = client.post(correct_url, fields)
    assert response.status_code == 400
    assert "learner.learner_id.invalid" in text(response)
    completion.refresh_from_db()
    assert completion.version == 1

    response = client.post(correct_url, {**fields, "learner_id": "222222"})
    assert response.status_code == 302
    completion.refresh_from_db()
    assert (completion.version, completion.learner_id) == (2, "222222")
    event = CompletionEvent.objects.get(completion=completion, kind="corrected")
    assert event.changed_fields == ["learner_id"]
    page = text(client.get(url("learners:detail", provider, pk=completion.pk)))
    assert "Corrected: version 2 is Queued." in page
    history = page.split('id="history"')[1].split("</table>")[0]
    assert "Corrected" in history
    assert "changed: ABIM ID" not in history  # labels from the dictionary, not the board's
    assert "changed: Learner ID" in history
    assert "eddie@riverside.example (Web form)" in history
    for value in ("111111", "222222"):
        assert value not in history


def test_fixing_a_held_learner_fixes_their_other_held_records(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    second = make_activity(provider, provider_activity_id="GR-3")
    register(second, "ABIM")
    first = report(provider, editor, registered, learner_id="111111")
    other = report(provider, editor, second, learner_id="111111")
    LearnerCompletion.objects.update(status=CompletionStatus.HELD, status_reason="Not matched.")
    response = client_as(editor).post(
        url("learners:correct", provider, pk=first.pk),
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "birth_date": "12-10",
            "learner_id": "654321",
            "completion_date": "2026-03-02",
            "cme_credits": "10",
            "moc_points": "10",
            "moc_credit_types": ["Medical Knowledge"],
        },
        follow=True,
    )
    assert "other held record was corrected and queued too" in text(response)
    for record in (first, other):
        record.refresh_from_db()
        assert (record.learner_id, record.status) == ("654321", CompletionStatus.QUEUED)


def test_resubmitting_a_rejected_record_queues_it_again(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    completion = report(provider, editor, registered)
    client = client_as(editor)
    resubmit_url = url("learners:resubmit", provider, pk=completion.pk)
    assert client.get(resubmit_url).status_code == 405
    body = text(client.get(url("learners:detail", provider, pk=completion.pk)))
    assert ">Resubmit</" not in body  # only rejected and held records are resubmitted
    LearnerCompletion.objects.filter(pk=completion.pk).update(
        status=CompletionStatus.REJECTED, status_reason="Registry was down."
    )
    response = client.post(resubmit_url, follow=True)
    assert "Resubmitted: version 2 is queued." in text(response)
    completion.refresh_from_db()
    assert (completion.status, completion.version, completion.status_reason) == ("queued", 2, "")
    assert CompletionEvent.objects.filter(completion=completion, kind="resubmitted").exists()


def test_withdrawing_asks_first_and_keeps_the_record(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registered: Activity
) -> None:
    completion = report(provider, editor, registered)
    client = client_as(editor)
    withdraw_url = url("learners:withdraw", provider, pk=completion.pk)
    confirm = text(client.get(withdraw_url))
    assert "never sent, so it is withdrawn at once" in confirm
    response = client.post(withdraw_url, follow=True)
    body = text(response)
    assert 'data-status="withdrawn">Withdrawn</span>' in body
    assert ">Correct</" not in body
    assert ">Withdraw</" not in body
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.WITHDRAWN
    # A withdrawn record is not corrected from its page.
    response = client.get(url("learners:correct", provider, pk=completion.pk), follow=True)
    assert "cannot be changed" in text(response)


def test_read_only_users_read_records_but_change_nothing(
    client_as: Callable[[User], Client],
    provider: Provider,
    reader: User,
    editor: User,
    registered: Activity,
) -> None:
    completion = report(provider, editor, registered)
    LearnerCompletion.objects.filter(pk=completion.pk).update(status=CompletionStatus.REJECTED)
    client = client_as(reader)
    body = text(client.get(url("learners:detail", provider, pk=completion.pk)))
    assert "Ada Lovelace" in body
    for action in ("Correct", "Resubmit", "Withdraw"):
        assert f">{action}</" not in body
    for name in ("learners:correct", "learners:resubmit", "learners:withdraw"):
        assert (
            client.post(url(name, provider, pk=completion.pk), {"learner_id": "999999"}).status_code
            == 403
        )
    assert client.get(url("learners:correct", provider, pk=completion.pk)).status_code == 403
    assert client.post(url("learners:new", provider), {"registration": "1"}).status_code == 403
    completion.refresh_from_db()
    assert (completion.version, completion.status) == (1, CompletionStatus.REJECTED)


def test_another_providers_user_gets_404_on_every_learner_page(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    mallory: User,
    registered: Activity,
) -> None:
    completion = report(provider, editor, registered)
    client = client_as(mallory)
    routes: list[tuple[str, dict[str, Any]]] = [
        ("learners:list", {}),
        ("learners:detail", {"pk": completion.pk}),
        ("learners:correct", {"pk": completion.pk}),
        ("learners:withdraw", {"pk": completion.pk}),
        ("learners:resubmit", {"pk": completion.pk}),
        ("learners:registration", {"pk": registered.pk, "code": "ABIM"}),
        ("learners:registration_delete", {"pk": registered.pk, "code": "ABIM"}),
    ]
    for name, kwargs in routes:
        for method in ("get", "post"):
            assert getattr(client, method)(url(name, provider, **kwargs)).status_code == 404, name
    # With their own provider in the URL, the record is still not theirs.
    mine = url("learners:detail", mallory.memberships.get().provider, pk=completion.pk)
    assert client.get(mine).status_code == 404
    assert Activity.objects.filter(pk=registered.pk).exists()
