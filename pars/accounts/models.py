"""People who sign in, what they may do for which provider, and API keys."""

from __future__ import annotations

import secrets
import time
from base64 import b32encode
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from pars.accounts import recovery_codes
from pars.lib import field_crypto
from pars.providers.models import Provider, RecognizedAccreditor


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        """The user signing in as ``username``: emails match whatever their case."""
        email = (username or "").strip()
        users = list(self.filter(email__iexact=email)[:3])
        if len(users) > 1:  # rows from before emails were stored lower-case
            users = [user for user in users if user.email == email]
        if len(users) != 1:
            raise self.model.DoesNotExist
        return users[0]


class User(AbstractUser):
    """A person, identified by email address.

    ``is_staff`` marks accreditor staff. Staff with a ``staff_accreditor`` work for a
    state medical society and see only the providers it accredits.
    """

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    staff_accreditor = models.ForeignKey(
        RecognizedAccreditor,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff",
        help_text="Set for state-accreditor staff: they see only this accreditor's providers.",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def clean(self) -> None:
        super().clean()
        # Before the unique check of a form (the admin's): one account per address, any case.
        self.email = self.email.strip().lower()

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)

    @property
    def is_accreditor_staff(self) -> bool:
        """Staff of the accreditor itself, who see every provider."""
        return self.is_active and self.is_staff and self.staff_accreditor_id is None

    @property
    def is_state_accreditor_staff(self) -> bool:
        return self.is_active and self.is_staff and self.staff_accreditor_id is not None


class Role(models.TextChoices):
    ADMIN = "admin", "Provider administrator"
    EDITOR = "editor", "Editor"
    READONLY = "readonly", "Read-only"


class Membership(models.Model):
    """A user's role at one provider; a user may belong to several providers."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["provider__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="one_membership_per_provider")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.provider}"


class ApiKeyEnvironment(models.TextChoices):
    LIVE = "live", "Live"
    TEST = "test", "Test (sandbox)"


class ApiKey(models.Model):
    """A web-service credential for one provider. Only a hash of the secret is kept.

    A test key (``pars_test_…``) belongs to the live provider's page but acts on its
    sandbox (``Provider.sandbox``): ``provider`` is then the sandbox provider.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    environment = models.CharField(
        max_length=4, choices=ApiKeyEnvironment.choices, default=ApiKeyEnvironment.LIVE
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.provider.provider_id})"


# Two-factor devices (django-otp). Our own models instead of django-otp's TOTP and static
# plugins, whose seeds and codes sit in the database in clear (pars.accounts.mfa).


class DeviceManager[D: models.Model](models.Manager[D]):
    """django-otp's ``DeviceManager``, typed (django-otp has no type hints)."""

    def devices_for_user(self, user: Any, confirmed: bool | None = None) -> models.QuerySet[D]:
        devices = self.filter(user=user)
        return devices if confirmed is None else devices.filter(confirmed=bool(confirmed))


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device, models.Model):
    """An authenticator app (TOTP, RFC 6238), verified as django-otp's ``TOTPDevice`` does.

    The seed is stored encrypted (:mod:`pars.lib.field_crypto`); ``bin_key`` decrypts it.
    """

    KEY_BYTES = 20

    objects: ClassVar[DeviceManager[AuthenticatorDevice]] = DeviceManager()

    encrypted_key = models.TextField(help_text="The TOTP seed, encrypted with a settings key.")
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(
        default=-1, help_text="The time step of the last accepted code (each is used once)."
    )

    class Meta:
        verbose_name = "authenticator app"

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.encrypted_key:
            self.set_key(secrets.token_bytes(self.KEY_BYTES))
        super().save(*args, **kwargs)

    def set_key(self, key: bytes) -> None:
        self.encrypted_key = field_crypto.encrypt(key)

    @property
    def bin_key(self) -> bytes:
        return field_crypto.decrypt(self.encrypted_key)

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1))

    def verify_token(self, token: object) -> bool:
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            number = int(str(token))
        except ValueError:
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            # Only a time step after the last accepted one: a code is never accepted twice.
            verified = totp.verify(number, self.tolerance, self.last_t + 1)
            if verified:
                self.last_t = totp.t()
                self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    @property
    def config_url(self) -> str:
        """The otpauth:// address that apps read from the QR code."""
        issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
        label = f"{issuer}:{self.user.get_username()}" if issuer else self.user.get_username()
        params = urlencode(
            {
                "secret": b32encode(self.bin_key).decode(),
                "algorithm": "SHA1",
                "digits": self.digits,
                "period": self.step,
            }
        )
        if issuer:
            params += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{params}"


class RecoveryCodeDevice(TimestampMixin, ThrottlingMixin, Device, models.Model):
    """A user's single-use recovery codes (:class:`RecoveryCode`, hashed)."""

    objects: ClassVar[DeviceManager[RecoveryCodeDevice]] = DeviceManager()

    class Meta:
        verbose_name = "recovery codes"

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1))

    def verify_token(self, token: object) -> bool:
        """Use up the matching code. Callers lock the device row (django_otp.verify_token)."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        typed = str(token)
        candidates = list(self.codes.filter(lookup__in=recovery_codes.tags(typed)))
        # One password hash whether or not a tag matched (a second one is rare: 16-bit tags).
        matched = next((c for c in candidates if recovery_codes.matches(typed, c.code_hash)), None)
        if not candidates:
            recovery_codes.no_match(typed)
        # Deleted before it counts, so two requests with one code cannot both pass.
        if matched is not None and RecoveryCode.objects.filter(pk=matched.pk).delete()[0]:
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.throttle_increment(commit=True)
        return False


class RecoveryCode(models.Model):
    """One unused recovery code: a salted password hash and a keyed lookup tag
    (pars.accounts.recovery_codes), never the code."""

    device = models.ForeignKey(RecoveryCodeDevice, on_delete=models.CASCADE, related_name="codes")
    lookup = models.CharField(max_length=8)
    code_hash = models.CharField(max_length=255)

    def __str__(self) -> str:
        return f"Recovery code of {self.device.user_id}"
