"""What each role sees and may change in a provider's workspace."""

from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from pars.accounts.models import Membership, Role, User
from pars.providers.models import AccreditationStatus, ContactRole, Provider
from pars.testing import make_contact, make_decision, make_member, make_provider

ClientAs = Callable[[User], Client]


def test_dashboard_shows_the_years_progress_and_tasks_left(
    provider: Provider, editor: User, client_as: ClientAs
) -> None:
    import datetime

    from pars.activities.models import ActivityStatus
    from pars.reporting.models import ReportingYear
    from pars.testing import make_activity

    ReportingYear.objects.create(year=2026, deadline=datetime.date(2027, 3, 31))
    make_activity(provider, status=ActivityStatus.CLOSED)
    make_activity(provider, status=ActivityStatus.ACTIVE)
    make_activity(provider, status=ActivityStatus.ACTIVE, reporting_year=2025)
    response = client_as(editor).get(reverse("reporting:dashboard", args=[provider.provider_id]))
    text = response.text
    assert "Reporting year 2026" in text
    assert "03/31/2027" in text
    assert "Enter the activities of 2026 (2 entered)" in text
    assert "Close the 1 open activities" in text
    assert "Complete the program summary" in text
    assert "Earlier reporting years" not in text
    ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31))
    text = client_as(editor).get(reverse("reporting:dashboard", args=[provider.provider_id])).text
    assert "Earlier reporting years" in text
    assert "1 (1 open)" in text


def test_staff_can_add_a_user_to_any_provider(
    provider: Provider, staff: User, client_as: ClientAs
) -> None:
    response = client_as(staff).post(
        reverse("accounts:member_invite", args=[provider.provider_id]),
        {"email": "new@riverside.example", "role": Role.ADMIN},
        follow=True,
    )
    assert "Access granted to new@riverside.example" in response.text
    assert mail.outbox[0].to == ["new@riverside.example"]
    assert Membership.objects.get(user__email="new@riverside.example").role == Role.ADMIN


def test_read_only_user_sees_profile_but_cannot_edit(
    provider: Provider, reader: User, client_as: ClientAs
) -> None:
    client = client_as(reader)
    make_contact(provider, role=ContactRole.PRIMARY, name="Dana Primary")
    assert "Dana Primary" in client.get(reverse("providers:profile", args=["0001234"])).text
    response = client.post(
        reverse("providers:profile_edit", args=["0001234"]), {"city": "Elsewhere"}
    )
    assert response.status_code == 403
    assert client.get(reverse("providers:contact_new", args=["0001234"])).status_code == 403


def test_editor_keeps_contacts_current(
    provider: Provider, editor: User, client_as: ClientAs
) -> None:
    client = client_as(editor)
    response = client.post(
        reverse("providers:contact_new", args=["0001234"]),
        {"role": ContactRole.PRIMARY, "name": "Dana Primary", "email": "dana@example.org"},
        follow=True,
    )
    assert "Contact Dana Primary saved." in response.text
    response = client.post(
        reverse("providers:contact_new", args=["0001234"]),
        {"role": ContactRole.PRIMARY, "name": "Second Primary", "email": "two@example.org"},
    )
    assert response.status_code == 200
    assert "This provider already has a contact with this role." in response.text
    contact = provider.contacts.get()
    client.post(
        reverse("providers:contact_edit", args=["0001234", contact.pk]),
        {"role": ContactRole.PRIMARY, "name": "Dana Renamed", "email": "dana@example.org"},
    )
    contact.refresh_from_db()
    assert contact.name == "Dana Renamed"
    client.post(
        reverse("providers:profile_edit", args=["0001234"]),
        {"address_line1": "1 Main St", "city": "Portland", "country": "United States"},
    )
    provider.refresh_from_db()
    assert provider.city == "Portland"


def test_provider_cannot_change_its_own_status_through_the_profile(
    provider: Provider, admin_user: User, client_as: ClientAs
) -> None:
    client_as(admin_user).post(
        reverse("providers:profile_edit", args=["0001234"]),
        {"city": "X", "accreditation_status": AccreditationStatus.COMMENDATION, "name": "Hacked"},
    )
    provider.refresh_from_db()
    assert provider.name == "Riverside Health"
    assert provider.accreditation_status == AccreditationStatus.ACCREDITATION


def test_decision_history_is_visible_to_every_role(
    provider: Provider, reader: User, client_as: ClientAs
) -> None:
    make_decision(provider, notes="Compliance in all criteria")
    response = client_as(reader).get(reverse("providers:decisions", args=["0001234"]))
    assert "Compliance in all criteria" in response.text
    assert "Record a decision" not in response.text


