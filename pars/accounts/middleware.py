"""Session lifetime and two-factor enforcement, for every page.

Both sit after ``django_otp.middleware.OTPMiddleware`` in ``MIDDLEWARE``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from pars.accounts import mfa

LOGIN_AT_SESSION_KEY = "pars_login_at"

# Pages an unverified user may still reach: leaving, and getting verified or enrolled.
MFA_EXEMPT_VIEWS = {"accounts:logout", "accounts:mfa_verify", "accounts:mfa_enrol"}
# The web service authenticates by API key (bearer token), never by the session.
MFA_EXEMPT_PREFIXES = ("/api/",)


def stamp_login_time(request: HttpRequest) -> None:
    request.session[LOGIN_AT_SESSION_KEY] = timezone.now().timestamp()


class SessionLifetimeMiddleware:
    """Ends a session ``PARS_SESSION_ABSOLUTE_HOURS`` after login, however active it is.

    (The idle timeout is Django's ``SESSION_COOKIE_AGE``, renewed by ``pars.accounts.session``.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.user.is_authenticated:
            started = request.session.get(LOGIN_AT_SESSION_KEY)
            now = timezone.now().timestamp()
            if started is None:
                # A session from before this rule: its 12 hours start now.
                request.session[LOGIN_AT_SESSION_KEY] = now
            elif now - float(started) > settings.PARS_SESSION_ABSOLUTE_HOURS * 3600:
                logout(request)
        return self.get_response(request)


class MfaEnforcementMiddleware:
    """Sends signed-in users who still owe a second factor to verification or enrollment.

    - a user with a confirmed device must verify a code after the password;
    - staff without a device can reach nothing but enrollment and logout;
    - members of a provider that requires two-factor authentication must enroll before
      they use that provider's workspace (any URL with its ``provider_id``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        user = request.user
        if not user.is_authenticated or mfa.is_verified(user):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in MFA_EXEMPT_VIEWS:
            return None
        if request.path_info.startswith(MFA_EXEMPT_PREFIXES) or request.path_info.startswith(
            "/" + settings.STATIC_URL.lstrip("/")
        ):
            return None
        if mfa.has_confirmed_device(user):
            return _send_to(request, "accounts:mfa_verify")
        provider_id = view_kwargs.get("provider_id")
        if mfa.required_for_staff(user) or (
            isinstance(provider_id, str) and mfa.provider_requires_mfa(provider_id)
        ):
            return _send_to(request, "accounts:mfa_enrol")
        return None


def _send_to(request: HttpRequest, view_name: str) -> HttpResponseBase:
    url = reverse(view_name)
    if request.method == "GET":
        url += "?" + urlencode({"next": request.get_full_path()})
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)
