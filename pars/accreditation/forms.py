"""The accreditation forms: they collect what was typed; the services check the rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from pars.accounts.models import User
from pars.providers.models import AccreditorType, Provider

from .models import Case, CaseType, RequiredAttachment, SelfStudySection
from .services import DECISION_OUTCOMES


def _date(label: str, required: bool = False) -> forms.DateField:
    return forms.DateField(
        label=label, required=required, widget=forms.DateInput(attrs={"type": "date"})
    )


def _staff_users() -> QuerySet[User]:
    return User.objects.filter(is_staff=True, is_active=True).order_by("email")


class OpenCaseForm(forms.Form):
    provider = forms.ModelChoiceField(queryset=Provider.objects.none(), to_field_name="provider_id")
    case_type = forms.ChoiceField(label="Case", choices=CaseType.choices)
    due_date = _date("Self-study due")
    staff_owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, label="Staff owner"
    )

    def __init__(self, *args: Any, providers: QuerySet[Provider], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers  # type: ignore[attr-defined]
        self.fields["staff_owner"].queryset = _staff_users()  # type: ignore[attr-defined]


class ApplicantForm(forms.Form):
    name = forms.CharField(label="Organization name", max_length=255)
    provider_id = forms.CharField(
        label="PARS provider ID", max_length=7, help_text="Exactly 7 digits."
    )
    accreditor_type = forms.ChoiceField(label="Accreditor", choices=AccreditorType.choices)
    state = forms.CharField(label="State (state-accredited only)", max_length=2, required=False)
    email = forms.EmailField(
        label="First administrator's email",
        help_text="Receives the “System Access Granted” email to set a password.",
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    due_date = _date("Self-study due")
    staff_owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, label="Staff owner"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["staff_owner"].queryset = _staff_users()  # type: ignore[attr-defined]


class DocumentForm(forms.Form):
    attachment = forms.ModelChoiceField(
        queryset=RequiredAttachment.objects.none(),
        required=False,
        label="Required attachment",
        empty_label="Other supporting document",
    )
    file = forms.FileField(label="Document")

    def __init__(self, *args: Any, section: SelfStudySection, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attachment"].queryset = section.attachments.all()  # type: ignore[attr-defined]


class EvidenceForm(forms.Form):
    file = forms.FileField(label="Evidence file")


class CommentForm(forms.Form):
    section = forms.ModelChoiceField(
        queryset=SelfStudySection.objects.none(),
        required=False,
        empty_label="General (the whole case)",
    )
    body = forms.CharField(label="Comment", widget=forms.Textarea(attrs={"rows": 3}))
    visible_to_provider = forms.BooleanField(
        label="Visible to the provider", required=False, initial=True
    )

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["section"].queryset = case.template.sections.all()  # type: ignore[attr-defined]


class InfoRequestForm(forms.Form):
    message = forms.CharField(label="Information needed", widget=forms.Textarea(attrs={"rows": 3}))
    sections = forms.ModelMultipleChoiceField(
        queryset=SelfStudySection.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Sections to reopen",
    )
    reopen_pip = forms.BooleanField(
        label="Reopen the performance-in-practice selection", required=False
    )
    due_date = _date("Answer due")

    def __init__(self, *args: Any, case: Case, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sections"].queryset = case.template.sections.all()  # type: ignore[attr-defined]


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("", "---------"), *DECISION_OUTCOMES])
    decided_on = _date("Decided on", required=True)
    term_start = _date("Term start")
    term_end = _date("Term end")
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["term_start"].help_text = "Empty: the decision date."
        self.fields["term_end"].help_text = (
            "Empty: 2 years for provisional accreditation, 4 for accreditation, "
            "6 with commendation."
        )
