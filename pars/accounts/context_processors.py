from typing import Any

from django.http import HttpRequest

from pars.accounts.access import providers_visible_to


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The provider switcher: the providers a (non-staff) user belongs to."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.is_staff:
        return {}
    return {"my_providers": list(providers_visible_to(user).order_by("name")[:50])}
