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


class AttestationStatement(models.Model):
    """A version of the statement providers attest to; the newest one is shown."""

    version = models.PositiveSmallIntegerField(unique=True)
    text = models.TextField()
    effective_from = models.DateField()

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"Attestation statement v{self.version}"


class AnnualReport(models.Model):
    """One provider's annual report for one reporting year.

    The four program-summary figures are typed by the provider, as exact decimals;
    everything about commercial support and activities is computed from the
    activities (`pars.reporting.summary`), never stored here.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="annual_reports")
    reporting_year = models.ForeignKey(
        ReportingYear, on_delete=models.PROTECT, related_name="annual_reports"
    )
    advertising_exhibit_income = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True
    )
    registration_fees = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    government_grants = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    private_donations = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    program_summary_completed_at = models.DateTimeField(null=True, blank=True)
    attested_at = models.DateTimeField(null=True, blank=True)
    attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attestation_statement = models.ForeignKey(
        AttestationStatement, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reporting_year"], name="one_report_per_provider_year"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} — {self.reporting_year}"


class YearReopening(models.Model):
    """Staff reopened an attested year: who, when, why, and the attestation it undid."""

    report = models.ForeignKey(AnnualReport, on_delete=models.CASCADE, related_name="reopenings")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="+")
    reopened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reopened_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField()
    previous_attested_at = models.DateTimeField()
    previous_attested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        ordering = ["-reopened_at"]

    def __str__(self) -> str:
        return f"{self.report} reopened {self.reopened_at:%Y-%m-%d}"
