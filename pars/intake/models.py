"""The uploads that bring records in, their errors, and stored API answers.

These tables were created by ``pars.activities`` and keep their names
(``activities_upload`` …): the models moved, the data did not.
"""

from django.conf import settings
from django.db import models

from pars.providers.models import Provider


class Channel(models.TextChoices):
    WEB = "web", "Web form"
    TSV = "tsv", "Tab-delimited file"
    XLSX = "xlsx", "Excel file"
    XML = "xml", "XML file"
    API = "api", "Web service (JSON)"
    DEMO = "demo", "Demo data"


class UploadStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Processing"
    SUCCEEDED = "succeeded", "Applied"
    PARTIAL = "partial", "Applied, except the rows with errors"
    REJECTED = "rejected", "Rejected (errors found, nothing changed)"
    DUPLICATE = "duplicate", "Already uploaded (nothing changed)"
    FAILED = "failed", "Failed (nothing changed)"


class UploadPolicy(models.TextChoices):
    """What an upload does with a file that has invalid rows (chosen per upload)."""

    ALL_OR_NOTHING = "all_or_nothing", "All or nothing"
    PARTIAL = "partial", "Apply the valid rows and report the others"


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
    # What the reader did that the uploader should know ("read as Windows-1252",
    # "ignored columns: …"): shown with the result, never a reason to refuse.
    notices = models.JSONField(default=list, blank=True)
    # The uploader's choice (UploadPolicy); blank: the kind's own policy (activity files
    # all or nothing, learner files always partial).
    policy = models.CharField(max_length=20, choices=UploadPolicy.choices, blank=True)
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
    # and is put back in the queue by pars.intake.recover.recover_stale_uploads.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # runs started (claims)

    class Meta:
        db_table = "activities_upload"
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
    # The record's key in the file (Provider Activity ID; for learners the activity,
    # recipient and completion date, never personal data) and the file's own header of
    # the field (its column header, or the XML element).
    record = models.CharField(max_length=200, blank=True, default="")
    column = models.CharField(max_length=200, blank=True, default="")
    field = models.CharField(max_length=100)
    rule = models.CharField(max_length=100)
    message = models.TextField()

    class Meta:
        db_table = "activities_uploaderror"
        ordering = ["upload", "row", "id"]

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"

    @property
    def field_shown(self) -> str:
        """The field as the uploader knows it: the file's header, then the field name
        ("Title (title)")."""
        if self.column and self.column != self.field:
            return f"{self.column} ({self.field})"
        return self.field


class IdempotencyKey(models.Model):
    """The stored answer to an API POST sent with an Idempotency-Key header."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "activities_idempotencykey"
        constraints = [
            models.UniqueConstraint(fields=["provider", "key"], name="idempotency_key_per_provider")
        ]

    def __str__(self) -> str:
        return self.key
