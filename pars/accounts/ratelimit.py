"""Rate limits for the web service, sign-in and password resets, and logging of refusals.

:func:`hit` counts one request in a fixed window and says whether it is over its limit.
By default the counts live in the database (:class:`pars.models.RateLimitCounter`): one
``INSERT … ON CONFLICT DO UPDATE SET count = count + 1 … RETURNING count`` per request, so
the count is exact however many web processes on however many machines share the
database (a file cache's read-then-write increment over-admits under concurrency).
``PARS_RATELIMIT_STORE=cache`` counts in the default cache instead, with ``add``/``incr``:
atomic only on Redis or Memcached, never on the file or local-memory caches.

:class:`RateLimitMiddleware` answers over-limit requests with ``429 Too Many Requests``
and a ``Retry-After`` header (seconds until the window ends):

- the web service (``/api/``) per API key: ``PARS_API_RATE`` (default ``600/m``);
- the web service without a valid key, per client address: ``PARS_API_ANON_RATE``
  (default ``60/m``), so guessing keys is slow;
- sign-in attempts (POSTs to the login page and to the admin's login page) per client
  address: ``PARS_LOGIN_RATE`` (default ``30/m``), and per typed email whatever the
  address: ``PARS_LOGIN_EMAIL_RATE`` (default ``20/h``), on top of axes' lockout of one
  email + address; a password reset clears the email's count;
- password-reset requests per client address: ``PARS_PASSWORD_RESET_RATE`` (``20/h``).

Reset mails per target email (``PARS_PASSWORD_RESET_EMAIL_RATE``, ``5/h``) are limited by
the reset form itself, which answers the same page either way (no enumeration).

Rates read ``count/period`` (``"100/m"``, ``"5/10s"``, ``"1000/h"``); an empty rate turns
that limit off and ``RATELIMIT_ENABLE = False`` turns them all off (the test suite does).
The client address is ``REMOTE_ADDR`` unless django-ratelimit's ``RATELIMIT_IP_META_KEY``
says otherwise (behind a proxy).

On the way out it writes security log lines (``pars.lib.security_log``) for 401
responses of the web service and for 403 and 404 responses in providers'
workspaces (``/p/``), the staff pages (``/staff/``) and the web service: the tenancy
rule answers another provider's data with 404, so probing shows up there.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template import engines
from django.urls import NoReverseMatch, reverse
from django_ratelimit.core import _get_ip  # type: ignore[import-untyped]

from pars.accounts import key_check
from pars.accounts.api_auth import (
    bearer_token,
    from_row,
    hash_secret,
    key_prefix,
    known_api_key,
    remember_api_key,
    request_api_key,
    split_token,
    verified_key,
)
from pars.accounts.models import ApiKey
from pars.lib import prepared, security_log
from pars.lib.api_errors import RULE_RATE_LIMITED, error_body
from pars.lib.prepared import prepared_cursor
from pars.models import RateLimitCounter
from pars.providers.models import Provider

DEFAULT_API_RATE = "600/m"
DEFAULT_API_ANON_RATE = "60/m"
DEFAULT_LOGIN_RATE = "30/m"
DEFAULT_LOGIN_EMAIL_RATE = "20/h"
DEFAULT_PASSWORD_RESET_RATE = "20/h"
DEFAULT_PASSWORD_RESET_EMAIL_RATE = "5/h"
LOGGED_PREFIXES = ("/p/", "/staff/", "/api/")

LOGIN_EMAIL_GROUP = "pars.login.email"
PASSWORD_RESET_EMAIL_GROUP = "pars.password_reset.email"

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"(\d+)/(\d*)([smhd])")
_PRUNE_EVERY = 500  # increments per process between deletions of ended windows
_increments = itertools.count(1)


# ---------------------------------------------------------------------------
# Counting


def enabled() -> bool:
    return bool(getattr(settings, "RATELIMIT_ENABLE", True))


def parse_rate(rate: str) -> tuple[int, int]:
    """``"5/10s"`` → (5, 10): requests allowed, window length in seconds."""
    match = _RATE.fullmatch(rate.strip())
    if match is None:
        raise ImproperlyConfigured(f"A rate limit reads like 100/m or 5/10s, not {rate!r}.")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * _PERIODS[unit]


def hit(group: str, value: str, rate: str) -> int | None:
    """Count one request of ``value`` (a key, an address, an email) against ``group``'s
    ``rate``: the seconds until the window ends if it is over the limit, else None."""
    if not rate or not enabled():
        return None
    limit, period = parse_rate(rate)
    bucket = _bucket(group, value)
    now = int(time.time())
    window_end = _window_end(bucket, period, now)
    if _store() == "cache":
        count = _increment_cache(bucket, window_end, now)
    else:
        count = _increment_database(bucket, window_end, now)
    if count <= limit:
        return None
    return max(1, window_end - now)


def clear(group: str, value: str, rate: str) -> None:
    """Forget ``value``'s count in ``group`` (a password reset clears sign-in counts)."""
    if not rate:
        return
    bucket = _bucket(group, value)
    if _store() == "cache":
        _, period = parse_rate(rate)
        cache.delete(_cache_key(bucket, _window_end(bucket, period, int(time.time()))))
    else:
        RateLimitCounter.objects.filter(bucket=bucket).delete()


