"""Rate limits for the web service and the login form, and logging of refusals.

One middleware, :class:`RateLimitMiddleware`, counts requests in the Django cache
with django-ratelimit's core (fixed windows per key) and answers over-limit
requests with ``429 Too Many Requests`` and a ``Retry-After`` header:

- the web service (``/api/``) per API key: ``PARS_API_RATE`` (default ``600/m``);
- the web service without a valid key, per client address: ``PARS_API_ANON_RATE``
  (default ``60/m``), so guessing keys is slow;
- login attempts (POSTs to the login page) per client address: ``PARS_LOGIN_RATE``
  (default ``30/m``), in addition to axes' lockout of one email + address.

Rates read like django-ratelimit's (``"100/m"``, ``"5/10s"``, ``"1000/h"``); an empty
rate turns that limit off. The client address is ``REMOTE_ADDR`` unless
django-ratelimit's ``RATELIMIT_IP_META_KEY`` says otherwise (behind a proxy).

On the way out it writes security log lines (``pars.lib.security_log``) for 401
responses of the web service and for 403 and 404 responses in providers'
workspaces (``/p/``), the staff pages (``/staff/``) and the web service: the tenancy
rule answers another provider's data with 404, so probing shows up there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template import engines
from django.urls import NoReverseMatch, reverse
from django_ratelimit.core import get_usage  # type: ignore[import-untyped]

from pars.lib import security_log

DEFAULT_API_RATE = "600/m"
DEFAULT_API_ANON_RATE = "60/m"
DEFAULT_LOGIN_RATE = "30/m"
LOGGED_PREFIXES = ("/p/", "/staff/", "/api/")

_LOGIN_PAGE = """{% extends "base.html" %}
{% block title %}Too many attempts{% endblock %}
{% block content %}
<article style="max-width: 34rem; margin: 2rem auto;">
  <h1>Too many login attempts</h1>
  <p>Too many logins were tried from your address. Please wait {{ seconds }}
     second{{ seconds|pluralize }} and try again.</p>
</article>
{% endblock %}"""


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        limited = self.check(request)
        if limited is not None:
            return limited
        response = self.get_response(request)
        log_refusal(request, response)
        return response

    def check(self, request: HttpRequest) -> HttpResponseBase | None:
        """The 429 response for a request over its limit, or None."""
        path = request.path_info
        if path.startswith(_setting("PARS_API_PATH_PREFIX", "/api/")):
            return self._check_api(request)
        if request.method == "POST" and path == _login_path():
            seconds = _over_limit(
                request, "pars.login", "ip", _setting("PARS_LOGIN_RATE", DEFAULT_LOGIN_RATE)
            )
            if seconds is not None:
                security_log.rate_limited(request, "login")
                return _login_429(request, seconds)
        return None

    def _check_api(self, request: HttpRequest) -> HttpResponseBase | None:
        from pars.accounts.api_auth import key_prefix, request_api_key

        key = request_api_key(request)
        if key is not None:
            seconds = _over_limit(
                request,
                "pars.api.key",
                lambda group, request: str(key.pk),
                _setting("PARS_API_RATE", DEFAULT_API_RATE),
            )
            scope, prefix = "api_key", key.prefix
        else:
            seconds = _over_limit(
                request,
                "pars.api.anon",
                "ip",
                _setting("PARS_API_ANON_RATE", DEFAULT_API_ANON_RATE),
            )
            from pars.accounts.api_auth import bearer_token

            scope, prefix = "api_address", key_prefix(bearer_token(request))
        if seconds is None:
            return None
        security_log.rate_limited(request, scope, prefix)
        plural = "s" if seconds != 1 else ""
        response = JsonResponse(
            {"detail": f"Too many requests: retry in {seconds} second{plural}."}, status=429
        )
        response["Retry-After"] = str(seconds)
        return response


def _setting(name: str, default: str) -> str:
    return str(getattr(settings, name, default) or "")


def _login_path() -> str:
    try:
        return reverse("accounts:login")
    except NoReverseMatch:
        return ""


def _over_limit(request: HttpRequest, group: str, key: Any, rate: str) -> int | None:
    """Count this request; the seconds until the window ends if it is over the limit."""
    if not rate:
        return None
    usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, int(usage["time_left"]))


def _login_429(request: HttpRequest, seconds: int) -> HttpResponse:
    try:
        html = engines["django"].from_string(_LOGIN_PAGE).render({"seconds": seconds}, request)
    except Exception:  # the page must not fail: fall back to plain HTML
        html = (
            "<!doctype html><title>Too many attempts</title><h1>Too many login attempts</h1>"
            f"<p>Please wait {seconds} seconds and try again.</p>"
        )
    response = HttpResponse(html, status=429)
    response["Retry-After"] = str(seconds)
    return response


def log_refusal(request: HttpRequest, response: HttpResponseBase) -> None:
    """Security log lines for refused requests in providers' workspaces and the API."""
    status = response.status_code
    if status not in (401, 403, 404) or not request.path_info.startswith(LOGGED_PREFIXES):
        return
    api = request.path_info.startswith(_setting("PARS_API_PATH_PREFIX", "/api/"))
    if status == 401:
        if api:
            from pars.accounts.api_auth import bearer_token, key_prefix

            security_log.api_key_rejected(request, key_prefix(bearer_token(request)))
    elif status == 403:
        security_log.permission_denied(request)
    else:
        security_log.not_found(request)
