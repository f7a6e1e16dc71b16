"""What every browser test shares: Debian's chromium, its flags, the skip rule, a fresh
page, and logging in with its two-factor step."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

if TYPE_CHECKING:
    from pars.accounts.models import AuthenticatorDevice, User

CHROMIUM = os.environ.get("PARS_CHROMIUM", "/usr/bin/chromium")
# Headless, and no calls home: the machines have no internet.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


def skip_without_chromium() -> None:
    """Under CI a missing chromium is an error (the launch fails); on a laptop a skip."""
    if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
        pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def give_authenticator(user: User) -> AuthenticatorDevice:
    """A confirmed authenticator-app device for the user (what enrollment leaves behind)."""
    from pars.accounts.models import AuthenticatorDevice

    device = AuthenticatorDevice.objects.filter(user=user, confirmed=True).first()
    return device or AuthenticatorDevice.objects.create(user=user, name="Test app", confirmed=True)


def totp_code(device: AuthenticatorDevice) -> str:
    """The code the user's app would show now, never one the device has already accepted."""
    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    # Two logins in one 30-second step: use the next step (the device accepts ±1).
    totp.drift = max(0, device.last_t + 1 - totp.t()) + device.drift
    return f"{totp.token():0{device.digits}d}"


def authenticator_for_login(email: str) -> AuthenticatorDevice | None:
    """Before the password step: the device whose code the user will be asked for.

    Users who must use two-factor authentication (staff) get one, as if they had enrolled.
    """
    from pars.accounts import mfa
    from pars.accounts.models import AuthenticatorDevice, User

    user = User.objects.filter(email=email).first()
    if user is None:
        return None
    if mfa.required_for(user) and not mfa.has_confirmed_device(user):
        give_authenticator(user)
    return AuthenticatorDevice.objects.filter(user=user, confirmed=True).first()


def enter_totp_code(page: Page, device: AuthenticatorDevice | None) -> None:
    """After the password step: enter the code the app would show (if the user has one)."""
    if device is None:
        return
    expect(page.get_by_role("heading", name="Enter your authentication code")).to_be_visible()
    page.get_by_label("Authentication code").fill(totp_code(device))
    page.get_by_role("button", name="Verify").click()


def new_page(browser: Browser) -> tuple[BrowserContext, Page]:
    """A fresh context (its own cookies), as another person on another computer."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    return context, context.new_page()


def log_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Log in through the login page, with the two-factor step when the user has a device."""
    page.goto(f"{base_url}/accounts/login/")
    expect(page.get_by_role("heading", name="Log in to PARS")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    device = authenticator_for_login(email)  # staff must use two-factor authentication
    page.get_by_role("button", name="Log in").click()
    enter_totp_code(page, device)
