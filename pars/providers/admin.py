from django.contrib import admin

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


@admin.register(RecognizedAccreditor)
class RecognizedAccreditorAdmin(admin.ModelAdmin[RecognizedAccreditor]):
    list_display = ["state", "name"]
    search_fields = ["name", "state"]
