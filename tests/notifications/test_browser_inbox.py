"""A coordinator is told in the header, reads the inbox and chooses their emails
(Debian's chromium driven by Playwright)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import Role
from pars.notifications.models import Kind, NotificationPreference
from pars.reporting.notices import year_reopened
from pars.testing import TEST_PASSWORD, make_member, make_provider
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_sees_the_count_reads_the_inbox_and_turns_an_email_off(
    browser: Browser, live_server: LiveServer
) -> None:
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    editor = make_member(provider, Role.EDITOR, email="eddie@riverside.example")
    year_reopened(provider, 2026, "Two activities were missing")
    context, page = new_page(browser)
    log_in(page, live_server.url, editor.email, TEST_PASSWORD)
    inbox_link = page.get_by_role("link", name="Inbox, 1 unread")
    expect(inbox_link).to_be_attached()
    page.goto(f"{live_server.url}/notifications/")
    item = page.get_by_role("listitem").filter(has_text="The 2026 annual report was reopened")
    expect(item).to_contain_text("Two activities were missing")
    expect(page.locator("#inbox-unread")).to_have_text("1 unread")
    item.get_by_role("button", name="Mark read").click()  # htmx: only the row changes
    expect(page.locator("#inbox-unread")).to_have_text("0 unread")
    expect(item.get_by_role("button", name="Mark read")).to_have_count(0)
    page.get_by_role("link", name="Notification emails").click()
    page.get_by_label("Annual report: staff reopened the year").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your email choices are saved.")).to_be_visible()
    expect(page.get_by_label("Annual report: staff reopened the year")).not_to_be_checked()
    assert not NotificationPreference.objects.get(user=editor, kind=Kind.YEAR_REOPENED).email
    context.close()