def _store() -> str:
    store = str(getattr(settings, "PARS_RATELIMIT_STORE", "database") or "database")
    if store not in ("database", "cache"):
        raise ImproperlyConfigured("PARS_RATELIMIT_STORE is 'database' or 'cache'.")
    return store


def _bucket(group: str, value: str) -> str:
    # Hashed: the counters never hold an address or an email in clear.
    return hashlib.sha256(f"{group}\0{value}".encode()).hexdigest()


def _window_end(bucket: str, period: int, now: int) -> int:
    """When the current window of this bucket ends; windows of different buckets are
    staggered (as django-ratelimit's) so that they do not all restart at once."""
    offset = int(bucket[:8], 16) % period
    return now - (now - offset) % period + period


# One statement, atomic on both databases PARS runs on (SQLite 3.35+, PostgreSQL): a new
# window starts at 1; a request stamped with an older window (a machine's clock behind)
# counts into the newer one.
_UPSERT = """
INSERT INTO {table} (bucket, window_end, count) VALUES (%s, %s, 1)
ON CONFLICT (bucket) DO UPDATE SET
    count = CASE WHEN {table}.window_end >= excluded.window_end
                 THEN {table}.count + 1 ELSE 1 END,
    window_end = CASE WHEN {table}.window_end >= excluded.window_end
                      THEN {table}.window_end ELSE excluded.window_end END
RETURNING count
"""


def _increment_database(bucket: str, window_end: int, now: int) -> int:
    connection = connections[router.db_for_write(RateLimitCounter)]
    if connection.vendor not in ("postgresql", "sqlite"):
        raise ImproperlyConfigured(
            "Rate limits count in PostgreSQL or SQLite; on another database set "
            "PARS_RATELIMIT_STORE=cache with a Redis cache."
        )
    table = connection.ops.quote_name(RateLimitCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT.format(table=table), [bucket, window_end])
        (count,) = cursor.fetchone()
    if next(_increments) % _PRUNE_EVERY == 0:
        RateLimitCounter.objects.filter(window_end__lt=now).delete()
    return int(count)


def _cache_key(bucket: str, window_end: int) -> str:
    return f"pars.ratelimit:{bucket}:{window_end}"


def _increment_cache(bucket: str, window_end: int, now: int) -> int:
    key = _cache_key(bucket, window_end)
    timeout = window_end - now + 5
    if cache.add(key, 1, timeout):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr: this request opens a new count
        cache.add(key, 0, timeout)
        return int(cache.incr(key))


