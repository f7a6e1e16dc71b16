"""The learner data dictionary is the one list of completion fields: the clean record, the
writer's COPY columns, the form, the delivery payload and corrections all derive from it,
so a field added to the dictionary reaches each of them with no other list to edit."""

from __future__ import annotations

import dataclasses
import datetime
import typing
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
from django.db import connection

from pars.accounts.access import get_provider_access
from pars.intake.fields import FieldSpec, Kind
from pars.learners.delivery.payloads import build_payload
from pars.learners.dictionary import (
    COMPLETION_FIELDS,
    LINK_GROUPS,
    group_names,
    stored_names,
    value_names,
)
from pars.learners.forms import completion_field_names, completion_required
from pars.learners.models import LearnerCompletion, Recipient
from pars.learners.services import apply_completions, insert
from pars.learners.validation import (
    COMPLETION_VALUE_FIELDS,
    CleanCompletion,
    CompletionAttributes,
    clean_completion_class,
    completion_attributes,
    load_recipients,
    validate_completion,
)
from pars.testing import learner_row, make_activity, register

TODAY = datetime.date(2026, 11, 27)
BOOKKEEPING = {"action", "learner_key"}
# A field a later year might add: every list below must take it with no edit.
NEW_FIELD = FieldSpec(
    "preferred_name", "Preferred Name", Kind.TEXT, "As the learner likes.", group="learner"
)


def dictionary_input_fields(fields: tuple[FieldSpec, ...] = COMPLETION_FIELDS) -> set[str]:
    """Every dictionary field as a clean record holds it (the birth date as month, day)."""
    return set(stored_names(spec.name for spec in fields))


def test_clean_completion_has_the_dictionarys_fields_and_its_bookkeeping() -> None:
    names = {item.name for item in dataclasses.fields(cast(Any, CleanCompletion))}
    assert names == dictionary_input_fields() | BOOKKEEPING


def test_the_typed_view_of_clean_completion_agrees_with_the_dictionary() -> None:
    built = {item.name: item.type for item in dataclasses.fields(cast(Any, CleanCompletion))}
    assert typing.get_type_hints(CompletionAttributes) == built
    assert built["completion_date"] is datetime.date  # always required: never None
    assert built["cme_credits"] == Decimal | None
    assert built["moc_credit_types"] == list[str]


def test_a_clean_record_of_the_dictionarys_fields_gives_the_model_values() -> None:
    values = set(COMPLETION_VALUE_FIELDS)
    assert values == dictionary_input_fields() - set(_link_names()) | {"learner_key"}
    model_columns = {field.attname for field in LearnerCompletion._meta.concrete_fields}
    assert values <= model_columns


def _link_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in COMPLETION_FIELDS if spec.group in LINK_GROUPS)


def test_copy_columns_are_model_columns_and_cover_every_dictionary_field() -> None:
    columns = insert._COPY_COLUMNS
    model_columns = {field.column for field in LearnerCompletion._meta.concrete_fields}
    assert set(columns) <= model_columns
    assert len(set(columns)) == len(columns)
    assert dictionary_input_fields() - set(_link_names()) <= set(columns)
    assert {"provider_id", "activity_id", "recipient_id"} <= set(columns)
    # COPY has no defaults to lean on: every column without one is written.
    no_default = {
        field.column
        for field in LearnerCompletion._meta.concrete_fields
        if not field.primary_key and not field.null and not field.has_default()
    }
    assert no_default <= set(columns)


def recipient(kind: str, *, required: tuple[str, ...] = ()) -> Recipient:
    return Recipient(
        code="XB", name="Example", kind=kind, completion_fields=list(required), identifier_hint=""
    )


@pytest.mark.parametrize(
    ("kind", "required", "extra"),
    [
        ("moc_board", (), ["moc_points", "moc_credit_types"]),
        ("state_board", (), ["license_state"]),
        ("rems", (), list(group_names("rems"))),
        ("moc_board", ("license_state",), ["license_state", "moc_points", "moc_credit_types"]),
        ("state_board", ("practice_state",), ["license_state", *group_names("rems")]),
    ],
)
def test_the_form_asks_the_dictionarys_fields_for_the_recipients_kind(
    kind: str, required: tuple[str, ...], extra: list[str]
) -> None:
    always = [
        "first_name",
        "last_name",
        "birth_date",
        "learner_id",
        "npi",
        "completion_date",
        "cme_credits",
    ]
    names = completion_field_names(recipient(kind, required=required))
    order = list(value_names())
    assert names == sorted(always + extra, key=order.index)


