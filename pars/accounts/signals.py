"""Things that happen at login."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from pars.accounts.middleware import stamp_login_time


@receiver(user_logged_in, dispatch_uid="pars.accounts.stamp_login_time")
def _stamp_login_time(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    # The absolute session lifetime counts from here (SessionLifetimeMiddleware).
    if request is not None and hasattr(request, "session"):
        stamp_login_time(request)
