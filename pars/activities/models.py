"""Accredited activities reported by providers, and the uploads that bring them in.

The fields mirror `pars.activities.dictionary.FIELDS`; that dictionary, not this
module, says what is required and allowed.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from pars.activities.dictionary import DELIVERY_METHODS, FEES, FORMATS, PROVIDERSHIP, REGISTRATION
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


class Channel(models.TextChoices):
    WEB = "web", "Web form"
    TSV = "tsv", "Tab-delimited file"
    XLSX = "xlsx", "Excel file"
    XML = "xml", "XML file"
    API = "api", "Web service (JSON)"
    DEMO = "demo", "Demo data"


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


class UploadStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Processing"
    SUCCEEDED = "succeeded", "Applied"
    PARTIAL = "partial", "Applied, except the rows with errors"
    REJECTED = "rejected", "Rejected (errors found, nothing changed)"
    DUPLICATE = "duplicate", "Already uploaded (nothing changed)"
    FAILED = "failed", "Failed (nothing changed)"


class Upload(models.Model):
    """An uploaded batch file and what became of it; this row is the job the user watches."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via_api = models.BooleanField(default=False)
    kind = models.CharField(max_length=20, default="activities")
    file_format = models.CharField(max_length=10, choices=Channel.choices)
    original_name = models.CharField(max_length=255)
    file = models.FileField(upload_to="uploads/%Y/%m/")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    status = models.CharField(
        max_length=10, choices=UploadStatus.choices, default=UploadStatus.QUEUED
    )
    layout = models.CharField(max_length=40, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    api_key = models.ForeignKey(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The job's lease: the worker renews it while it processes the file (from outside
    # the file's transaction); a running upload whose heartbeat is old lost its worker
    # and is put back in the queue by pars.activities.uploads.recover_stale_uploads.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # runs started (claims)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="upload_status_heartbeat")]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status not in (UploadStatus.QUEUED, UploadStatus.RUNNING)


class UploadError(models.Model):
    """One row-and-field problem found in an upload."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="errors")
    row = models.PositiveIntegerField(null=True)
    field = models.CharField(max_length=100)
    rule = models.CharField(max_length=100)
    message = models.TextField()

    class Meta:
        ordering = ["upload", "row", "id"]

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


class IdempotencyKey(models.Model):
    """The stored answer to an API POST sent with an Idempotency-Key header."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "key"], name="idempotency_key_per_provider")
        ]

    def __str__(self) -> str:
        return self.key


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