def test_every_dictionary_field_is_on_the_form_of_some_recipient() -> None:
    asked = {
        name
        for kind in ("moc_board", "state_board", "rems")
        for name in completion_field_names(recipient(kind))
    }
    assert asked == set(value_names())
    required = completion_required(recipient("rems"))
    assert {"first_name", "last_name", "birth_date", "completion_date"} <= required


def test_a_field_added_to_the_dictionary_reaches_the_record_and_the_form() -> None:
    fields = (*COMPLETION_FIELDS, NEW_FIELD)
    built = clean_completion_class(fields)
    names = {item.name for item in dataclasses.fields(built)}
    assert names == dictionary_input_fields(fields) | BOOKKEEPING
    assert completion_attributes(fields)["preferred_name"] is str
    for kind in ("moc_board", "state_board", "rems"):
        assert "preferred_name" in completion_field_names(recipient(kind), fields)
    # Blank by default, and among the values the record gives the model.
    record = built(
        **dict.fromkeys(("birth_month", "birth_day", "completion_date")),
        first_name="Ada",
        last_name="Lovelace",
        action="add",
        learner_key="id:1",
    )
    assert record.preferred_name == ""
    assert record.values()["preferred_name"] == ""


def test_the_delivery_payload_carries_the_dictionarys_groups() -> None:
    completion = SimpleNamespace(
        pk=7,
        version=1,
        provider=SimpleNamespace(provider_id="P1", name="Provider"),
        activity=SimpleNamespace(
            accme_activity_id="123456789",
            provider_activity_id="GR-1",
            title="T",
            start_date=datetime.date(2026, 1, 1),
            end_date=datetime.date(2026, 2, 1),
        ),
        recipient=SimpleNamespace(kind="rems"),
        first_name="Ada",
        last_name="Lovelace",
        birth_month=12,
        birth_day=10,
        learner_id="A-1",
        npi="",
        license_state="",
        completion_date=datetime.date(2026, 1, 5),
        cme_credits=Decimal("1.5"),
        moc_points=None,
        moc_credit_types=[],
        profession="Physician",
        practice_state="NC",
        dea_registration="Individual",
        practice_area="Pain",
        surgical_procedures=False,
        time_in_practice="Trainee",
    )
    payload = build_payload(cast(Any, completion), "add", None)
    assert list(payload["learner"]) == list(stored_names(group_names("learner")))
    assert payload["learner"]["birth_month"] == 12
    assert list(payload["credits"]) == list(group_names("credits"))
    assert payload["credits"] == {"cme_credits": "1.5", "moc_points": None, "moc_credit_types": []}
    assert list(payload["rems"]) == list(group_names("rems"))
    assert payload["rems"]["surgical_procedures"] is False


ROWS: list[dict[str, Any]] = [
    {},
    {"first_name": "O\\Brien", "learner_id": "654321", "npi": "1234567893"},
    {"last_name": "Zoë", "learner_id": "111111", "cme_credits": "", "moc_points": "2.5"},
    {"learner_id": "222222", "profession": "Physician", "surgical_procedures": "No"},
]


def test_copy_and_insert_write_the_same_rows(
    provider: Any, editor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    access = get_provider_access(editor, provider.provider_id)
    recipients = load_recipients()
    written = {}
    for use_copy in (False, True):
        activity = make_activity(provider)
        register(activity, "ABIM")
        records = []
        for number, change in enumerate(ROWS, start=2):
            record, errors = validate_completion(
                learner_row(activity, **change), recipients=recipients, today=TODAY
            )
            assert errors == []
            assert record is not None
            records.append((number, record))
        monkeypatch.setattr(insert, "COPY_THRESHOLD", 1)
        result = apply_completions(
            access, records, channel="api", recipients=recipients, use_copy=use_copy
        )
        assert result.errors == []
        written[use_copy] = list(
            LearnerCompletion.objects.filter(activity=activity)
            .order_by("learner_key")
            .values(*COMPLETION_VALUE_FIELDS, "status", "version", "ever_sent", "last_channel")
        )
    assert written[True] == written[False]
    assert len(written[True]) == len(ROWS)