def test_editor_cannot_manage_users_but_sees_them(
    provider: Provider, editor: User, admin_user: User, client_as: ClientAs
) -> None:
    client = client_as(editor)
    assert admin_user.email in client.get(reverse("accounts:member_list", args=["0001234"])).text
    response = client.post(
        reverse("accounts:member_invite", args=["0001234"]),
        {"email": "x@example.org", "role": Role.ADMIN},
    )
    assert response.status_code == 403
    assert not mail.outbox
    assert client.get(reverse("accounts:api_keys", args=["0001234"])).status_code == 403


def test_administrator_changes_roles_and_removes_users(
    provider: Provider, admin_user: User, editor: User, client_as: ClientAs
) -> None:
    client = client_as(admin_user)
    membership = editor.memberships.get()
    client.post(
        reverse("accounts:member_role", args=["0001234", membership.pk]), {"role": Role.READONLY}
    )
    membership.refresh_from_db()
    assert membership.role == Role.READONLY
    client.post(reverse("accounts:member_remove", args=["0001234", membership.pk]))
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert (
        client_as(editor).get(reverse("reporting:dashboard", args=["0001234"])).status_code == 404
    )


def test_the_last_administrator_cannot_be_demoted_or_removed(
    provider: Provider, admin_user: User, client_as: ClientAs
) -> None:
    client = client_as(admin_user)
    membership = admin_user.memberships.get()
    response = client.post(
        reverse("accounts:member_role", args=["0001234", membership.pk]),
        {"role": Role.EDITOR},
        follow=True,
    )
    assert "must keep at least one administrator" in response.text
    client.post(reverse("accounts:member_remove", args=["0001234", membership.pk]))
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_a_user_of_several_providers_switches_between_them(
    provider: Provider, other_provider: Provider, client_as: ClientAs
) -> None:
    user = make_member(provider, Role.EDITOR, email="both@example.org")
    Membership.objects.create(user=user, provider=other_provider, role=Role.READONLY)
    client = client_as(user)
    response = client.get(reverse("home"), follow=True)
    assert "Choose a provider" in response.text
    assert "Riverside Health" in response.text
    assert "Elsewhere Medical" in response.text
    client.get(reverse("reporting:dashboard", args=[other_provider.provider_id]))
    response = client.get(reverse("home"))
    assert response["Location"] == reverse("reporting:dashboard", args=["0009999"])
    page = client.get(reverse("reporting:dashboard", args=["0001234"])).text
    assert "Switch provider" in page


def test_staff_see_every_provider_and_record_decisions(
    provider: Provider, other_provider: Provider, staff: User, client_as: ClientAs
) -> None:
    client = client_as(staff)
    response = client.get(reverse("home"), follow=True)
    assert "Riverside Health" in response.text
    assert "Elsewhere Medical" in response.text
    response = client.get(reverse("providers:staff_list"), {"q": "river"})
    assert "Riverside Health" in response.text
    assert "Elsewhere Medical" not in response.text
    response = client.post(
        reverse("providers:staff_decision_add", args=["0001234"]),
        {
            "decision_type": "reaccreditation",
            "outcome": AccreditationStatus.COMMENDATION,
            "decided_on": "2026-07-17",
            "term_start": "2026-07-01",
            "term_end": "2032-06-30",
        },
        follow=True,
    )
    assert "Decision recorded" in response.text
    provider.refresh_from_db()
    assert provider.accreditation_status == AccreditationStatus.COMMENDATION
    assert str(provider.term_end) == "2032-06-30"
    # Staff can also work in the provider's workspace.
    assert client.get(reverse("reporting:dashboard", args=["0001234"])).status_code == 200


def test_decision_with_term_ending_before_it_starts_is_refused(
    provider: Provider, staff: User, client_as: ClientAs
) -> None:
    response = client_as(staff).post(
        reverse("providers:staff_decision_add", args=["0001234"]),
        {
            "decision_type": "reaccreditation",
            "outcome": AccreditationStatus.ACCREDITATION,
            "decided_on": "2026-07-17",
            "term_start": "2026-07-01",
            "term_end": "2020-06-30",
        },
    )
    assert response.status_code == 400
    assert not provider.decisions.exists()


