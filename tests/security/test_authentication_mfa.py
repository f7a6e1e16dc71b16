"""Two-factor authentication (TOTP, django-otp): required for staff, enforceable per provider."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP

from pars.accounts import mfa
from pars.accounts.models import AuthenticatorDevice, Membership, RecoveryCode, Role, User
from pars.accounts.services import create_api_key
from pars.providers.models import Provider
from pars.testing import TEST_PASSWORD, make_accreditor, make_provider, make_user
from tests.conftest import log_in_verified
from tests.support.browser import give_authenticator, totp_code

pytestmark = pytest.mark.django_db


def _password_login(user: User, client: Client | None = None) -> Client:
    client = client or Client()
    response = client.post(
        reverse("accounts:login"), {"username": user.email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302, response.content
    return client


CODE = re.compile(r"<li>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</li>")


def _code_for(device: AuthenticatorDevice) -> str:
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"


def _dashboard(provider: Provider) -> str:
    return reverse("reporting:dashboard", args=[provider.provider_id])


# --- staff must enroll ---------------------------------------------------------------------


@pytest.mark.parametrize("state", [False, True], ids=["accreditor-staff", "state-staff"])
def test_staff_without_a_device_reach_nothing_but_enrolment_and_logout(state: bool) -> None:
    extra = {"staff_accreditor": make_accreditor("ME")} if state else {}
    staff = make_user("s@accreditor.example", is_staff=True, **extra)
    client = _password_login(staff)
    enrol = reverse("accounts:mfa_enrol")
    for url in (
        reverse("home"),
        reverse("providers:staff_list"),
        "/admin/",
        "/accounts/providers/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(enrol), url
    assert client.post(reverse("providers:staff_list")).status_code == 302
    assert client.get(enrol).status_code == 200
    assert client.get("/static/pars.css").status_code in (200, 404)  # never sent to enrollment
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == reverse("accounts:login")


def test_enrolment_shows_a_qr_code_and_the_secret_then_confirms_with_a_code(
    staff: User,
) -> None:
    client = _password_login(staff)
    page = client.get(reverse("accounts:mfa_enrol"))
    html = page.content.decode()
    assert re.search(r"<svg[^>]*>.*<path", html, re.S), "inline SVG QR code"
    device = AuthenticatorDevice.objects.get(user=staff, confirmed=False)
    assert mfa.secret_text(device) in html
    # The page is stable across reloads (same secret), and a wrong code confirms nothing.
    assert mfa.secret_text(device) in client.get(reverse("accounts:mfa_enrol")).content.decode()
    response = client.post(reverse("accounts:mfa_enrol"), {"code": "000000"})
    assert "not valid" in response.content.decode()
    assert not mfa.is_enrolled(staff)

    device.refresh_from_db()
    device.throttle_reset()  # a failure throttles the device for a second
    response = client.post(reverse("accounts:mfa_enrol"), {"code": _code_for(device)})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    codes = CODE.findall(response.content.decode())
    assert len(set(codes)) == mfa.RECOVERY_CODE_COUNT
    assert RecoveryCode.objects.filter(device__user=staff).count() == mfa.RECOVERY_CODE_COUNT
    assert mfa.is_enrolled(staff)
    # Verified in this session: staff pages open; the codes are never shown again.
    assert client.get(reverse("providers:staff_list")).status_code == 200
    again = client.get(reverse("accounts:mfa_enrol"), follow=True)
    assert not any(code in again.content.decode() for code in codes)


def test_after_the_password_a_user_with_a_device_must_enter_a_code(staff: User) -> None:
    device = give_authenticator(staff)
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": staff.email, "password": TEST_PASSWORD}
    )
    assert response["Location"].startswith(reverse("accounts:mfa_verify"))
    staff_list = reverse("providers:staff_list")
    assert client.get(staff_list)["Location"].startswith(reverse("accounts:mfa_verify"))
    key_before = client.session.session_key
    response = client.post(reverse("accounts:mfa_verify"), {"code": "123456", "next": staff_list})
    assert "not valid" in response.content.decode()
    device.throttle_reset()  # one failure throttles the device for a second
    response = client.post(
        reverse("accounts:mfa_verify"), {"code": totp_code(device), "next": staff_list}
    )
    assert response["Location"] == staff_list
    assert client.session.session_key != key_before  # a new key at the higher level
    assert client.get(staff_list).status_code == 200


def test_failed_codes_are_throttled(staff: User) -> None:
    device = give_authenticator(staff)
    client = _password_login(staff)
    with time_machine.travel("2026-03-02 10:00:00Z", tick=False):
        for _ in range(3):
            client.post(reverse("accounts:mfa_verify"), {"code": "000000"})
        # Even the right code is refused while the device throttles (4 s after 3 failures).
        response = client.post(reverse("accounts:mfa_verify"), {"code": _code_for(device)})
        assert "not valid" in response.content.decode()
    assert client.get(reverse("providers:staff_list")).status_code != 200


def test_a_recovery_code_works_once(staff: User) -> None:
    give_authenticator(staff)
    code = mfa.new_recovery_codes(staff)[0]
    client = _password_login(staff)
    response = client.post(reverse("accounts:mfa_verify"), {"code": code.upper()})
    assert response.status_code == 302
    assert client.get(reverse("providers:staff_list")).status_code == 200
    other = _password_login(staff)
    response = other.post(reverse("accounts:mfa_verify"), {"code": code})
    assert "not valid" in response.content.decode()


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(staff: User) -> None:
    device = give_authenticator(staff)
    old = mfa.new_recovery_codes(staff)
    client = Client()
    log_in_verified(client, staff)
    client.post(reverse("accounts:mfa_recovery"), {"code": "000000"})
    assert mfa.recovery_codes_left(staff) == mfa.RECOVERY_CODE_COUNT
    device.throttle_reset()
    response = client.post(reverse("accounts:mfa_recovery"), {"code": totp_code(device)})
    new = CODE.findall(response.content.decode())
    assert len(new) == mfa.RECOVERY_CODE_COUNT
    assert not set(new) & set(old)
    assert mail.outbox[-1].subject.endswith("New recovery codes")
    # A new code signs in; the old ones are gone.
    assert mfa.verify_code(staff, new[0]) is not None
    assert mfa.verify_code(staff, old[0]) is None


def test_a_user_turns_it_off_only_with_a_code(editor: User, provider: Provider) -> None:
    device = give_authenticator(editor)
    client = Client()
    log_in_verified(client, editor)
    client.post(reverse("accounts:mfa_disable"), {"code": "000000"})
    assert mfa.is_enrolled(editor)
    device.throttle_reset()
    response = client.post(reverse("accounts:mfa_disable"), {"code": totp_code(device)})
    assert response["Location"] == reverse("accounts:mfa_settings")
    assert not mfa.has_confirmed_device(editor)
    # Optional for this provider: the workspace stays open without a device.
    assert _password_login(editor).get(_dashboard(provider)).status_code == 200


def test_staff_who_turn_it_off_must_enrol_again(staff: User) -> None:
    device = give_authenticator(staff)
    client = Client()
    log_in_verified(client, staff)
    response = client.post(reverse("accounts:mfa_disable"), {"code": totp_code(device)})
    assert response["Location"] == reverse("accounts:mfa_enrol")
    assert client.get(reverse("providers:staff_list"))["Location"].startswith(
        reverse("accounts:mfa_enrol")
    )


def test_staff_reset_a_users_two_factor(staff: User, editor: User, provider: Provider) -> None:
    give_authenticator(editor)
    mfa.new_recovery_codes(editor)
    url = reverse("accounts:staff_mfa_reset", args=[editor.pk])
    # Not for provider users (even administrators), nor for other societies' staff.
    admin = make_user("a@riverside.example")
    Membership.objects.create(user=admin, provider=provider, role=Role.ADMIN)
    state_staff = make_user("s@me.example", is_staff=True, staff_accreditor=make_accreditor("ME"))
    for outsider in (admin, state_staff):
        client = Client()
        log_in_verified(client, outsider)
        assert client.post(url).status_code == 404
    assert mfa.has_confirmed_device(editor)

    client = Client()
    log_in_verified(client, staff)
    members = reverse("accounts:member_list", args=[provider.provider_id])
    assert "Reset two-factor" in client.get(members).content.decode()
    response = client.post(url, {"next": members})
    assert response["Location"] == members
    assert not mfa.has_confirmed_device(editor)


def test_staff_requirement_can_be_switched_off_by_setting(staff: User, settings: object) -> None:
    settings.PARS_MFA_REQUIRED_FOR_STAFF = False  # type: ignore[attr-defined]
    client = _password_login(staff)
    assert client.get(reverse("providers:staff_list")).status_code == 200


# --- optional, then enforceable per provider ---------------------------------------------


def test_optional_for_provider_users(editor: User, provider: Provider) -> None:
    client = _password_login(editor)
    assert client.get(_dashboard(provider)).status_code == 200
    assert client.get(reverse("accounts:mfa_settings")).status_code == 200


def test_a_provider_administrator_requires_it_for_all_users(
    admin_user: User, editor: User, reader: User, provider: Provider
) -> None:
    policy = reverse("accounts:member_mfa_policy", args=[provider.provider_id])
    reader_client = Client()
    log_in_verified(reader_client, reader)
    assert reader_client.post(policy, {"require_mfa": "on"}).status_code == 403
    admin_client = Client()
    log_in_verified(admin_client, admin_user)
    admin_client.post(policy, {"require_mfa": "on"})
    provider.refresh_from_db()
    assert provider.require_mfa

    # The editor has no device: the workspace sends them to enrollment ...
    elsewhere = make_provider(name="Elsewhere", provider_id="0007777")
    Membership.objects.create(user=editor, provider=elsewhere, role=Role.EDITOR)
    client = _password_login(editor)
    response = client.get(_dashboard(provider))
    assert response["Location"].startswith(reverse("accounts:mfa_enrol"))
    members = reverse("accounts:member_list", args=[provider.provider_id])
    assert client.post(members)["Location"].startswith(reverse("accounts:mfa_enrol"))
    # ... while a provider that does not require it stays open.
    assert client.get(_dashboard(elsewhere)).status_code == 200
    # Once enrolled and verified, the workspace opens.
    client.get(reverse("accounts:mfa_enrol"))
    device = AuthenticatorDevice.objects.get(user=editor)
    client.post(reverse("accounts:mfa_enrol"), {"code": _code_for(device)})
    assert client.get(_dashboard(provider)).status_code == 200

    admin_client.post(policy, {})
    provider.refresh_from_db()
    assert not provider.require_mfa


def test_api_keys_are_not_affected(provider: Provider) -> None:
    provider.require_mfa = True
    provider.save()
    _, secret = create_api_key(provider=provider)
    response = Client().get("/api/v1/provider", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
