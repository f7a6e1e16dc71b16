"""Reporting years and each provider's progress through its annual report."""

from django.conf import settings
from django.db import models

from pars.providers.models import Provider


class ReportingYear(models.Model):
    """A calendar year of activity data and the deadline for reporting it (set by staff)."""

    year = models.PositiveSmallIntegerField(unique=True)
    deadline = models.DateField(help_text="Last day to complete and attest the year's report.")

    class Meta:
        ordering = ["-year"]

    def __str__(self) -> str:
        return str(self.year)


class AnnualReport(models.Model):
    """One provider's annual report for one reporting year."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="annual_reports")
    reporting_year = models.ForeignKey(
        ReportingYear, on_delete=models.PROTECT, related_name="annual_reports"
    )
    program_summary_completed_at = models.DateTimeField(null=True, blank=True)
    attested_at = models.DateTimeField(null=True, blank=True)
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reporting_year"], name="one_report_per_provider_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} — {self.reporting_year}"
