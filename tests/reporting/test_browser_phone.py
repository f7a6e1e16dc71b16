"""A provider's pages on a phone (375 by 812 px), in a real browser (Debian's chromium).

With the demo data (two providers, activities in two years, learner completions), an
activity with a very long title and a rejected upload whose error table is wider than the
screen, the provider's administrator (who sees every tab, Webhooks and API keys too) on a
phone opens the dashboard, the activity list, the new-activity form, the uploads page, the
upload's result; then, tapping through the learner tabs, the learner list, a learner record,
learner files, the report-one-learner form, pre-validation and webhooks; through the
annual-report tabs, the program summary, the attestation and Check my year; and the inbox,
the notification emails, the sandbox, API keys and users. On each:

- the page never scrolls sideways (document width ≤ window width): a table wider than
  the screen scrolls inside its own box, forms fit, and tab bars wrap so that their last
  tab is on screen (the current tab marked);
- the main menu is collapsed behind a "Menu" button, its links hidden until it is pressed.

At desktop width (1280 px) the menu's links show without pressing anything.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect
from pytest_django.live_server_helper import LiveServer

from pars.activities.parsers.layouts import CURRENT
from pars.demo import DEMO_PASSWORD, load_demo
from pars.providers.models import Provider
from pars.testing import make_activity
from tests.support.browser import TIMEOUT_MS, log_in, skip_without_chromium

skip_without_chromium()

PHONE: ViewportSize = {"width": 375, "height": 812}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
ADMIN = "admin@riverside.example"  # an administrator of Riverside: every tab shows
LONG_TITLE = (
    "Interprofessional Management of Multimorbidity in Older Adults: Deprescribing, "
    "Polypharmacy Reviews and Shared Decision-Making Across Primary and Specialty Care"
)
HEADERS = {column.target: column.header for column in CURRENT.columns}


def rejected_file() -> bytes:
    """A tab-delimited activity file whose rows break rules (so the upload shows errors)."""
    header = CURRENT.headers(supporters=1)
    rows = [
        {"provider_activity_id": "PHONE-1", "title": LONG_TITLE, "activity_format": "Course",
         "start_date": date(2026, 3, 10), "end_date": date(2026, 3, 1)},
        {"provider_activity_id": "PHONE-2", "title": "Sepsis Recognition",
         "activity_format": "Webinar-ish", "start_date": date(2026, 4, 7),
         "end_date": date(2026, 4, 7)},
    ]  # fmt: skip
    lines = [header]
    for row in rows:
        by_header = {HEADERS[target]: value for target, value in row.items()}
        lines.append(
            [
                value.strftime("%m/%d/%Y") if isinstance(value, date) else str(value)
                for value in (by_header.get(name, "") for name in header)
            ]
        )
    return "".join("\t".join(cells) + "\r\n" for cells in lines).encode()


def assert_fits(page: Page) -> None:
    """No sideways page scroll; every table fits or scrolls inside its own box."""
    page.wait_for_load_state()  # measured with the style sheets applied
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide in {widths[1]} px"
    # A phone widens its layout to show what overflows: the window must stay the screen's.
    screen = page.viewport_size
    assert screen is not None
    assert widths[1] == screen["width"], (page.url, widths, screen)
    tables = page.evaluate(
        """() => Array.from(document.querySelectorAll('main table')).map(table => {
            const box = table.parentElement;
            return {
                boxRight: box.getBoundingClientRect().right,
                tableWidth: table.scrollWidth,
                boxWidth: box.clientWidth,
                overflow: getComputedStyle(box).overflowX,
            };
        })"""
    )
    for table in tables:
        assert table["boxRight"] <= widths[1] + 0.5, (page.url, table)
        fits = table["tableWidth"] <= table["boxWidth"]
        assert fits or table["overflow"] in ("auto", "scroll"), (page.url, table)


def main_menu(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def assert_menu_collapsed_then_opens(page: Page) -> None:
    menu = main_menu(page)
    guide = menu.get_by_role("link", name="Guide")
    log_out = menu.get_by_role("button", name="Log out")
    menu_button = menu.locator("summary").filter(has_text="Menu")  # and its unread badge
    expect(guide).to_be_hidden()
    expect(log_out).to_be_hidden()
    menu_button.click()
    expect(guide).to_be_visible()
    expect(log_out).to_be_visible()
    assert_fits(page)  # the open menu fits too
    menu_button.click()
    expect(guide).to_be_hidden()


def open_on_phone(page: Page, url: str, heading: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    assert_fits(page)
    assert_menu_collapsed_then_opens(page)


def open_tab(page: Page, tab_bar: str, tab: str, heading: str) -> None:
    """Tap a tab of an in-page tab bar: it is on screen (the bar wraps), then marked current."""
    tabs = page.get_by_role("navigation", name=tab_bar)
    link = tabs.get_by_role("link", name=tab, exact=True)
    expect(link).to_be_in_viewport()
    link.click()
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    current = tabs.get_by_role("link", name=tab, exact=True)
    expect(current).to_have_attribute("aria-current", "page")
    expect(current).to_have_css("font-weight", "700")  # marked by more than its color
    assert_fits(page)
    assert_menu_collapsed_then_opens(page)


def upload_rejected_file(page: Page, base_url: str, provider_id: str) -> None:
    """On the phone: upload the file from the Uploads page and read its error table."""
    open_on_phone(page, f"{base_url}/p/{provider_id}/uploads/", "Upload activities from a file")
    page.get_by_label("Activity file").set_input_files(
        {"name": "phone-upload.txt", "mimeType": "text/plain", "buffer": rejected_file()}
    )
    page.get_by_role("button", name="Upload").click()
    result = page.locator("#upload-result")
    expect(result.locator(".badge")).to_have_text("Rejected (errors found, nothing changed)")
    errors = result.get_by_role("table")
    expect(errors.get_by_role("row").filter(has_text="PHONE-1")).to_have_count(1)
    # The error table is wider than the phone: it scrolls inside its box, not the page.
    assert errors.evaluate("table => table.scrollWidth > window.innerWidth")
    expect(page.get_by_role("heading", name="Errors")).to_be_visible()
    assert_fits(page)
    assert_menu_collapsed_then_opens(page)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_provider_pages_fit_a_phone_and_the_menu_collapses(
    browser: Browser, live_server: LiveServer
) -> None:
    load_demo()
    riverside = Provider.objects.get(name__startswith="Riverside")
    today = timezone.localdate()
    make_activity(
        riverside,
        provider_activity_id="RUHS-LONG-TITLE-0001",
        title=LONG_TITLE,
        start_date=today,
        end_date=today,
        reporting_year=today.year,
    )
    year = today.year  # the demo's open year
    base = f"{live_server.url}/p/{riverside.provider_id}"
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    try:
        log_in(page, live_server.url, ADMIN, DEMO_PASSWORD)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert_fits(page)  # where logging in lands (the admin belongs to two providers)

        open_on_phone(page, f"{base}/", riverside.name)
        open_on_phone(page, f"{base}/activities/", "Activities")
        expect(page.get_by_role("link", name=LONG_TITLE)).to_be_visible()
        open_on_phone(page, f"{base}/activities/new/", "New activity")
        upload_rejected_file(page, live_server.url, riverside.provider_id)
        open_on_phone(page, f"{base}/learners/", "Learner completions")
        record = page.locator("main table tbody tr").first.get_by_role("link").first
        expect(record).to_be_visible()

        # The provider's tabs wrap on the phone: the last one is on screen.
        tabs = page.get_by_role("navigation", name="Provider")
        expect(tabs.get_by_role("link", name="API keys")).to_be_in_viewport()

        # A learner record, then every learner tab (the administrator's last is Webhooks).
        record.click()
        expect(page.get_by_role("heading", level=2, name=re.compile(" → "))).to_be_visible()
        assert_fits(page)
        open_tab(page, "Learner data", "Learner files", "Upload learners from a file")
        open_tab(page, "Learner data", "Report one learner", "Report one learner")
        open_tab(page, "Learner data", "Pre-validate learners", "Pre-validate learners")
        open_tab(page, "Learner data", "Webhooks", "Webhooks")
        open_tab(page, "Learner data", "Completions", "Learner completions")

        # The year's annual report and its tabs.
        open_on_phone(page, f"{base}/report/{year}/program-summary/", f"Program summary {year}")
        report_tabs = page.get_by_role("navigation", name="Annual report")
        other_years = report_tabs.get_by_text("Other years")
        expect(other_years).to_be_in_viewport()
        other_years.click()  # its list of years opens on screen too
        expect(report_tabs.get_by_role("link", name=str(year - 1))).to_be_in_viewport()
        assert_fits(page)
        other_years.click()
        open_tab(page, "Annual report", "Attestation", f"Attestation {year}")
        open_tab(page, "Annual report", "Check my year", f"Check my year {year}")
        open_tab(page, "Annual report", "Program summary", f"Program summary {year}")

        # The inbox and email choices; the sandbox, API keys and users.
        open_on_phone(page, f"{live_server.url}/notifications/", "Inbox")
        page.get_by_role("link", name="Notification emails").click()
        expect(page.get_by_role("heading", name="Notification emails")).to_be_visible()
        assert_fits(page)
        open_on_phone(page, f"{base}/sandbox/", "Sandbox")
        open_on_phone(page, f"{base}/api-keys/", "Web service API keys")
        open_on_phone(page, f"{base}/users/", "Users")

        # At desktop width the menu's links show without pressing anything.
        page.set_viewport_size(DESKTOP)
        for path in ("/", "/activities/", "/learners/"):
            page.goto(f"{base}{path}")
            expect(main_menu(page).get_by_role("link", name="Guide")).to_be_visible()
            expect(main_menu(page).get_by_role("button", name="Log out")).to_be_visible()
            expect(main_menu(page).get_by_text("Menu", exact=True)).to_be_hidden()
            assert_fits(page)
    finally:
        context.close()
