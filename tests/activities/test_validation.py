"""The one activity validator: what it accepts, refuses and computes."""

import datetime
from decimal import Decimal
from typing import Any

import pytest

from pars.activities.dictionary import FIELDS
from pars.activities.validation import RULES, rules_for_year, validate_activity

TODAY = datetime.date(2026, 11, 27)


def course(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "provider_activity_id": "GR-2026-001",
        "title": "Cardiology Update",
        "activity_format": "Course",
        "delivery_methods": "In-Person",
        "start_date": "03/01/2026",
        "end_date": "2026-03-02",
        "description": "Heart failure and arrhythmia, for internists.",
        "city": "Chicago",
        "state": "IL",
        "country": "USA",
        "providership": "Direct",
        "ama_credits": "6.5",
        "physician_learners": "120",
        "other_learners": "35",
        "commercial_support_received": "Yes",
        "supporters": [
            {"source": "Example Pharma", "monetary_amount": "$5,000"},
            {"source": "Device Co", "in_kind": "Yes"},
        ],
        "outcome_measures": "Learner Competence:Objective",
        "listed_on_passport": "No",
    }
    record.update(overrides)
    return record


def rules_of(record: dict[str, Any]) -> list[str]:
    _, errors = validate_activity(record, row=7, today=TODAY)
    assert all(error.row == 7 for error in errors)
    return [error.rule for error in errors]


def test_a_complete_course_closes_with_clean_values() -> None:
    clean, errors = validate_activity(course(), today=TODAY)
    assert errors == []
    assert clean is not None
    values = clean.values
    assert values["status"] == "closed"
    assert values["activity_format"] == "course"
    assert values["start_date"] == datetime.date(2026, 3, 1)
    assert values["reporting_year"] == 2026
    assert values["ama_credits"] == Decimal("6.5")
    assert values["physician_learners"] == 120
    assert values["outcome_measures"] == [
        {"outcome": "learner_competence", "measurement_types": ["objective"]}
    ]
    assert clean.supporters[0]["monetary_amount"] == 5000
    assert clean.supporters[1]["in_kind"] is True


def test_native_values_from_json_and_excel_equal_text_values() -> None:
    native = course(
        start_date=datetime.date(2026, 3, 1),
        end_date=datetime.datetime(2026, 3, 2, 0, 0),  # noqa: DTZ001 (Excel gives naive)
        ama_credits=6.5,
        physician_learners=120.0,
        other_learners=35,
        commercial_support_received=True,
        delivery_methods=["in_person"],
        supporters=[
            {"source": "Example Pharma", "monetary_amount": 5000},
            {"source": "Device Co", "in_kind": True},
        ],
        outcome_measures=[{"outcome": "Learner Competence", "measurement_types": ["Objective"]}],
        listed_on_passport=False,
    )
    from_text, _ = validate_activity(course(), today=TODAY)
    from_native, errors = validate_activity(native, today=TODAY)
    assert errors == []
    assert from_text == from_native


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"end_date": "02/28/2026"}, "end_date", "activity.end_date.before_start"),
        ({"activity_format": "XYZ"}, "activity_format", "activity.activity_format.not_allowed"),
        ({"physician_learners": "-3"}, "physician_learners", "activity.physician_learners.invalid"),
        ({"start_date": "2026-02-30"}, "start_date", "activity.start_date.invalid"),
        ({"ama_credits": "1.1"}, "ama_credits", "activity.ama_credits.step"),
        ({"title": ""}, "title", "activity.title.required"),
        ({"title": "x" * 501}, "title", "activity.title.too_long"),
        ({"country": "Atlantis"}, "country", "activity.country.not_allowed"),
        ({"commercial_support_received": "maybe"}, "commercial_support_received",
         "activity.commercial_support_received.invalid"),
        ({"supporters": [{"monetary_amount": "10"}]}, "supporters[1].source",
         "activity.supporters.source.required"),
        ({"supporters": [{"source": "X", "monetary_amount": "10.50"}]},
         "supporters[1].monetary_amount", "activity.supporters.monetary_amount.invalid"),
        ({"commercial_support_received": "No"}, "supporters", "activity.supporters.not_allowed"),
        ({"supporters": [], "status": "Closed"}, "supporters", "activity.supporters.required"),
        ({"hours_of_instruction": "0"}, "hours_of_instruction",
         "activity.hours_of_instruction.invalid"),
        ({"reporting_year": "2024"}, "reporting_year", "activity.reporting_year.outside_dates"),
        ({"end_date": "03/05/2027"}, "end_date", "activity.end_date.too_long"),
        ({"action": "Replace"}, "action", "activity.action.not_allowed"),
    ],
)  # fmt: skip
def test_each_problem_is_reported_on_its_field_with_its_rule(
    overrides: dict[str, Any], field: str, rule: str
) -> None:
    _, errors = validate_activity(course(**overrides), row=3, today=TODAY)
    assert [(error.field, error.rule) for error in errors] == [(field, rule)]
    assert errors[0].message
    assert rule in RULES


