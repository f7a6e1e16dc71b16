from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from pars.providers.models import AccreditationDecision, Contact, Provider, RecognizedAccreditor


class ContactInline(admin.TabularInline[Contact, Provider]):
    model = Contact
    extra = 0


class DecisionInline(admin.TabularInline[AccreditationDecision, Provider]):
    model = AccreditationDecision
    extra = 0


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin[Provider]):
    list_display = ["name", "provider_id", "accreditor_type", "accreditation_status", "term_end"]
    list_filter = ["accreditor_type", "accreditation_status", "recognized_accreditor"]
    search_fields = ["name", "provider_id", "city"]
    inlines = [ContactInline, DecisionInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Provider]:
        """Real providers: a sandbox (``sandbox_of``) is test data, managed on its live
        provider's Sandbox page."""
        return super().get_queryset(request).filter(sandbox_of__isnull=True)


@admin.register(RecognizedAccreditor)
class RecognizedAccreditorAdmin(admin.ModelAdmin[RecognizedAccreditor]):
    list_display = ["state", "name"]
    search_fields = ["name", "state"]
