"""The annual-report pages: program summary, attestation, the staff cycle, reminders,
reopening, and the audit trail pages."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from pars.accounts.access import get_provider_access
from pars.accounts.models import Role, User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity, ActivityChange, CommercialSupport
from pars.activities.services import save_activity
from pars.activities.validation import validate_activity
from pars.audit.models import AuditAction, AuditEvent
from pars.providers.models import AccreditorType, ContactRole, Provider
from pars.reporting.models import AnnualReport, ReportingYear, YearReopening
from pars.reporting.services import (
    attest,
    complete_program_summary,
    current_statement,
    save_program_summary,
)
from pars.reporting.summary import activity_totals
from pars.reporting.tasks import send_year_reminders
from pars.testing import make_accreditor, make_contact, make_member, make_provider, make_user
from tests.activities.test_activity_form import course_form
from tests.activities.test_validation import course

ClientAs = Callable[[User], Client]
PID = "0001234"
YEAR = 2026
FIGURES = {
    "advertising_exhibit_income": "12,500.00",
    "registration_fees": "48000",
    "government_grants": "0",
    "private_donations": "2500.50",
}


@pytest.fixture
def year(db: None) -> ReportingYear:
    return ReportingYear.objects.create(year=YEAR, deadline=datetime.date(2027, 3, 31))


def summary_url(provider_id: str = PID, year: int = YEAR) -> str:
    return reverse("reporting:program_summary", args=[provider_id, year])


def attest_url(provider_id: str = PID, year: int = YEAR) -> str:
    return reverse("reporting:attest", args=[provider_id, year])


def add_activity(
    provider: Provider, activity_id: str, user: User | None = None, **fields: Any
) -> Activity:
    """A validated activity written by the service (closed, unless overridden)."""
    owner = user or User.objects.filter(memberships__provider=provider).first()
    assert owner is not None
    access = get_provider_access(owner, provider.provider_id)
    clean, errors = validate_activity(course(provider_activity_id=activity_id, **fields))
    assert clean is not None, errors
    return save_activity(access, clean, channel="web")


def complete_year(provider: Provider, admin: User, *, attested: bool = True) -> AnnualReport:
    access = get_provider_access(admin, provider.provider_id)
    if not Activity.objects.filter(provider=provider, reporting_year=YEAR).exists():
        add_activity(provider, f"{provider.provider_id}-A1", admin)
    save_program_summary(access, YEAR, FIGURES, channel="web")
    report = complete_program_summary(access, YEAR, channel="web")
    if attested:
        report = attest(access, YEAR, channel="web")
    return report


# ---------------------------------------------------------------------------
# Program summary


def test_program_summary_saves_figures_and_shows_totals_computed_from_activities(
    provider: Provider, editor: User, client_as: ClientAs, year: ReportingYear
) -> None:
    add_activity(provider, "A-1", editor, hours_of_instruction="3.5", physician_learners="40")
    add_activity(
        provider,
        "A-2",
        editor,
        activity_format="Enduring Material",
        delivery_methods="Online",
        city="",
        state="",
        country="",
        hours_of_instruction="2.25",
        supporters=[{"source": "Other Pharma", "monetary_amount": "1234"}],
    )
    add_activity(provider, "A-3", editor, commercial_support_received="No", supporters=[])
    add_activity(provider, "OLD", editor, start_date="03/01/2025", end_date="03/02/2025")
    client = client_as(editor)

    response = client.post(summary_url(), {**FIGURES, "action": "save"})
    assert response.status_code == 302
    report = AnnualReport.objects.get(provider=provider, reporting_year=year)
    assert report.advertising_exhibit_income == Decimal("12500.00")
    assert report.private_donations == Decimal("2500.50")
    assert report.program_summary_completed_at is None

    page = client.get(summary_url())
    assert page.status_code == 200
    assert "The 2026 program summary is saved." in page.text
    assert 'value="12500.00"' in page.text
    assert "entered per activity" in page.text
    # The computed figures are the sums over the year's activities (not 2025's).
    activities = Activity.objects.filter(provider=provider, reporting_year=YEAR)
    support = CommercialSupport.objects.filter(activity__in=activities)
    money = support.aggregate(total=Sum("monetary_amount"))["total"]
    assert money == 5000 + 1234
    totals = activity_totals(get_provider_access(editor, PID), YEAR)
    assert totals.commercial_support_monetary == money
    assert f'id="total-commercial-support">${money:,}<' in page.text
    sums = activities.aggregate(
        hours=Sum("hours_of_instruction"),
        physicians=Sum("physician_learners"),
        others=Sum("other_learners"),
    )
    assert (totals.hours_of_instruction, totals.physician_interactions) == (
        sums["hours"],
        sums["physicians"],
    )
    assert f'id="total-activities">{activities.count()}<' in page.text
    assert f'id="total-hours">{sums["hours"]:.2f}<' in page.text
    assert f'id="total-physicians">{sums["physicians"]:,}<' in page.text
    assert f'id="total-others">{sums["others"]:,}<' in page.text
    assert totals.in_kind_supports == support.filter(in_kind=True).count() == 1
    assert totals.activities_supported == 2
    assert 'Enduring Material</td><td class="amount">1<' in page.text
    assert 'Course</td><td class="amount">2<' in page.text

    response = client.post(summary_url(), {**FIGURES, "action": "complete"})
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.program_summary_completed_at is not None
    assert "The 2026 program summary is complete." in client.get(summary_url()).text
    actions = AuditEvent.objects.filter(provider=provider).values_list("action", flat=True)
    assert AuditAction.PROGRAM_SUMMARY_SAVED in actions
    assert AuditAction.PROGRAM_SUMMARY_COMPLETED in actions


def test_program_summary_errors_show_by_field_with_rule_ids(
    provider: Provider, editor: User, client_as: ClientAs, year: ReportingYear
) -> None:
    client = client_as(editor)
    response = client.post(
        summary_url(), {**FIGURES, "registration_fees": "-5", "private_donations": "lots"}
    )
    assert response.status_code == 400
    assert "program_summary.registration_fees.negative" in response.text
    assert "program_summary.private_donations.invalid" in response.text
    assert 'id="registration_fees-error"' in response.text
    assert 'value="-5"' in response.text
    assert not AnnualReport.objects.filter(provider=provider).exists()


def test_completing_needs_all_four_figures_and_keeps_the_saved_ones(
    provider: Provider, editor: User, client_as: ClientAs, year: ReportingYear
) -> None:
    client = client_as(editor)
    response = client.post(
        summary_url(), {**FIGURES, "private_donations": "", "action": "complete"}
    )
    assert response.status_code == 400
    assert "program_summary.private_donations.required" in response.text
    assert "The figures are saved" in response.text
    report = AnnualReport.objects.get(provider=provider)
    assert report.registration_fees == Decimal("48000.00")
    assert report.program_summary_completed_at is None


def test_read_only_users_see_the_summary_but_cannot_change_it(
    provider: Provider,
    editor: User,
    reader: User,
    client_as: ClientAs,
    year: ReportingYear,
) -> None:
    save_program_summary(get_provider_access(editor, PID), YEAR, FIGURES, channel="web")
    client = client_as(reader)
    page = client.get(summary_url())
    assert page.status_code == 200
    assert 'value="48000.00"' in page.text
    assert "disabled" in page.text
    assert "Mark the program summary complete" not in page.text
    assert "read-only" in page.text
    assert client.post(summary_url(), FIGURES).status_code == 403
    assert client.post(attest_url()).status_code == 403


def test_an_unknown_year_is_not_found(
    provider: Provider, editor: User, client_as: ClientAs, year: ReportingYear
) -> None:
    client = client_as(editor)
    assert client.get(summary_url(year=1999)).status_code == 404
    assert client.get(attest_url(year=1999)).status_code == 404


def test_the_tabs_lead_to_the_current_year(
    provider: Provider, editor: User, client_as: ClientAs, year: ReportingYear
) -> None:
    client = client_as(editor)
    response = client.get(reverse("reporting:summary_current", args=[PID]))
    assert response["Location"] == summary_url()
    response = client.get(reverse("reporting:attest_current", args=[PID]))
    assert response["Location"] == attest_url()
    assert reverse("reporting:summary_current", args=[PID]) in client.get(summary_url()).text


def test_without_a_reporting_year_the_tabs_say_so(
    provider: Provider, editor: User, client_as: ClientAs
) -> None:
    response = client_as(editor).get(reverse("reporting:summary_current", args=[PID]))
    assert response.status_code == 200
    assert "No reporting year is open yet" in response.text


def test_dashboard_links_the_summary_and_attestation_tasks(
    provider: Provider, admin_user: User, client_as: ClientAs, year: ReportingYear
) -> None:
    page = client_as(admin_user).get(reverse("reporting:dashboard", args=[PID]))
    assert f'<a href="{summary_url()}">Complete the program summary</a>' in page.text
    assert f'<a href="{attest_url()}">Read the attestation statement and attest</a>' in page.text
    assert "Stage: <strong>Open</strong>" in page.text


# ---------------------------------------------------------------------------
# Attestation


def test_editor_cannot_attest_and_is_told_who_can(
    provider: Provider, admin_user: User, editor: User, client_as: ClientAs, year: ReportingYear
) -> None:
    complete_year(provider, admin_user, attested=False)
    client = client_as(editor)
    page = client.get(attest_url())
    assert page.status_code == 200
    statement = current_statement()
    assert f"version {statement.version}" in page.text
    assert escape(statement.text.split("\n")[0]) in page.text
    assert "I Attest" not in page.text
    assert "Only a provider administrator can attest" in page.text
    assert admin_user.email in page.text
    assert client.post(attest_url()).status_code == 403
    assert AnnualReport.objects.get(provider=provider).attested_at is None


def test_attesting_an_incomplete_year_is_refused_with_what_is_missing(
    provider: Provider, admin_user: User, client_as: ClientAs, year: ReportingYear
) -> None:
    add_activity(provider, "OPEN-1", admin_user, status="Draft")
    client = client_as(admin_user)
    page = client.get(attest_url())
    assert "Close the 1 open activity" in page.text
    assert "Complete the program summary" in page.text
    # Offered, but disabled until the year is ready (a POST is still refused below).
    assert (
        '<button type="submit" disabled aria-describedby="missing">I Attest</button>' in page.text
    )
    response = client.post(attest_url())
    assert response.status_code == 400
    assert "cannot be attested yet" in response.text
    assert "attestation.activities_incomplete" in response.text
    assert "attestation.program_summary_incomplete" in response.text
    assert "Complete the 2026 program summary first." in response.text
    assert not AnnualReport.objects.filter(provider=provider, attested_at__isnull=False).exists()


def test_administrator_attests_a_complete_year_once(
    provider: Provider, admin_user: User, client_as: ClientAs, year: ReportingYear
) -> None:
    complete_year(provider, admin_user, attested=False)
    client = client_as(admin_user)
    ready = client.get(attest_url()).text
    assert "ready to attest" in ready
    assert '<button type="submit">I Attest</button>' in ready
    response = client.post(attest_url())
    assert response.status_code == 302
    report = AnnualReport.objects.get(provider=provider)
    assert report.attested_by == admin_user
    assert report.attestation_statement == current_statement()
    page = client.get(attest_url())
    assert "The 2026 annual report is attested." in page.text
    assert admin_user.email in page.text
    assert f"attestation statement version {current_statement().version}" in page.text
    assert "I Attest" not in page.text
    again = client.post(attest_url())
    assert again.status_code == 400
    assert "activity.reporting_year.locked" in again.text


def test_after_attestation_summary_and_activities_are_locked(
    provider: Provider,
    admin_user: User,
    editor: User,
    client_as: ClientAs,
    year: ReportingYear,
) -> None:
    add_activity(provider, "GR-2026-001", admin_user)
    complete_year(provider, admin_user)
    client = client_as(editor)
    page = client.get(summary_url())
    assert "This program summary is read-only." in page.text
    assert "attested and closed" in page.text
    assert "disabled" in page.text
    assert "Save the figures" not in page.text
    response = client.post(summary_url(), {**FIGURES, "registration_fees": "1"})
    assert response.status_code == 400
    assert "activity.reporting_year.locked" in response.text
    assert 'value="48000.00"' in response.text  # the stored figures, not the typed ones
    assert AnnualReport.objects.get(provider=provider).registration_fees == Decimal("48000.00")
    activity = Activity.objects.get(provider=provider, provider_activity_id="GR-2026-001")
    edit = reverse("activities:edit", args=[PID, activity.pk])
    response = client.post(edit, course_form(title="Changed after attesting"))
    assert response.status_code == 400
    assert "attested and closed" in response.text
    assert "activity.reporting_year.locked" in response.text
    activity.refresh_from_db()
    assert activity.title == "Cardiology Update"


# ---------------------------------------------------------------------------
# Staff: the reporting cycle


@pytest.fixture
def cycle(db: None, year: ReportingYear) -> dict[str, Any]:
    """Three providers at three stages; one accredited by the Maine society."""
    maine = make_accreditor("ME", "Maine Medical Society")
    done = make_provider(name="Attested Clinic", provider_id="0000101")
    done_admin = make_member(done, Role.ADMIN, email="admin@attested.example")
    complete_year(done, done_admin)
    busy = make_provider(name="Busy Hospital", provider_id="0000102")
    busy_admin = make_member(busy, Role.ADMIN, email="admin@busy.example")
    make_member(busy, Role.EDITOR, email="editor@busy.example")
    make_contact(busy, role=ContactRole.PRIMARY, name="Pat Primary", email="cme@busy.example")
    add_activity(busy, "B-1", busy_admin)
    add_activity(busy, "B-2", busy_admin, status="Draft")
    local = make_provider(
        name="Pine State Society",
        provider_id="0000103",
        accreditor_type=AccreditorType.STATE,
        recognized_accreditor=maine,
    )
    make_member(local, Role.ADMIN, email="admin@pine.example")
    state_staff = make_user("state@maine.example", is_staff=True, staff_accreditor=maine)
    return {"done": done, "busy": busy, "local": local, "state_staff": state_staff}


def staff_year_url(year: int = YEAR) -> str:
    return reverse("reporting:staff_year", args=[year])


def test_staff_cycle_lists_each_provider_with_its_status(
    staff: User, client_as: ClientAs, cycle: dict[str, Any]
) -> None:
    client = client_as(staff)
    assert client.get(reverse("reporting:staff_current"))["Location"] == staff_year_url()
    page = client.get(staff_year_url())
    assert page.status_code == 200
    rows = {row.provider.provider_id: row for row in page.context["rows"]}
    assert rows["0000101"].state == "attested"
    assert rows["0000102"].state == "incomplete"
    assert rows["0000102"].missing == ["1 of 2 activities open", "program summary not complete"]
    assert rows["0000103"].state == "incomplete"
    assert rows["0000103"].missing == ["no activities entered", "program summary not complete"]
    assert page.context["counts"] == [
        ("attested", "Attested", 1),
        ("late", "Late", 0),
        ("incomplete", "Incomplete", 2),
    ]
    report = AnnualReport.objects.get(provider=cycle["done"])
    assert f"{timezone.localtime(report.attested_at):%m/%d/%Y}" in page.text
    assert "1 of 2 activities open" in page.text
    searched = client.get(reverse("reporting:staff_current"), {"q": "0000102"}, follow=True)
    assert [row.provider.name for row in searched.context["rows"]] == ["Busy Hospital"]
    filtered = client.get(staff_year_url(), {"status": "attested"})
    assert [row.provider.name for row in filtered.context["rows"]] == ["Attested Clinic"]
    assert "Busy Hospital" not in filtered.text
    assert reverse("reporting:staff_reopen", args=["0000101", YEAR]) in filtered.text


def test_a_year_past_its_deadline_shows_the_providers_not_done_as_late(
    staff: User, client_as: ClientAs, cycle: dict[str, Any], year: ReportingYear
) -> None:
    year.deadline = datetime.date(2026, 3, 31)
    year.save()
    page = client_as(staff).get(staff_year_url(), {"status": "late"})
    assert sorted(row.provider.name for row in page.context["rows"]) == [
        "Busy Hospital",
        "Pine State Society",
    ]
    assert ("late", "Late", 2) in page.context["counts"]
    assert ("attested", "Attested", 1) in page.context["counts"]


def test_state_staff_see_only_their_providers(client_as: ClientAs, cycle: dict[str, Any]) -> None:
    client = client_as(cycle["state_staff"])
    page = client.get(staff_year_url())
    assert [row.provider.name for row in page.context["rows"]] == ["Pine State Society"]
    assert "Busy Hospital" not in page.text
    assert client.get(reverse("audit:provider", args=["0000102"])).status_code == 404
    assert client.get(reverse("reporting:staff_reopen", args=["0000101", YEAR])).status_code == 404
    # Another provider's pk in the reminder form is not one of the choices.
    response = client.post(
        reverse("reporting:staff_reminders", args=[YEAR]),
        {"providers": [cycle["busy"].pk], "action": "send"},
    )
    assert response.status_code == 400
    assert mail.outbox == []


def test_reminder_preview_shows_the_exact_email(
    staff: User, client_as: ClientAs, cycle: dict[str, Any]
) -> None:
    response = client_as(staff).post(
        reverse("reporting:staff_reminders", args=[YEAR]),
        {"providers": [cycle["busy"].pk, cycle["local"].pk], "action": "preview"},
    )
    assert response.status_code == 200
    email = response.context["email"]
    assert email.provider == cycle["busy"]
    assert email.recipients == ["cme@busy.example", "admin@busy.example"]
    assert escape(email.subject) in response.text
    assert escape(email.body) in response.text
    assert "Busy Hospital" in email.subject
    assert "03/31/2027" in email.subject
    assert "Close the 1 open activities" in email.body
    assert "Complete the program summary" in email.body
    assert f"/p/0000102/report/{YEAR}/attest/" in email.body
    assert mail.outbox == []
    # Preview another chosen provider, through htmx (the partial only).
    partial = client_as(staff).post(
        reverse("reporting:staff_reminders", args=[YEAR]),
        {
            "providers": [cycle["busy"].pk, cycle["local"].pk],
            "preview_provider": cycle["local"].pk,
            "action": "preview",
        },
        headers={"HX-Request": "true"},
    )
    assert partial.context["email"].provider == cycle["local"]
    assert "<html" not in partial.text
    assert "admin@pine.example" in partial.text


def test_sending_reminders_mails_primary_contact_and_administrators(
    staff: User, client_as: ClientAs, cycle: dict[str, Any]
) -> None:
    response = client_as(staff).post(
        reverse("reporting:staff_reminders", args=[YEAR]),
        {"providers": [cycle["busy"].pk, cycle["local"].pk], "action": "send"},
    )
    assert response.status_code == 302
    assert response["Location"] == staff_year_url()
    assert sorted(message.to for message in mail.outbox) == [
        ["admin@pine.example"],
        ["cme@busy.example", "admin@busy.example"],
    ]
    busy_mail = next(m for m in mail.outbox if "Busy Hospital" in m.subject)
    from pars.reporting.reminders import reminder_email

    expected = reminder_email(cycle["busy"], ReportingYear.objects.get(year=YEAR))
    assert (busy_mail.subject, busy_mail.body) == (expected.subject, expected.body)
    assert "editor@busy.example" not in str([m.to for m in mail.outbox])


def test_attested_providers_get_no_reminder(
    staff: User, client_as: ClientAs, cycle: dict[str, Any]
) -> None:
    # The form offers only providers not done ...
    response = client_as(staff).post(
        reverse("reporting:staff_reminders", args=[YEAR]),
        {"providers": [cycle["done"].pk], "action": "send"},
    )
    assert response.status_code == 400
    assert mail.outbox == []
    # ... and the task checks again when it runs (a provider may attest in between).
    result = send_year_reminders.enqueue(YEAR, [cycle["done"].pk, cycle["busy"].pk])
    assert result.return_value == {"sent": 1, "skipped": 1, "failed": 0}
    assert [m.to for m in mail.outbox] == [["cme@busy.example", "admin@busy.example"]]


# ---------------------------------------------------------------------------
# Staff: reopening


def test_reopening_needs_a_reason_and_lets_the_provider_edit_again(
    provider: Provider,
    admin_user: User,
    staff: User,
    client_as: ClientAs,
    year: ReportingYear,
) -> None:
    activity = add_activity(provider, "GR-2026-001", admin_user)
    complete_year(provider, admin_user)
    staff_client = client_as(staff)
    url = reverse("reporting:staff_reopen", args=[PID, YEAR])
    page = staff_client.get(url)
    assert page.status_code == 200
    assert "Reopen the year" in page.text
    response = staff_client.post(url, {"reason": "   "})
    assert response.status_code == 400
    assert "Give the reason for reopening the year." in response.text
    assert not YearReopening.objects.exists()
    assert AnnualReport.objects.get(provider=provider).attested_at is not None

    response = staff_client.post(url, {"reason": "Two activities were missing"})
    assert response.status_code == 302
    reopening = YearReopening.objects.get()
    assert (reopening.provider, reopening.reopened_by) == (provider, staff)
    assert reopening.reason == "Two activities were missing"
    assert reopening.previous_attested_by == admin_user
    assert AnnualReport.objects.get(provider=provider).attested_at is None
    assert "is not attested" in staff_client.get(url).text

    client = client_as(admin_user)
    attest_page = client.get(attest_url())
    assert "Two activities were missing" in attest_page.text
    edit = reverse("activities:edit", args=[PID, activity.pk])
    response = client.post(edit, course_form(title="Corrected after reopening"))
    assert response.status_code == 302
    activity.refresh_from_db()
    assert activity.title == "Corrected after reopening"
    assert client.post(summary_url(), {**FIGURES, "registration_fees": "1"}).status_code == 302


# ---------------------------------------------------------------------------
# Audit trail pages


TSV_HEADER = ["Provider Activity ID", "Activity Title", "Activity Format", "Start Date", "End Date"]


def test_audit_pages_show_who_changed_what_through_which_channel(
    provider: Provider,
    editor: User,
    staff: User,
    client_as: ClientAs,
    year: ReportingYear,
    settings: Any,
    tmp_path: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    editor_client = client_as(editor)
    # 1. The web form: add, then change the title.
    assert (
        editor_client.post(reverse("activities:new", args=[PID]), course_form()).status_code == 302
    )
    activity = Activity.objects.get(provider=provider, provider_activity_id="GR-2026-001")
    edit = reverse("activities:edit", args=[PID, activity.pk])
    assert editor_client.post(edit, course_form(title="Cardiology Update II")).status_code == 302
    # 2. An upload: changes the title again and adds two activities.
    rows = [
        TSV_HEADER,
        ["GR-2026-001", "Cardiology Update III", "Course", "03/01/2026", "03/02/2026"],
        ["UP-1", "Uploaded one", "Course", "04/01/2026", "04/02/2026"],
        ["UP-2", "Uploaded two", "Course", "04/01/2026", "04/02/2026"],
    ]
    content = "".join("\t".join(row) + "\r\n" for row in rows).encode()
    response = editor_client.post(
        reverse("uploads:list", args=[PID]),
        {"file": SimpleUploadedFile("activities.txt", content), "file_format": ""},
    )
    assert response.status_code == 302
    assert Activity.objects.filter(provider=provider).count() == 3
    # 3. The web service, with an API key: change ama_credits of UP-1, delete UP-2.
    key, secret = create_api_key(provider=provider, name="CME tracker", created_by=editor)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    from tests.activities.test_activity_api import course as api_course

    body = api_course(title="Uploaded one", start_date="2026-04-01", end_date="2026-04-02")
    response = api.put("/api/v1/activities/UP-1", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    assert api.delete("/api/v1/activities/UP-2").status_code == 204
    # 4. The program summary.
    save_program_summary(get_provider_access(editor, PID), YEAR, FIGURES, channel="web")

    client = client_as(staff)
    page = client.get(reverse("audit:provider", args=[PID]))
    assert page.status_code == 200
    text = page.text
    for channel in ("Web form", "Tab-delimited file", "Web service (JSON)"):
        assert channel in text
    assert editor.email in text
    assert f"API key “{key.name}” ({key.prefix}…)" in text
    assert "Activities deleted" in text
    assert "Program summary saved" in text
    # Field by field: the web edit, the upload's change and the API's change.
    assert "<td>Activity Title</td><td>Cardiology Update</td><td>Cardiology Update II</td>" in text
    assert (
        "<td>Activity Title</td><td>Cardiology Update II</td><td>Cardiology Update III</td>" in text
    )
    assert "Total registration fees</td><td>—</td><td>48000.00</td>" in text
    # The upload created UP-1 and UP-2; UP-2 is deleted since.
    upload_event = AuditEvent.objects.get(provider=provider, channel="tsv")
    assert Activity.objects.filter(created_by_event=upload_event).count() == 1
    assert "1 activity created by this event" in text
    assert "UP-2</a>\n    deleted" in text

    # One activity's history: created by the web form, changed by web and upload.
    history = client.get(reverse("audit:activity", args=[PID, "GR-2026-001"]))
    assert history.status_code == 200
    actions = [row.action for row in history.context["rows"]]
    channels = [row.channel for row in history.context["rows"]]
    assert actions == ["updated", "updated", "created"]
    assert channels == ["Tab-delimited file", "Web form", "Web form"]
    assert "Cardiology Update III" in history.text
    deleted = client.get(reverse("audit:activity", args=[PID, "UP-2"]))
    # A deleted activity's creating event went with its row; the delete and changes remain.
    assert [row.action for row in deleted.context["rows"]] == ["deleted"]
    assert deleted.context["rows"][0].channel == "Web service (JSON)"
    assert "has no activity with this Provider Activity ID now" in deleted.text
    assert client.get(reverse("audit:activity", args=[PID, "NEVER"])).status_code == 404

    # The activity page links to its history, for staff and for the provider's own users;
    # the provider's editor reads the same rows there (not the staff audit pages).
    detail = reverse("activities:detail", args=[PID, activity.pk])
    own = reverse("audit:history", args=[PID, activity.pk])
    assert own in client.get(detail).text
    assert own in editor_client.get(detail).text
    seen = editor_client.get(own)
    assert seen.status_code == 200
    assert [row.action for row in seen.context["rows"]] == ["updated", "updated", "created"]
    assert "Cardiology Update III" in seen.text
    assert (
        editor_client.get(reverse("audit:activity", args=[PID, "GR-2026-001"])).status_code == 404
    )
    assert (
        reverse("audit:provider", args=[PID])
        in client.get(reverse("providers:staff_detail", args=[PID])).text
    )


def test_an_event_with_many_changes_lists_some_and_links_to_all(
    provider: Provider, editor: User, staff: User, client_as: ClientAs, year: ReportingYear
) -> None:
    access = get_provider_access(editor, PID)
    event = AuditEvent.objects.create(
        provider=provider, action=AuditAction.ACTIVITIES_WRITTEN, channel="xlsx", user=editor
    )
    ActivityChange.objects.bulk_create(
        ActivityChange(
            provider=provider,
            event=event,
            provider_activity_id=f"X-{n:03d}",
            action="updated",
            changes={"title": [f"old {n}", f"new {n}"]},
        )
        for n in range(30)
    )
    assert access.records(ActivityChange).count() == 30
    client = client_as(staff)
    page = client.get(reverse("audit:provider", args=[PID]))
    assert "Excel file" in page.text
    assert "X-009" in page.text
    assert "X-010" not in page.text
    assert f"?event={event.pk}" in page.text
    full = client.get(reverse("audit:provider", args=[PID]), {"event": event.pk})
    assert "X-029" in full.text
    assert "new 29" in full.text
