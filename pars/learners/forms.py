"""The learner web forms, generated from the learner data dictionary and the recipient's rules.

As with the activity form, the forms decide nothing: every field is optional free text
(or a list of strings), so what the user typed reaches the one validator
(:func:`pars.learners.validation.validate_registration`, or
:func:`pars.learners.services.submit_completion` / ``correct_completion``) as a raw
mapping of dictionary field names to values, exactly as a file row or a JSON body does.
The validator's errors are then attached to the fields by :func:`attach_errors`.

Which fields a form shows is the recipient's data (``registration_fields``,
``completion_fields``, its kind and code lists), so a recipient added in the admin needs
no code here either.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django import forms

from pars.activities.forms import ErrorItem, RawListField, format_decimal
from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldError
from pars.intake.store import FORMAT_CHOICES
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    COMPLETION_FIELDS_BY_NAME,
    LINK_GROUPS,
    REGISTRATION_FIELDS,
    REGISTRATION_FIELDS_BY_NAME,
)
from pars.learners.models import (
    PERSONAL_FIELDS,
    ActivityRegistration,
    Recipient,
)

_YES_NO = [("", "—"), ("yes", "Yes"), ("no", "No")]

# The form's birth date is the record's birth month and day (both personal).
PERSONAL_FORM_FIELDS = frozenset(
    {"birth_date", *(name for name in PERSONAL_FIELDS if name in COMPLETION_FIELDS_BY_NAME)}
)


class MarkedForm(forms.Form):
    """A lenient form that knows which fields the recipient requires (marked with *)."""

    marked: frozenset[str] = frozenset()

    def summary_label(self, field_name: str) -> str:
        if field_name in self.fields:
            return str(self.fields[field_name].label)
        spec = COMPLETION_FIELDS_BY_NAME.get(field_name) or REGISTRATION_FIELDS_BY_NAME.get(
            field_name
        )
        if spec is not None:
            return spec.label
        return field_name.replace("_", " ").capitalize()


def _lenient_field(
    spec: FieldSpec,
    *,
    label: str | None = None,
    help_text: str | None = None,
    choices: Iterable[str] | Mapping[str, str] | None = None,
    many: bool = False,
) -> forms.Field:
    """A form field for one dictionary field that never refuses a value."""
    common: dict[str, Any] = {
        "label": label or spec.label,
        "help_text": spec.help if help_text is None else help_text,
        "required": False,
    }
    if choices is not None:
        pairs = list(choices.items()) if isinstance(choices, Mapping) else [(c, c) for c in choices]
        if many:
            return RawListField(widget=forms.CheckboxSelectMultiple(choices=pairs), **common)
        return forms.CharField(widget=forms.Select(choices=[("", "—"), *pairs]), **common)
    kind = spec.kind
    if kind is Kind.DATE:
        return forms.CharField(
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common
        )
    if kind is Kind.DECIMAL:
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)
    if kind is Kind.INTEGER:
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "numeric"}), **common)
    if kind is Kind.BOOLEAN:
        return forms.CharField(widget=forms.Select(choices=_YES_NO), **common)
    if kind is Kind.CHOICE:
        pairs = list(spec.choices.items())
        return forms.CharField(widget=forms.Select(choices=[("", "—"), *pairs]), **common)
    return forms.CharField(strip=False, **common)


def _initial_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format_decimal(value)
    return value


# ---------------------------------------------------------------------------
# Registering an activity with a recipient


class RegistrationForm(MarkedForm):
    """The fields this recipient asks for, with its code lists, and the attestation."""

    def __init__(self, *args: Any, recipient: Recipient, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recipient = recipient
        asked = set(recipient.registration_fields or ())
        self.marked = frozenset(recipient.required_registration_fields or ())
        for spec in REGISTRATION_FIELDS:
            if spec.name not in asked:
                continue
            if spec.name == "credit_types" and recipient.credit_types:
                field = _lenient_field(
                    spec,
                    help_text=f"The {recipient.code} credit types the activity offers.",
                    choices=recipient.credit_types,
                    many=True,
                )
            elif spec.name == "practice_areas" and recipient.practice_areas:
                field = _lenient_field(
                    spec,
                    help_text="Tick each that applies.",
                    choices=recipient.practice_areas,
                    many=True,
                )
            elif spec.name == "practice_areas":
                field = _lenient_field(spec, help_text="Separate several with semicolons (;).")
            elif spec.name == "feedback_type" and recipient.feedback_types:
                field = _lenient_field(spec, choices=recipient.feedback_types)
            else:
                field = _lenient_field(spec)
            self.fields[spec.name] = field
        for name, field in self.fields.items():
            value = self.initial.get(name)
            if isinstance(value, list) and not isinstance(field, RawListField):
                self.initial[name] = "; ".join(str(item) for item in value)  # free text
        self.fields["attest"] = forms.BooleanField(
            label="I attest", required=False, help_text="Required to register."
        )
        self.marked = self.marked | {"attest"}

    def raw(self) -> dict[str, Any]:
        data = self.cleaned_data
        raw: dict[str, Any] = {
            name: data.get(name) for name in self.fields if name not in ("attest",)
        }
        raw["recipient"] = self.recipient.code
        raw["attest"] = bool(data.get("attest"))
        return raw


def registration_initial(registration: ActivityRegistration) -> dict[str, Any]:
    """Form values of a stored registration (the attestation is given again on each save)."""
    return {
        spec.name: _initial_value(getattr(registration, spec.name)) for spec in REGISTRATION_FIELDS
    }


def registration_display(registration: ActivityRegistration) -> list[tuple[str, str]]:
    """(label, value) of each field of the registration that has a value (activity page)."""
    asked = registration.recipient.registration_fields or ()
    rows = []
    for spec in REGISTRATION_FIELDS:
        value = getattr(registration, spec.name)
        if spec.name not in asked or spec.is_empty(value):
            continue
        if isinstance(value, list):
            shown = "; ".join(str(item) for item in value)
        elif isinstance(value, Decimal):
            shown = format_decimal(value)
        elif isinstance(value, datetime.date):
            shown = value.strftime("%m/%d/%Y")
        elif spec.choices:
            shown = str(spec.choices.get(value, value))
        else:
            shown = str(value)
        rows.append((spec.label, shown))
    return rows


# ---------------------------------------------------------------------------
# One learner's completion


def completion_field_names(
    recipient: Recipient, fields: Iterable[FieldSpec] = COMPLETION_FIELDS
) -> list[str]:
    """The completion fields the form asks for this recipient, in dictionary order.

    All but the activity and the recipient (the page's): those for every recipient, those
    for the recipient's kind (``applies_to``), and those for another kind when the
    recipient requires one of them (then the whole set: all the REMS answers, say).
    """
    fields = tuple(fields)
    required = set(recipient.completion_fields or ())
    asked_sets = {spec.applies_to for spec in fields if spec.name in required}
    return [
        spec.name
        for spec in fields
        if spec.group not in LINK_GROUPS
        and (
            not spec.applies_to
            or recipient.kind in spec.applies_to
            or spec.applies_to in asked_sets
        )
    ]


def completion_required(
    recipient: Recipient, fields: Iterable[FieldSpec] = COMPLETION_FIELDS
) -> frozenset[str]:
    """The fields the recipient's rules require (marked with * on the form): those every
    completion needs, its identifier unless the NPI may stand in, and its own."""
    marked = {spec.name for spec in fields if spec.required_for is not None}
    if recipient.identifier_required and not recipient.accepts_npi:
        marked.add("learner_id")
    marked |= set(recipient.completion_fields or ())
    return frozenset(marked)


class CompletionForm(MarkedForm):
    """One learner's completion of a registered activity, with the recipient's fields."""

    def __init__(
        self,
        *args: Any,
        recipient: Recipient,
        credit_types: Iterable[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.recipient = recipient
        self.marked = completion_required(recipient)
        for name in completion_field_names(recipient):
            spec = COMPLETION_FIELDS_BY_NAME[name]
            if name == "learner_id":
                hint = f" Form: {recipient.identifier_hint}." if recipient.identifier_hint else ""
                npi = " Or give the NPI instead." if recipient.accepts_npi else ""
                field = _lenient_field(
                    spec,
                    label=recipient.identifier_label or spec.label,
                    help_text=f"{recipient.get_identifier_kind_display()}.{hint}{npi}",
                )
            elif name == "moc_credit_types":
                offered = list(credit_types or ()) or list(recipient.credit_types or ())
                field = _lenient_field(
                    spec,
                    help_text="The credit types the learner earned (registered types only).",
                    choices=offered,
                    many=True,
                )
            else:
                field = _lenient_field(spec)
            self.fields[name] = field

    def raw(self) -> dict[str, Any]:
        """What the user entered, as the validator's raw mapping (form fields only)."""
        return {name: self.cleaned_data.get(name) for name in self.fields}


def completion_initial(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Form values of a record given as raw input (``services.completion_raw``)."""
    return {name: _initial_value(value) for name, value in raw.items()}


# ---------------------------------------------------------------------------
# Errors


def attach_errors(form: MarkedForm, errors: Iterable[FieldError]) -> list[ErrorItem]:
    """Show each validator or writer error on its field; return the error summary."""
    summary = []
    for error in errors:
        field_name = error.field
        if field_name in ("birth_month", "birth_day"):
            field_name = "birth_date"
        if field_name in form.fields:
            form.add_error(field_name, error.message)
            anchor = f"field-{field_name}"
        else:
            form.add_error(None, error.message)
            anchor = "form-errors"
        summary.append(ErrorItem(error, form.summary_label(field_name), anchor))
    return summary


# ---------------------------------------------------------------------------
# Smaller forms


class LearnerUploadForm(forms.Form):
    file = forms.FileField(label="Learner file")
    file_format = forms.ChoiceField(
        label="Format",
        choices=[],
        required=False,
        help_text="PARS recognizes the format from the file's content; choose one only "
        "if it guesses wrong.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [
            (value, label.replace(" (MEMS / ACCME activity report)", " (learner report)"))
            for value, label in FORMAT_CHOICES
        ]
        field = self.fields["file_format"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Detect from the file"), *choices]


class PrevalidationForm(forms.Form):
    recipient = forms.ChoiceField(label="Recipient", choices=[])
    learners = forms.CharField(
        label="Learners",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Paste rows copied from a spreadsheet: a header row (First Name, Last Name, "
        "Birth Month and Day, Learner ID or NPI…) and one learner per row, tab-separated.",
    )
    file = forms.FileField(
        label="Or a small file",
        required=False,
        help_text="Text (tab-delimited or CSV) or Excel, with the same header row; "
        "up to 1,000 learners.",
    )

    def __init__(self, *args: Any, recipients: Iterable[Recipient], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["recipient"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "—"), *((r.code, f"{r.code}: {r.name}") for r in recipients)]


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="PARS POSTs a signed JSON message here when a completion's status changes.",
    )
    description = forms.CharField(label="Description", max_length=200, required=False)


class RevealForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text="Why you need to see the learners' personal data (recorded in the audit trail).",
    )
