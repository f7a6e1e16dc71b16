"""Who may reset someone's two-factor authentication, and how every change is told:
a security-log line and an email to the user (sent by a task, not in the request)."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.tasks import default_task_backend
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from pars.accounts import mfa
from pars.accounts.models import Membership, Role, User
from pars.providers.models import Provider
from pars.testing import make_accreditor, make_member, make_provider, make_user
from tests.conftest import log_in_verified
from tests.support.browser import give_authenticator, totp_code

pytestmark = pytest.mark.django_db


def _maine() -> tuple[Provider, User]:
    """A provider that the Maine society accredits, and one of the society's staff."""
    society = make_accreditor("ME")
    maine = make_provider(name="Portland CME", recognized_accreditor=society)
    staff = make_user("staff@me.example", is_staff=True, staff_accreditor=society)
    return maine, staff


def _enrolled(user: User) -> User:
    give_authenticator(user)
    mfa.new_recovery_codes(user)
    mail.outbox.clear()
    return user


def _events(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "security_event", None) == name]


def _reset_url(user: User) -> str:
    return reverse("accounts:staff_mfa_reset", args=[user.pk])


def test_state_staff_cannot_reset_a_user_who_also_belongs_to_a_provider_of_another_state(
    provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    maine, maine_staff = _maine()
    # A Riverside administrator who is also an editor at a Maine provider.
    target = _enrolled(make_member(provider, Role.ADMIN, email="admin@riverside.example"))
    Membership.objects.create(user=target, provider=maine, role=Role.EDITOR)
    client = Client()
    log_in_verified(client, maine_staff)

    members = client.get(reverse("accounts:member_list", args=[maine.provider_id]))
    assert target.email in members.content.decode()
    assert "Reset two-factor" not in members.content.decode()
    with caplog.at_level(logging.INFO, logger="pars.security"):
        response = client.post(_reset_url(target))
    assert response.status_code == 404
    assert mfa.is_enrolled(target)
    assert mfa.recovery_codes_left(target) == mfa.RECOVERY_CODE_COUNT
    assert _events(caplog, "mfa_reset") == []
    assert mail.outbox == []


@pytest.mark.parametrize("kind", ["staff", "no-membership"])
def test_state_staff_cannot_reset_staff_or_users_outside_every_provider(kind: str) -> None:
    _, maine_staff = _maine()
    if kind == "staff":
        target = _enrolled(make_user("other@me.example", is_staff=True))
    else:
        target = _enrolled(make_user("nobody@example.org"))
    client = Client()
    log_in_verified(client, maine_staff)
    assert client.post(_reset_url(target)).status_code == 404
    assert mfa.is_enrolled(target)


def test_state_staff_reset_a_user_who_belongs_only_to_their_providers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    maine, maine_staff = _maine()
    target = _enrolled(make_member(maine, Role.EDITOR, email="editor@portland.example"))
    client = Client()
    log_in_verified(client, maine_staff)
    members = reverse("accounts:member_list", args=[maine.provider_id])
    assert "Reset two-factor" in client.get(members).content.decode()
    with caplog.at_level(logging.INFO, logger="pars.security"):
        response = client.post(_reset_url(target), {"next": members})
    assert response["Location"] == members
    assert not mfa.has_confirmed_device(target)
    assert len(_events(caplog, "mfa_reset")) == 1
    assert [m.to for m in mail.outbox] == [[target.email]]


def test_accreditor_staff_reset_anyone_and_it_is_logged_and_mailed(
    staff: User, provider: Provider, caplog: pytest.LogCaptureFixture
) -> None:
    maine, _ = _maine()
    target = _enrolled(make_member(provider, Role.ADMIN, email="admin@riverside.example"))
    Membership.objects.create(user=target, provider=maine, role=Role.EDITOR)
    client = Client()
    log_in_verified(client, staff)
    with caplog.at_level(logging.INFO, logger="pars.security"):
        response = client.post(_reset_url(target))
    assert response.status_code == 302
    assert not mfa.has_confirmed_device(target)
    (record,) = _events(caplog, "mfa_reset")
    assert record.user_id == str(staff.pk)  # type: ignore[attr-defined]
    assert f"target={target.pk}" in record.getMessage()
    assert record.levelno == logging.WARNING
    (message,) = mail.outbox
    assert message.to == [target.email]
    assert message.subject.endswith("Your two-factor authentication was reset")
    assert "staff reset two-factor authentication" in message.body


def test_the_email_is_sent_by_a_task_not_in_the_request(staff: User, settings: Settings) -> None:
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    target = _enrolled(make_user("someone@example.org"))
    client = Client()
    log_in_verified(client, staff)
    default_task_backend.clear()  # type: ignore[attr-defined]
    client.post(_reset_url(target))
    assert not mfa.has_confirmed_device(target)
    assert mail.outbox == []
    queued = default_task_backend.results  # type: ignore[attr-defined]
    assert [(r.task.name, r.args) for r in queued] == [
        ("send_two_factor_email", [target.pk, "reset"])
    ]


def test_a_user_who_turns_it_off_is_logged_and_mailed(
    editor: User, caplog: pytest.LogCaptureFixture
) -> None:
    device = give_authenticator(editor)
    client = Client()
    log_in_verified(client, editor)
    with caplog.at_level(logging.INFO, logger="pars.security"):
        client.post(reverse("accounts:mfa_disable"), {"code": totp_code(device)})
    assert not mfa.has_confirmed_device(editor)
    (record,) = _events(caplog, "mfa_disabled")
    assert record.user_id == str(editor.pk)  # type: ignore[attr-defined]
    (message,) = mail.outbox
    assert message.to == [editor.email]
    assert message.subject.endswith("Two-factor authentication is off")


def test_enrolment_and_new_recovery_codes_are_logged_and_mailed(
    editor: User, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    client.force_login(editor)
    client.get(reverse("accounts:mfa_enrol"))
    device = mfa.start_enrolment(editor)
    with caplog.at_level(logging.INFO, logger="pars.security"):
        client.post(reverse("accounts:mfa_enrol"), {"code": totp_code(device)})
        client.post(reverse("accounts:mfa_recovery"), {"code": totp_code(device)})
    assert len(_events(caplog, "mfa_enrolled")) == 1
    assert len(_events(caplog, "mfa_recovery_codes_replaced")) == 1
    assert [m.subject.split(" - ", 1)[1] for m in mail.outbox] == [
        "Two-factor authentication is on",
        "New recovery codes",
    ]


def test_wrong_codes_and_used_recovery_codes_are_logged(
    editor: User, caplog: pytest.LogCaptureFixture
) -> None:
    give_authenticator(editor)
    codes = mfa.new_recovery_codes(editor)
    with caplog.at_level(logging.INFO, logger="pars.security"):
        assert mfa.verify_code(editor, "000000") is None
        assert mfa.verify_code(editor, codes[0]) is not None
    assert len(_events(caplog, "mfa_failed")) == 1
    (used,) = _events(caplog, "mfa_recovery_code_used")
    assert f"codes_left={mfa.RECOVERY_CODE_COUNT - 1}" in used.getMessage()
    assert codes[0] not in "\n".join(r.getMessage() for r in caplog.records)