@pytest.mark.parametrize("year", ["1999", "2101"])
def test_a_reporting_year_out_of_range_is_named_as_such(year: str) -> None:
    # A 4-digit year outside the accepted range: "must be a 4-digit year" would be wrong.
    _, errors = validate_activity(course(reporting_year=year), row=3, today=TODAY)
    assert [(error.field, error.rule, error.message) for error in errors] == [
        (
            "reporting_year",
            "activity.reporting_year.invalid",
            f"Reporting Year must be a year from 2005 to 2100; got '{year}'.",
        )
    ]


def test_unknown_value_error_names_the_allowed_values() -> None:
    _, errors = validate_activity(course(providership="Shared"), today=TODAY)
    assert errors[0].message == ("Providership: 'Shared' is not allowed. Allowed: Direct, Joint.")


def test_legacy_activity_type_codes_map_to_format_and_delivery() -> None:
    clean, errors = validate_activity(
        course(activity_format="IEM", delivery_methods="", city="", state="", country=""),
        today=TODAY,
    )
    assert errors == []
    assert clean is not None
    assert clean.values["activity_format"] == "enduring"
    assert clean.values["delivery_methods"] == ["online"]
    assert clean.values["legacy_activity_type"] == "IEM"


def test_location_is_only_kept_for_live_formats() -> None:
    clean, _ = validate_activity(course(activity_format="Journal-based CME"), today=TODAY)
    assert clean is not None
    assert (clean.values["city"], clean.values["country"]) == ("", "")


def test_missing_close_fields_lower_the_status_unless_closing_is_asked() -> None:
    record = course(physician_learners="", outcome_measures="")
    clean, errors = validate_activity(record, today=TODAY)
    assert errors == []
    assert clean is not None
    assert clean.values["status"] == "ready_to_close"  # ended before TODAY
    assert sorted(rules_of({**record, "status": "Closed"})) == [
        "activity.outcome_measures.required",
        "activity.physician_learners.required",
    ]


def test_active_or_ready_to_close_follows_the_end_date() -> None:
    record = course(start_date="12/01/2026", end_date="12/02/2026", status="Active")
    clean, _ = validate_activity(record, today=TODAY)
    assert clean is not None
    assert clean.values["status"] == "active"


def test_in_person_course_needs_a_location_to_be_active() -> None:
    no_location = {"city": "", "state": "", "country": ""}
    assert rules_of(course(**no_location, status="Active")) == [
        "activity.city.required_live",
        "activity.country.required_live",
    ]
    assert rules_of(course(state="", status="Active")) == ["activity.state.required_usa"]
    clean, _ = validate_activity(course(**no_location, status="Draft"), today=TODAY)
    assert clean is not None
    assert clean.values["status"] == "draft"
    # A state and country without a city is refused, even for a draft (reference 2.7,
    # rule 7; tests/activities/test_location_rule.py).
    for status in ("Active", "Draft"):
        rules = rules_of(course(city="", status=status))
        assert rules == ["activity.city.required_with_location"]


