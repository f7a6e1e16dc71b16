from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from pars.accounts.models import User
from pars.notifications.services import unread_count


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    """The header's unread count: one COUNT, and only on pages that show the header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    assert isinstance(user, User)
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}