@pytest.mark.django_db
def test_state_accreditor_staff_see_only_their_providers(client_as: ClientAs) -> None:
    from pars.testing import make_accreditor, make_user

    maine = make_accreditor("ME", "Maine Medical Association")
    carolina = make_accreditor("NC", "North Carolina Medical Society")
    mine = make_provider(
        name="Maine Provider", accreditor_type="state", recognized_accreditor=maine
    )
    theirs = make_provider(
        name="Carolina Provider", accreditor_type="state", recognized_accreditor=carolina
    )
    national = make_provider(name="National Provider")
    state_staff = make_user("staff@mma.example", is_staff=True, staff_accreditor=maine)
    client = client_as(state_staff)
    listing = client.get(reverse("providers:staff_list")).text
    assert "Maine Provider" in listing
    assert "Carolina Provider" not in listing
    assert "National Provider" not in listing
    assert client.get(reverse("providers:staff_detail", args=[mine.provider_id])).status_code == 200
    for other in (theirs, national):
        assert (
            client.get(reverse("providers:staff_detail", args=[other.provider_id])).status_code
            == 404
        )
        assert (
            client.get(reverse("reporting:dashboard", args=[other.provider_id])).status_code == 404
        )
    # The Django admin is for the accreditor's own staff only.
    assert client.get("/admin/").status_code == 302


def test_activity_list_filters_searches_and_pages(
    provider: Provider, reader: User, client_as: ClientAs
) -> None:
    from pars.testing import make_activity

    for number in range(60):
        make_activity(provider, provider_activity_id=f"A-{number:03d}", title=f"Course {number}")
    make_activity(
        provider, provider_activity_id="OLD-1", title="Old grand rounds", reporting_year=2025
    )
    client = client_as(reader)
    page = client.get(reverse("activities:list", args=["0001234"])).text
    assert "61 activities" in page
    assert "Page 1 of 2" in page
    page = client.get(reverse("activities:list", args=["0001234"]), {"year": "2025"}).text
    assert "1 activity" in page
    assert "Old grand rounds" in page
    page = client.get(reverse("activities:list", args=["0001234"]), {"q": "A-059"}).text
    assert "Course 59" in page
    assert "Course 58" not in page
    page = client.get(
        reverse("activities:list", args=["0001234"]), {"q": "grand"}, headers={"HX-Request": "true"}
    ).text
    assert "<html" not in page
    assert "Old grand rounds" in page


def test_staff_search_providers_by_id_state_status_type_and_term(
    staff: User, client_as: ClientAs
) -> None:
    import datetime

    from pars.testing import make_accreditor

    maine = make_accreditor("ME", "Maine Medical Association")
    make_provider(
        name="Alpha Health",
        provider_id="0000101",
        state="OH",
        term_end=datetime.date(2026, 6, 30),
        accreditation_status=AccreditationStatus.ACCREDITATION,
    )
    make_provider(
        name="Beta Clinic",
        provider_id="0000202",
        accreditor_type="state",
        recognized_accreditor=maine,
        term_end=datetime.date(2029, 1, 31),
        accreditation_status=AccreditationStatus.PROBATION,
    )
    make_provider(
        name="Gamma College",
        provider_id="0000303",
        accreditor_type="joint",
        state="me",
        accreditation_status=AccreditationStatus.COMMENDATION,
    )
    client = client_as(staff)

    def names(**params: str) -> set[str]:
        text = client.get(reverse("providers:staff_list"), params).text
        return {n for n in ("Alpha Health", "Beta Clinic", "Gamma College") if n in text}

    assert names() == {"Alpha Health", "Beta Clinic", "Gamma College"}
    assert names(q="0000202") == {"Beta Clinic"}
    assert names(q="gamma") == {"Gamma College"}
    # The provider's own state or the state of the society that accredits it.
    assert names(state="ME") == {"Beta Clinic", "Gamma College"}
    assert names(status=AccreditationStatus.PROBATION) == {"Beta Clinic"}
    assert names(type="joint") == {"Gamma College"}
    assert names(term_ends_before="2027-01-01") == {"Alpha Health"}
    assert names(type="state", status=AccreditationStatus.PROBATION) == {"Beta Clinic"}
    assert names(term_ends_before="not a date") == set()
    # The htmx request gets only the rows.
    rows = client.get(reverse("providers:staff_list"), {"q": "alpha"}, HTTP_HX_REQUEST="true")
    assert "<h1>" not in rows.text
    assert "Alpha Health" in rows.text


def test_staff_edit_contact_data_with_an_audit_event(
    provider: Provider, staff: User, client_as: ClientAs
) -> None:
    from pars.audit.models import AuditEvent

    client = client_as(staff)
    url = reverse("providers:staff_edit", args=[provider.provider_id])
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "address_line1": "1 River Road",
            "city": "Riverton",
            "state": "ME",
            "postal_code": "04000",
            "country": "United States",
            "phone": "+1 207 555 0100",
            "website": "https://riverside.example",
        },
        follow=True,
    )
    assert "Contact data saved" in response.text
    provider.refresh_from_db()
    assert (provider.city, provider.phone) == ("Riverton", "+1 207 555 0100")
    event = AuditEvent.objects.get(provider=provider, action="provider.updated")
    assert event.user == staff
    assert event.details["changes"]["city"][1] == "Riverton"
    # An invalid website is refused and nothing changes.
    response = client.post(url, {"website": "not a url", "country": "United States"})
    assert response.status_code == 400
    provider.refresh_from_db()
    assert provider.website == "https://riverside.example"


