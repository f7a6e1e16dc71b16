"""The one way to reach provider data.

Every view, API endpoint and command that reads or writes rows belonging to a
provider gets a :class:`ProviderAccess` from :func:`get_provider_access` (or
:func:`get_api_access`) and queries through :meth:`ProviderAccess.records`.
A provider the user may not see is answered with 404, never 403, so that the
existence of another provider's data is not revealed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from pars.accounts.models import ApiKey, Membership, Role, User
from pars.providers.models import Provider

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

M = TypeVar("M", bound=Model)


def providers_visible_to(user: User | AnonymousUser) -> QuerySet[Provider]:
    """Providers whose data this user may see (never a sandbox: only test keys reach one)."""
    if not user.is_authenticated or not user.is_active:
        return Provider.objects.none()
    assert isinstance(user, User)
    live = Provider.objects.live()
    if user.is_accreditor_staff:
        return live
    if user.is_state_accreditor_staff:
        return live.filter(recognized_accreditor_id=user.staff_accreditor_id)
    return live.filter(memberships__user=user)


@dataclass(frozen=True)
class ProviderAccess:
    """What one user (or API key) may do for one provider."""

    provider: Provider
    user: User | None
    role: str | None  # the membership role; None for staff and API keys
    is_staff: bool = False
    via_api_key: bool = False
    api_key: ApiKey | None = None

    @property
    def can_edit(self) -> bool:
        return self.is_staff or self.via_api_key or self.role in (Role.ADMIN, Role.EDITOR)

    @property
    def can_manage_users(self) -> bool:
        return self.is_staff or self.role == Role.ADMIN

    def require_edit(self) -> None:
        if not self.can_edit:
            raise PermissionDenied("Your role at this provider is read-only.")

    def require_user_management(self) -> None:
        if not self.can_manage_users:
            raise PermissionDenied("Only the provider's administrators manage its users.")

    def records(self, model: type[M]) -> QuerySet[M]:
        """All rows of a provider-owned model that belong to this provider."""
        return model._default_manager.filter(provider=self.provider)

    def get(self, model: type[M], **lookup: Any) -> M:
        """One row of this provider, or 404 (also when it belongs to another provider)."""
        try:
            return self.records(model).get(**lookup)
        except model.DoesNotExist:  # type: ignore[attr-defined]
            raise Http404(f"No such {model._meta.verbose_name}.") from None


def get_provider_access(user: User | AnonymousUser, provider_id: str) -> ProviderAccess:
    """The access of a signed-in user to the provider with this PARS provider ID, or 404."""
    try:
        provider = providers_visible_to(user).get(provider_id=provider_id)
    except Provider.DoesNotExist:
        raise Http404("No such provider.") from None
    assert isinstance(user, User)
    if user.is_staff:
        return ProviderAccess(provider=provider, user=user, role=None, is_staff=True)
    membership = Membership.objects.get(user=user, provider=provider)
    return ProviderAccess(provider=provider, user=user, role=membership.role)


def get_api_access(provider: Provider, api_key: ApiKey | None = None) -> ProviderAccess:
    """The access of a valid API key, which is bound to exactly one provider."""
    return ProviderAccess(
        provider=provider, user=None, role=None, via_api_key=True, api_key=api_key
    )


def system_access(provider: Provider) -> ProviderAccess:
    """PARS's own access to one provider's rows (tasks, notices, seeds): no user, no role.

    For work the system does on a provider's behalf; a request never gets it.
    """
    return ProviderAccess(provider=provider, user=None, role=None)


def users_administered_by(staff: User, user_ids: Iterable[int]) -> set[int]:
    """Which of these users a staff member may change account-wide settings of (two-factor).

    Account-wide settings reach every provider a user belongs to, so state-accreditor
    staff may change them only for provider users all of whose memberships are at
    providers they accredit (not for staff, nor for users without a membership).
    Accreditor staff may for anyone; everybody else for no one.
    """
    ids = set(user_ids)
    if not (staff.is_active and staff.is_staff) or not ids:
        return set()
    if staff.is_accreditor_staff:
        return ids
    members = set(
        Membership.objects.filter(user_id__in=ids, user__is_staff=False, user__is_superuser=False)
        .values_list("user_id", flat=True)
        .distinct()
    )
    elsewhere = set(
        Membership.objects.filter(user_id__in=members)
        .exclude(provider__in=providers_visible_to(staff))
        .values_list("user_id", flat=True)
    )
    return members - elsewhere


def may_administer_user(staff: User, user: User) -> bool:
    return user.pk in users_administered_by(staff, [user.pk])
