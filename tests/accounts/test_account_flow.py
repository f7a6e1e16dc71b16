"""Invitation → Set Password → login → dashboard → logout → forgot password → reset."""

import re

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse

from pars.accounts.models import Role, User
from pars.accounts.services import invite_user
from pars.providers.models import Provider
from pars.testing import TEST_PASSWORD, make_member

NEW_PASSWORD = "a-much-better-passphrase-2026"


def _link(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/\S+)", str(message.body))
    assert match, message.body
    return match.group(1)


def _logs_in(email: str, password: str, client: Client | None = None) -> bool:
    client = client or Client()
    response = client.post(reverse("accounts:login"), {"username": email, "password": password})
    return response.status_code == 302


def _set_password(client: Client, link: str, password: str) -> None:
    # Django swaps the token for a session marker and redirects to the form.
    response = client.get(link, follow=True)
    # An invitation opens the Set Password page, a reset link the reset page.
    heading = "Create your password" if "/set-password/" in link else "Choose a new password"
    assert heading in response.text
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": password, "new_password2": password}, follow=True
    )
    assert "Your password is set" in response.text


@pytest.mark.django_db
def test_full_access_flow_through_the_web(provider: Provider, admin_user: User) -> None:
    admin_client = Client()
    admin_client.force_login(admin_user)
    response = admin_client.post(
        reverse("accounts:member_invite", args=[provider.provider_id]),
        {"email": "New.Person@Riverside.example", "first_name": "Nia", "role": Role.EDITOR},
        follow=True,
    )
    assert "Access granted to new.person@riverside.example" in response.text

    assert len(mail.outbox) == 1
    invitation = mail.outbox[0]
    assert invitation.subject.endswith("System Access Granted")
    assert invitation.to == ["new.person@riverside.example"]
    assert "Set Password" in invitation.body
    assert provider.name in invitation.body

    client = Client()
    _set_password(client, _link(invitation), NEW_PASSWORD)

    response = client.post(
        reverse("accounts:login"),
        {"username": "new.person@riverside.example", "password": NEW_PASSWORD},
        follow=True,
    )
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("reporting:dashboard", args=["0001234"])
    assert "Riverside Health" in response.text

    response = client.post(reverse("accounts:logout"), follow=True)
    assert "Log in to PARS" in response.text
    assert client.get(reverse("reporting:dashboard", args=["0001234"])).status_code == 302

    response = client.post(
        reverse("accounts:password_reset"), {"email": "new.person@riverside.example"}, follow=True
    )
    assert "Check your email" in response.text
    reset = mail.outbox[-1]
    assert reset.subject.endswith("Reset your password")
    _set_password(client, _link(reset), "yet-another-passphrase-77")

    assert not _logs_in("new.person@riverside.example", NEW_PASSWORD)
    assert _logs_in("new.person@riverside.example", "yet-another-passphrase-77")


@pytest.mark.django_db
def test_set_password_link_works_only_once(provider: Provider) -> None:
    invite_user(provider=provider, email="once@example.org", role=Role.READONLY)
    link = _link(mail.outbox[0])
    _set_password(Client(), link, NEW_PASSWORD)
    response = Client().get(link, follow=True)
    assert "This link no longer works" in response.text


@pytest.mark.django_db
def test_set_password_link_expires_after_72_hours(provider: Provider) -> None:
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        invite_user(provider=provider, email="late@example.org", role=Role.READONLY)
    link = _link(mail.outbox[0])
    with time_machine.travel("2026-11-04 08:59Z", tick=False):
        assert "Create your password" in Client().get(link, follow=True).text
    with time_machine.travel("2026-11-04 09:01Z", tick=False):
        assert "This link no longer works" in Client().get(link, follow=True).text


@pytest.mark.django_db
def test_reset_link_expires_after_an_hour(editor: User) -> None:
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        Client().post(reverse("accounts:password_reset"), {"email": editor.email})
    link = _link(mail.outbox[0])
    with time_machine.travel("2026-11-01 10:01Z", tick=False):
        assert "This link no longer works" in Client().get(link, follow=True).text


