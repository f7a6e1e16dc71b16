"""Sessions, user enumeration and lockout (the "Authentication" section of docs/security.md)."""

from __future__ import annotations

import re
from unittest import mock

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.test import Client
from django.urls import reverse

from pars.accounts.models import Membership, Role, User
from pars.accounts.services import invite_user
from pars.providers.models import Provider
from pars.testing import TEST_PASSWORD, make_member, make_provider, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-much-better-passphrase-2026"


def _login(client: Client, email: str, password: str = TEST_PASSWORD) -> int:
    response = client.post(reverse("accounts:login"), {"username": email, "password": password})
    return response.status_code


def _link(message: mail.EmailMessage) -> str:
    match = re.search(r"https?://[^/\s]+(/\S+)", str(message.body))
    assert match, message.body
    return match.group(1)


def _reset_password(email: str, password: str) -> None:
    client = Client()
    client.post(reverse("accounts:password_reset"), {"email": email})
    response = client.get(_link(mail.outbox[-1]), follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": password, "new_password2": password}, follow=True
    )
    assert "Your password is set" in response.content.decode()


def _page(response: object, *variable: str) -> str:
    """The page text without what legitimately differs (CSRF token, the typed address)."""
    text = response.content.decode()  # type: ignore[attr-defined]
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)
    text = re.sub(r'"X-CSRFToken": "[^"]+"', "", text)
    for value in variable:
        text = text.replace(value, "ADDRESS")
    return text


# --- sessions ------------------------------------------------------------------------------


def test_login_gives_the_session_a_new_key(editor: User) -> None:
    client = Client()
    session = client.session
    session["before"] = "login"
    session.save()
    old_key = session.session_key
    assert old_key is not None
    assert _login(client, editor.email) == 302
    assert client.session.session_key != old_key
    from django.contrib.sessions.backends.db import SessionStore

    assert not SessionStore().exists(old_key)


def test_session_ends_after_30_idle_minutes(editor: User, provider: Provider) -> None:
    client = Client()
    dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
    assert django_settings.SESSION_COOKIE_AGE == 30 * 60
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        assert _login(client, editor.email) == 302
    with time_machine.travel("2026-11-01 09:29Z", tick=False):
        assert client.get(dashboard).status_code == 200
    with time_machine.travel("2026-11-01 10:00Z", tick=False):
        assert client.get(dashboard)["Location"].startswith(reverse("accounts:login"))


def test_session_ends_12_hours_after_login_however_active(editor: User, provider: Provider) -> None:
    client = Client()
    dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
    assert django_settings.PARS_SESSION_ABSOLUTE_HOURS == 12
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        assert _login(client, editor.email) == 302
    # A request every 20 minutes keeps the idle timer from ever firing ...
    for minutes in range(20, 12 * 60 + 1, 20):
        with time_machine.travel("2026-11-01 09:00Z", tick=False) as traveller:
            traveller.shift(minutes * 60)
            assert client.get(dashboard).status_code == 200, minutes
    # ... but 12 hours after login the session ends.
    with time_machine.travel("2026-11-01 21:10Z", tick=False):
        response = client.get(dashboard)
        assert response["Location"].startswith(reverse("accounts:login"))
        assert client.get(dashboard).status_code == 302  # and it stays ended


def test_absolute_lifetime_follows_the_setting(
    editor: User, provider: Provider, settings: object
) -> None:
    settings.PARS_SESSION_ABSOLUTE_HOURS = 1  # type: ignore[attr-defined]
    client = Client()
    dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
    with time_machine.travel("2026-11-01 09:00Z", tick=False):
        _login(client, editor.email)
    with time_machine.travel("2026-11-01 09:25Z", tick=False):
        assert client.get(dashboard).status_code == 200
    with time_machine.travel("2026-11-01 09:50Z", tick=False):
        assert client.get(dashboard).status_code == 200
    with time_machine.travel("2026-11-01 10:05Z", tick=False):
        assert client.get(dashboard).status_code == 302


