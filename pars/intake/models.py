"""The uploads that bring records in, their errors, and stored API answers.

These tables were created by ``pars.activities`` and keep their names
(``activities_upload`` …): the models moved, the data did not.
"""

from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction

from pars.accounts.access import system_access
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


# What a coordinator calls an upload of each kind ("Learner upload #2").
KIND_TITLES = {"activities": "Activity upload", "learners": "Learner upload"}


class Upload(models.Model):
    """An uploaded batch file and what became of it; this row is the job the user watches."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="uploads")
    # Numbered per provider and kind (activity uploads 1, 2, 3 …; learner uploads 1, 2 …),
    # as their lists are separate: the id is shared by every provider and kind.
    number = models.PositiveIntegerField(null=True, editable=False)
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
    # "Check the file only": processed as a real run would be, its result and errors
    # kept, but nothing applied (the provider's records are rolled back); never the
    # "already applied" copy a later upload of the same file is a duplicate of.
    dry_run = models.BooleanField(default=False)
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
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "kind", "number"], name="upload_number_per_provider_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title}: {self.original_name} ({self.get_status_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.number is not None or self.pk is not None:
            super().save(*args, **kwargs)
            return
        # The next number of the provider's uploads of this kind. The provider's row is
        # locked (PostgreSQL) so two uploads at once do not take the same number; SQLite
        # has one writer at a time, and a clash (unique constraint) takes the next one.
        for attempt in range(3):
            try:
                with transaction.atomic():
                    list(
                        Provider.objects.select_for_update()
                        .filter(pk=self.provider_id)
                        .values("pk")
                    )
                    latest = (
                        system_access(self.provider)
                        .records(Upload)
                        .filter(kind=self.kind)
                        .aggregate(latest=models.Max("number"))["latest"]
                    )
                    self.number = (latest or 0) + 1
                    super().save(*args, **kwargs)
                return
            except IntegrityError:
                self.number = None
                if attempt == 2:
                    raise

    @property
    def title(self) -> str:
        """ "Activity upload #3": its kind and its number among the provider's uploads of it."""
        return f"{KIND_TITLES.get(self.kind, 'Upload')} #{self.number or self.pk}"

    @property
    def uploaded_by(self) -> str:
        """Who uploaded it, as people know them: the user's name (else email), or the API
        key's name for a file sent through the web service."""
        if self.created_by is not None:
            return str(self.created_by.get_full_name() or self.created_by.email)
        if self.api_key is not None:
            return f"API key “{self.api_key.name}”"
        return "the web service" if self.via_api else "—"

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
        """The field as the uploader knows it: the file's own column header (or the
        template's, for a field the file lacks); the field's name only when neither is
        known (an error of the whole row)."""
        return self.column or self.field


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