def client_address(request: HttpRequest) -> str:
    """The client's address as the limits count it (``RATELIMIT_IP_META_KEY``).

    A request without one (a misconfigured proxy header, a WSGI test client) is counted
    under one shared key rather than failing with a 500."""
    try:
        return str(_get_ip(request))
    except (KeyError, ImproperlyConfigured):
        return "unknown"


def typed_email(value: object) -> str:
    """An email as typed into a form, as it is counted and looked up: case does not matter."""
    return value.strip().lower() if isinstance(value, str) else ""


# ---------------------------------------------------------------------------
# The middleware


_PAGE_429 = """{% extends "base.html" %}
{% block title %}Too many attempts{% endblock %}
{% block content %}
<article style="max-width: 34rem; margin: 2rem auto;">
  <h1>{{ heading }}</h1>
  <p>{{ text }} Please wait {{ seconds }} second{{ seconds|pluralize }} and try again.</p>
  {% if reset %}<p>Or <a href="{% url 'accounts:password_reset' %}">reset your password</a>:
     that always works.</p>{% endif %}
</article>
{% endblock %}"""


class RateLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        check = _deferred_check(request)
        if check is not None:
            response = key_check.run_deferred(check, request, self.get_response)
            if response is not None:
                key = request_api_key(request)
                assert key is not None
                security_log.api_key_used(request, key)  # once its check passed
                log_refusal(request, response)
                return response
            # The check failed: nothing was written; the request goes the ordinary way.
            key_check.forget(bearer_token(request))
            remember_api_key(request, "", None)
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
        if request.method != "POST":
            return None
        if path in _login_paths():
            return self._check_login(request)
        if path == _reverse("accounts:password_reset"):
            seconds = hit(
                "pars.password_reset",
                client_address(request),
                _setting("PARS_PASSWORD_RESET_RATE", DEFAULT_PASSWORD_RESET_RATE),
            )
            if seconds is not None:
                security_log.rate_limited(request, "password_reset")
                return _page_429(
                    request,
                    seconds,
                    "Too many password reset requests",
                    "Too many password resets were asked for from your address.",
                )
        return None

    def _check_login(self, request: HttpRequest) -> HttpResponseBase | None:
        seconds = hit(
            "pars.login",
            client_address(request),
            _setting("PARS_LOGIN_RATE", DEFAULT_LOGIN_RATE),
        )
        if seconds is not None:
            security_log.rate_limited(request, "login")
            return _page_429(
                request,
                seconds,
                "Too many login attempts",
                "Too many logins were tried from your address.",
            )
        email = typed_email(request.POST.get("username"))
        if not email:
            return None
        seconds = hit(LOGIN_EMAIL_GROUP, email, login_email_rate())
        if seconds is not None:
            # Per account whatever the address, against guessing from many addresses;
            # a password reset clears it (pars.accounts.views.PasswordResetConfirmView).
            security_log.rate_limited(request, "login_email")
            return _page_429(
                request,
                seconds,
                "Too many login attempts",
                "Too many logins were tried with this email.",
                reset=True,
            )
        return None

    def _check_api(self, request: HttpRequest) -> HttpResponseBase | None:
        key, seconds = _key_and_hit(request)
        if key is not None:
            scope, prefix = "api_key", key.prefix
        else:
            seconds = hit(
                "pars.api.anon",
                client_address(request),
                _setting("PARS_API_ANON_RATE", DEFAULT_API_ANON_RATE),
            )
            scope, prefix = "api_address", key_prefix(bearer_token(request))
        if seconds is None:
            return None
        security_log.rate_limited(request, scope, prefix)
        plural = "s" if seconds != 1 else ""
        message = f"Too many requests: retry in {seconds} second{plural}."
        response = JsonResponse(error_body("Authorization", RULE_RATE_LIMITED, message), status=429)
        response["Retry-After"] = str(seconds)
        return response


API_KEY_GROUP = "pars.api.key"


@lru_cache(maxsize=1)
def _deferring_paths() -> frozenset[str]:
    """Where the key check may travel with the write (pars.accounts.key_check)."""
    return frozenset({reverse("api-v1:activity_create")})


