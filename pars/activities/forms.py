"""The activity web form, generated from the data dictionary.

The form decides nothing: every field is optional and free text (or a list of
strings), so whatever the user typed reaches :func:`validation.validate_activity`
as a raw mapping of dictionary field names to values, exactly as a file row or a
JSON body does. The validator's field errors are then attached to the fields
(and to the supporter rows) by :func:`attach_errors`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from pars.activities.dictionary import (
    FIELDS,
    FIELDS_BY_NAME,
    LEGACY_ACTIVITY_TYPES,
    MEASUREMENT_TYPES,
    OUTCOMES,
    REQUESTED_STATUSES,
    SUPPORTER_FIELDS_BY_NAME,
)
from pars.activities.models import Activity
from pars.intake.fields import FieldSpec, Kind
from pars.intake.rules import FieldError

# ---------------------------------------------------------------------------
# Fieldsets: every dictionary field in exactly one group (tests/activities checks it)

FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "Identity": (
        "provider_activity_id",
        "accme_activity_id",
        "title",
        "activity_format",
        "delivery_methods",
        "description",
        "providership",
        "joint_providers",
    ),
    "Dates & location": (
        "start_date",
        "end_date",
        "reporting_year",
        "city",
        "state",
        "country",
    ),
    "Credits & learners": ("ama_credits", "physician_learners", "other_learners"),
    "Outcomes": ("outcome_measures",),
    "Commercial support": ("commercial_support_received", "supporters"),
    "CME Passport & MIPS": (
        "listed_on_passport",
        "fee",
        "registration",
        "activity_url",
        "meets_mips",
    ),
    "Legacy fields": (
        "hours_of_instruction",
        "designed_to_change_competence",
        "changes_measured_competence",
        "designed_to_change_performance",
        "changes_measured_performance",
        "designed_to_change_patient_outcomes",
        "changes_measured_patient_outcomes",
        "learning_formats",
        "competencies",
        "advertising_income",
        "other_income",
        "expenses",
    ),
}
LEGACY_GROUP = "Legacy fields"

MAX_SUPPORTERS = 50
EMPTY_SUPPORTER_ROWS = 5  # blank rows offered below the existing supporters
MORE_SUPPORTER_ROWS = 3  # added by the "More supporter rows" button

STATUS_CHOICES = [("", "As complete as the data allows"), *REQUESTED_STATUSES.items()]
_YES_NO = [("", "—"), ("yes", "Yes"), ("no", "No")]


# ---------------------------------------------------------------------------
# Fields that never refuse a value


class RawListField(forms.Field):
    """A list of strings from a multi-value widget; the validator checks the items."""

    def to_python(self, value: Any) -> list[str]:
        if value in (None, "", [], ()):
            return []
        items = value if isinstance(value, list | tuple) else [value]
        return [str(item) for item in items if str(item).strip()]


class OutcomesWidget(forms.Widget):
    """One row per outcome: a checkbox, and checkboxes for its measurement types.

    Submits ``<name>`` (the outcome codes ticked) and ``<name>__<code>`` (the measurement
    types of each) and gives the validator the list of ``{"outcome", "measurement_types"}``
    objects that the JSON channel sends too.
    """

    def value_from_datadict(
        self, data: Mapping[str, Any], files: Mapping[str, Any], name: str
    ) -> list[dict[str, Any]]:
        getlist = getattr(data, "getlist", None)
        if getlist is None:
            return list(data.get(name) or [])
        return [
            {"outcome": code, "measurement_types": getlist(f"{name}__{code}")}
            for code in getlist(name)
        ]

    def value_omitted_from_data(
        self, data: Mapping[str, Any], files: Mapping[str, Any], name: str
    ) -> bool:
        return False

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        chosen: dict[str, list[str]] = {}
        for item in value or []:
            if isinstance(item, Mapping):
                types = item.get("measurement_types") or []
                chosen[str(item.get("outcome", ""))] = [str(t).lower() for t in types]
        base_id = (attrs or {}).get("id") or f"id_{name}"
        rows = []
        for index, (code, label) in enumerate(OUTCOMES.items()):
            outcome_id = base_id if index == 0 else f"{base_id}_{index}"
            types = format_html_join(
                " ",
                '<label class="inline"><input type="checkbox" name="{}__{}" value="{}"{}> {}'
                "</label>",
                (
                    (name, code, type_code, _checked(type_code in chosen.get(code, [])), type_label)
                    for type_code, type_label in MEASUREMENT_TYPES.items()
                ),
            )
            rows.append(
                format_html(
                    '<tr><td><label><input type="checkbox" name="{}" value="{}" id="{}"{}>'
                    " {}</label></td><td>{}</td></tr>",
                    name,
                    code,
                    outcome_id,
                    _checked(code in chosen),
                    label,
                    types,
                )
            )
        return format_html(
            '<table class="outcomes"><thead><tr><th>Outcome</th><th>Measured</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            SafeString("".join(rows)),
        )


def _checked(checked: bool) -> str:
    return " checked" if checked else ""


class RawOutcomesField(forms.Field):
    widget = OutcomesWidget

    def to_python(self, value: Any) -> Any:
        return value or []


# The dictionary's help describes values as files write them ("separated by ';'"); where
# the form's widget makes that moot, it says this instead.
FORM_HELP = {
    "activity_format": "",
    "delivery_methods": "For courses, series and enduring materials; tick all that apply.",
    "start_date": "",
    "end_date": "",
    "learning_formats": "Legacy sub-categories.",
    "outcome_measures": "Tick each outcome the activity measured, and how it was measured.",
    "competencies": "Competencies addressed.",
}


def _form_field(spec: FieldSpec) -> forms.Field:
    """A lenient form field for one dictionary field, with the widget of its kind."""
    label = spec.label
    help_text = FORM_HELP.get(spec.name, spec.help)
    if spec.years != "all years":
        help_text = f"{help_text} (Collected {spec.years}.)".strip()
    common: dict[str, Any] = {"label": label, "help_text": help_text, "required": False}
    choices = [("", "—"), *spec.choices.items()]
    kind = spec.kind
    if kind is Kind.TEXT and spec.name == "description":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), strip=False, **common)
    if kind in (Kind.TEXT, Kind.TEXT_LIST):
        return forms.CharField(strip=False, **common)
    if kind in (Kind.INTEGER, Kind.MONEY, Kind.YEAR):
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "numeric"}), **common)
    if kind is Kind.DECIMAL:
        return forms.CharField(widget=forms.TextInput(attrs={"inputmode": "decimal"}), **common)
    if kind is Kind.DATE:
        date_input = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        return forms.CharField(widget=date_input, **common)
    if kind is Kind.URL:
        return forms.CharField(widget=forms.URLInput(), **common)
    if kind is Kind.BOOLEAN:
        return forms.CharField(widget=forms.Select(choices=_YES_NO), **common)
    if kind is Kind.CHOICE:
        return forms.CharField(widget=forms.Select(choices=choices), **common)
    if kind is Kind.CHOICE_LIST:
        checkboxes = forms.CheckboxSelectMultiple(choices=list(spec.choices.items()))
        return RawListField(widget=checkboxes, **common)
    if kind is Kind.OUTCOMES:
        return RawOutcomesField(**common)
    raise ValueError(f"No form field for {spec.name} ({kind})")


FORM_FIELD_NAMES = tuple(spec.name for spec in FIELDS if spec.kind is not Kind.SUPPORTERS)


class ActivityForm(forms.Form):
    """Every dictionary field (but the supporters, a formset), plus the requested status."""

    status = forms.CharField(
        label="Save as",
        required=False,
        widget=forms.Select(choices=STATUS_CHOICES),
        help_text="Leave blank to save the activity with the highest status its data allows.",
    )

    def __init__(self, *args: Any, legacy_code: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in FORM_FIELD_NAMES:
            self.fields[name] = _form_field(FIELDS_BY_NAME[name])
        # Keep a legacy activity-type code the activity came with (e.g. IL): offered as
        # an option, the validator maps it to its format and keeps the code.
        format_code = legacy_code or (self.data.get("activity_format", "") if self.data else "")
        if format_code in LEGACY_ACTIVITY_TYPES:
            widget = self.fields["activity_format"].widget
            assert isinstance(widget, forms.Select)
            activity_format = LEGACY_ACTIVITY_TYPES[format_code][0]
            label = FIELDS_BY_NAME["activity_format"].choices[activity_format]
            widget.choices = [
                *widget.choices,
                (format_code, f"{label} (legacy code {format_code})"),
            ]

    def raw(self) -> dict[str, Any]:
        """What the user entered, as the validator's raw mapping (no supporters)."""
        data = self.cleaned_data
        raw = {name: data.get(name) for name in FORM_FIELD_NAMES}
        raw["status"] = data.get("status")
        return raw


