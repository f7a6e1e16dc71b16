"""How django-axes' lockout of one email + address sees the email and answers.

- The email is counted as it is looked up, case-insensitively (``AXES_USERNAME_CALLABLE``):
  ``Alice@Example.org`` and ``alice@example.org`` are one account and one lockout.
- The lockout answers 429 with ``Retry-After`` (``AXES_LOCKOUT_CALLABLE``): the seconds
  until the cool-off after the last failure ends.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from axes.helpers import get_client_ip_address, get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from pars.accounts.ratelimit import typed_email


def lockout_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """The email of a sign-in attempt, lower-cased, from the credentials or the form."""
    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        value = credentials.get(field)
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        value = data.get(field)
    return typed_email(value) or None


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    seconds = _seconds_left(request, credentials)
    retry_at = timezone.now() + datetime.timedelta(seconds=seconds)
    context = {"minutes": math.ceil(seconds / 60), "retry_at": retry_at}
    response = render(request, "accounts/locked.html", context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def _seconds_left(request: HttpRequest, credentials: dict[str, Any] | None) -> int:
    cool_off = get_cool_off(request)
    if cool_off is None:  # a lockout without end (not PARS' configuration)
        return 86400
    last = AccessAttempt.objects.filter(
        username=get_client_username(request, credentials),
        ip_address=getattr(request, "axes_ip_address", None) or get_client_ip_address(request),
    ).aggregate(last=Max("attempt_time"))["last"]
    if last is None:
        return max(1, math.ceil(cool_off.total_seconds()))
    return max(1, math.ceil((last + cool_off - timezone.now()).total_seconds()))
