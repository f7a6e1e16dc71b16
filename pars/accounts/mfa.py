"""Two-factor authentication (TOTP) with django-otp: who needs it, and its devices.

A user is *enrolled* once they have a confirmed authenticator-app (TOTP) device; at
enrollment they also get single-use recovery codes. A signed-in user with a confirmed
device must verify a code before using PARS.

The devices are our own django-otp models (``AuthenticatorDevice``,
``RecoveryCodeDevice`` in pars.accounts.models): the TOTP seed is stored encrypted
(pars.lib.field_crypto), recovery codes only as salted password hashes
(pars.accounts.recovery_codes).

Enrollment is required for accreditor staff (``PARS_MFA_REQUIRED_FOR_STAFF``) and
for members of a provider whose administrators ask for it (``Provider.require_mfa``)
before they use that provider's workspace. Every change (on, off, reset by staff, new
recovery codes) is a security-log event and an email to the user.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django_otp import verify_token as otp_verify_token

from pars.accounts import recovery_codes
from pars.accounts.models import AuthenticatorDevice, RecoveryCode, RecoveryCodeDevice
from pars.accounts.tasks import send_two_factor_email
from pars.lib import security_log
from pars.providers.models import Provider

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest
    from django_otp.models import Device

    from pars.accounts.models import User

APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10


def is_enrolled(user: User) -> bool:
    return AuthenticatorDevice.objects.filter(user=user, confirmed=True).exists()


def has_confirmed_device(user: User) -> bool:
    """Whether the user has anything that can verify a sign-in (app or recovery codes)."""
    return (
        AuthenticatorDevice.objects.filter(user=user, confirmed=True).exists()
        or RecoveryCodeDevice.objects.filter(user=user, confirmed=True).exists()
    )


def is_verified(user: User | AnonymousUser) -> bool:
    """Set by django_otp.middleware.OTPMiddleware: a code was verified in this session."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def required_for_staff(user: User | AnonymousUser) -> bool:
    return bool(settings.PARS_MFA_REQUIRED_FOR_STAFF and user.is_authenticated and user.is_staff)


def provider_requires_mfa(provider_id: str) -> bool:
    return Provider.objects.filter(provider_id=provider_id, require_mfa=True).exists()


def required_for(user: User) -> bool:
    """Whether the user must keep two-factor authentication on (staff, or a provider asks)."""
    return (
        required_for_staff(user)
        or Provider.objects.filter(memberships__user=user, require_mfa=True).exists()
    )


def start_enrolment(user: User) -> AuthenticatorDevice:
    """The user's unconfirmed app device (the same one on every reload of the page)."""
    device = AuthenticatorDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = AuthenticatorDevice.objects.create(
            user=user, name=APP_DEVICE_NAME, confirmed=False
        )
    return device


def qr_code_svg(device: AuthenticatorDevice) -> str:
    """The otpauth:// address of the device as an inline SVG QR code."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2
    )
    svg: str = image.to_string(encoding="unicode")
    return svg


def secret_text(device: AuthenticatorDevice) -> str:
    """The secret in base32 (what apps accept when typed), in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def confirm_enrolment(
    device: AuthenticatorDevice, code: str, request: HttpRequest | None = None
) -> list[str] | None:
    """Confirm the app device with a code from it; returns the new recovery codes."""
    with transaction.atomic():
        if device.confirmed or not device.verify_token(normalise_code(code)):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        AuthenticatorDevice.objects.filter(user=device.user, confirmed=False).delete()
        codes = _replace_recovery_codes(device.user)
    security_log.mfa_enrolled(request, device.user)
    send_two_factor_email.enqueue(device.user_id, "enrolled")
    return codes


def new_recovery_codes(user: User, request: HttpRequest | None = None) -> list[str]:
    """Replace the user's recovery codes; the codes are shown once and never stored."""
    codes = _replace_recovery_codes(user)
    security_log.mfa_recovery_codes_replaced(request, user)
    send_two_factor_email.enqueue(user.pk, "recovery_codes")
    return codes


@transaction.atomic
def _replace_recovery_codes(user: User) -> list[str]:
    device, _ = RecoveryCodeDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    RecoveryCode.objects.filter(device__user=user).delete()
    codes = [recovery_codes.generate() for _ in range(RECOVERY_CODE_COUNT)]
    stored = (recovery_codes.for_storage(code) for code in codes)
    RecoveryCode.objects.bulk_create(
        RecoveryCode(device=device, lookup=lookup, code_hash=code_hash)
        for lookup, code_hash in stored
    )
    return codes


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def remove_all_devices(user: User) -> bool:
    """Remove the user's app and recovery codes; whether there was anything to remove."""
    apps, _ = AuthenticatorDevice.objects.filter(user=user).delete()
    codes, _ = RecoveryCodeDevice.objects.filter(user=user).delete()
    return bool(apps or codes)


def turn_off(user: User, request: HttpRequest | None = None) -> None:
    """The user turns two-factor authentication off (the view asked for a code first)."""
    remove_all_devices(user)
    security_log.mfa_disabled(request, user)
    send_two_factor_email.enqueue(user.pk, "disabled")


def reset_by_staff(staff: User, user: User, request: HttpRequest | None = None) -> bool:
    """Staff remove a user's devices (a lost phone). The caller checks that ``staff`` may
    (``access.may_administer_user``). Whether the user had anything to remove."""
    if not remove_all_devices(user):
        return False
    security_log.mfa_reset(request, staff, user)
    send_two_factor_email.enqueue(user.pk, "reset")
    return True


def verify_code(
    user: User, code: str, request: HttpRequest | None = None
) -> AuthenticatorDevice | RecoveryCodeDevice | None:
    """The confirmed device that accepts this code: a 6-digit app code or a recovery code.

    Each device throttles its own failures, and a recovery code is deleted once used.
    Failures and used recovery codes are logged.
    """
    code = normalise_code(code)
    if not code:
        return None
    kind: type[AuthenticatorDevice] | type[RecoveryCodeDevice] = (
        AuthenticatorDevice if code.isdigit() and len(code) <= 8 else RecoveryCodeDevice
    )
    for device in kind.objects.filter(user=user, confirmed=True).order_by("pk"):
        # django-otp locks the device row while it checks (throttling, single use).
        matched: Device | None = otp_verify_token(user, device.persistent_id, code)
        if isinstance(matched, AuthenticatorDevice | RecoveryCodeDevice):
            if isinstance(matched, RecoveryCodeDevice):
                security_log.mfa_recovery_code_used(request, user, recovery_codes_left(user))
            return matched
    security_log.mfa_failed(request, user)
    return None


def normalise_code(code: str) -> str:
    return "".join(code.split()).lower()
