"""A closed year looks closed: after attestation its activities open read-only, with who
attested and when and how to ask for a reopen; Edit and Delete are not offered (and their
pages lead back), while the next year's activities stay editable."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from pars.accounts.models import Role, User
from pars.activities.models import Activity
from pars.providers.models import Provider
from pars.reporting.models import AnnualReport, ReportingYear
from pars.testing import make_activity, make_member

pytestmark = pytest.mark.django_db

ATTESTED_AT = datetime.datetime(2026, 2, 10, 15, 30, tzinfo=datetime.UTC)


@pytest.fixture
def closed_2025(provider: Provider) -> AnnualReport:
    admin = make_member(provider, Role.ADMIN, email="ada@riverside.example", first_name="Ada")
    return AnnualReport.objects.create(
        provider=provider,
        reporting_year=ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31)),
        attested_at=ATTESTED_AT,
        attested_by=admin,
    )


def old_and_new(provider: Provider) -> tuple[Activity, Activity]:
    old = make_activity(
        provider,
        provider_activity_id="OLD-1",
        start_date=datetime.date(2025, 5, 1),
        end_date=datetime.date(2025, 5, 1),
        reporting_year=2025,
    )
    return old, make_activity(provider, provider_activity_id="NEW-1")


def test_a_closed_years_activity_is_read_only_and_says_why(
    client_as: Callable[[User], Client], editor: User, provider: Provider, closed_2025: AnnualReport
) -> None:
    old, new = old_and_new(provider)
    client = client_as(editor)
    pid = provider.provider_id
    page = client.get(reverse("activities:detail", args=[pid, old.pk])).content.decode()
    assert "The 2025 annual report is attested and closed: this activity is read-only." in page
    assert "by Ada" in page  # who attested
    assert "02/10/2026" in page  # and when
    assert "reopen the 2025 report" in page  # how to ask for a change
    assert reverse("activities:edit", args=[pid, old.pk]) not in page
    assert reverse("activities:delete", args=[pid, old.pk]) not in page
    assert reverse("activities:copy", args=[pid, old.pk]) in page  # a copy goes elsewhere

    open_page = client.get(reverse("activities:detail", args=[pid, new.pk])).content.decode()
    assert "attested and closed" not in open_page
    assert reverse("activities:edit", args=[pid, new.pk]) in open_page


def test_edit_and_delete_of_a_closed_years_activity_lead_back_to_it(
    client_as: Callable[[User], Client], editor: User, provider: Provider, closed_2025: AnnualReport
) -> None:
    old, _ = old_and_new(provider)
    client = client_as(editor)
    detail = reverse("activities:detail", args=[provider.provider_id, old.pk])
    edit = client.get(reverse("activities:edit", args=[provider.provider_id, old.pk]))
    assert edit.status_code == 302
    assert edit["Location"] == detail
    followed = client.get(detail)
    assert "it can no longer change" in followed.content.decode()
    delete = reverse("activities:delete", args=[provider.provider_id, old.pk])
    assert client.get(delete)["Location"] == detail
    # A delete sent anyway is refused by the writer, with its rule.
    refused = client.post(delete)
    assert refused.status_code == 400
    assert "activity.reporting_year.locked" in refused.content.decode()
    assert Activity.objects.filter(pk=old.pk).exists()


def test_the_list_says_which_shown_years_are_closed(
    client_as: Callable[[User], Client], reader: User, provider: Provider, closed_2025: AnnualReport
) -> None:
    old_and_new(provider)
    client = client_as(reader)
    url = reverse("activities:list", args=[provider.provider_id])
    assert 'id="closed-2025"' in client.get(url).content.decode()
    only_2026 = client.get(url, {"year": "2026"}).content.decode()
    assert 'id="closed-2025"' not in only_2026
