from django.contrib import admin

from pars.activities.models import Activity


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin[Activity]):
    list_display = ["provider_activity_id", "title", "provider", "reporting_year", "status"]
    list_filter = ["reporting_year", "status", "activity_format"]
    search_fields = ["provider_activity_id", "title", "provider__name", "provider__provider_id"]
    list_select_related = ["provider"]
    raw_id_fields = ["provider"]