class SupporterForm(forms.Form):
    source = forms.CharField(label=SUPPORTER_FIELDS_BY_NAME["source"].label, required=False)
    monetary_amount = forms.CharField(
        label=SUPPORTER_FIELDS_BY_NAME["monetary_amount"].label,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    in_kind = forms.BooleanField(label=SUPPORTER_FIELDS_BY_NAME["in_kind"].label, required=False)
    in_kind_description = forms.CharField(
        label=SUPPORTER_FIELDS_BY_NAME["in_kind_description"].label, required=False
    )
    in_kind_types = RawListField(
        label=SUPPORTER_FIELDS_BY_NAME["in_kind_types"].label,
        required=False,
        widget=forms.CheckboxSelectMultiple(
            choices=list(SUPPORTER_FIELDS_BY_NAME["in_kind_types"].choices.items())
        ),
    )

    def raw(self) -> dict[str, Any]:
        data = getattr(self, "cleaned_data", {})
        return {
            "source": data.get("source"),
            "monetary_amount": data.get("monetary_amount"),
            # An unticked box says nothing: the validator infers in-kind from its details.
            "in_kind": "yes" if data.get("in_kind") else None,
            "in_kind_types": data.get("in_kind_types") or [],
            "in_kind_description": data.get("in_kind_description"),
        }


def supporter_formset(
    data: Any = None, *, initial: list[dict[str, Any]] | None = None, extra: int = 0
) -> forms.BaseFormSet:
    """The supporter rows: the given ones plus ``extra`` blank rows (up to MAX_SUPPORTERS)."""
    initial = initial or []
    formset_class = forms.formset_factory(
        SupporterForm,
        extra=max(0, min(extra, MAX_SUPPORTERS - len(initial))),
        max_num=MAX_SUPPORTERS,
        absolute_max=MAX_SUPPORTERS,
        validate_max=True,
    )
    return formset_class(data, initial=initial, prefix="supporters")


def raw_activity(form: ActivityForm, formset: forms.BaseFormSet) -> dict[str, Any]:
    """The validator's raw mapping for the posted form and supporter rows.

    Every row is passed on, blank ones too (the validator skips those), so that the
    validator's ``supporters[n]`` is row n of the form.
    """
    raw = form.raw()
    raw["supporters"] = [row.raw() for row in formset.forms]
    return raw


# ---------------------------------------------------------------------------
# Errors: validator field names -> form fields and supporter rows

_SUPPORTER_ERROR = re.compile(r"^supporters\[(\d+)\](?:\.(\w+))?$")


@dataclass(frozen=True)
class ErrorItem:
    """One validator error as the summary shows it."""

    error: FieldError
    label: str
    anchor: str


def error_label(field_name: str) -> str:
    """The label of a validator error's field (``supporters[2].source`` -> "Supporter 2: ...")."""
    match = _SUPPORTER_ERROR.match(field_name)
    if match:
        index, sub = match.groups()
        sub_spec = SUPPORTER_FIELDS_BY_NAME.get(sub or "")
        return f"Supporter {index}" + (f": {sub_spec.label}" if sub_spec else "")
    if field_name in FIELDS_BY_NAME:
        return FIELDS_BY_NAME[field_name].label
    if field_name == "status":
        return "Save as"
    return field_name.replace("_", " ").capitalize()


def attach_errors(
    form: ActivityForm, formset: forms.BaseFormSet, errors: Iterable[FieldError]
) -> list[ErrorItem]:
    """Show each validator error on its field or supporter row; return the summary."""
    summary = []
    for error in errors:
        match = _SUPPORTER_ERROR.match(error.field)
        anchor = "activity-errors"
        if match and int(match.group(1)) <= len(formset.forms):
            row = formset.forms[int(match.group(1)) - 1]
            sub = match.group(2)
            row.add_error(sub if sub in row.fields else None, error.message)
            anchor = f"supporter-{match.group(1)}"
        elif error.field == "supporters":
            formset.non_form_errors().append(error.message)
            anchor = "field-supporters"
        elif error.field in form.fields:
            form.add_error(error.field, error.message)
            anchor = f"field-{error.field}"
        else:
            form.add_error(None, error.message)
        summary.append(ErrorItem(error, error_label(error.field), anchor))
    return summary


# ---------------------------------------------------------------------------
# From a stored activity to the form, and to the detail page


def _initial_value(spec: FieldSpec, value: Any) -> Any:
    if value is None:
        return [] if spec.kind in (Kind.CHOICE_LIST, Kind.OUTCOMES) else ""
    if spec.kind is Kind.BOOLEAN:
        return "yes" if value else "no"
    if spec.kind is Kind.DECIMAL and isinstance(value, Decimal):
        return format_decimal(value)
    if spec.kind is Kind.TEXT_LIST:
        return "; ".join(value)
    if spec.kind in (Kind.INTEGER, Kind.MONEY, Kind.YEAR):
        return str(value)
    return value


def format_decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


def initial_from_activity(activity: Activity, *, copy: bool = False) -> dict[str, Any]:
    """Form initial values of a stored activity (a copy drops both activity IDs)."""
    initial = {
        name: _initial_value(FIELDS_BY_NAME[name], getattr(activity, name))
        for name in FORM_FIELD_NAMES
    }
    if activity.legacy_activity_type:
        initial["activity_format"] = activity.legacy_activity_type
    if activity.reporting_year == activity.start_date.year:
        initial["reporting_year"] = ""  # the default: follows the start date when it changes
    if copy:
        initial["provider_activity_id"] = ""
        initial["accme_activity_id"] = ""
    return initial


def initial_supporters(activity: Activity) -> list[dict[str, Any]]:
    return [
        {
            "source": supporter.source,
            "monetary_amount": ""
            if supporter.monetary_amount is None
            else supporter.monetary_amount,
            "in_kind": supporter.in_kind,
            "in_kind_types": supporter.in_kind_types,
            "in_kind_description": supporter.in_kind_description,
        }
        for supporter in activity.supporters.all()
    ]


@dataclass(frozen=True)
class DisplayField:
    name: str
    label: str
    value: str
    url: str = ""


def _display_value(spec: FieldSpec, value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    kind = spec.kind
    if kind is Kind.BOOLEAN:
        return "Yes" if value else "No"
    if kind is Kind.CHOICE:
        return str(spec.choices.get(value, value))
    if kind is Kind.CHOICE_LIST:
        return "; ".join(str(spec.choices.get(code, code)) for code in value)
    if kind is Kind.TEXT_LIST:
        return "; ".join(value)
    if kind is Kind.OUTCOMES:
        parts = []
        for item in value:
            label = spec.choices.get(item.get("outcome"), item.get("outcome"))
            types = ", ".join(
                MEASUREMENT_TYPES.get(code, code) for code in item.get("measurement_types") or []
            )
            parts.append(f"{label} ({types})" if types else str(label))
        return "; ".join(parts)
    if kind is Kind.DECIMAL and isinstance(value, Decimal):
        return format_decimal(value)
    if kind is Kind.DATE and isinstance(value, datetime.date):
        return value.strftime("%m/%d/%Y")
    return str(value)


def display_groups(activity: Activity) -> list[tuple[str, list[DisplayField]]]:
    """The activity's fields by fieldset, with dictionary labels and readable values.

    The legacy group is left out when none of its fields has a value.
    """
    groups = []
    for group, names in FIELD_GROUPS.items():
        fields = []
        for name in names:
            if name == "supporters":
                continue  # shown as a table
            spec = FIELDS_BY_NAME[name]
            value = getattr(activity, name)
            shown = _display_value(spec, value)
            if name == "activity_format" and activity.legacy_activity_type:
                shown = f"{shown} (legacy code {activity.legacy_activity_type})"
            url = shown if spec.kind is Kind.URL else ""
            fields.append(DisplayField(name, spec.label, shown, url))
        if group == LEGACY_GROUP and not any(field.value for field in fields):
            continue
        groups.append((group, fields))
    return groups


def supporter_rows(activity: Activity) -> list[dict[str, str]]:
    types_spec = SUPPORTER_FIELDS_BY_NAME["in_kind_types"]
    return [
        {
            "source": supporter.source,
            "monetary_amount": ""
            if supporter.monetary_amount is None
            else f"${supporter.monetary_amount:,}",
            "in_kind": "Yes" if supporter.in_kind else "No",
            "in_kind_types": _display_value(types_spec, supporter.in_kind_types),
            "in_kind_description": supporter.in_kind_description,
        }
        for supporter in activity.supporters.all()
    ]
