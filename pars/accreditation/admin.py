"""The self-studies are data: staff edit templates, sections, questions and attachments here.

Cases are shown read-only: they change only through the accreditation pages (services).
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from pars.accreditation.models import (
    Case,
    Question,
    RequiredAttachment,
    SelfStudySection,
    SelfStudyTemplate,
)


class SectionInline(admin.TabularInline[SelfStudySection, SelfStudyTemplate]):
    model = SelfStudySection
    extra = 0
    fields = ["order", "code", "title"]
    show_change_link = True


@admin.register(SelfStudyTemplate)
class SelfStudyTemplateAdmin(admin.ModelAdmin[SelfStudyTemplate]):
    list_display = ["name", "case_type", "active", "pip_activities", "created_at"]
    list_filter = ["case_type", "active"]
    inlines = [SectionInline]


class QuestionInline(admin.StackedInline[Question, SelfStudySection]):
    model = Question
    extra = 0
    fields = ["order", "text", "kind", "choices", "required"]


class AttachmentInline(admin.TabularInline[RequiredAttachment, SelfStudySection]):
    model = RequiredAttachment
    extra = 0
    fields = ["order", "name", "description"]


@admin.register(SelfStudySection)
class SelfStudySectionAdmin(admin.ModelAdmin[SelfStudySection]):
    list_display = ["code", "title", "template", "order"]
    list_filter = ["template"]
    inlines = [QuestionInline, AttachmentInline]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin[Case]):
    list_display = ["provider", "case_type", "status", "due_date", "staff_owner", "opened_at"]
    list_filter = ["case_type", "status"]
    search_fields = ["provider__name", "provider__provider_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
