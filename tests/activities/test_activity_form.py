"""The activity web form: add, edit (and rename), copy, delete; the validator speaks."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from pars.accounts.access import get_api_access
from pars.accounts.models import User
from pars.activities.dictionary import FIELDS
from pars.activities.forms import FIELD_GROUPS, FORM_FIELD_NAMES
from pars.activities.models import Activity, CommercialSupport
from pars.activities.services import save_activity
from pars.activities.validation import validate_activity
from pars.providers.models import Provider
from pars.testing import make_activity

PID = "0001234"


def url(name: str, *args: Any) -> str:
    return reverse(f"activities:{name}", args=[PID, *args])


def supporter_rows(*rows: dict[str, str], total: int = 5) -> dict[str, Any]:
    data: dict[str, Any] = {
        "supporters-TOTAL_FORMS": str(total),
        "supporters-INITIAL_FORMS": "0",
        "supporters-MIN_NUM_FORMS": "0",
        "supporters-MAX_NUM_FORMS": "50",
    }
    for index, row in enumerate(rows):
        data.update({f"supporters-{index}-{name}": value for name, value in row.items()})
    return data


def course_form(supporters: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """A complete live course as the browser posts it (``supporters``: other rows)."""
    data: dict[str, Any] = {
        "provider_activity_id": "GR-2026-001",
        "title": "Cardiology Update",
        "activity_format": "course",
        "delivery_methods": ["in_person", "live_streamed"],
        "start_date": "2026-03-01",
        "end_date": "2026-03-02",
        "description": "Heart failure and arrhythmia, for internists.",
        "city": "Chicago",
        "state": "IL",
        "country": "USA",
        "providership": "joint",
        "joint_providers": "Lakeside Clinic; County Society",
        "ama_credits": "6.5",
        "physician_learners": "120",
        "other_learners": "35",
        "outcome_measures": ["learner_competence", "patient_health"],
        "outcome_measures__learner_competence": ["objective", "subjective"],
        "commercial_support_received": "yes",
        "listed_on_passport": "yes",
        "fee": "free",
        "registration": "open",
        "activity_url": "https://cme.example.org/cardio",
        "meets_mips": "no",
        "status": "",
        **(
            supporters
            or supporter_rows(
                {"source": "Example Pharma", "monetary_amount": "5000"},
                {"source": "Device Co", "in_kind": "on", "in_kind_description": "Ultrasound units"},
            )
        ),
    }
    data.update(overrides)
    return data


@pytest.fixture
def editor_client(editor: User, client_as: Callable[[User], Client]) -> Client:
    return client_as(editor)


def test_every_dictionary_field_is_in_exactly_one_fieldset() -> None:
    grouped = [name for names in FIELD_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(spec.name for spec in FIELDS)
    assert len(grouped) == len(set(grouped))


def test_the_form_has_a_field_for_every_dictionary_field(
    provider: Provider, editor_client: Client
) -> None:
    response = editor_client.get(url("new"))
    form = response.context["form"]
    assert set(FORM_FIELD_NAMES) | {"supporters"} == {spec.name for spec in FIELDS}
    assert set(form.fields) == set(FORM_FIELD_NAMES) | {"status"}
    assert not any(field.required for field in form.fields.values())
    assert len(response.context["formset"].forms) == 5
    for spec in FIELDS:
        assert escape(spec.label) in response.text, spec.name
    assert 'type="date"' in response.text
    assert "<textarea" in response.text


def test_an_editor_adds_a_complete_activity(provider: Provider, editor_client: Client) -> None:
    response = editor_client.post(url("new"), course_form())
    activity = Activity.objects.get(provider=provider, provider_activity_id="GR-2026-001")
    assert response.status_code == 302
    assert response["Location"] == url("detail", activity.pk)
    assert activity.status == "closed"
    assert activity.last_channel == "web"
    assert activity.delivery_methods == ["in_person", "live_streamed"]
    assert activity.joint_providers == ["Lakeside Clinic", "County Society"]
    assert activity.ama_credits == Decimal("6.5")
    assert activity.outcome_measures == [
        {"outcome": "learner_competence", "measurement_types": ["objective", "subjective"]},
        {"outcome": "patient_health", "measurement_types": []},
    ]
    supporters = list(activity.supporters.values_list("source", "monetary_amount", "in_kind"))
    assert supporters == [("Example Pharma", 5000, False), ("Device Co", None, True)]
    page = editor_client.get(response["Location"])
    assert "Cardiology Update" in page.text
    assert "saved as Closed" in page.text


def test_save_as_caps_the_status(provider: Provider, editor_client: Client) -> None:
    editor_client.post(url("new"), course_form(status="draft"))
    assert Activity.objects.get().status == "draft"


def test_validator_errors_show_on_their_fields_and_in_the_summary(
    provider: Provider, editor_client: Client
) -> None:
    data = course_form(
        activity_format="XYZ",
        start_date="2026-03-02",
        end_date="2026-03-01",
        supporters=supporter_rows({"monetary_amount": "100"}, {"source": "Device Co"}),
    )
    response = editor_client.post(url("new"), data)
    assert response.status_code == 400
    assert not Activity.objects.exists()
    form, formset = response.context["form"], response.context["formset"]
    _, expected = validate_activity(
        {"activity_format": "XYZ", "start_date": "2026-03-02", "end_date": "2026-03-01"}
    )
    by_field = {error.field: error for error in expected}
    assert form.errors["activity_format"] == [by_field["activity_format"].message]
    assert form.errors["end_date"] == [by_field["end_date"].message]
    assert formset.forms[0].errors["source"] == [
        "Commercial Support Source is required for each supporter."
    ]
    assert formset.forms[1].errors["monetary_amount"] == [
        "Each supporter gives a monetary amount above 0 or in-kind support."
    ]
    summary = [item.error.rule for item in response.context["summary"]]
    assert summary == [
        "activity.activity_format.not_allowed",
        "activity.supporters.source.required",
        "activity.supporters.amount_or_in_kind",
        "activity.end_date.before_start",
    ]
    for rule in summary:
        assert f"<code>{rule}</code>" in response.text
    assert escape(by_field["activity_format"].message) in response.text
    assert 'href="#supporter-1"' in response.text
    assert 'href="#field-end_date"' in response.text
    # What the user typed stays in the form.
    assert 'value="2026-03-02"' in response.text


def test_status_requirements_come_from_the_validator(
    provider: Provider, editor_client: Client
) -> None:
    data = course_form(status="closed", physician_learners="", description="")
    response = editor_client.post(url("new"), data)
    assert response.status_code == 400
    rules = {item.error.rule for item in response.context["summary"]}
    assert rules == {"activity.physician_learners.required", "activity.description.required"}


def test_more_supporter_rows_keeps_the_entries_and_saves_nothing(
    provider: Provider, editor_client: Client
) -> None:
    data = course_form(_more_supporters="1")
    response = editor_client.post(url("new"), data, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert not Activity.objects.exists()
    formset = response.context["formset"]
    assert len(formset.forms) == 8
    assert 'value="Example Pharma"' in response.text
    assert response.context["summary"] == []


def _post_data_from_page(response: Any) -> dict[str, Any]:
    """What the browser would post back from a rendered (unbound) form, unchanged."""
    form, formset = response.context["form"], response.context["formset"]
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if name == "outcome_measures":
            data[name] = [item["outcome"] for item in value]
            for item in value:
                data[f"{name}__{item['outcome']}"] = item["measurement_types"]
        elif isinstance(value, list):
            data[name] = value
        else:
            data[name] = "" if value is None else str(value)
    data.update(
        {f"supporters-{key}": value for key, value in formset.management_form.initial.items()}
    )
    for index, row in enumerate(formset.forms):
        for name in row.fields:
            value = row[name].value()
            if name == "in_kind":
                if value:
                    data[f"supporters-{index}-in_kind"] = "on"
            else:
                data[f"supporters-{index}-{name}"] = (
                    value if isinstance(value, list) else ("" if value is None else str(value))
                )
    return data


def _values(activity: Activity) -> dict[str, Any]:
    names = [spec.name for spec in FIELDS if spec.name != "supporters"]
    values = {name: getattr(activity, name) for name in names}
    values["status"] = activity.status
    values["legacy_activity_type"] = activity.legacy_activity_type
    values["supporters"] = list(
        activity.supporters.values(
            "source", "monetary_amount", "in_kind", "in_kind_types", "in_kind_description"
        )
    )
    return values


def test_editing_without_changes_keeps_every_value(
    provider: Provider, editor_client: Client
) -> None:
    editor_client.post(url("new"), course_form())
    activity = Activity.objects.get()
    before = _values(activity)
    page = editor_client.get(url("edit", activity.pk))
    assert page.context["form"]["provider_activity_id"].value() == "GR-2026-001"
    response = editor_client.post(url("edit", activity.pk), _post_data_from_page(page))
    assert response.status_code == 302
    activity.refresh_from_db()
    assert _values(activity) == before
    assert Activity.objects.get().pk == activity.pk


def test_a_legacy_activity_keeps_its_values_and_activity_type_code_through_the_form(
    provider: Provider, editor_client: Client
) -> None:
    raw = {
        "provider_activity_id": "OLD-2014",
        "title": "Internet live course",
        "activity_format": "IL",
        "start_date": "2014-05-01",
        "end_date": "2014-05-01",
        "hours_of_instruction": "2.5",
        "designed_to_change_competence": "Yes",
        "learning_formats": "Lecture; Panel",
        "competencies": "Medical Knowledge",
        "advertising_income": "1200",
        "commercial_support_received": "Yes",
        "supporters": [{"source": "Old Pharma", "in_kind_types": "Facilities / Space"}],
    }
    record, errors = validate_activity(raw)
    assert errors == []
    assert record is not None
    activity = save_activity(get_api_access(provider), record, channel="tsv")
    before = _values(activity)
    assert before["legacy_activity_type"] == "IL"
    page = editor_client.get(url("edit", activity.pk))
    assert page.context["groups"][-1]["open"]  # the legacy fieldset opens: it has values
    response = editor_client.post(url("edit", activity.pk), _post_data_from_page(page))
    assert response.status_code == 302, response.context and response.context["summary"]
    activity.refresh_from_db()
    assert _values(activity) == before
    # Nothing changed, so nothing was written: the record is as the file left it.
    assert activity.last_channel == "tsv"


def test_changing_the_id_on_edit_renames_the_activity(
    provider: Provider, editor_client: Client
) -> None:
    editor_client.post(url("new"), course_form())
    old = Activity.objects.get()
    page = editor_client.get(url("edit", old.pk))
    data = {**_post_data_from_page(page), "provider_activity_id": "GR-2026-001-R"}
    response = editor_client.post(url("edit", old.pk), data)
    renamed = Activity.objects.get()
    assert renamed.provider_activity_id == "GR-2026-001-R"
    assert response["Location"] == url("detail", renamed.pk)
    assert renamed.title == old.title
    assert renamed.supporters.count() == 2
    assert CommercialSupport.objects.count() == 2


def test_a_rename_or_an_add_never_overwrites_another_activity(
    provider: Provider, editor_client: Client
) -> None:
    taken = make_activity(provider, provider_activity_id="TAKEN", title="Keep me")
    editor_client.post(url("new"), course_form())
    mine = Activity.objects.get(provider_activity_id="GR-2026-001")
    page = editor_client.get(url("edit", mine.pk))
    data = {**_post_data_from_page(page), "provider_activity_id": "TAKEN"}
    response = editor_client.post(url("edit", mine.pk), data)
    assert response.status_code == 400
    assert [item.error.rule for item in response.context["summary"]] == [
        "web.provider_activity_id.in_use"
    ]
    assert response.context["form"].errors["provider_activity_id"]
    response = editor_client.post(url("new"), course_form(provider_activity_id="TAKEN"))
    assert response.status_code == 400
    taken.refresh_from_db()
    assert taken.title == "Keep me"
    assert Activity.objects.count() == 2


def test_copy_prefills_a_new_activity_without_its_ids(
    provider: Provider, editor_client: Client
) -> None:
    editor_client.post(url("new"), course_form(accme_activity_id="123456789"))
    source = Activity.objects.get()
    page = editor_client.get(url("copy", source.pk))
    form = page.context["form"]
    assert form["provider_activity_id"].value() == ""
    assert form["accme_activity_id"].value() == ""
    assert form["title"].value() == "Cardiology Update"
    assert page.context["formset"].forms[1]["source"].value() == "Device Co"
    data = {**_post_data_from_page(page), "provider_activity_id": "GR-2026-002"}
    response = editor_client.post(url("copy", source.pk), data)
    copy = Activity.objects.get(provider_activity_id="GR-2026-002")
    assert response["Location"] == url("detail", copy.pk)
    assert copy.title == source.title
    assert copy.supporters.count() == 2
    assert Activity.objects.get(pk=source.pk).provider_activity_id == "GR-2026-001"
    # The copy must be given an ID of its own.
    response = editor_client.post(url("copy", source.pk), _post_data_from_page(page))
    assert [item.error.rule for item in response.context["summary"]] == [
        "activity.provider_activity_id.required"
    ]


def test_delete_asks_then_deletes(provider: Provider, editor_client: Client) -> None:
    activity = make_activity(provider, title="Going away")
    page = editor_client.get(url("delete", activity.pk))
    assert page.status_code == 200
    assert "Going away" in page.text
    assert Activity.objects.filter(pk=activity.pk).exists()
    response = editor_client.post(url("delete", activity.pk))
    assert response["Location"] == url("list")
    assert not Activity.objects.filter(pk=activity.pk).exists()


def test_detail_shows_every_field_its_supporters_and_buttons(
    provider: Provider, editor_client: Client
) -> None:
    editor_client.post(url("new"), course_form())
    activity = Activity.objects.get()
    page = editor_client.get(url("detail", activity.pk))
    shown = {field.name for _, fields in page.context["groups"] for field in fields}
    current = {spec.name for spec in FIELDS if not spec.legacy or spec.name == "reporting_year"}
    assert current - {"supporters"} <= shown
    for text in (
        "Example Pharma",
        "$5,000",
        "Ultrasound units",
        "Web form",
        "Closed",
        "In-Person; Live-Streamed",
        "Learner Competence (Objective, Subjective)",
        escape("No, it's free"),
        "Lakeside Clinic; County Society",
    ):
        assert text in page.text, text
    for name in ("edit", "copy", "delete"):
        assert url(name, activity.pk) in page.text
    assert url("new") in editor_client.get(url("list")).text


def test_a_read_only_user_sees_no_buttons_and_gets_403(
    provider: Provider, reader: User, client_as: Callable[[User], Client]
) -> None:
    activity = make_activity(provider)
    client = client_as(reader)
    assert url("new") not in client.get(url("list")).text
    detail = client.get(url("detail", activity.pk)).text
    assert url("edit", activity.pk) not in detail
    for target in (url("new"), url("edit", activity.pk), url("copy", activity.pk)):
        assert client.get(target).status_code == 403
        assert client.post(target, course_form()).status_code == 403
    assert client.get(url("delete", activity.pk)).status_code == 403
    assert client.post(url("delete", activity.pk)).status_code == 403
    assert Activity.objects.count() == 1


def test_another_providers_activity_is_not_found(
    provider: Provider, other_provider: Provider, editor_client: Client
) -> None:
    theirs = make_activity(other_provider)
    for name in ("edit", "copy", "delete"):
        assert editor_client.get(url(name, theirs.pk)).status_code == 404
    assert editor_client.post(url("delete", theirs.pk)).status_code == 404
    assert Activity.objects.filter(pk=theirs.pk).exists()
