"""A reaccreditation in a real browser: Debian's chromium driven by Playwright.

Staff open a reaccreditation case for a provider; the provider's administrator answers the
self-study, uploads a document, selects an activity for performance-in-practice review with
its evidence and submits. Staff comment and request more information on one section; the
administrator answers and resubmits; staff record the decision, which the provider then sees
in its accreditation history.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import Role
from pars.accreditation.models import (
    Case,
    CaseStatus,
    Question,
    RequiredAttachment,
    SelfStudySection,
    SelfStudyTemplate,
)
from pars.accreditation.seed import seed_self_studies
from pars.providers.models import AccreditationStatus
from pars.testing import TEST_PASSWORD, make_activity, make_member, make_provider, make_user
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()

ADMIN_EMAIL = "alice@riverside.example"
STAFF_EMAIL = "sam@accreditor.example"


def _short_reaccreditation_self_study() -> None:
    """Staff's own self-study (data, as the admin edits it): two sections, one PIP activity."""
    seed_self_studies(django_apps)  # a transactional test's flush removed the seeded rows
    SelfStudyTemplate.objects.filter(case_type="reaccreditation").update(active=False)
    template = SelfStudyTemplate.objects.create(
        case_type="reaccreditation", name="Reaccreditation 2026", pip_activities=1
    )
    mission = SelfStudySection.objects.create(
        template=template, code="C1", title="Mission", order=1
    )
    Question.objects.create(section=mission, text="Quote your CME mission statement.")
    RequiredAttachment.objects.create(section=mission, name="CME mission statement")
    independence = SelfStudySection.objects.create(
        template=template, code="C5", title="Independence", order=2
    )
    Question.objects.create(
        section=independence, kind="yes_no", text="Does everyone in control of content disclose?"
    )


