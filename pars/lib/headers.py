"""Response headers for every page: no caching of what Django answers, and no powerful
browser features.

- ``Cache-Control: no-store`` (with Django's ``add_never_cache_headers``) on every response
  a view gives that does not say otherwise: pages, the web service and downloads carry
  personal data (learners, contacts, reports) and must not stay in a browser's or a
  proxy's cache. Static files keep their caching: WhiteNoise answers them with its own
  ``Cache-Control``, and nothing under ``STATIC_URL`` is touched.
- ``Permissions-Policy`` turning off the browser features PARS never uses (camera,
  microphone, location, payment, USB…), for the pages and anything framed in them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers

PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    )
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.static_prefix = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else ""

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault(
            "Permissions-Policy", getattr(settings, "PARS_PERMISSIONS_POLICY", PERMISSIONS_POLICY)
        )
        static = bool(self.static_prefix) and request.path_info.startswith(self.static_prefix)
        if not static and "Cache-Control" not in response:
            add_never_cache_headers(response)
        return response
