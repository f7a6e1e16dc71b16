"""After attestation, the year's learner pages say the year is closed (who attested and
when, how to ask for a reopen) and that learner completions stay open: boards take
completions after the year closes (domain decision 6, the learner data window), so
Correct and Withdraw are still offered and a correction is still taken."""

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
from pars.learners.models import LearnerCompletion
from pars.learners.services import submit_completion
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import learner_row, make_activity, make_member, register

pytestmark = pytest.mark.django_db

CLOSED_NOTE = "The 2025 annual report is attested and closed; learner completions stay open."


@pytest.fixture
def closed_2025(provider: Provider) -> AnnualReport:
    admin = make_member(provider, Role.ADMIN, email="ada@riverside.example", first_name="Ada")
    return AnnualReport.objects.create(
        provider=provider,
        reporting_year=ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31)),
        attested_at=datetime.datetime(2026, 2, 10, 15, 30, tzinfo=datetime.UTC),
        attested_by=admin,
    )


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


def _page(client: Client, name: str, provider: Provider, **kwargs: Any) -> str:
    url = reverse(name, kwargs={"provider_id": provider.provider_id, **kwargs})
    return re.sub(r"\s+", " ", client.get(url).content.decode())


def test_a_closed_years_completion_says_the_year_is_closed_and_completions_stay_open(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    closed_2025: AnnualReport,
    old_and_new: tuple[LearnerCompletion, LearnerCompletion],
) -> None:
    old, new = old_and_new
    client = client_as(editor)
    page = _page(client, "learners:detail", provider, pk=old.pk)
    assert CLOSED_NOTE in page
    assert "by Ada" in page  # who attested
    assert "02/10/2026" in page  # and when
    assert "ask the accreditor's staff to reopen the 2025 report" in page
    # Completions stay writable: Correct and Withdraw are offered, and a correction is taken.
    pid = provider.provider_id
    correct = reverse("learners:correct", args=[pid, old.pk])
    assert correct in page
    assert reverse("learners:withdraw", args=[pid, old.pk]) in page
    assert CLOSED_NOTE in _page(client, "learners:correct", provider, pk=old.pk)
    fields = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "birth_date": "12-10",
        "learner_id": "222222",
        "completion_date": "2025-05-02",
        "cme_credits": "10",
        "moc_points": "10",
        "moc_credit_types": ["Medical Knowledge"],
    }
    assert client.post(correct, fields).status_code == 302
    old.refresh_from_db()
    assert (old.version, old.learner_id) == (2, "222222")

    assert "attested and closed" not in _page(client, "learners:detail", provider, pk=new.pk)


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