def test_changing_the_password_ends_the_other_sessions(editor: User, provider: Provider) -> None:
    dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
    here, elsewhere = Client(), Client()
    _login(here, editor.email)
    _login(elsewhere, editor.email)
    response = here.post(
        reverse("accounts:password_change"),
        {
            "old_password": TEST_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response["Location"] == reverse("accounts:password_change_done")
    assert here.get(dashboard).status_code == 200  # the session that changed it stays
    assert elsewhere.get(dashboard)["Location"].startswith(reverse("accounts:login"))


def test_resetting_the_password_ends_every_session(editor: User, provider: Provider) -> None:
    dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
    signed_in = Client()
    _login(signed_in, editor.email)
    assert signed_in.get(dashboard).status_code == 200
    _reset_password(editor.email, NEW_PASSWORD)
    assert signed_in.get(dashboard)["Location"].startswith(reverse("accounts:login"))


# --- no user enumeration -------------------------------------------------------------------


class _CountingHasher(MD5PasswordHasher):
    calls = 0

    def encode(self, password: str, salt: str) -> str:
        type(self).calls += 1
        return super().encode(password, salt)


@pytest.fixture
def counting_hasher(settings: object) -> type[_CountingHasher]:
    settings.PASSWORD_HASHERS = [f"{__name__}._CountingHasher"]  # type: ignore[attr-defined]
    _CountingHasher.calls = 0
    return _CountingHasher


def test_login_answers_and_hashes_the_same_for_unknown_addresses(
    provider: Provider, counting_hasher: type[_CountingHasher]
) -> None:
    known = make_member(provider, Role.EDITOR, email="known@riverside.example")
    known.set_password(TEST_PASSWORD)  # a hash made by the counting hasher
    known.save()
    invite_user(provider=provider, email="invited@riverside.example", role=Role.EDITOR)
    make_user("gone@riverside.example", is_active=False)
    pages = {}
    for email in (
        "nobody@riverside.example",
        known.email,
        "invited@riverside.example",  # no usable password yet
        "gone@riverside.example",  # deactivated
    ):
        counting_hasher.calls = 0
        response = Client().post(
            reverse("accounts:login"), {"username": email, "password": "wrong-password-1"}
        )
        assert response.status_code == 200, email
        # Django's ModelBackend hashes for unknown users and unusable passwords too.
        assert counting_hasher.calls == 1, email
        pages[email] = _page(response, email)
    import difflib

    first = pages["nobody@riverside.example"].splitlines()
    for page in pages.values():
        assert first == page.splitlines(), "\n".join(difflib.unified_diff(first, page.splitlines()))
    assert "That email and password do not match an active account." in pages[known.email]


def test_password_reset_answers_the_same_and_does_the_same_work(editor: User) -> None:
    answers = []
    with mock.patch("pars.accounts.forms.send_password_reset_to_address") as task:
        enqueue = task.enqueue
        for email in ("nobody@riverside.example", editor.email):
            response = Client().post(reverse("accounts:password_reset"), {"email": email})
            answers.append((response.status_code, response["Location"]))
            enqueue.assert_called_once_with(email)  # the lookup happens in the worker
            enqueue.reset_mock()
    assert answers[0] == answers[1] == (302, reverse("accounts:password_reset_done"))
    # The worker mails only real, active accounts.
    Client().post(reverse("accounts:password_reset"), {"email": "nobody@riverside.example"})
    assert mail.outbox == []
    Client().post(reverse("accounts:password_reset"), {"email": editor.email.upper()})
    assert [m.to for m in mail.outbox] == [[editor.email]]


def test_invitations_answer_the_same_for_new_existing_and_deactivated_accounts(
    provider: Provider, admin_user: User
) -> None:
    elsewhere = make_provider(name="Elsewhere", provider_id="0005555")
    existing = make_member(
        elsewhere, Role.ADMIN, email="existing@example.org", first_name="Zebulon"
    )
    Client().post(
        reverse("accounts:login"), {"username": existing.email, "password": TEST_PASSWORD}
    )
    make_user("gone@example.org", is_active=False, first_name="Quincy")
    client = Client()
    client.force_login(admin_user)
    invite = reverse("accounts:member_invite", args=[provider.provider_id])
    answers = {}
    for email in ("new@example.org", existing.email, "gone@example.org"):
        response = client.post(invite, {"email": email, "role": Role.EDITOR}, follow=True)
        assert response.status_code == 200
        messages = [str(m) for m in response.context["messages"]]
        answers[email] = [m.replace(email, "ADDRESS") for m in messages]
    assert len({tuple(a) for a in answers.values()}) == 1
    # The list shows each of them alike: invited, no name (until they sign in here).
    page = client.get(reverse("accounts:member_list", args=[provider.provider_id]))
    text = page.content.decode()
    assert "Zebulon" not in text
    assert "Quincy" not in text
    rows = re.findall(r"<tr>(.*?)</tr>", text, re.S)
    statuses = [("Invited" in row) for row in rows if "example.org" in row]
    assert statuses == [True, True, True]
    # The deactivated account gets no mail and still cannot sign in.
    assert "gone@example.org" not in [m.to[0] for m in mail.outbox]
    assert Membership.objects.filter(user__email="gone@example.org").exists()


# --- lockout -------------------------------------------------------------------------------


def test_five_failures_lock_the_username_and_address_for_15_minutes(
    editor: User, reader: User
) -> None:
    client = Client()
    with time_machine.travel("2026-05-01 09:00Z", tick=False):
        for _ in range(4):
            assert _login(client, editor.email, "wrong") == 200
        assert _login(client, editor.email, "wrong") == 429  # the fifth failure locks
        assert _login(client, editor.email) == 429  # even with the right password
        # Per username + address: another user from the same address still gets in.
        assert _login(Client(), reader.email) == 302
        # The same username from another address is not locked.
        other_address = Client(REMOTE_ADDR="203.0.113.9")
        assert (
            other_address.post(
                reverse("accounts:login"), {"username": editor.email, "password": TEST_PASSWORD}
            ).status_code
            == 302
        )
    with time_machine.travel("2026-05-01 09:14Z", tick=False):
        assert _login(client, editor.email) == 429
    # Each attempt while locked counts as a failure: the 15 minutes run from the last one.
    with time_machine.travel("2026-05-01 09:30Z", tick=False):
        assert _login(client, editor.email) == 302


def test_a_locked_out_user_can_still_reset_and_then_log_in(editor: User) -> None:
    client = Client()
    for _ in range(6):
        _login(client, editor.email, "wrong")
    assert _login(client, editor.email) == 429
    response = client.post(reverse("accounts:password_reset"), {"email": editor.email})
    assert response.status_code == 302
    assert mail.outbox[-1].to == [editor.email]
    _reset_password(editor.email, NEW_PASSWORD)
    # The reset also lifts the lockout: the new password works at once.
    assert _login(client, editor.email, NEW_PASSWORD) == 302
