"""Two-factor authentication (TOTP) with django-otp: who needs it, and its devices.

A user is *enrolled* once they have a confirmed authenticator-app (TOTP) device; at
enrolment they also get single-use recovery codes (a django-otp static device). A
signed-in user with a confirmed device must verify a code before using PARS.

Enrolment is required for accreditor staff (``PARS_MFA_REQUIRED_FOR_STAFF``) and
for members of a provider whose administrators ask for it (``Provider.require_mfa``)
before they use that provider's workspace.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user
from django_otp import verify_token as otp_verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from pars.providers.models import Provider

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from pars.accounts.models import User

APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10


def is_enrolled(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def has_confirmed_device(user: User) -> bool:
    """Whether the user has anything that can verify a sign-in (app or recovery codes)."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or StaticDevice.objects.filter(user=user, confirmed=True).exists()
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


def start_enrolment(user: User) -> TOTPDevice:
    """The user's unconfirmed app device (the same one on every reload of the page)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def qr_code_svg(device: TOTPDevice) -> str:
    """The otpauth:// address of the device as an inline SVG QR code."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2
    )
    svg: str = image.to_string(encoding="unicode")
    return svg


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32 (what apps accept when typed), in groups of four."""
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@transaction.atomic
def confirm_enrolment(device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm the app device with a code from it; returns the new recovery codes."""
    if device.confirmed or not device.verify_token(normalise_code(code)):
        return None
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user, confirmed=False).delete()
    return new_recovery_codes(device.user)


@transaction.atomic
def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes; the codes are shown once and stored only here."""
    static, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    static.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=code) for code in codes)
    return codes


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def remove_all_devices(user: User) -> None:
    """Turn two-factor authentication off for a user (by themselves or by staff)."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def verify_code(user: User, code: str) -> Device | None:
    """The confirmed device that accepts this code: a 6-digit app code or a recovery code.

    Each device throttles its own failures (django-otp), and a recovery code is deleted
    once used.
    """
    code = normalise_code(code)
    if not code:
        return None
    kind = TOTPDevice if code.isdigit() and len(code) <= 8 else StaticDevice
    for device in devices_for_user(user, confirmed=True):
        if isinstance(device, kind):
            matched: Device | None = otp_verify_token(user, device.persistent_id, code)
            if matched is not None:
                return matched
    return None


def normalise_code(code: str) -> str:
    return "".join(code.split()).lower()
