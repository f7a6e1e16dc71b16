"""What PARS tells a user: an inbox that keeps everything, and which of it also comes by email.

Every notification belongs to one user (and, when it is about one provider, names that
provider too). The inbox keeps each one whatever the user's email choices; a
:class:`NotificationPreference` row only turns a kind of email off (no row: on).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from pars.providers.models import Provider


class Kind(models.TextChoices):
    CASE_INFO_REQUESTED = (
        "case_info_requested",
        "Accreditation: staff asked for more information (sections reopened)",
    )
    DECISION_RECORDED = "decision_recorded", "Accreditation: a decision was recorded"
    YEAR_CLOSED = "year_closed", "Annual report: the year was attested (closed)"
    YEAR_REOPENED = "year_reopened", "Annual report: staff reopened the year"
    DEADLINE_REMINDER = "deadline_reminder", "Annual report: reminders before the deadline"
    LEARNER_DIGEST = "learner_digest", "Learners: daily digest of records rejected or held"
    UPLOAD_FINISHED = "upload_finished", "Uploads: a large upload finished"
    # Staff
    CASE_SUBMITTED = (
        "case_submitted",
        "Accreditation: a provider submitted or resubmitted a case you review",
    )


# The kinds staff receive; provider users receive the others.
STAFF_KINDS = frozenset({Kind.CASE_SUBMITTED})


def kinds_for(user_is_staff: bool) -> list[tuple[str, str]]:
    """The kinds a user can receive (value, label), for the email choices."""
    return [(k, label) for k, label in Kind.choices if (k in STAFF_KINDS) == user_is_staff]


class Notification(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    # The provider it is about (None: about no one provider). Shown only while the user
    # may still see that provider.
    provider = models.ForeignKey(
        Provider, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)  # a path inside PARS
    # Same key, same user: told once (a digest per day, an upload's end after a rerun).
    key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"],
                condition=~Q(key=""),
                name="one_notification_per_user_and_key",
            )
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_inbox"),
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.title}"

    @property
    def unread(self) -> bool:
        return self.read_at is None


class NotificationPreference(models.Model):
    """One user's choice for one kind of email; the inbox is not affected."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_user_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind}: {'email' if self.email else 'inbox only'}"
