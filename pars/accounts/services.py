"""Writes to accounts: invitations, roles, API keys."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from pars.accounts.access import system_access
from pars.accounts.models import ApiKey, ApiKeyEnvironment, Membership, Role, User
from pars.accounts.tasks import send_access_granted_email
from pars.providers.models import Provider

API_KEY_PREFIX = "pars"
TEST_KEY_MARK = "test"  # a test (sandbox) key reads pars_test_<prefix>_<secret>


def invite_user(
    *,
    provider: Provider,
    email: str,
    role: str,
    invited_by: User | None = None,
    first_name: str = "",
    last_name: str = "",
) -> Membership:
    """Give a person a role at a provider and send them the "System Access Granted" email.

    Creates the user (without a usable password) if the address is new; re-inviting
    an existing member updates the role and sends a fresh link. The inviter learns
    nothing about the address: new, existing and deactivated accounts get the same
    answer (a deactivated account gets the membership but no mail, and cannot sign in).
    """
    email = email.strip().lower()
    validate_email(email)
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    with transaction.atomic():
        membership = _grant(provider, email, role, invited_by, first_name, last_name)
    # Enqueued after the commit, so a worker on another backend always finds the user.
    send_access_granted_email.enqueue(membership.user_id, provider.pk)
    return membership


def _grant(
    provider: Provider,
    email: str,
    role: str,
    invited_by: User | None,
    first_name: str,
    last_name: str,
) -> Membership:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email, first_name=first_name, last_name=last_name)
    membership, created = Membership.objects.get_or_create(
        user=user, provider=provider, defaults={"role": role, "invited_by": invited_by}
    )
    if not created and membership.role != role:
        _keep_an_administrator(membership, role)
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def resend_invitation(membership: Membership) -> None:
    send_access_granted_email.enqueue(membership.user_id, membership.provider_id)


@transaction.atomic
def change_role(membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"Choose one of: {', '.join(Role.values)}."})
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _keep_an_administrator(membership, role)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def remove_member(membership: Membership) -> None:
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    _keep_an_administrator(membership, None)
    membership.delete()


def _keep_an_administrator(membership: Membership, new_role: str | None) -> None:
    # A provider without an administrator could not manage its own users any more.
    if membership.role != Role.ADMIN or new_role == Role.ADMIN:
        return
    others = system_access(membership.provider).records(Membership).filter(role=Role.ADMIN)
    if not others.exclude(pk=membership.pk).exists():
        raise ValidationError("A provider must keep at least one administrator.")


def _hash_secret(secret: str) -> str:
    # The secret is 256 random bits, so a fast hash is enough (unlike passwords).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(
    *, provider: Provider, name: str = "", created_by: User | None = None
) -> tuple[ApiKey, str]:
    """Create a key for one provider; returns the key row and the only copy of the secret.

    A key of a sandbox provider is a test key (``pars_test_…``); see pars.providers.sandbox.
    """
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    test = provider.is_sandbox
    key = ApiKey.objects.create(
        provider=provider,
        name=name,
        prefix=prefix,
        secret_hash=_hash_secret(secret),
        created_by=created_by,
        environment=ApiKeyEnvironment.TEST if test else ApiKeyEnvironment.LIVE,
    )
    mark = f"{TEST_KEY_MARK}_" if test else ""
    return key, f"{API_KEY_PREFIX}_{mark}{prefix}_{secret}"


def revoke_api_key(key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
