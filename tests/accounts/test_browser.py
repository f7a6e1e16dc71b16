"""The account flow in a real browser: Debian's chromium driven by Playwright.

A provider administrator adds a user; the user follows the Set Password link of the
"System Access Granted" email, logs in, reaches the dashboard, logs out, forgets the
password, resets it from the emailed link and logs in with the new one.

The live server runs in this process, so the emails land in ``django.core.mail.outbox``.
"""

import re
from datetime import date
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import Browser, Page, expect
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import Role, User
from pars.providers.models import Provider
from pars.reporting.models import ReportingYear
from pars.testing import TEST_PASSWORD, make_member, make_provider
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()

ADMIN_EMAIL = "alice@riverside.example"
NEW_EMAIL = "nia.new@riverside.example"
FIRST_PASSWORD = "a-much-better-passphrase-2026"
RESET_PASSWORD = "yet-another-passphrase-77"


def _mail_link(message: mail.EmailMessage, base_url: str) -> str:
    match = re.search(re.escape(base_url) + r"/\S+", str(message.body))
    assert match, message.body
    return match.group(0)


def _choose_password(page: Page, link: str, heading: str, password: str) -> None:
    """Open a Set Password / reset link and choose a password."""
    page.goto(link)
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    # The labels also hold the help text, hence the anchored patterns.
    page.get_by_label(re.compile(r"^New password \*")).fill(password)
    page.get_by_label(re.compile(r"^New password confirmation")).fill(password)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your password is set")).to_be_visible()


def _expect_dashboard(page: Page, base_url: str, provider: Provider) -> None:
    expect(page).to_have_url(f"{base_url}/p/{provider.provider_id}/")
    expect(page.get_by_role("heading", level=1, name=provider.name)).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"Reporting year 2026"))).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_invited_user_sets_password_logs_in_and_resets_it(
    browser: Browser, live_server: LiveServer, settings: Settings, tmp_path: Path
) -> None:
    base_url = live_server.url
    settings.PARS_BASE_URL = base_url
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    make_member(provider, Role.ADMIN, email=ADMIN_EMAIL)
    ReportingYear.objects.create(year=2026, deadline=date(2027, 3, 31))

    # 1. The administrator logs in and adds a user from the Users tab.
    admin_context, admin = new_page(browser)
    log_in(admin, base_url, ADMIN_EMAIL, TEST_PASSWORD)
    _expect_dashboard(admin, base_url, provider)
    admin.get_by_role("navigation", name="Provider").get_by_role("link", name="Users").click()
    expect(admin).to_have_url(f"{base_url}/p/{provider.provider_id}/users/")
    expect(admin.get_by_role("heading", name="Users")).to_be_visible()
    admin.get_by_role("button", name="Add a user").click()
    expect(admin.get_by_role("heading", name="Add a user")).to_be_visible()
    admin.get_by_label("Email").fill(NEW_EMAIL)
    admin.get_by_label("First name").fill("Nia")
    admin.get_by_label("Role").select_option(label="Editor")
    admin.get_by_role("button", name="Grant access").click()
    expect(admin.get_by_role("status")).to_contain_text(f"Access granted to {NEW_EMAIL}")
    new_row = admin.get_by_role("row").filter(has_text=NEW_EMAIL)
    expect(new_row).to_contain_text("Invited")
    expect(new_row.get_by_label(f"Role of {NEW_EMAIL}")).to_have_value(Role.EDITOR)
    admin_context.close()

    # 2. The invitation email and its Set Password link.
    assert len(mail.outbox) == 1
    invitation = mail.outbox[0]
    assert invitation.to == [NEW_EMAIL]
    assert invitation.subject.endswith("System Access Granted")
    assert "Hello Nia," in invitation.body
    assert f"Set Password: {base_url}/accounts/set-password/" in invitation.body
    set_password_link = _mail_link(invitation, base_url)

    context, page = new_page(browser)
    _choose_password(page, set_password_link, "Create your password", FIRST_PASSWORD)
    # The link works once.
    page.goto(set_password_link)
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()

    # 3. The new user logs in and lands on the provider's dashboard.
    log_in(page, base_url, NEW_EMAIL, FIRST_PASSWORD)
    _expect_dashboard(page, base_url, provider)
    expect(page.get_by_role("link", name=NEW_EMAIL)).to_be_visible()
    screenshot = tmp_path / "dashboard.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 0

    # 4. Log out, forget the password, reset it from the emailed link.
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to PARS")).to_be_visible()
    page.goto(f"{base_url}/p/{provider.provider_id}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    page.get_by_role("link", name="Can't log in or forgot your password?").click()
    page.get_by_label("Email").fill(NEW_EMAIL)
    page.get_by_role("button", name="Send reset email").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    assert len(mail.outbox) == 2
    reset = mail.outbox[-1]
    assert reset.to == [NEW_EMAIL]
    assert reset.subject.endswith("Reset your password")
    reset_link = _mail_link(reset, base_url)
    assert reset_link.startswith(f"{base_url}/accounts/reset/")
    _choose_password(page, reset_link, "Choose a new password", RESET_PASSWORD)
    page.goto(reset_link)
    expect(page.get_by_role("heading", name="This link no longer works")).to_be_visible()

    # The old password no longer works (one failure, far below the lockout limit) ...
    log_in(page, base_url, NEW_EMAIL, FIRST_PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("That email and password do not match")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))

    # ... and the new one does.
    log_in(page, base_url, NEW_EMAIL, RESET_PASSWORD)
    _expect_dashboard(page, base_url, provider)
    context.close()

    user = User.objects.get(email=NEW_EMAIL)
    assert user.first_name == "Nia"
    assert user.check_password(RESET_PASSWORD)
    assert user.memberships.get().role == Role.EDITOR
