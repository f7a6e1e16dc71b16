from django import forms

from pars.providers.models import (
    AccreditationDecision,
    AccreditationStatus,
    AccreditorType,
    Contact,
    Provider,
)


class ProviderAddressForm(forms.ModelForm[Provider]):
    """What a provider keeps current itself; name, ID and status belong to the accreditor."""

    class Meta:
        model = Provider
        fields = [
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "country",
            "phone",
            "website",
        ]


class ContactForm(forms.ModelForm[Contact]):
    class Meta:
        model = Contact
        fields = ["role", "name", "title", "email", "phone"]

    def __init__(self, *args: object, provider: Provider, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.instance.provider = provider

    def _get_validation_exclusions(self) -> set[str]:
        # Check the one-primary-contact constraint here rather than fail on save.
        exclusions: set[str] = super()._get_validation_exclusions()  # type: ignore[misc]
        return exclusions - {"provider"}


class DecisionForm(forms.ModelForm[AccreditationDecision]):
    class Meta:
        model = AccreditationDecision
        fields = ["decision_type", "outcome", "decided_on", "term_start", "term_end", "notes"]
        widgets = {
            "decided_on": forms.DateInput(attrs={"type": "date"}),
            "term_start": forms.DateInput(attrs={"type": "date"}),
            "term_end": forms.DateInput(attrs={"type": "date"}),
        }

    def __init__(self, *args: object, provider: Provider, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.instance.provider = provider


class ProviderSearchForm(forms.Form):
    """The staff provider search; every field is optional and they combine."""

    q = forms.CharField(required=False, label="Name, provider ID or city")
    state = forms.CharField(required=False, max_length=50, label="State")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *AccreditationStatus.choices]
    )
    type = forms.ChoiceField(
        required=False,
        choices=[("", "All types"), *AccreditorType.choices],
        label="Accreditor type",
    )
    term_ends_before = forms.DateField(
        required=False,
        label="Term ends before",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class StatusTermForm(forms.Form):
    """Staff correct status and term outside a decision; the reason goes to the audit trail."""

    accreditation_status = forms.ChoiceField(
        label="Accreditation status", choices=AccreditationStatus.choices
    )
    term_start = forms.DateField(
        required=False, label="Term start", widget=forms.DateInput(attrs={"type": "date"})
    )
    term_end = forms.DateField(
        required=False, label="Term end", widget=forms.DateInput(attrs={"type": "date"})
    )
    reason = forms.CharField(
        label="Reason for the change",
        max_length=500,
        help_text="Recorded in the audit trail. To record a decision, use Record a decision.",
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("term_start"), data.get("term_end")
        if start and end and end < start:
            self.add_error("term_end", "The term cannot end before it starts.")
        return data