def _deferred_check(request: HttpRequest) -> key_check.PendingCheck | None:
    """The key check of a request that may send it with its write, or None (checked
    now, the ordinary way): a POST of a new activity with a token verified before, counted
    in the database, on PostgreSQL with pipelines, outside a transaction."""
    if request.method != "POST" or request.path_info not in _deferring_paths():
        return None
    # These run in a transaction (a dry run's is rolled back): counted there, the count
    # could be undone. Their check runs first, on its own.
    meta = request.META  # read directly: request.headers and .GET would be built for this
    if "HTTP_IDEMPOTENCY_KEY" in meta or "HTTP_IF_MATCH" in meta:
        return None
    if "dry_run" in meta.get("QUERY_STRING", ""):
        return None
    rate = _setting("PARS_API_RATE", DEFAULT_API_RATE)
    token = bearer_token(request)
    if not (token and rate and enabled() and _store() == "database"):
        return None
    verified = key_check.recalled(token)
    alias = router.db_for_write(RateLimitCounter)
    connection = connections[alias]
    if verified is None or connection.vendor != "postgresql" or not prepared.pipelines():
        return None
    if alias != DEFAULT_DB_ALIAS:  # the check runs on the connection the write uses
        return None
    if not connection.get_autocommit():
        return None
    limit, period = parse_rate(rate)
    bucket = _bucket(API_KEY_GROUP, verified.key.prefix)
    window_end = _window_end(bucket, period, int(time.time()))
    remember_api_key(request, token, key_check.own_copy(verified))
    return key_check.PendingCheck(verified, bucket, window_end, limit)


def _key_and_hit(request: HttpRequest) -> tuple[ApiKey | None, int | None]:
    """The request's valid API key (None without one) and, for a valid key, its count
    against ``PARS_API_RATE`` (:func:`hit`'s answer; None for no key). On PostgreSQL with
    the counters in the database, one statement both finds the key and counts it."""
    rate = _setting("PARS_API_RATE", DEFAULT_API_RATE)
    token = bearer_token(request)
    if token and rate and enabled() and _store() == "database" and not known_api_key(request):
        found = _find_and_count(token, rate)
        if found is not None:
            key, seconds = found
            remember_api_key(request, token, key)
            return key, seconds
    key = request_api_key(request)
    if key is None:
        return None, None
    # Counted per key (its public prefix: unique, known before the key is read).
    return key, hit(API_KEY_GROUP, key.prefix, rate)


def _find_and_count(token: str, rate: str) -> tuple[ApiKey | None, int | None] | None:
    """PostgreSQL: the key of `token` (its provider with it) read and, when the token is
    valid, counted, in one round trip; checked against the database on every request,
    so that a revoked key is refused at once. None: not on PostgreSQL."""
    connection = connections[router.db_for_write(RateLimitCounter)]
    if connection.vendor != "postgresql" or len(token.split("_", 2)) != 3:
        return None
    parts = split_token(token)  # pars_<prefix>_<secret> or pars_test_<prefix>_<secret>
    if parts is None:
        return None, None
    environment, prefix, secret = parts
    limit, period = parse_rate(rate)
    bucket = _bucket(API_KEY_GROUP, prefix)
    now = int(time.time())
    window_end = _window_end(bucket, period, now)
    # On its own (autocommit, as the middleware runs) the count need not wait for the disk.
    sql = _FIND_AND_COUNT_ASYNC if connection.get_autocommit() else _FIND_AND_COUNT
    with prepared_cursor(connection) as cursor:  # every API request runs it
        cursor.execute(sql, [prefix, bucket, window_end, hash_secret(secret), environment])
        row = cursor.fetchone()
    if row is None:
        return None, None
    *values, key_version, provider_version, count = row
    key = verified_key(
        from_row(ApiKey, values[: len(_KEY_FIELDS)], connection), secret, environment
    )
    if key is None:
        return None, None  # a wrong secret: counted per address by the caller
    key.provider = from_row(Provider, values[len(_KEY_FIELDS) :], connection)
    key_check.remember(token, key, key_version, provider_version)
    if count is None or count <= limit:
        return key, None
    return key, max(1, window_end - now)


