"""The data dictionaries and the models that store their records agree.

A record kind's dictionary (`pars.activities.dictionary`, `pars.learners.dictionary`)
decides what every channel accepts; the model decides what the database can hold. A
field added to one and not the other, or a limit the column cannot hold, would let
the validator pass a value the writer then loses or fails on. These checks need no
database: they read the model classes only.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import models

from pars.activities.dictionary import FIELDS, SUPPORTER_FIELDS
from pars.activities.models import Activity, CommercialSupport
from pars.intake.fields import FieldSpec, Kind, Status
from pars.learners.dictionary import COMPLETION_FIELDS, REGISTRATION_FIELDS
from pars.learners.models import ActivityRegistration, LearnerCompletion

# The model field classes that can hold each kind's clean value (exact classes: a
# DateTimeField is a DateField, a URLField a CharField, and neither would be right).
_INTEGERS = (models.PositiveIntegerField, models.PositiveSmallIntegerField, models.IntegerField)
MODEL_FIELDS_BY_KIND: dict[Kind, tuple[type[models.Field], ...]] = {
    Kind.TEXT: (models.CharField, models.TextField),
    Kind.URL: (models.URLField,),
    Kind.INTEGER: _INTEGERS,
    Kind.MONEY: _INTEGERS,
    Kind.YEAR: (models.PositiveSmallIntegerField, models.PositiveIntegerField),
    Kind.DECIMAL: (models.DecimalField,),
    Kind.BOOLEAN: (models.BooleanField,),
    Kind.DATE: (models.DateField,),
    Kind.CHOICE: (models.CharField,),
    Kind.CHOICE_LIST: (models.JSONField,),
    Kind.TEXT_LIST: (models.JSONField,),
    Kind.OUTCOMES: (models.JSONField,),
}
# The largest value each integer column holds (PostgreSQL's limits; SQLite's are wider).
COLUMN_MAXIMUM: dict[type[models.Field], int] = {
    models.PositiveSmallIntegerField: 32_767,
    models.PositiveIntegerField: 2_147_483_647,
    models.IntegerField: 2_147_483_647,
}
# What the validator reads an integer as when the dictionary gives no maximum.
WHOLE_NUMBER_MAXIMUM = 2_147_483_647

# Dictionary fields whose blank value (None) never reaches the writer, so the column
# may be NOT NULL: the validator always fills them.
ALWAYS_FILLED = {
    "reporting_year",  # the year of the start date when left blank
    "meets_mips",  # blank means No
    "in_kind",  # a supporter's: blank means No (Yes when in-kind types are given)
    "completion_date",  # required of every completion record
}

# Model fields that are bookkeeping or derived, not reported values.
ACTIVITY_BOOKKEEPING = {
    "id",
    "provider",
    "status",  # derived by the validator from the data and the status asked for
    "legacy_activity_type",  # the legacy code an Activity Format was given as
    "last_channel",
    "created_by_event",
    "created_at",
    "updated_at",
}
SUPPORTER_BOOKKEEPING = {"id", "provider", "activity", "position"}
COMPLETION_BOOKKEEPING = {
    "id",
    "provider",
    "learner_key",  # derived from the recipient and the learner's identity
    "status",
    "status_reason",
    "status_code",
    "status_changed_at",
    "version",
    "batch",
    "ever_sent",
    "last_channel",
    "upload",
    "created_by_event",
    "created_at",
    "updated_at",
}
REGISTRATION_BOOKKEEPING = {
    "id",
    "provider",
    "activity",
    "recipient",
    "attested_by",
    "attested_at",
    "last_channel",
    "created_at",
    "updated_at",
}

# Completion fields stored as something else: the activity and the recipient are links
# the writer resolves; the birth date is kept as month and day (never the year).
COMPLETION_STORED_AS = {
    "provider_activity_id": ("activity",),
    "accme_activity_id": ("activity",),
    "recipient": ("recipient",),
    "birth_date": ("birth_month", "birth_day"),
}


def _concrete(model: type[models.Model]) -> dict[str, models.Field]:
    return {field.name: field for field in model._meta.concrete_fields}


def _integer_digits(number: Decimal) -> int:
    return len(str(int(number)))


def _decimals(number: Decimal) -> int:
    return len(str(number).partition(".")[2])


def disagreements(spec: FieldSpec, column: models.Field) -> list[str]:
    """How the column fails to hold every value the validator passes for `spec`."""
    problems = []
    allowed = MODEL_FIELDS_BY_KIND[spec.kind]
    if type(column) not in allowed:
        names = ", ".join(cls.__name__ for cls in allowed)
        return [f"is a {type(column).__name__}; a {spec.kind.value} field needs one of {names}"]
    if spec.kind in (Kind.TEXT, Kind.URL) and isinstance(column, models.CharField):
        if spec.max_length is None:
            problems.append(f"column of {column.max_length} characters, dictionary sets no limit")
        elif column.max_length != spec.max_length:
            problems.append(
                f"column of {column.max_length} characters, dictionary says {spec.max_length}"
            )
    if spec.kind is Kind.CHOICE:
        assert isinstance(column, models.CharField)
        longest = max((len(code) for code in spec.choices), default=0)
        if column.max_length is None or column.max_length < longest:
            problems.append(f"column of {column.max_length} characters, a code has {longest}")
    if spec.kind in (Kind.INTEGER, Kind.MONEY):
        maximum = spec.max_value if spec.max_value is not None else WHOLE_NUMBER_MAXIMUM
        if maximum > COLUMN_MAXIMUM[type(column)]:
            problems.append(
                f"holds at most {COLUMN_MAXIMUM[type(column)]}, validator takes {maximum}"
            )
    if spec.kind is Kind.DECIMAL:
        assert isinstance(column, models.DecimalField)
        whole_digits = column.max_digits - column.decimal_places
        if spec.max_value is None or _integer_digits(spec.max_value) > whole_digits:
            problems.append(
                f"holds {whole_digits} whole digits, dictionary maximum {spec.max_value}"
            )
        if spec.step is not None and _decimals(spec.step) > column.decimal_places:
            problems.append(f"keeps {column.decimal_places} decimals, step is {spec.step}")
    blank_is_none = spec.empty is None
    always_filled = spec.required_for is Status.DRAFT or spec.name in ALWAYS_FILLED
    if blank_is_none and not always_filled and not column.null:
        problems.append("is NOT NULL, but a blank value is stored as None")
    return problems


def _cases(
    specs: tuple[FieldSpec, ...], model: type[models.Model], skip: frozenset[str] = frozenset()
) -> list[tuple[FieldSpec, type[models.Model]]]:
    return [(spec, model) for spec in specs if spec.name not in skip]


STORED_CASES = [
    *_cases(FIELDS, Activity, frozenset({"supporters"})),
    *_cases(SUPPORTER_FIELDS, CommercialSupport),
    *_cases(COMPLETION_FIELDS, LearnerCompletion, frozenset(COMPLETION_STORED_AS)),
    *_cases(REGISTRATION_FIELDS, ActivityRegistration),
]


@pytest.mark.parametrize(
    ("spec", "model"),
    STORED_CASES,
    ids=[f"{model.__name__}.{spec.name}" for spec, model in STORED_CASES],
)
def test_every_dictionary_field_has_a_column_that_holds_its_values(
    spec: FieldSpec, model: type[models.Model]
) -> None:
    columns = _concrete(model)
    assert spec.name in columns, f"{model.__name__} has no field {spec.name!r}"
    assert disagreements(spec, columns[spec.name]) == []


@pytest.mark.parametrize(
    ("model", "specs", "bookkeeping"),
    [
        (Activity, FIELDS, ACTIVITY_BOOKKEEPING),
        (CommercialSupport, SUPPORTER_FIELDS, SUPPORTER_BOOKKEEPING),
        (
            LearnerCompletion,
            COMPLETION_FIELDS,
            COMPLETION_BOOKKEEPING
            | {name for names in COMPLETION_STORED_AS.values() for name in names},
        ),
        (ActivityRegistration, REGISTRATION_FIELDS, REGISTRATION_BOOKKEEPING),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_every_reported_model_field_is_in_the_dictionary(
    model: type[models.Model], specs: tuple[FieldSpec, ...], bookkeeping: set[str]
) -> None:
    named = {spec.name for spec in specs}
    unlisted = sorted(set(_concrete(model)) - named - bookkeeping)
    assert unlisted == [], f"{model.__name__} fields missing from the dictionary: {unlisted}"
    # The allow-lists name real fields, so a renamed bookkeeping field is noticed too.
    assert bookkeeping <= set(_concrete(model))


def test_completion_fields_stored_as_links_or_parts_have_them() -> None:
    columns = _concrete(LearnerCompletion)
    for name, stored_as in COMPLETION_STORED_AS.items():
        assert set(stored_as) <= set(columns), name
    assert isinstance(columns["activity"], models.ForeignKey)
    assert isinstance(columns["recipient"], models.ForeignKey)
    assert isinstance(columns["birth_month"], models.PositiveSmallIntegerField)
    assert isinstance(columns["birth_day"], models.PositiveSmallIntegerField)


def test_the_supporters_field_is_the_commercial_support_relation() -> None:
    relation = Activity._meta.get_field("supporters")
    assert relation.related_model is CommercialSupport


def test_the_check_catches_a_column_that_is_too_short_or_of_another_kind() -> None:
    """The comparison itself: a field added to the dictionary with a wrong column fails."""
    title = FieldSpec("title", "Title", Kind.TEXT, max_length=500)
    assert disagreements(title, models.CharField(max_length=200)) != []
    assert disagreements(title, models.CharField(max_length=500)) == []
    amount = FieldSpec("amount", "Amount", Kind.MONEY)
    assert disagreements(amount, models.PositiveSmallIntegerField(null=True)) != []
    assert disagreements(amount, models.PositiveIntegerField()) != []  # blank is None
    assert disagreements(amount, models.PositiveIntegerField(null=True)) == []
    when = FieldSpec("when", "When", Kind.DATE)
    assert disagreements(when, models.DateTimeField(null=True)) != []
    credits = FieldSpec(
        "credits", "Credits", Kind.DECIMAL, max_value=Decimal(1000), step=Decimal("0.25")
    )
    assert (
        disagreements(credits, models.DecimalField(max_digits=4, decimal_places=1, null=True)) != []
    )
    assert (
        disagreements(credits, models.DecimalField(max_digits=6, decimal_places=2, null=True)) == []
    )