def test_staff_set_status_and_term_with_a_reason(
    provider: Provider, staff: User, client_as: ClientAs
) -> None:
    from pars.audit.models import AuditEvent

    client = client_as(staff)
    url = reverse("providers:staff_status", args=[provider.provider_id])
    assert client.get(url).status_code == 405
    data = {
        "accreditation_status": AccreditationStatus.PROBATION,
        "term_start": "2022-07-01",
        "term_end": "2026-12-31",
        "reason": "Term extended by the board",
    }
    assert client.post(url, {**data, "term_end": "2020-01-01"}).status_code == 400
    assert client.post(url, {**data, "reason": ""}).status_code == 400
    provider.refresh_from_db()
    assert provider.accreditation_status == AccreditationStatus.ACCREDITATION
    response = client.post(url, data, follow=True)
    assert "Status and term saved" in response.text
    provider.refresh_from_db()
    assert provider.accreditation_status == AccreditationStatus.PROBATION
    assert str(provider.term_end) == "2026-12-31"
    event = AuditEvent.objects.get(provider=provider, action="provider.status_set")
    assert event.details["reason"] == "Term extended by the board"
    assert event.details["changes"]["accreditation_status"] == ["accreditation", "probation"]
    # The audit trail page shows it.
    assert (
        "Term extended by the board"
        in client.get(reverse("audit:provider", args=[provider.provider_id])).text
    )


def test_a_recorded_decision_sets_status_and_term_and_is_audited(
    provider: Provider, staff: User, client_as: ClientAs
) -> None:
    from pars.audit.models import AuditEvent

    client = client_as(staff)
    client.post(
        reverse("providers:staff_decision_add", args=[provider.provider_id]),
        {
            "decision_type": "progress_report",
            "outcome": AccreditationStatus.PROBATION,
            "decided_on": "2026-03-01",
        },
    )
    provider.refresh_from_db()
    assert provider.accreditation_status == AccreditationStatus.PROBATION
    event = AuditEvent.objects.get(provider=provider, action="provider.decision")
    assert event.details["changes"]["accreditation_status"] == ["accreditation", "probation"]
    # The edit page starts from what the decision set.
    page = client.get(reverse("providers:staff_edit", args=[provider.provider_id])).text
    assert 'value="probation" selected' in page
    # An older decision recorded later does not override the current status.
    client.post(
        reverse("providers:staff_decision_add", args=[provider.provider_id]),
        {
            "decision_type": "reaccreditation",
            "outcome": AccreditationStatus.COMMENDATION,
            "decided_on": "2020-03-01",
            "term_start": "2020-03-01",
            "term_end": "2024-02-28",
        },
    )
    provider.refresh_from_db()
    assert provider.accreditation_status == AccreditationStatus.PROBATION


@pytest.mark.django_db
def test_state_accreditor_staff_edit_only_their_providers(client_as: ClientAs) -> None:
    from pars.testing import make_accreditor, make_user

    maine = make_accreditor("ME", "Maine Medical Association")
    mine = make_provider(
        name="Maine Provider", accreditor_type="state", recognized_accreditor=maine
    )
    national = make_provider(name="National Provider")
    client = client_as(make_user("staff@mma.example", is_staff=True, staff_accreditor=maine))
    status = {
        "accreditation_status": AccreditationStatus.PROBATION,
        "reason": "Progress report overdue",
    }
    assert client.get(reverse("providers:staff_edit", args=[mine.provider_id])).status_code == 200
    assert (
        client.post(reverse("providers:staff_status", args=[mine.provider_id]), status).status_code
        == 302
    )
    for name in ("providers:staff_edit", "providers:staff_status"):
        url = reverse(name, args=[national.provider_id])
        assert client.get(url).status_code == 404
        assert client.post(url, status).status_code == 404
    national.refresh_from_db()
    assert national.accreditation_status == AccreditationStatus.ACCREDITATION
    # Their search never lists another society's provider, whatever the filters.
    text = client.get(reverse("providers:staff_list"), {"q": "Provider"}).text
    assert "Maine Provider" in text
    assert "National Provider" not in text


def test_provider_users_cannot_reach_staff_edits(
    provider: Provider, admin_user: User, client_as: ClientAs
) -> None:
    client = client_as(admin_user)
    for name in ("providers:staff_edit", "providers:staff_status"):
        assert client.post(reverse(name, args=[provider.provider_id])).status_code == 404
