from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from pars.activities.models import Activity
from pars.providers.models import live_rows


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin[Activity]):
    """Read-only: activities change only through the one writer (form, files, API), which
    validates, respects closed years and learner records, and audits every change."""

    list_display = ["provider_activity_id", "title", "provider", "reporting_year", "status"]
    list_filter = ["reporting_year", "status", "activity_format"]
    search_fields = ["provider_activity_id", "title", "provider__name", "provider__provider_id"]
    list_select_related = ["provider"]
    raw_id_fields = ["provider"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Activity]:
        """Real providers' activities: a sandbox's are an integrator's test data."""
        return super().get_queryset(request).filter(live_rows())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Activity | None = None) -> bool:
        return False
