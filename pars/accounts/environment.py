"""``X-PARS-Environment`` on every web service answer: ``live`` or ``sandbox``.

An integrator must never wonder whether a request touched real data. The environment is
the presented key's: a test key (``pars_test_…``) only ever acts on a sandbox provider
(pars.accounts.services.create_api_key, and ``verified_key`` refuses a test key presented
as a live one and the reverse), so the token's form decides it without a database read.
Answers without a key (the description, 401s) say ``live`` unless the token claims a test
key. The header is set outermost, so refusals made by middleware (429, 404) carry it too.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from pars.accounts.api_auth import bearer_token, split_token
from pars.accounts.models import ApiKeyEnvironment

HEADER = "X-PARS-Environment"


def request_environment(request: HttpRequest) -> str:
    """ "sandbox" for a test key's request, else "live"."""
    parts = split_token(bearer_token(request))
    return "sandbox" if parts and parts[0] == ApiKeyEnvironment.TEST else "live"


class EnvironmentHeaderMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.prefix = str(getattr(settings, "PARS_API_PATH_PREFIX", "/api/"))

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path_info.startswith(self.prefix):
            response[HEADER] = request_environment(request)
        return response