def _open_section(page: Page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reaccreditation_from_opening_to_decision(
    browser: Browser, live_server: LiveServer, tmp_path: Path, settings: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    base_url = live_server.url
    _short_reaccreditation_self_study()
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    make_member(provider, Role.ADMIN, email=ADMIN_EMAIL)
    activity = make_activity(
        provider, provider_activity_id="GR-2026-001", title="Grand Rounds: Sepsis"
    )
    make_user(STAFF_EMAIL, is_staff=True)
    mission_file = tmp_path / "mission.pdf"
    mission_file.write_bytes(b"%PDF-1.4 our mission")
    evidence_file = tmp_path / "evaluation.pdf"
    evidence_file.write_bytes(b"%PDF-1.4 evaluation summary")

    # 1. Staff open the case from the provider's record.
    staff_context, staff = new_page(browser)
    log_in(staff, base_url, STAFF_EMAIL, TEST_PASSWORD)
    staff.goto(f"{base_url}/staff/providers/0001234/")
    staff.get_by_role("button", name="Open an accreditation case").click()
    expect(staff.get_by_label(re.compile(r"^Provider"))).to_have_value("0001234")
    staff.get_by_label(re.compile(r"^Case")).select_option(label="Reaccreditation")
    staff.get_by_role("button", name="Open case").click()
    expect(staff.get_by_role("status")).to_contain_text("Reaccreditation case opened")
    expect(staff.locator("#case-status")).to_have_text("Draft")
    case = Case.objects.get()

    # 2. The provider's administrator works through the self-study.
    admin_context, admin = new_page(browser)
    log_in(admin, base_url, ADMIN_EMAIL, TEST_PASSWORD)
    admin.goto(f"{base_url}/p/0001234/")
    admin.get_by_role("navigation", name="Provider").get_by_role(
        "link", name="Accreditation", exact=True
    ).click()
    admin.get_by_role("link", name="Reaccreditation").click()
    expect(admin.locator("#missing")).to_contain_text("Attach: CME mission statement")
    _open_section(admin, "C1 Mission")
    admin.get_by_label(re.compile(r"^Quote your CME mission")).fill("We improve patient care.")
    admin.get_by_role("button", name="Save answers").click()
    expect(admin.get_by_role("status")).to_contain_text("Answers to C1 Mission saved")
    admin.get_by_label("Required attachment").select_option(label="CME mission statement")
    admin.get_by_label(re.compile(r"^Document")).set_input_files(str(mission_file))
    admin.get_by_role("button", name="Upload document").click()
    expect(admin.get_by_role("status")).to_contain_text("mission.pdf uploaded")
    admin.get_by_role("link", name=re.compile("Reaccreditation case")).click()
    _open_section(admin, "C5 Independence")
    admin.get_by_label(re.compile(r"^Does everyone")).select_option("Yes")
    admin.get_by_role("button", name="Save answers").click()
    expect(admin.get_by_role("status")).to_contain_text("saved")
    admin.get_by_role("link", name=re.compile("Reaccreditation case")).click()
    admin.get_by_role("link", name="Performance-in-practice review").click()
    admin.locator("select#activity").select_option(str(activity.pk))
    admin.get_by_role("button", name="Select for review").click()
    expect(admin.get_by_role("status")).to_contain_text("Grand Rounds: Sepsis selected")
    admin.get_by_label(re.compile(r"^Evidence for Grand Rounds")).set_input_files(
        str(evidence_file)
    )
    admin.get_by_role("button", name="Upload evidence").click()
    expect(admin.get_by_role("status")).to_contain_text("evaluation.pdf uploaded")
    admin.get_by_role("link", name=re.compile("Reaccreditation case")).click()
    expect(admin.locator("#complete")).to_be_visible()
    admin.get_by_role("button", name="Review and submit").click()
    admin.get_by_role("button", name="Submit to the accreditor").click()
    expect(admin.get_by_role("status")).to_contain_text("Self-study submitted (version 1)")
    expect(admin.locator("#case-status")).to_have_text("Submitted")

    # 3. Staff read the frozen submission, comment and request more information.
    staff.reload()
    expect(staff.locator("#case-status")).to_have_text("Submitted")
    expect(staff.get_by_text("We improve patient care.")).to_be_visible()
    expect(staff.get_by_role("link", name="evaluation.pdf")).to_be_visible()
    staff.get_by_role("button", name="Start review").click()
    expect(staff.locator("#case-status")).to_have_text("Under review")
    staff.get_by_text("Add a comment").click()
    staff.get_by_label(re.compile(r"^Comment")).fill("The mission lacks expected results.")
    staff.get_by_role("button", name="Add comment").click()
    expect(staff.get_by_role("status")).to_contain_text("Comment added")
    staff.get_by_text("Request more information", exact=True).click()
    staff.get_by_label(re.compile(r"^Information needed")).fill(
        "State the expected results in terms of change."
    )
    staff.get_by_role("checkbox", name="C1 Mission").check()
    staff.get_by_role("button", name="Send request").click()
    expect(staff.locator("#case-status")).to_have_text("More information requested")

    # 4. The administrator answers and resubmits; only the reopened section is open.
    admin.reload()
    expect(admin.get_by_role("alert")).to_contain_text("State the expected results")
    expect(admin.get_by_text("The mission lacks expected results.")).to_be_visible()
    _open_section(admin, "C1 Mission")
    admin.get_by_label(re.compile(r"^Quote your CME mission")).fill(
        "We improve patient care; expected result: change in physician performance."
    )
    admin.get_by_role("button", name="Save answers").click()
    expect(admin.get_by_role("status")).to_contain_text("saved")
    admin.get_by_role("link", name=re.compile("Reaccreditation case")).click()
    admin.get_by_role("button", name="Review and submit").click()
    admin.get_by_role("button", name="Submit to the accreditor").click()
    expect(admin.locator("#case-status")).to_have_text("Resubmitted")

    # 5. Staff record the decision.
    staff.reload()
    expect(staff.get_by_text("change in physician performance")).to_be_visible()
    staff.get_by_text("Record the decision").click()
    staff.get_by_label(re.compile(r"^Outcome")).select_option(label="Accreditation")
    staff.get_by_label(re.compile(r"^Decided on")).fill("2026-07-15")
    staff.get_by_role("button", name="Record decision").click()
    expect(staff.get_by_role("status")).to_contain_text("Decision recorded: Accreditation")
    expect(staff.locator("#case-status")).to_have_text("Decided")
    staff_context.close()

    case.refresh_from_db()
    assert case.status == CaseStatus.DECIDED
    assert case.submissions.count() == 2
    provider.refresh_from_db()
    assert provider.accreditation_status == AccreditationStatus.ACCREDITATION
    assert str(provider.term_end) == "2030-07-14"

    # 6. The provider sees the decision in its history.
    admin.get_by_role("navigation", name="Provider").get_by_role(
        "link", name="Accreditation history"
    ).click()
    row = admin.get_by_role("row").filter(has_text="Reaccreditation")
    expect(row).to_contain_text("Accreditation")
    expect(row).to_contain_text("2030")
    admin_context.close()