@pytest.mark.django_db
def test_a_reset_token_does_not_open_the_invitation_page(editor: User) -> None:
    Client().post(reverse("accounts:password_reset"), {"email": editor.email})
    reset_path = _link(mail.outbox[0])
    as_invitation = reset_path.replace("/accounts/reset/", "/accounts/set-password/")
    assert "This link no longer works" in Client().get(as_invitation, follow=True).text


@pytest.mark.django_db
def test_forgot_password_answers_the_same_for_unknown_addresses(editor: User) -> None:
    known = Client().post(reverse("accounts:password_reset"), {"email": editor.email})
    unknown = Client().post(reverse("accounts:password_reset"), {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert [m.to for m in mail.outbox] == [[editor.email]]


@pytest.mark.django_db
def test_invited_user_who_lost_the_email_can_use_forgot_password(provider: Provider) -> None:
    invite_user(provider=provider, email="lost@example.org", role=Role.EDITOR)
    Client().post(reverse("accounts:password_reset"), {"email": "lost@example.org"})
    assert mail.outbox[-1].subject.endswith("Reset your password")
    _set_password(Client(), _link(mail.outbox[-1]), NEW_PASSWORD)
    assert _logs_in("lost@example.org", NEW_PASSWORD)


@pytest.mark.django_db
def test_existing_user_added_to_a_second_provider_gets_a_login_link_not_a_new_password(
    provider: Provider, other_provider: Provider
) -> None:
    user = make_member(other_provider, Role.EDITOR, email="two@example.org")
    invite_user(provider=provider, email="two@example.org", role=Role.READONLY)
    body = mail.outbox[0].body
    assert "/accounts/set-password/" not in body
    assert "/accounts/login/" in body
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)


@pytest.mark.django_db
def test_login_is_locked_after_five_failures_but_reset_still_works(
    editor: User, settings: object
) -> None:
    client = Client()
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": editor.email, "password": "wrong"})
    response = client.post(
        reverse("accounts:login"), {"username": editor.email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 429
    assert "Too many failed attempts" in response.text
    # When to come back, in words as in the Retry-After header (a 15-minute cool-off).
    assert 14 * 60 < int(response["Retry-After"]) <= 15 * 60
    assert "Try again in 15 minutes (at " in response.text
    response = client.post(reverse("accounts:password_reset"), {"email": editor.email})
    assert response.status_code == 302
    assert mail.outbox[-1].to == [editor.email]


@pytest.mark.django_db
def test_lockout_is_per_user_so_others_can_still_log_in(editor: User, reader: User) -> None:
    client = Client()
    for _ in range(5):
        client.post(reverse("accounts:login"), {"username": editor.email, "password": "wrong"})
    response = client.post(
        reverse("accounts:login"), {"username": reader.email, "password": TEST_PASSWORD}
    )
    assert response.status_code == 302


@pytest.mark.django_db
def test_session_ends_after_30_idle_minutes(editor: User, provider: Provider) -> None:
    client = Client()
    dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        assert _logs_in(editor.email, TEST_PASSWORD, client)
        assert client.get(dashboard).status_code == 200
    with time_machine.travel("2026-11-01 09:29Z", tick=False):
        assert client.get(dashboard).status_code == 200
    with time_machine.travel("2026-11-01 10:00Z", tick=False):
        response = client.get(dashboard)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2(settings: object) -> None:
    from django.contrib.auth.hashers import make_password

    from pars import settings as pars_settings

    settings.PASSWORD_HASHERS = pars_settings.PASSWORD_HASHERS  # type: ignore[attr-defined]
    assert make_password("a-long-enough-password").startswith("argon2$")


@pytest.mark.django_db
def test_weak_passwords_are_refused_when_setting_one(provider: Provider) -> None:
    invite_user(provider=provider, email="weak@example.org", role=Role.EDITOR)
    client = Client()
    response = client.get(_link(mail.outbox[0]), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "password", "new_password2": "password"})
    assert response.status_code == 200
    assert "too common" in response.text
    assert "at least 12 characters" in response.text
