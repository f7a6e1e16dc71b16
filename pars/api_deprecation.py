"""Deprecating an operation of the web service, as docs/api-changelog.md's policy says.

An operation is deprecated by decorating its view (under the route's decorator)::

    @router.get("/old", ...)
    @deprecated(since=date(2027, 1, 4), successor="/api/v1/new")
    def old(request): ...

Every answer of it then carries ``Deprecation`` (RFC 9745: ``@`` and the Unix time it was
deprecated), ``Sunset`` (RFC 8594: the HTTP date after which it may be removed) and a
``Link`` to its successor and to the changelog; the OpenAPI description marks it
``deprecated: true`` and documents the headers. The sunset is at least twelve months
after the deprecation (the policy), or the decorator refuses it.
"""

from __future__ import annotations

import calendar
import datetime
import functools
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from django.http import HttpRequest
from django.http.response import HttpResponseBase

# The shortest life of a deprecated operation, from its deprecation to its sunset.
MIN_NOTICE = datetime.timedelta(days=365)
CHANGELOG_PATH = "/api/v1/changelog"
# Where ParsApi keeps the answer ninja fills in for a view that returns data.
TEMPORAL_RESPONSE = "_pars_temporal_response"
MARK = "__pars_deprecation__"


@dataclass(frozen=True)
class Deprecation:
    since: datetime.date
    sunset: datetime.date
    successor: str

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": f"@{_timestamp(self.since)}",
            "Sunset": formatdate(_timestamp(self.sunset), usegmt=True),
            "Link": f'<{self.successor}>; rel="successor-version", '
            f'<{CHANGELOG_PATH}>; rel="deprecation"',
        }

    def note(self) -> str:
        return (
            f"**Deprecated** since {self.since.isoformat()}: use `{self.successor}`. It answers "
            f"until at least {self.sunset.isoformat()} (the `Sunset` header), with the "
            "`Deprecation`, `Sunset` and `Link` headers on every answer."
        )


def _timestamp(day: datetime.date) -> int:
    return calendar.timegm(day.timetuple())


def deprecated(
    *, since: datetime.date, sunset: datetime.date, successor: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view deprecated: its answers carry the headers, its operation the flag."""
    if sunset - since < MIN_NOTICE:
        raise ValueError(
            f"A deprecated operation answers for at least {MIN_NOTICE.days} days after its "
            f"deprecation: {sunset} is too early for {since}."
        )
    info = Deprecation(since, sunset, successor)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            result = view(request, *args, **kwargs)
            target = result if isinstance(result, HttpResponseBase) else None
            target = target or getattr(request, TEMPORAL_RESPONSE, None)
            if target is not None:
                for name, value in info.headers().items():
                    target[name] = value
            return result

        setattr(wrapper, MARK, info)
        return wrapper

    return decorate


def deprecation_of(view: Callable[..., Any]) -> Deprecation | None:
    found = getattr(view, MARK, None)
    return found if isinstance(found, Deprecation) else None


HEADER_DOCS: dict[str, Any] = {
    "Deprecation": {
        "description": "When the operation was deprecated (RFC 9745: @ and a Unix time)",
        "schema": {"type": "string"},
    },
    "Sunset": {
        "description": "After this date the operation may be removed (RFC 8594)",
        "schema": {"type": "string"},
    },
    "Link": {
        "description": "Its successor (rel=successor-version) and the changelog",
        "schema": {"type": "string"},
    },
}
