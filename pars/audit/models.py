"""The audit trail: every change to reported data, who made it, when and through which channel.

One :class:`AuditEvent` per write operation (a web save, an API call, an upload, an
attestation). Changes to individual activities hang off it as
``pars.activities.models.ActivityChange`` rows; an activity remembers the event
that created it, so a 200,000-row upload costs one event, not 200,000.
"""

from django.conf import settings
from django.db import models

from pars.accounts.models import ApiKey
from pars.providers.models import Provider


class AuditAction(models.TextChoices):
    ACTIVITIES_WRITTEN = "activities.written", "Activities added or changed"
    ACTIVITIES_DELETED = "activities.deleted", "Activities deleted"
    PROGRAM_SUMMARY_SAVED = "program_summary.saved", "Program summary saved"
    PROGRAM_SUMMARY_COMPLETED = "program_summary.completed", "Program summary completed"
    ATTESTED = "year.attested", "Year attested"
    REOPENED = "year.reopened", "Year reopened by staff"
    REGISTRATION_SAVED = "registration.saved", "Activity registered with a recipient"
    REGISTRATION_DELETED = "registration.deleted", "Activity registration removed"
    LEARNERS_WRITTEN = "learners.written", "Learner completions submitted or changed"
    PERSONAL_DATA_VIEWED = "learners.personal_viewed", "Learner personal data shown to staff"
    PROVIDER_UPDATED = "provider.updated", "Provider contact data changed by staff"
    PROVIDER_STATUS_SET = "provider.status_set", "Accreditation status or term set by staff"
    DECISION_RECORDED = "provider.decision", "Accreditation decision recorded"
    CASE_OPENED = "accreditation.opened", "Accreditation case opened"
    CASE_ANSWERS_SAVED = "accreditation.answers_saved", "Self-study answers saved"
    CASE_DOCUMENT_ADDED = "accreditation.document_added", "Self-study document added"
    CASE_DOCUMENT_REMOVED = "accreditation.document_removed", "Self-study document removed"
    CASE_PIP_CHANGED = "accreditation.pip_changed", "Performance-in-practice selection changed"
    CASE_SUBMITTED = "accreditation.submitted", "Accreditation case submitted"
    CASE_REVIEW_STARTED = "accreditation.review_started", "Accreditation review started"
    CASE_COMMENTED = "accreditation.commented", "Reviewer comment added"
    CASE_INFO_REQUESTED = "accreditation.info_requested", "More information requested"
    CASE_DECIDED = "accreditation.decided", "Accreditation case decided"
    DRY_RUN = "dry_run", "Write checked only (dry run: nothing changed)"
    SANDBOX_CHANGED = "sandbox.changed", "Sandbox created, seeded or reset"
    TEST_KEY_CHANGED = "sandbox.test_key", "Sandbox test key created or revoked"


class AuditEvent(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="audit_events")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    channel = models.CharField(max_length=10)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reporting_year = models.PositiveSmallIntegerField(null=True, blank=True)
    description = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_action_display()}"

    @property
    def actor(self) -> str:
        if self.user_id:
            return str(self.user)
        if self.api_key_id and self.api_key is not None:
            # The name its administrator gave it ("CME tracker"), which people recognize.
            return f"API key “{self.api_key.name}” ({self.api_key.prefix}…)"
        return "system"
