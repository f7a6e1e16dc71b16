"""Staff see a provider's completions with personal data masked until they give a reason,
which is recorded (never the values) and shows the data for that response only. State
accreditor staff reach only their own providers. Plus the dashboard's learner counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.audit.models import AuditAction, AuditEvent
from pars.learners.models import CompletionStatus, LearnerCompletion
from pars.learners.services import submit_completion
from pars.providers.models import AccreditorType, Provider
from pars.testing import (
    learner_row,
    make_accreditor,
    make_activity,
    make_member,
    make_provider,
    make_user,
    register,
)


@pytest.fixture
def completion(provider: Provider, editor: User) -> LearnerCompletion:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "TN")
    register(activity, "ABIM")
    access = get_provider_access(editor, provider.provider_id)
    completion = submit_completion(
        access,
        learner_row(
            activity,
            recipient="TN",
            learner_id="MD98765",
            npi="1234567893",
            license_state="TN",
            moc_points="",
            moc_credit_types="",
        ),
        channel="web",
    )
    assert completion is not None
    return completion


def staff_url(provider: Provider) -> str:
    return reverse("learners:staff_list", kwargs={"provider_id": provider.provider_id})


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


PERSONAL = ("MD98765", "1234567893", "12-10")


def test_staff_see_personal_data_masked(
    client_as: Callable[[User], Client],
    provider: Provider,
    staff: User,
    completion: LearnerCompletion,
) -> None:
    response = client_as(staff).get(staff_url(provider))
    body = text(response)
    assert response.status_code == 200
    assert "Ada Lovelace" in body
    assert "••••65" in body  # the learner ID's last two characters
    assert "••••93" in body  # the NPI's
    assert "••-••" in body
    for value in PERSONAL:
        assert value not in body
    assert "Show personal data" in body
    assert not AuditEvent.objects.filter(action=AuditAction.PERSONAL_DATA_VIEWED).exists()


def test_showing_personal_data_needs_a_reason_and_is_recorded_without_values(
    client_as: Callable[[User], Client],
    provider: Provider,
    staff: User,
    completion: LearnerCompletion,
) -> None:
    client = client_as(staff)
    response = client.post(staff_url(provider), {"reason": ""})
    assert response.status_code == 400
    for value in PERSONAL:
        assert value not in text(response)
    assert not AuditEvent.objects.filter(action=AuditAction.PERSONAL_DATA_VIEWED).exists()

    response = client.post(
        staff_url(provider), {"reason": "Board asked to confirm a license", "status": "queued"}
    )
    body = text(response)
    assert response.status_code == 200
    for value in PERSONAL:
        assert value in body
    assert "this access is recorded" in body
    event = AuditEvent.objects.get(action=AuditAction.PERSONAL_DATA_VIEWED)
    assert event.provider == provider
    assert event.user == staff
    assert event.details["reason"] == "Board asked to confirm a license"
    assert event.details["completions"] == [completion.pk]
    assert event.details["fields"] == [
        "learner_id",
        "npi",
        "license_state",
        "birth_month",
        "birth_day",
    ]
    assert event.details["filters"] == {"status": "queued"}
    recorded = str(event.details) + event.description
    for value in PERSONAL:
        assert value not in recorded

    # The next page is masked again.
    again = text(client.get(staff_url(provider)))
    for value in PERSONAL:
        assert value not in again


def test_staff_in_the_providers_workspace_see_records_masked_too(
    client_as: Callable[[User], Client],
    provider: Provider,
    staff: User,
    completion: LearnerCompletion,
) -> None:
    client = client_as(staff)
    detail = text(
        client.get(
            reverse(
                "learners:detail",
                kwargs={"provider_id": provider.provider_id, "pk": completion.pk},
            )
        )
    )
    assert "Ada Lovelace" in detail
    for value in PERSONAL:
        assert value not in detail
    assert "Personal data is masked for staff" in detail
    correct_url = reverse(
        "learners:correct", kwargs={"provider_id": provider.provider_id, "pk": completion.pk}
    )
    form = text(client.get(correct_url))
    for value in PERSONAL:
        assert value not in form
    assert "••••65 (unchanged)" in form
    # Blank personal fields keep their values; the rest is corrected.
    response = client.post(
        correct_url,
        {
            "first_name": "Ada",
            "last_name": "Byron",
            "completion_date": "2026-03-02",
            "cme_credits": "10",
        },
    )
    assert response.status_code == 302
    completion.refresh_from_db()
    assert (completion.last_name, completion.learner_id, completion.npi) == (
        "Byron",
        "MD98765",
        "1234567893",
    )
    assert (completion.birth_month, completion.birth_day, completion.version) == (12, 10, 2)


def test_the_staff_provider_page_links_to_the_learner_view(
    client_as: Callable[[User], Client], provider: Provider, staff: User
) -> None:
    page = client_as(staff).get(
        reverse("providers:staff_detail", kwargs={"provider_id": provider.provider_id})
    )
    assert staff_url(provider) in page.content.decode()


def test_state_accreditor_staff_see_only_their_providers(
    client_as: Callable[[User], Client], completion: LearnerCompletion, provider: Provider
) -> None:
    maine = make_accreditor("ME")
    own = make_provider(
        name="Pine Coast CME",
        provider_id="0007777",
        accreditor_type=AccreditorType.STATE,
        recognized_accreditor=maine,
    )
    state_staff = make_user("state@maine.example", is_staff=True, staff_accreditor=maine)
    client = client_as(state_staff)
    assert client.get(staff_url(own)).status_code == 200
    assert client.get(staff_url(provider)).status_code == 404
    assert client.post(staff_url(provider), {"reason": "curious"}).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.PERSONAL_DATA_VIEWED).exists()


def test_provider_users_get_404_on_the_staff_view(
    client_as: Callable[[User], Client],
    provider: Provider,
    admin_user: User,
    completion: LearnerCompletion,
) -> None:
    client = client_as(admin_user)
    assert client.get(staff_url(provider)).status_code == 404
    assert client.post(staff_url(provider), {"reason": "mine"}).status_code == 404


# ---------------------------------------------------------------------------
# The dashboard


def test_the_dashboard_counts_queued_rejected_and_held_records(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    completion: LearnerCompletion,
) -> None:
    dashboard = reverse("reporting:dashboard", kwargs={"provider_id": provider.provider_id})
    body = text(client_as(editor).get(dashboard))
    assert "Learner data" in body
    list_url = reverse("learners:list", kwargs={"provider_id": provider.provider_id})
    assert f'<a href="{list_url}?status=queued">1 queued</a>' in body
    assert f'<a href="{list_url}?status=rejected">0 rejected</a>' in body
    LearnerCompletion.objects.update(status=CompletionStatus.HELD)
    body = text(client_as(editor).get(dashboard))
    assert f'<a href="{list_url}?status=held">1 held</a>' in body
    assert "fix the learner" in body


def test_the_dashboard_explains_learner_data_before_there_is_any(
    client_as: Callable[[User], Client], provider: Provider, editor: User
) -> None:
    dashboard = reverse("reporting:dashboard", kwargs={"provider_id": provider.provider_id})
    body = text(client_as(editor).get(dashboard))
    assert "No learner completions reported yet" in body


def test_the_learners_tab_is_in_the_provider_navigation(
    client_as: Callable[[User], Client], provider: Provider
) -> None:
    reader = make_member(provider, email="r2@riverside.example")
    body = text(
        client_as(reader).get(
            reverse("learners:list", kwargs={"provider_id": provider.provider_id})
        )
    )
    assert re.search(r'<a href="/p/0001234/learners/" aria-current="page">Learners</a>', body)
