"""Refuse to run in production with the development secret key."""

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def insecure_secret_key_in_use() -> bool:
    return not settings.DEBUG and settings.SECRET_KEY == settings.INSECURE_DEFAULT_SECRET_KEY


def refuse_insecure_secret_key() -> None:
    """Called by the WSGI/ASGI entry points, which run no system checks."""
    if insecure_secret_key_in_use():
        raise ImproperlyConfigured(
            "PARS_SECRET_KEY is not set and PARS_DEBUG is off: set PARS_SECRET_KEY to a long "
            "random value (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )


@checks.register(checks.Tags.security)
def check_secret_key(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    if insecure_secret_key_in_use():
        return [
            checks.Error(
                "The development secret key is in use while PARS_DEBUG is off.",
                hint="Set PARS_SECRET_KEY to a long random value.",
                id="pars.E001",
            )
        ]
    return []