_KEY_FIELDS = ApiKey._meta.concrete_fields
_PROVIDER_FIELDS = Provider._meta.concrete_fields
_COUNTER = RateLimitCounter._meta.db_table
# The key and its provider by the token's prefix, with their rows' versions (for
# pars.accounts.key_check); the counter of a live key whose secret matches (the secret is
# checked again, in constant time, before the key is used).
# Table and column names come from the models, never from input.
_FIND_AND_COUNT = (  # noqa: S608
    "WITH k AS (SELECT {key_columns}, {provider_columns}, "
    "k.xmin::text AS key_version, p.xmin::text AS provider_version FROM {keys} k "
    "JOIN {providers} p ON p.id = k.provider_id WHERE k.prefix = %s), "
    "c AS (INSERT INTO {counter} (bucket, window_end, count) SELECT %s, %s, 1 FROM k{fast} "
    "WHERE k.revoked_at IS NULL AND k.secret_hash = %s AND k.environment = %s "
    "ON CONFLICT (bucket) DO UPDATE SET "
    "count = CASE WHEN {counter}.window_end >= excluded.window_end "
    "THEN {counter}.count + 1 ELSE 1 END, "
    "window_end = GREATEST({counter}.window_end, excluded.window_end) RETURNING count) "
    "SELECT k.*, (SELECT count FROM c) FROM k"
).format(
    key_columns=", ".join(f"k.{f.column}" for f in _KEY_FIELDS),
    provider_columns=", ".join(f"p.{f.column} AS p_{f.column}" for f in _PROVIDER_FIELDS),
    keys=ApiKey._meta.db_table,
    providers=Provider._meta.db_table,
    counter=_COUNTER,
    fast="",
)
# The same as a transaction of its own that commits without waiting for the disk
# (synchronous_commit off for it alone, set_config's third argument): its only write is
# the count, and a crash of the database server loses at most the last fraction of a
# second of counts (a client may then get a few more requests in that window), never a key
# or a revocation. The write of a request waits for the disk as before; a fsync per
# request saved. Only in autocommit: in a caller's transaction it would hold for the whole
# of that transaction.
_FIND_AND_COUNT_ASYNC = _FIND_AND_COUNT.replace(
    "FROM k WHERE k.revoked_at",
    "FROM k, (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit "
    "WHERE k.revoked_at",
)
assert _FIND_AND_COUNT_ASYNC != _FIND_AND_COUNT


def login_email_rate() -> str:
    return _setting("PARS_LOGIN_EMAIL_RATE", DEFAULT_LOGIN_EMAIL_RATE)


def password_reset_email_rate() -> str:
    return _setting("PARS_PASSWORD_RESET_EMAIL_RATE", DEFAULT_PASSWORD_RESET_EMAIL_RATE)


def _setting(name: str, default: str) -> str:
    return str(getattr(settings, name, default) or "")


def _reverse(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


def _login_paths() -> set[str]:
    # The admin's login page signs in with the same accounts: the same limits apply.
    return {_reverse("accounts:login"), _reverse("admin:login")} - {""}


def _page_429(
    request: HttpRequest, seconds: int, heading: str, text: str, *, reset: bool = False
) -> HttpResponse:
    context = {"seconds": seconds, "heading": heading, "text": text, "reset": reset}
    try:
        html = engines["django"].from_string(_PAGE_429).render(context, request)
    except Exception:  # the page must not fail: fall back to plain HTML
        html = (
            f"<!doctype html><title>Too many attempts</title><h1>{heading}</h1>"
            f"<p>{text} Please wait {seconds} seconds and try again.</p>"
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
            security_log.api_key_rejected(request, key_prefix(bearer_token(request)))
    elif status == 403:
        security_log.permission_denied(request)
    else:
        security_log.not_found(request)
