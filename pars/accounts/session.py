"""The idle timeout without a session write on every request.

Django renews a database session's expiry only when it saves the session; saving on
every request (``SESSION_SAVE_EVERY_REQUEST``) made every page view and every poll of an
upload's progress a write, and on SQLite a write waits for the one write lock (a
running upload's). :class:`SessionRefreshMiddleware` saves an unchanged session only
when its last save is older than ``REFRESH_SECONDS``: the session still ends
``SESSION_COOKIE_AGE`` (30 minutes) after the last request, give or take that minute.
It sits right after ``SessionMiddleware``, which does the save on the way out.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

REFRESHED_AT_SESSION_KEY = "pars_refreshed_at"
REFRESH_SECONDS = 60


class SessionRefreshMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty():
            return response  # no session (an anonymous visitor), or one just ended
        now = timezone.now().timestamp()
        refreshed = session.get(REFRESHED_AT_SESSION_KEY)
        if session.modified or refreshed is None or now - float(refreshed) >= REFRESH_SECONDS:
            session[REFRESHED_AT_SESSION_KEY] = now  # saved, with a new expiry, on the way out
        return response
