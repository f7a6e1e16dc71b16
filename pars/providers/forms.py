from django import forms

from pars.providers.models import AccreditationDecision, Contact, Provider


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
