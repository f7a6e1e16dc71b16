"""API-key authentication for the web service: a key acts for exactly one provider.

A presented key is checked against the database on every request (so a revoked key
is refused at once), by its hash only: the secret itself is never stored or logged.
Its last-used time is written at most once a minute, to spare writes under load.
"""

import secrets
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from pars.accounts.access import ProviderAccess, get_api_access
from pars.accounts.models import ApiKey
from pars.accounts.services import API_KEY_PREFIX, _hash_secret
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


def key_prefix(token: str) -> str:
    """The public prefix of a well-formed token (safe to log), or ""."""
    parts = token.split("_", 2)
    if len(parts) == 3 and parts[0] == API_KEY_PREFIX:
        return parts[1][:16]
    return ""


def verify_api_key(token: str) -> ApiKey | None:
    """The live (unrevoked) key matching a presented token, or None. Reads only."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    _, prefix, secret = parts
    key = ApiKey.objects.select_related("provider").filter(prefix=prefix).first()
    if key is None or key.revoked_at is not None:
        return None
    if not secrets.compare_digest(key.secret_hash, _hash_secret(secret)):
        return None
    return key


def request_api_key(request: HttpRequest) -> ApiKey | None:
    """The valid key of this request's bearer token, looked up once per request
    (the rate-limit middleware and the authentication share the lookup)."""
    token = bearer_token(request)
    cached = getattr(request, _REQUEST_CACHE, None)
    if cached is not None and cached[0] == token:
        key: ApiKey | None = cached[1]
        return key
    key = verify_api_key(token) if token else None
    setattr(request, _REQUEST_CACHE, (token, key))
    return key


def touch_last_used(key: ApiKey) -> None:
    """Record use of the key, at most once per LAST_USED_RESOLUTION."""
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ProviderAccess | None:
        # Ninja passes the same token the header holds; the lookup is then shared.
        same = bearer_token(request) == token
        key = request_api_key(request) if same else verify_api_key(token)
        if key is None:
            return None  # 401; the middleware logs the refusal (prefix only)
        touch_last_used(key)
        security_log.api_key_used(request, key)
        return get_api_access(key.provider, key)
