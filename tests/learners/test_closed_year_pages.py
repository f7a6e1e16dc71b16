"""After attestation, the year's learner pages are read-only: they say the year is closed
(who attested and when, how to ask for a reopen) and offer no Correct, Withdraw,
Resubmit or Report; a form sent anyway is refused by the writer's rule. A recipient that
takes completions after attestation (its setting, domain decision 6) keeps its records
open, and the note says so."""

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
from pars.accounts.models import Role, User
from pars.activities.models import Activity
from pars.learners.models import (
    ActivityRegistration,
    CompletionStatus,
    LearnerCompletion,
    Recipient,
)
from pars.learners.services import submit_completion
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import learner_row, make_activity, make_member, register

pytestmark = pytest.mark.django_db

CLOSED_NOTE = (
    "The 2025 annual report is attested and closed: its learner completions are read-only."
)
RULE = "learner.reporting_year.locked"


def _completion(provider: Provider, user: User, activity: Activity, day: str) -> LearnerCompletion:
    register(activity, "ABIM")
    access = get_provider_access(user, provider.provider_id)
    completion = submit_completion(
        access, learner_row(activity, completion_date=day), channel="web"
    )
    assert completion is not None
    return completion


@pytest.fixture
def old_and_new(provider: Provider, editor: User) -> tuple[LearnerCompletion, LearnerCompletion]:
    """A completion of a 2025 activity and one of a 2026 activity, reported before 2025 closed."""
    old = make_activity(
        provider,
        provider_activity_id="OLD-1",
        start_date=datetime.date(2025, 5, 1),
        end_date=datetime.date(2025, 5, 2),
        reporting_year=2025,
        ama_credits=Decimal(12),
    )
    new = make_activity(provider, provider_activity_id="NEW-1", ama_credits=Decimal(12))
    return (
        _completion(provider, editor, old, "2025-05-02"),
        _completion(provider, editor, new, "2026-03-02"),
    )


@pytest.fixture
def closed_2025(
    provider: Provider, old_and_new: tuple[LearnerCompletion, LearnerCompletion]
) -> AnnualReport:
    admin = make_member(provider, Role.ADMIN, email="ada@riverside.example", first_name="Ada")
    return AnnualReport.objects.create(
        provider=provider,
        reporting_year=ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31)),
        attested_at=datetime.datetime(2026, 2, 10, 15, 30, tzinfo=datetime.UTC),
        attested_by=admin,
    )


def _page(client: Client, name: str, provider: Provider, **kwargs: Any) -> str:
    url = reverse(name, kwargs={"provider_id": provider.provider_id, **kwargs})
    return re.sub(r"\s+", " ", client.get(url).content.decode())


CORRECTION = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "birth_date": "12-10",
    "learner_id": "222222",
    "completion_date": "2025-05-02",
    "cme_credits": "10",
    "moc_points": "10",
    "moc_credit_types": ["Medical Knowledge"],
}


def test_a_closed_years_completion_is_read_only_and_says_why(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    closed_2025: AnnualReport,
    old_and_new: tuple[LearnerCompletion, LearnerCompletion],
) -> None:
    old, new = old_and_new
    client = client_as(editor)
    pid = provider.provider_id
    page = _page(client, "learners:detail", provider, pk=old.pk)
    assert CLOSED_NOTE in page
    assert "by Ada" in page  # who attested
    assert "02/10/2026" in page  # and when
    assert "ask the accreditor's staff to reopen the 2025 report" in page
    for name in ("learners:correct", "learners:withdraw", "learners:resubmit"):
        assert reverse(name, args=[pid, old.pk]) not in page

    new_page = _page(client, "learners:detail", provider, pk=new.pk)
    assert "attested and closed" not in new_page
    assert reverse("learners:correct", args=[pid, new.pk]) in new_page
    assert reverse("learners:withdraw", args=[pid, new.pk]) in new_page


def test_correct_and_withdraw_of_a_closed_year_lead_back_and_a_form_sent_anyway_is_refused(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    closed_2025: AnnualReport,
    old_and_new: tuple[LearnerCompletion, LearnerCompletion],
) -> None:
    old, _ = old_and_new
    client = client_as(editor)
    pid = provider.provider_id
    detail = reverse("learners:detail", args=[pid, old.pk])
    correct = reverse("learners:correct", args=[pid, old.pk])
    withdraw = reverse("learners:withdraw", args=[pid, old.pk])
    assert client.get(correct)["Location"] == detail
    assert client.get(withdraw)["Location"] == detail

    refused = client.post(correct, CORRECTION)
    assert refused.status_code == 400
    assert RULE in refused.content.decode()
    refused = client.post(withdraw)
    assert refused.status_code == 400
    assert RULE in refused.content.decode()
    client.post(reverse("learners:resubmit", args=[pid, old.pk]))
    old.refresh_from_db()
    assert (old.version, old.learner_id, old.status) == (1, "123456", CompletionStatus.QUEUED)


