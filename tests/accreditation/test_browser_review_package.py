"""Staff keep a provider's record and read its review package, in a real browser.

A staff member searches for the provider, edits its contact data and its term (with a
reason), opens the review package of the term and downloads it as XLSX.
"""

from __future__ import annotations

import io
import re
from datetime import date

import openpyxl
import pytest
from playwright.sync_api import Browser, expect
from pytest_django.live_server_helper import LiveServer

from pars.audit.models import AuditEvent
from pars.providers.models import Provider
from pars.testing import TEST_PASSWORD, make_activity, make_provider, make_user
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()

STAFF_EMAIL = "sam@accreditor.example"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_search_edit_and_download_the_review_package(
    browser: Browser, live_server: LiveServer
) -> None:
    base_url = live_server.url
    provider = make_provider(
        name="Riverside Health",
        provider_id="0001234",
        term_start=date(2022, 7, 1),
        term_end=date(2026, 6, 30),
    )
    make_provider(name="Elsewhere Medical", provider_id="0005678")
    make_activity(
        provider,
        provider_activity_id="GR-2024-001",
        title='=HYPERLINK("http://evil.example","x")',
        start_date=date(2024, 3, 1),
        end_date=date(2024, 3, 1),
        reporting_year=2024,
        physician_learners=12,
    )
    make_user(STAFF_EMAIL, is_staff=True)

    context, page = new_page(browser)
    log_in(page, base_url, STAFF_EMAIL, TEST_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Providers").click()
    page.get_by_label("Search providers").fill("river")
    rows = page.locator("#provider-rows")
    expect(rows).to_contain_text("Riverside Health")
    expect(rows).not_to_contain_text("Elsewhere Medical")
    rows.get_by_role("link", name="Riverside Health").click()
    expect(page.get_by_role("heading", name=re.compile("Riverside Health"))).to_be_visible()

    # Contact data.
    page.get_by_role("button", name="Edit contact data, status and term").click()
    page.get_by_label("City", exact=True).fill("Riverton")
    page.get_by_label("Phone", exact=True).fill("+1 207 555 0100")
    page.get_by_role("button", name="Save contact data").click()
    expect(page.get_by_text("Contact data saved.")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Riverton")

    # Term, with a reason.
    page.get_by_role("button", name="Edit contact data, status and term").click()
    page.get_by_label("Term end").fill("2026-12-31")
    page.get_by_label(re.compile(r"^Reason for the change")).fill("Term extended by the board")
    page.get_by_role("button", name="Save status and term").click()
    expect(page.get_by_text("Status and term saved.")).to_be_visible()
    provider.refresh_from_db()
    assert (provider.city, str(provider.term_end)) == ("Riverton", "2026-12-31")
    assert AuditEvent.objects.filter(provider=provider, action="provider.status_set").exists()

    # The review package of the term, and its XLSX.
    page.get_by_role("button", name="Review package").click()
    expect(page.get_by_role("heading", name=re.compile("Review package"))).to_be_visible()
    expect(page.locator("#activities")).to_contain_text("GR-2024-001")
    expect(page.locator("#by-year")).to_contain_text("2024")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download XLSX").click()
    download = download_info.value
    assert download.suggested_filename == "review-package-0001234-20220701-20261231.xlsx"
    path = download.path()
    assert path is not None
    workbook = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
    activity_rows = list(workbook["Activities"].iter_rows(values_only=True))
    assert activity_rows[1][0] == "GR-2024-001"
    assert activity_rows[1][1] == '\'=HYPERLINK("http://evil.example","x")'
    context.close()
    assert Provider.objects.get(pk=provider.pk).phone == "+1 207 555 0100"
