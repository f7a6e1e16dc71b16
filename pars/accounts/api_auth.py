"""API-key authentication for the web service: a key acts for exactly one provider.

A presented key is checked against the database on every request (so a revoked key
is refused at once; on PostgreSQL the same statement counts it for the rate limit, see
pars.accounts.ratelimit), by its hash only: the secret itself is never stored or logged.
Its last-used time is written at most once a minute, to spare writes under load.
"""

import secrets
from collections.abc import Sequence
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from pars.accounts import key_check
from pars.accounts.access import ProviderAccess, get_api_access
from pars.accounts.models import ApiKey, ApiKeyEnvironment
from pars.accounts.services import API_KEY_PREFIX, TEST_KEY_MARK, _hash_secret
from pars.lib import security_log

LAST_USED_RESOLUTION = timedelta(minutes=1)
_REQUEST_CACHE = "_pars_api_key"


def api_access(request: HttpRequest) -> ProviderAccess:
    """The ProviderAccess of the request's API key (set by ApiKeyAuth)."""
    access = request.auth  # type: ignore[attr-defined]
    assert isinstance(access, ProviderAccess)
    return access


def bearer_token(request: HttpRequest) -> str:
    """The token of an ``Authorization: Bearer …`` header, or ""."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def split_token(token: str) -> tuple[str, str, str] | None:
    """(environment, prefix, secret) of a well-formed token, or None.

    A live key reads ``pars_<prefix>_<secret>``, a test (sandbox) key
    ``pars_test_<prefix>_<secret>``; prefixes are hex, so never "test".
    """
    head, _, rest = token.strip().partition("_")
    if head != API_KEY_PREFIX:
        return None
    environment = ApiKeyEnvironment.LIVE
    if rest.startswith(f"{TEST_KEY_MARK}_"):
        environment, rest = ApiKeyEnvironment.TEST, rest[len(TEST_KEY_MARK) + 1 :]
    prefix, _, secret = rest.partition("_")
    if not prefix or not secret:
        return None
    return str(environment), prefix, secret


def key_prefix(token: str) -> str:
    """The public prefix of a well-formed token (safe to log), or ""."""
    parts = split_token(token)
    return parts[1][:16] if parts else ""


def verify_api_key(token: str) -> ApiKey | None:
    """The live (unrevoked) key matching a presented token, or None. Reads only."""
    parts = split_token(token)
    if parts is None:
        return None
    environment, prefix, secret = parts
    return verified_key(
        ApiKey.objects.select_related("provider").filter(prefix=prefix).first(),
        secret,
        environment,
    )


def verified_key(
    key: ApiKey | None, secret: str, environment: str = ApiKeyEnvironment.LIVE
) -> ApiKey | None:
    """`key` (found by a token's prefix) if it is live and `secret` is its secret.

    The token's environment must be the key's: a test key only works as ``pars_test_…``.
    """
    if key is None or key.revoked_at is not None or key.environment != environment:
        return None
    if not secrets.compare_digest(key.secret_hash, hash_secret(secret)):
        return None
    return key


def hash_secret(secret: str) -> str:
    return _hash_secret(secret)


def from_row[M: Model](model: type[M], values: Sequence[Any], connection: BaseDatabaseWrapper) -> M:
    """An instance of `model` from a raw row of its concrete columns, in their order,
    converted as the ORM converts what it reads."""
    attnames, converters = _row_converters(model, connection.alias)
    converted = []
    for (column, convert_all), value in zip(converters, values, strict=True):
        for convert in convert_all:
            value = convert(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, attnames, converted)


# Asked of the fields once per model and database, not on every request's key lookup.
@lru_cache(maxsize=16)
def _row_converters(
    model: type[Model], alias: str
) -> tuple[list[str], list[tuple[Any, tuple[Any, ...]]]]:
    connection = connections[alias]
    fields = model._meta.concrete_fields
    converters = []
    for field in fields:
        column = field.get_col(model._meta.db_table)
        found = (*connection.ops.get_db_converters(column), *field.get_db_converters(connection))
        converters.append((column, found))
    return [field.attname for field in fields], converters


def known_api_key(request: HttpRequest) -> bool:
    """Whether this request's key was looked up already."""
    cached = getattr(request, _REQUEST_CACHE, None)
    return cached is not None and cached[0] == bearer_token(request)


def remember_api_key(request: HttpRequest, token: str, key: ApiKey | None) -> None:
    """The key found for `token` (None: not a valid one), for the rest of the request."""
    setattr(request, _REQUEST_CACHE, (token, key))


def request_api_key(request: HttpRequest) -> ApiKey | None:
    """The valid key of this request's bearer token, looked up once per request
    (the rate-limit middleware and the authentication share the lookup)."""
    token = bearer_token(request)
    cached = getattr(request, _REQUEST_CACHE, None)
    if cached is not None and cached[0] == token:
        key: ApiKey | None = cached[1]
        return key
    key = verify_api_key(token) if token else None
    remember_api_key(request, token, key)
    return key


def touch_last_used(key: ApiKey, token: str = "") -> None:
    """Record use of the key, at most once per LAST_USED_RESOLUTION (and, for `token`,
    keep its remembered row version current: pars.accounts.key_check)."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    if not (token and key_check.stamp_last_used(token, key, now)):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ProviderAccess | None:
        # Ninja passes the same token the header holds; the lookup is then shared.
        same = bearer_token(request) == token
        key = request_api_key(request) if same else verify_api_key(token)
        if key is None:
            return None  # 401; the middleware logs the refusal (prefix only)
        touch_last_used(key, token if same else "")
        if not key_check.deferred(request):  # else logged once the check has passed
            security_log.api_key_used(request, key)
        return get_api_access(key.provider, key)