def test_a_closed_years_registration_offers_no_new_report(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    closed_2025: AnnualReport,
    old_and_new: tuple[LearnerCompletion, LearnerCompletion],
) -> None:
    old, _ = old_and_new
    client = client_as(editor)
    url = reverse("learners:new", args=[provider.provider_id])
    choose = client.get(url).content.decode()
    assert "NEW-1" in choose
    assert "OLD-1" not in choose
    closed = ActivityRegistration.objects.get(activity=old.activity)
    page = re.sub(r"\s+", " ", client.get(url, {"registration": closed.pk}).content.decode())
    assert CLOSED_NOTE in page
    assert "Report completion" not in page
    sent = client.post(url, {**CORRECTION, "learner_id": "333333", "registration": str(closed.pk)})
    assert sent.status_code == 400
    assert RULE in sent.content.decode()
    assert not LearnerCompletion.objects.filter(learner_id="333333").exists()


def test_a_recipient_that_takes_completions_after_attestation_keeps_them_open(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    closed_2025: AnnualReport,
    old_and_new: tuple[LearnerCompletion, LearnerCompletion],
) -> None:
    Recipient.objects.filter(code="ABIM").update(accepts_completions_after_attestation=True)
    old, _ = old_and_new
    client = client_as(editor)
    pid = provider.provider_id
    page = _page(client, "learners:detail", provider, pk=old.pk)
    assert "ABIM takes completions after attestation, so this record stays open." in page
    correct = reverse("learners:correct", args=[pid, old.pk])
    assert correct in page
    assert client.post(correct, CORRECTION).status_code == 302
    old.refresh_from_db()
    assert (old.version, old.learner_id) == (2, "222222")


def test_the_list_notes_the_closed_years_it_shows(
    client_as: Callable[[User], Client],
    provider: Provider,
    reader: User,
    closed_2025: AnnualReport,
    old_and_new: tuple[LearnerCompletion, LearnerCompletion],
) -> None:
    client = client_as(reader)
    assert 'id="closed-2025"' in _page(client, "learners:list", provider)
    list_url = reverse("learners:list", args=[provider.provider_id])
    new_activity = old_and_new[1].activity_id
    only_new = client.get(list_url, {"activity": new_activity}).content.decode()
    assert "NEW-1" in only_new
    assert 'id="closed-2025"' not in only_new


def test_a_closed_years_registration_page_has_no_form_and_refuses_a_change(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    closed_2025: AnnualReport,
    old_and_new: tuple[LearnerCompletion, LearnerCompletion],
) -> None:
    old, _ = old_and_new
    client = client_as(editor)
    url = reverse("learners:registration", args=[provider.provider_id, old.activity_id, "ABIM"])
    page = re.sub(r"\s+", " ", client.get(url).content.decode())
    assert "The 2025 annual report is attested and closed" in page
    assert "Save registration" not in page
    sent = client.post(
        url, {"moc_points": "8", "credit_types": ["Medical Knowledge"], "attest": "on"}
    )
    assert sent.status_code == 400
    assert RULE in sent.content.decode()
    assert ActivityRegistration.objects.get(activity=old.activity).moc_points == Decimal(10)


def test_the_closed_years_activity_page_offers_no_registration_changes(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    closed_2025: AnnualReport,
    old_and_new: tuple[LearnerCompletion, LearnerCompletion],
) -> None:
    old, new = old_and_new
    client = client_as(editor)
    pid = provider.provider_id

    def offers(completion: LearnerCompletion) -> dict[str, bool]:
        activity = completion.activity
        page = _page(client, "activities:detail", provider, pk=activity.pk)
        links = {
            "Edit": reverse("learners:registration", args=[pid, activity.pk, "ABIM"]) + '">Edit',
            "Remove": reverse("learners:registration_delete", args=[pid, activity.pk, "ABIM"]),
            "Report a learner": "Report a learner</a>",
            "Register": reverse("learners:registration_new", args=[pid, activity.pk]),
        }
        return {name: link in page for name, link in links.items()}

    assert offers(new) == dict.fromkeys(("Edit", "Remove", "Report a learner", "Register"), True)
    assert offers(old) == dict.fromkeys(("Edit", "Remove", "Report a learner", "Register"), False)
    # A recipient that takes completions after attestation keeps its row's links.
    Recipient.objects.filter(code="ABIM").update(accepts_completions_after_attestation=True)
    assert offers(old) == {
        "Edit": True,
        "Remove": True,
        "Report a learner": True,
        "Register": False,
    }
