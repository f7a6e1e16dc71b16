"""Accredited activities reported by providers, and what audited writes changed in them.

The fields mirror `pars.activities.dictionary.FIELDS`; that dictionary, not this
module, says what is required and allowed.
"""

from django.db import models
from django.db.models import Q

from pars.activities.dictionary import DELIVERY_METHODS, FEES, FORMATS, PROVIDERSHIP, REGISTRATION
from pars.intake.models import Channel
from pars.providers.models import Provider


class ActivityFormat(models.TextChoices):
    """The 11 formats of `dictionary.FORMATS`, as named constants for code."""

    COURSE = "course", FORMATS["course"]
    RSS = "rss", FORMATS["rss"]
    ENDURING = "enduring", FORMATS["enduring"]
    JOURNAL = "journal", FORMATS["journal"]
    MANUSCRIPT_REVIEW = "manuscript_review", FORMATS["manuscript_review"]
    TEST_ITEM_WRITING = "test_item_writing", FORMATS["test_item_writing"]
    COMMITTEE_LEARNING = "committee_learning", FORMATS["committee_learning"]
    PERFORMANCE_IMPROVEMENT = "performance_improvement", FORMATS["performance_improvement"]
    INTERNET_SEARCHING = "internet_searching", FORMATS["internet_searching"]
    LEARNING_FROM_TEACHING = "learning_from_teaching", FORMATS["learning_from_teaching"]
    OTHER = "other", FORMATS["other"]


class ActivityStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    READY_TO_CLOSE = "ready_to_close", "Ready to Close"
    CLOSED = "closed", "Closed"


class Activity(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="activities")
    provider_activity_id = models.CharField("Provider Activity ID", max_length=100)
    accme_activity_id = models.CharField("ACCME Activity ID", max_length=9, blank=True)
    title = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    activity_format = models.CharField(max_length=30, choices=ActivityFormat.choices)
    legacy_activity_type = models.CharField(max_length=4, blank=True)
    delivery_methods = models.JSONField(default=list, blank=True)
    start_date = models.DateField()
    end_date = models.DateField()
    reporting_year = models.PositiveSmallIntegerField(db_index=True)
    status = models.CharField(
        max_length=20, choices=ActivityStatus.choices, default=ActivityStatus.DRAFT
    )
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    country = models.CharField(max_length=3, blank=True)
    providership = models.CharField(max_length=6, choices=PROVIDERSHIP.items(), blank=True)
    joint_providers = models.JSONField(default=list, blank=True)
    hours_of_instruction = models.DecimalField(max_digits=7, decimal_places=2, null=True)
    ama_credits = models.DecimalField(max_digits=7, decimal_places=2, null=True)
    physician_learners = models.PositiveIntegerField(null=True)
    other_learners = models.PositiveIntegerField(null=True)
    designed_to_change_competence = models.BooleanField(null=True)
    changes_measured_competence = models.BooleanField(null=True)
    designed_to_change_performance = models.BooleanField(null=True)
    changes_measured_performance = models.BooleanField(null=True)
    designed_to_change_patient_outcomes = models.BooleanField(null=True)
    changes_measured_patient_outcomes = models.BooleanField(null=True)
    learning_formats = models.JSONField(default=list, blank=True)
    outcome_measures = models.JSONField(default=list, blank=True)
    competencies = models.JSONField(default=list, blank=True)
    commercial_support_received = models.BooleanField(null=True)
    listed_on_passport = models.BooleanField(null=True)
    fee = models.CharField(max_length=10, choices=FEES.items(), blank=True)
    registration = models.CharField(max_length=10, choices=REGISTRATION.items(), blank=True)
    activity_url = models.URLField(max_length=500, blank=True)
    meets_mips = models.BooleanField(default=False)
    advertising_income = models.PositiveIntegerField(null=True)
    other_income = models.PositiveIntegerField(null=True)
    expenses = models.PositiveIntegerField(null=True)
    last_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    created_by_event = models.ForeignKey(
        "audit.AuditEvent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "provider_activity_id"]
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_activity_id"], name="activity_id_unique_per_provider"
            ),
            models.CheckConstraint(
                name="activity_ends_after_start", condition=Q(end_date__gte=models.F("start_date"))
            ),
        ]
        indexes = [models.Index(fields=["provider", "reporting_year"])]

    def __str__(self) -> str:
        return f"{self.provider_activity_id}: {self.title}"

    @property
    def delivery_method_labels(self) -> list[str]:
        return [DELIVERY_METHODS.get(code, code) for code in self.delivery_methods]


class CommercialSupport(models.Model):
    """One commercial supporter of an activity (a source and what it gave)."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="supporters")
    position = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=255)
    monetary_amount = models.PositiveIntegerField(null=True)
    in_kind = models.BooleanField(default=False)
    in_kind_types = models.JSONField(default=list, blank=True)
    in_kind_description = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["activity", "position"]

    def __str__(self) -> str:
        return self.source


class ActivityChange(models.Model):
    """One activity updated or deleted by an audited write, with what changed."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(
        "audit.AuditEvent", on_delete=models.CASCADE, related_name="activity_changes"
    )
    provider_activity_id = models.CharField(max_length=100, db_index=True)
    action = models.CharField(max_length=10)  # "updated" or "deleted"
    changes = models.JSONField(default=dict, blank=True)  # field: [old, new]

    class Meta:
        ordering = ["-event__at", "-id"]

    def __str__(self) -> str:
        return f"{self.provider_activity_id} {self.action}"
