"""Sign-in by email ignores the case of the email (issue 11, point 10): the account, the
lockout and new accounts all treat ``Alice@Riverside.example`` as
``alice@riverside.example``, so a case variant neither fails to sign in nor escapes the
lockout, and no second account can be made for it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from pars.accounts.models import Role, User
from pars.accounts.services import invite_user
from pars.providers.models import Provider
from pars.testing import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def _post(client: Client, page: str, email: str, password: str = TEST_PASSWORD) -> int:
    return client.post(reverse(page), {"username": email, "password": password}).status_code


@pytest.mark.parametrize("page", ["accounts:login", "admin:login"])
def test_login_ignores_the_case_of_the_email(admin_user: User, staff: User, page: str) -> None:
    user = staff if page == "admin:login" else admin_user
    typed = user.email.title()
    assert typed != user.email
    client = Client()
    assert _post(client, page, f" {typed} ") == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_case_variants_share_one_lockout(editor: User) -> None:
    client = Client()
    variants = [editor.email.upper(), editor.email.title(), editor.email, editor.email.upper()]
    for email in variants:
        assert _post(client, "accounts:login", email, "wrong") == 200
    # The fifth failure, in yet another spelling, locks the account from this address.
    assert _post(client, "accounts:login", "EDDIE@riverside.EXAMPLE", "wrong") == 429
    assert _post(client, "accounts:login", editor.email) == 429
    assert _post(client, "admin:login", editor.email.title()) == 429


def test_new_accounts_are_kept_lower_case(provider: Provider) -> None:
    membership = invite_user(provider=provider, email="New.Person@Example.ORG", role=Role.EDITOR)
    assert membership.user.email == "new.person@example.org"
    user = User(email="Mixed.Case@Example.org")
    user.set_password(TEST_PASSWORD)
    user.save()
    assert User.objects.get(pk=user.pk).email == "mixed.case@example.org"


def test_the_admin_refuses_a_case_variant_of_an_existing_account(
    staff: User, editor: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(staff)
    form = {
        "usable_password": "false",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    response = client.post(
        reverse("admin:accounts_user_add"), {**form, "email": editor.email.upper()}
    )
    assert response.status_code == 200  # the form again, with an error
    assert "already exists" in response.text
    assert User.objects.filter(email__iexact=editor.email).count() == 1
    response = client.post(
        reverse("admin:accounts_user_add"), {**form, "email": "Brand.New@Example.org"}
    )
    assert response.status_code == 302
    assert User.objects.filter(email="brand.new@example.org").exists()
