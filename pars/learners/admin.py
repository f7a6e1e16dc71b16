"""Staff administration of recipients and delivery.

Learner completions are deliberately absent: their personal fields are shown to staff
only through the staff learner pages, which record each access.
"""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from pars.learners.delivery.runs import live_batches
from pars.learners.models import (
    DeliveryBatch,
    LearnerCompletion,
    Recipient,
    WebhookDelivery,
    WebhookEndpoint,
)
from pars.providers.models import live_rows

_SEPARATE_HELP = (
    Recipient._meta.get_field("separate_credit_types").help_text
    + " Read-only once the recipient has completions: their learner keys depend on it, "
    "so changing it needs a data migration that re-keys them (as learners migration 0010)."
)


class RecipientForm(forms.ModelForm[Recipient]):
    class Meta:
        model = Recipient
        fields = ("separate_credit_types",)  # the admin's fieldsets give the form's fields
        help_texts = {"separate_credit_types": _SEPARATE_HELP}


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin[Recipient]):
    form = RecipientForm
    list_display = ("code", "name", "kind", "active", "connector", "window_years")
    list_filter = ("kind", "active", "connector")
    search_fields = ("code", "name")
    fieldsets = (
        (None, {"fields": ("code", "name", "kind", "active", "sort_order", "state")}),
        (
            "Identifying learners",
            {
                "fields": (
                    "identifier_kind",
                    "identifier_label",
                    "identifier_pattern",
                    "identifier_hint",
                    "identifier_required",
                    "accepts_npi",
                    "matches_learners",
                )
            },
        ),
        (
            "Registering activities",
            {
                "fields": (
                    "credit_types",
                    "practice_areas",
                    "feedback_types",
                    "registration_fields",
                    "required_registration_fields",
                    "exclusive_credit_types",
                    "earliest_activity_start",
                    "attestation_text",
                )
            },
        ),
        (
            "Reporting completions",
            {
                "fields": (
                    "points_step",
                    "variable_credit",
                    "completion_fields",
                    "window_years",
                    "first_completion_date",
                    "credit_type_windows",
                    "separate_credit_types",
                    "records_within_registered_points",
                    "accepts_completions_after_attestation",
                    "self_reported_cme_until",
                )
            },
        ),
        ("Delivery", {"fields": ("connector", "connector_config")}),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Recipient | None = None) -> list[str]:
        # A completion's learner key carries its separate credit type (PART_MARK): changed
        # here, stored records would no longer be found by their corrections.
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and LearnerCompletion.objects.filter(recipient=obj).exists():
            fields.append("separate_credit_types")
        return fields


@admin.register(DeliveryBatch)
class DeliveryBatchAdmin(admin.ModelAdmin[DeliveryBatch]):
    list_display = ("pk", "recipient", "status", "items_count", "attempts", "created_at", "sent_at")
    list_filter = ("status", "recipient")
    readonly_fields = [field.name for field in DeliveryBatch._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeliveryBatch]:
        """Real providers' batches only: a sandbox's go to the registry simulator."""
        return live_batches()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    # A batch and its items are the record of what was sent to a recipient: kept.
    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin[WebhookEndpoint]):
    list_display = ("url", "provider", "active", "last_success_at", "last_failure_at")
    list_filter = ("active",)
    exclude = ("secret",)
    readonly_fields = ("provider", "url", "created_by", "last_success_at", "last_failure_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEndpoint]:
        return super().get_queryset(request).filter(live_rows())


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin[WebhookDelivery]):
    list_display = ("event_id", "endpoint", "status", "attempts", "created_at", "delivered_at")
    list_filter = ("status",)
    readonly_fields = [field.name for field in WebhookDelivery._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookDelivery]:
        return super().get_queryset(request).filter(live_rows())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
