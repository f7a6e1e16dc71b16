from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.http import HttpRequest

from pars.accounts.models import ApiKey, Membership, User


class MembershipInline(admin.TabularInline[Membership, User]):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["provider"]
    readonly_fields = ["invited_by", "created_at"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "staff_accreditor", "is_active"]
    list_filter = ["is_staff", "is_active", "staff_accreditor"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [MembershipInline]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Name", {"fields": ("first_name", "last_name")}),
        (
            "Access",
            {"fields": ("is_active", "is_staff", "staff_accreditor", "is_superuser", "groups")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password")}),)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin[ApiKey]):
    list_display = [
        "prefix",
        "environment",
        "provider",
        "name",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["environment"]
    search_fields = ["prefix", "provider__name", "provider__provider_id"]
    readonly_fields = ["prefix", "secret_hash", "created_at", "last_used_at", "created_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are made in the provider's API keys page or by create_api_key, which show
        # the secret once; the admin cannot show it.
        return False


def _accreditor_staff_only(request: HttpRequest) -> bool:
    # State-accreditor staff see only their providers, which the admin cannot scope;
    # they use the staff pages instead.
    user = request.user
    return bool(user.is_active and getattr(user, "is_accreditor_staff", False))


admin.site.has_permission = _accreditor_staff_only  # type: ignore[method-assign]
