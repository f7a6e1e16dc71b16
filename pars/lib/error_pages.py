"""The pages a refused or failed request gets: the site's look, its navigation, what
happened in plain words and a way back, instead of Django's bare "403 Forbidden".

Django calls these for an exception no view handled (``handler400`` … in pars/urls.py)
and for a failed CSRF check (``CSRF_FAILURE_VIEW``). Under /api/ the web service answers
in its own JSON error shape (pars/lib/api_errors.py) whatever these render.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

logger = logging.getLogger(__name__)

TEMPLATE = "error_page.html"

_PAGES = {
    400: (
        "This request could not be read",
        "Something in the request was malformed or no longer valid. Go back, reload the "
        "page and try again.",
    ),
    403: (
        "You do not have access to this page",
        "Your account is not allowed to do this here. If you think it should be, ask your "
        "provider's administrator (or the accreditor's staff) for the right role.",
    ),
    404: (
        "Page not found",
        "There is nothing at this address, or it belongs to an organization your account "
        "does not work for. Check the address, or start again from your dashboard.",
    ),
    500: (
        "Something went wrong on our side",
        "PARS could not finish this request; nothing was half-saved. Please try again in a "
        "moment. If it keeps happening, write to PARS support and say what you were doing.",
    ),
}


def back_url(request: HttpRequest | None) -> str:
    """Where "Go back" leads: the page the user came from on this site, else home."""
    if request is None:
        return "/"
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        parts = urlsplit(referer)
        if parts.path != request.path:
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return "/"


def error_page(
    request: HttpRequest | None, status: int, *, heading: str = "", text: str = ""
) -> HttpResponse:
    """A styled error page; `request` None renders without the user's menu (a server
    error must not depend on the database the request may have failed on)."""
    default_heading, default_text = _PAGES.get(status, _PAGES[400])
    context = {
        "status": status,
        "heading": heading or default_heading,
        "text": text or default_text,
        "back": back_url(request),
    }
    html: str
    try:
        html = render_to_string(TEMPLATE, context, request)
    except Exception:  # the error page itself must never fail
        logger.exception("Error page %s could not be rendered", status)
        html = (
            f"<!doctype html><title>{context['heading']}</title><h1>{context['heading']}</h1>"
            f"<p>{context['text']}</p><p><a href='/'>PARS home</a></p>"
        )
    return HttpResponse(html, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return error_page(None, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # Almost always a form left open past the session, or cookies blocked.
    return error_page(
        request,
        403,
        heading="This form has expired",
        text="For your security, forms work only for a while and only with cookies on. "
        "Go back, reload the page (you may need to sign in again) and send the form again.",
    )
