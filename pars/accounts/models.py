"""People who sign in, what they may do for which provider, and API keys."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models

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


class ApiKey(models.Model):
    """A web-service credential for one provider. Only a hash of the secret is kept."""

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

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.provider.provider_id})"
