"""A full reporting year in a real browser: Debian's chromium driven by Playwright.

A provider administrator edits an activity through the web form, fills in the program
summary, marks it complete and attests; the year is closed, so a further edit is
refused. Staff, in another browser context, reopen the year with a reason, and the
administrator's edit goes through.
"""

from __future__ import annotations

import re
from datetime import date
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from pars.accounts.access import get_provider_access
from pars.accounts.models import Role
from pars.activities.models import Activity
from pars.activities.services import save_activity
from pars.activities.validation import validate_activity
from pars.reporting.models import AnnualReport, ReportingYear, YearReopening
from pars.testing import TEST_PASSWORD, make_member, make_provider, make_user
from tests.activities.test_validation import course
from tests.support.browser import (
    log_in,
    new_page,
    skip_without_chromium,
)

skip_without_chromium()

ADMIN_EMAIL = "alice@riverside.example"
STAFF_EMAIL = "sam@accreditor.example"
REASON = "The provider found a wrong title after attesting"


def _edit_title(page: Page, base_url: str, activity: Activity, title: str) -> None:
    """From the Activities tab to the activity's form; change the title and save."""
    page.get_by_role("navigation", name="Provider").get_by_role("link", name="Activities").click()
    page.get_by_role("row").filter(has_text=activity.provider_activity_id).get_by_role(
        "link"
    ).click()
    expect(page).to_have_url(
        f"{base_url}/p/{activity.provider.provider_id}/activities/{activity.pk}/"
    )
    page.get_by_role("button", name="Edit", exact=True).click()
    page.get_by_label("Activity Title", exact=True).fill(title)
    page.get_by_role("button", name="Save activity").last.click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_administrator_completes_attests_and_staff_reopen_the_year(
    browser: Browser, live_server: LiveServer
) -> None:
    base_url = live_server.url
    # Transactional tests flush the tables after each test, data migrations' rows included:
    # put the first attestation statement back the way its migration does.
    import_module("pars.reporting.migrations.0003_first_attestation_statement").add_statement(
        django_apps, None
    )
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    admin_user = make_member(provider, Role.ADMIN, email=ADMIN_EMAIL)
    make_user(STAFF_EMAIL, is_staff=True)
    ReportingYear.objects.create(year=2026, deadline=date(2027, 3, 31))
    # Activities in: two closed courses through the service, one edited in the form below.
    access = get_provider_access(admin_user, provider.provider_id)
    for activity_id, amount in (("GR-2026-001", "5000"), ("GR-2026-002", "2500")):
        clean, errors = validate_activity(
            course(
                provider_activity_id=activity_id,
                title=f"Cardiology Update {activity_id[-1]}",
                supporters=[{"source": "Example Pharma", "monetary_amount": amount}],
            )
        )
        assert clean is not None, errors
        save_activity(access, clean, channel="web")
    activity = Activity.objects.get(provider_activity_id="GR-2026-001")

    admin_context, admin = new_page(browser)
    log_in(admin, base_url, ADMIN_EMAIL, TEST_PASSWORD)
    expect(admin.get_by_role("heading", name=re.compile(r"Reporting year 2026"))).to_be_visible()

    # 1. An activity through the web form.
    _edit_title(admin, base_url, activity, "Cardiology Update 1 (revised)")
    expect(admin.get_by_role("status")).to_contain_text("saved as Closed")
    expect(admin.get_by_role("heading", name="Cardiology Update 1 (revised)")).to_be_visible()

    # 2. The program summary, from the dashboard's checklist.
    admin.get_by_role("navigation", name="Provider").get_by_role("link", name="Dashboard").click()
    admin.get_by_role("link", name="Complete the program summary").click()
    expect(admin.get_by_role("heading", name=re.compile(r"Program summary 2026"))).to_be_visible()
    expect(admin.locator("#total-commercial-support")).to_have_text("$7,500")
    expect(admin.locator("#total-activities")).to_have_text("2")
    admin.get_by_label(re.compile(r"^Total advertising and exhibit income")).fill("12,500")
    admin.get_by_label(re.compile(r"^Total registration fees")).fill("48000")
    admin.get_by_label(re.compile(r"^Total government monetary grants")).fill("0")
    admin.get_by_label(re.compile(r"^Total private monetary donations")).fill("2500.50")
    admin.get_by_role("button", name="Mark the program summary complete").click()
    expect(admin.get_by_role("status")).to_contain_text("The 2026 program summary is complete.")
    expect(admin.get_by_label(re.compile(r"^Total advertising"))).to_have_value("12500.00")

    # 3. The attestation.
    admin.get_by_role("navigation", name="Annual report").get_by_role(
        "link", name="Attestation"
    ).click()
    expect(admin.get_by_role("heading", name="Attestation statement")).to_be_visible()
    expect(admin.locator("#missing")).to_contain_text("ready to attest")
    admin.get_by_role("button", name="I Attest").click()
    expect(admin.get_by_role("status")).to_contain_text("You attested the 2026 annual report")
    expect(admin.locator("#attested")).to_contain_text(f"by {ADMIN_EMAIL}")
    assert AnnualReport.objects.get(provider=provider).attested_by == admin_user

    # 4. The year is closed: the activity opens read-only, says why, offers no Edit.
    admin.get_by_role("navigation", name="Provider").get_by_role("link", name="Activities").click()
    admin.get_by_role("row").filter(has_text=activity.provider_activity_id).get_by_role(
        "link"
    ).click()
    expect(admin.locator("#closed-2026")).to_contain_text("attested and closed")
    expect(admin.locator("#closed-2026")).to_contain_text(ADMIN_EMAIL)
    expect(admin.get_by_role("button", name="Edit", exact=True)).to_have_count(0)

    # 5. Staff reopen the year, with a reason, from the reporting cycle page.
    staff_context, staff = new_page(browser)
    log_in(staff, base_url, STAFF_EMAIL, TEST_PASSWORD)
    staff.get_by_role("navigation", name="Main").get_by_role("link", name="Reporting").click()
    expect(staff.get_by_role("heading", name="Reporting year 2026")).to_be_visible()
    row = staff.get_by_role("row").filter(has_text="Riverside Health")
    expect(row).to_contain_text("Attested")
    row.get_by_role("link", name="Reopen").click()
    expect(staff.get_by_role("heading", name="Reopen the 2026 annual report")).to_be_visible()
    reason = staff.get_by_label(re.compile(r"^Reason for reopening"))
    expect(reason).to_have_attribute("required", "")  # the server refuses a blank one too
    reason.fill(REASON)
    staff.get_by_role("button", name="Reopen the year").click()
    expect(staff.get_by_role("status")).to_contain_text("is reopened")
    expect(staff.get_by_role("row").filter(has_text="Riverside Health")).to_contain_text(
        "Incomplete"
    )
    staff_context.close()
    assert YearReopening.objects.get().reason == REASON

    # 6. The administrator's change goes through now.
    _edit_title(admin, base_url, activity, "Cardiology Update 1 (corrected)")
    expect(admin.get_by_role("status")).to_contain_text("saved as Closed")
    expect(admin.get_by_role("heading", name="Cardiology Update 1 (corrected)")).to_be_visible()
    admin_context.close()
    activity.refresh_from_db()
    assert activity.title == "Cardiology Update 1 (corrected)"
