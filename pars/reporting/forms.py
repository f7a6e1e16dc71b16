"""The annual-report forms: they collect what was typed; the services check it.

The program-summary figures are validated once, by
:func:`pars.reporting.services.validate_program_summary` (the web service uses the
same function), so the form fields here accept any text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from pars.intake.rules import FieldError
from pars.reporting.models import AnnualReport
from pars.reporting.services import PROGRAM_SUMMARY_FIELDS

PROGRAM_SUMMARY_HELP = {
    "advertising_exhibit_income": "Income from advertising and exhibits at your CME activities.",
    "registration_fees": "Fees learners paid to take part in your CME activities.",
    "government_grants": "Monetary grants from government agencies for your CME program.",
    "private_donations": "Monetary donations from private (non-commercial) sources.",
}


class ProgramSummaryForm(forms.Form):
    """The four typed figures of the program summary, in US dollars."""

    def __init__(self, *args: Any, disabled: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in PROGRAM_SUMMARY_FIELDS.items():
            self.fields[name] = forms.CharField(
                label=f"{label} (US$)",
                required=False,
                disabled=disabled,
                help_text=PROGRAM_SUMMARY_HELP.get(name, ""),
                widget=forms.TextInput(
                    attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}
                ),
            )

    @staticmethod
    def initial_from(report: AnnualReport | None) -> dict[str, str]:
        if report is None:
            return {}
        values: dict[str, str] = {}
        for name in PROGRAM_SUMMARY_FIELDS:
            value: Decimal | None = getattr(report, name)
            values[name] = "" if value is None else format(value, "f")
        return values

    def rows(self, errors: list[FieldError]) -> list[tuple[forms.BoundField, list[FieldError]]]:
        """Each field with the service's errors for it (message and rule ID)."""
        return [
            (self[name], [error for error in errors if error.field == name])
            for name in PROGRAM_SUMMARY_FIELDS
        ]


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label="Reason for reopening",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="Recorded with the reopening and shown to the provider.",
        error_messages={"required": "Give the reason for reopening the year."},
    )


REMINDER_STATUSES = {"late": "Late", "incomplete": "Incomplete"}


class ReminderForm(forms.Form):
    """Which providers get a reminder; the choices are the visible providers not done."""

    providers = forms.TypedMultipleChoiceField(
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one provider to remind."},
    )
    preview_provider = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["providers"].choices = choices  # type: ignore[attr-defined]
        self.fields["preview_provider"].choices = [("", "—"), *choices]  # type: ignore[attr-defined]
