"""View decorators that put the tenancy rule in front of every page."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase

from pars.accounts.access import ProviderAccess, get_provider_access

CURRENT_PROVIDER_SESSION_KEY = "pars_current_provider"

ProviderView = Callable[..., HttpResponseBase]


def provider_view(
    *, edit: bool = False, manage_users: bool = False
) -> Callable[[ProviderView], Callable[..., HttpResponseBase]]:
    """A page of one provider's workspace, at a URL with ``<provider_id>``.

    The view receives the :class:`ProviderAccess` instead of the provider ID. Anonymous
    users go to the login page, users of other providers get 404, and a role that
    may not do what the page does gets 403.
    """

    def decorator(view: ProviderView) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        @login_required
        def wrapper(
            request: HttpRequest, provider_id: str, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            access: ProviderAccess = get_provider_access(request.user, provider_id)
            if edit:
                access.require_edit()
            if manage_users:
                access.require_user_management()
            if request.session.get(CURRENT_PROVIDER_SESSION_KEY) != provider_id:
                request.session[CURRENT_PROVIDER_SESSION_KEY] = (
                    provider_id  # a write: only on a change
                )
            return view(request, access, *args, **kwargs)

        return wrapper

    return decorator


def staff_view[R: HttpResponseBase](view: Callable[..., R]) -> Callable[..., R]:
    """A page of the accreditor's workspace: 404 for everyone who is not staff."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> R:
        if not (request.user.is_active and request.user.is_staff):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper
