from django.contrib import admin

from pars.reporting.models import AnnualReport, ReportingYear


@admin.register(ReportingYear)
class ReportingYearAdmin(admin.ModelAdmin[ReportingYear]):
    list_display = ["year", "deadline"]


@admin.register(AnnualReport)
class AnnualReportAdmin(admin.ModelAdmin[AnnualReport]):
    list_display = ["provider", "reporting_year", "program_summary_completed_at", "attested_at"]
    list_filter = ["reporting_year"]
    raw_id_fields = ["provider"]