def test_requirements_follow_the_reporting_year_of_the_field() -> None:
    legacy = course(
        start_date="05/01/2018",
        end_date="05/01/2018",
        description="",
        delivery_methods="",
        outcome_measures="",
        listed_on_passport="",
        hours_of_instruction="6",
        competencies="Medical Knowledge; Professionalism",
        designed_to_change_competence="Yes",
        changes_measured_competence="Yes",
        designed_to_change_performance="No",
        changes_measured_performance="No",
        designed_to_change_patient_outcomes="No",
        changes_measured_patient_outcomes="No",
        status="Closed",
    )
    clean, errors = validate_activity(legacy, today=TODAY)
    assert errors == []
    assert clean is not None
    assert clean.values["competencies"] == ["abms_medical_knowledge", "abms_professionalism"]
    assert "activity.hours_of_instruction.required" in rules_of(
        {**legacy, "hours_of_instruction": ""}
    )
    # The same gap in 2026 is no problem: hours are no longer collected.
    assert rules_of(course(hours_of_instruction="", status="Closed")) == []


def test_a_delete_needs_only_the_id() -> None:
    clean, errors = validate_activity({"provider_activity_id": "X-1", "action": "Delete"})
    assert errors == []
    assert clean is not None
    assert clean.action == "delete"
    assert rules_of({"action": "delete"}) == ["activity.provider_activity_id.required"]


def test_every_rule_in_the_catalogue_is_stable_and_described() -> None:
    for rule_id, rule in RULES.items():
        assert rule_id == rule.id
        # "text." rules are shared with the learner catalog (pars.lib.text).
        assert rule_id.startswith(("activity.", "text."))
        assert rule.message.endswith(".")
    field_names = {spec.name for spec in FIELDS}
    assert {"activity.title.required", "activity.end_date.before_start"} <= set(RULES)
    assert all(f"activity.{name}.required" in RULES for name in ("title", "start_date"))
    assert field_names >= {"hours_of_instruction", "outcome_measures"}
    ids_2018 = {rule.id for rule in rules_for_year(2018)}
    ids_2026 = {rule.id for rule in rules_for_year(2026)}
    assert "activity.hours_of_instruction.required" in ids_2018 - ids_2026
    assert "activity.outcome_measures.required" in ids_2026 - ids_2018


def test_messages_quote_a_value_the_same_from_text_and_native_channels() -> None:
    _, from_text = validate_activity(course(ama_credits="1.1"), today=TODAY)
    _, from_json = validate_activity(course(ama_credits=1.1), today=TODAY)
    assert from_text == from_json
    _, from_text = validate_activity(course(physician_learners="-3"), today=TODAY)
    _, from_json = validate_activity(course(physician_learners=-3.0), today=TODAY)
    assert (
        from_text[0].message
        == from_json[0].message
        == ("# of Physicians must be a whole number of 0 or more; got '-3'.")
    )


def test_a_record_read_back_as_ready_to_close_can_be_sent_again() -> None:
    clean, errors = validate_activity(course(status="Ready to Close"), today=TODAY)
    assert errors == []
    assert clean is not None
    assert clean.values["status"] == "ready_to_close"


@pytest.mark.parametrize("huge", ["1e2000000", "99999999999", 10**20])
def test_huge_numbers_are_refused_quickly_not_expanded(huge: object) -> None:
    _, errors = validate_activity(course(physician_learners=huge), today=TODAY)
    assert [(e.field, e.rule) for e in errors] == [
        ("physician_learners", "activity.physician_learners.too_large")
    ]
    assert errors[0].rule in RULES


def test_decimals_beyond_cents_are_refused_not_rounded() -> None:
    _, errors = validate_activity(course(hours_of_instruction="0.004"), today=TODAY)
    assert [e.rule for e in errors] == ["activity.hours_of_instruction.invalid"]


def test_a_repeated_bad_value_does_not_keep_earlier_rows_alive() -> None:
    # The memo must not re-raise one exception object: its traceback would grow with every
    # row and keep each earlier row's frame (and data) alive.
    import traceback

    from pars.activities import field_readers
    from pars.activities.dictionary import FIELDS_BY_NAME

    spec = FIELDS_BY_NAME["start_date"]
    depths = []
    for _ in range(50):
        try:
            field_readers._memoized(spec, "31/12/2026")
        except field_readers.Invalid as invalid:
            depths.append(len(traceback.extract_tb(invalid.__traceback__)))
    assert len(depths) == 50
    assert max(depths) <= 3
