"""Data reports: generated research data sets."""

from django.conf import settings
from django.db import models


class ResearchExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Generating"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class ResearchExport(models.Model):
    """One anonymised research data set a staff member asked for, and its file."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    first_year = models.PositiveSmallIntegerField()
    last_year = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=10, choices=ResearchExportStatus.choices, default=ResearchExportStatus.QUEUED
    )
    file = models.FileField(upload_to="research/", blank=True)
    activity_rows = models.PositiveIntegerField(default=0)
    table_cells = models.PositiveIntegerField(default=0)
    suppressed_cells = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="research_years_in_order",
                condition=models.Q(last_year__gte=models.F("first_year")),
            )
        ]

    def __str__(self) -> str:
        return f"Research data set {self.first_year}–{self.last_year} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ResearchExportStatus.DONE, ResearchExportStatus.FAILED)
