"""The account emails: "System Access Granted", the password reset, two-factor changes."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from pars.accounts.models import User
from pars.accounts.tokens import invitation_token_generator, password_reset_token_generator
from pars.providers.models import Provider

ACCESS_GRANTED_SUBJECT = "System Access Granted"
PASSWORD_RESET_SUBJECT = "Reset your password"

# What changed in a user's two-factor authentication, and the subject that says so.
TWO_FACTOR_CHANGES = {
    "enrolled": "Two-factor authentication is on",
    "disabled": "Two-factor authentication is off",
    "reset": "Your two-factor authentication was reset",
    "recovery_codes": "New recovery codes",
}


def _absolute(path: str) -> str:
    return settings.PARS_BASE_URL.rstrip("/") + path


def _subject(text: str) -> str:
    return f"{settings.PARS_SITE_NAME} - {text}"


def send_access_granted(user: User, provider: Provider) -> None:
    """Tell a user they may now use PARS for a provider; new users get a Set Password link."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    set_password_url = None
    if not user.has_usable_password():
        token = invitation_token_generator.make_token(user)
        set_password_url = _absolute(
            reverse("accounts:set_password", kwargs={"uidb64": uid, "token": token})
        )
    context = {
        "user": user,
        "provider": provider,
        "set_password_url": set_password_url,
        "login_url": _absolute(reverse("accounts:login")),
        "valid_hours": int(settings.PARS_INVITATION_MAX_AGE.total_seconds() // 3600),
        "site_name": settings.PARS_SITE_NAME,
        "support_email": settings.PARS_SUPPORT_EMAIL,
    }
    send_mail(
        _subject(ACCESS_GRANTED_SUBJECT),
        render_to_string("accounts/email/access_granted.txt", context),
        None,
        [user.email],
    )


def send_password_reset(user: User) -> None:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = password_reset_token_generator.make_token(user)
    context = {
        "user": user,
        "reset_url": _absolute(
            reverse("accounts:password_reset_confirm", kwargs={"uidb64": uid, "token": token})
        ),
        "valid_minutes": int(settings.PARS_PASSWORD_RESET_MAX_AGE.total_seconds() // 60),
        "site_name": settings.PARS_SITE_NAME,
        "support_email": settings.PARS_SUPPORT_EMAIL,
    }
    send_mail(
        _subject(PASSWORD_RESET_SUBJECT),
        render_to_string("accounts/email/password_reset.txt", context),
        None,
        [user.email],
    )


def send_two_factor_changed(user: User, change: str) -> None:
    """Tell a user their two-factor authentication changed, so that they notice if it
    was not them (no codes or secrets in the mail)."""
    context = {
        "user": user,
        "change": change,
        "settings_url": _absolute(reverse("accounts:mfa_settings")),
        "site_name": settings.PARS_SITE_NAME,
        "support_email": settings.PARS_SUPPORT_EMAIL,
    }
    send_mail(
        _subject(TWO_FACTOR_CHANGES[change]),
        render_to_string("accounts/email/two_factor_changed.txt", context),
        None,
        [user.email],
    )
