"""API-key authentication for the web service: a key acts for exactly one provider."""

from django.http import HttpRequest
from ninja.security import HttpBearer

from pars.accounts.access import ProviderAccess, get_api_access
from pars.accounts.services import authenticate_api_key


def api_access(request: HttpRequest) -> ProviderAccess:
    """The ProviderAccess of the request's API key (set by ApiKeyAuth)."""
    access = request.auth  # type: ignore[attr-defined]
    assert isinstance(access, ProviderAccess)
    return access


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ProviderAccess | None:
        key = authenticate_api_key(token)
        return get_api_access(key.provider, key) if key else None
