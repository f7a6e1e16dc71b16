"""Accredited activities reported by providers.

This is the core of the record; the full data dictionary, its validator and the
upload channels build on it.
"""

from django.db import models
from django.db.models import Q

from pars.providers.models import Provider


class ActivityFormat(models.TextChoices):
    COURSE = "course", "Course"
    RSS = "rss", "Regularly Scheduled Series"
    ENDURING = "enduring", "Enduring Material"
    JOURNAL = "journal", "Journal-based CME"
    MANUSCRIPT_REVIEW = "manuscript_review", "Manuscript Review"
    TEST_ITEM_WRITING = "test_item_writing", "Test-Item Writing"
    COMMITTEE_LEARNING = "committee_learning", "Committee Learning"
    PERFORMANCE_IMPROVEMENT = "performance_improvement", "Performance/Quality Improvement"
    INTERNET_SEARCHING = "internet_searching", "Internet Searching and Learning"
    LEARNING_FROM_TEACHING = "learning_from_teaching", "Learning from Teaching"
    OTHER = "other", "Other/Blended Learning"


class ActivityStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    READY_TO_CLOSE = "ready_to_close", "Ready to Close"
    CLOSED = "closed", "Closed"


class Activity(models.Model):
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="activities")
    provider_activity_id = models.CharField("Provider Activity ID", max_length=100)
    title = models.CharField(max_length=500)
    activity_format = models.CharField(max_length=30, choices=ActivityFormat.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    reporting_year = models.PositiveSmallIntegerField(db_index=True)
    status = models.CharField(
        max_length=20, choices=ActivityStatus.choices, default=ActivityStatus.DRAFT
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

    def __str__(self) -> str:
        return f"{self.provider_activity_id}: {self.title}"
