"""One set of learner records, five channels, the same refusals and the same stored rows.

The records below (valid ones, and ones breaking each family of rules: the learner ID's
pattern, dates, credits, a recipient's own rules, an unknown or unregistered activity, a
control character) travel through the learner web form, a tab-delimited file, an Excel
file, an XML learner report and the JSON web service. Each channel must give the rule IDs
of the table on the same fields, the validator's own words, and store the same values
(one validator, one writer: ``pars.learners.validation``, ``pars.learners.services``).

A record a channel cannot carry (the form reports one learner of a registered activity and
knows no action; XML 1.0 has no way to write a control character) names that channel in
``not_by``; a channel that is handed such a record anyway fails the test.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.dictionary import CONTROL_CHARACTER_RULE
from pars.intake.fields import Kind
from pars.intake.models import UploadError
from pars.intake.readers.xlsx import unescape
from pars.intake.store import store_upload
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME
from pars.learners.dictionary import RECORD_ACTIONS as ACTIONS
from pars.learners.forms import completion_field_names
from pars.learners.models import ActivityRegistration, LearnerCompletion
from pars.learners.validation import COMPLETION_VALUE_FIELDS, load_recipients, validate_completion
from pars.providers.models import Provider
from pars.testing import LEARNER_ROW, as_json_record, make_activity, register
from tests.learners.test_api import Api

BELL = "\x07"
NO_MOC = {"moc_points": "", "moc_credit_types": ""}
REMS = {
    "recipient": "REMS",
    "learner_id": "L-0042",
    "profession": "Physician Assistant",
    "practice_state": "MI",
    "dea_registration": "Individual",
    "practice_area": "Pain",
    "surgical_procedures": "No",
    "time_in_practice": "6-10 years",
    **NO_MOC,
}
FORM_ONE_ACTIVITY = "the form reports a learner of one registered activity"
FORM_NO_ACTION = "the form has no action (a withdrawal is its own page)"
XML_NO_CONTROL = "XML 1.0 cannot write U+0007, not even as a character reference"


@dataclass(frozen=True)
class Case:
    name: str
    changes: dict[str, Any]
    expected: frozenset[tuple[str, str]] = frozenset()  # (field, rule); none: stored
    not_by: dict[str, str] = field(default_factory=dict)  # channel: why it cannot carry it


def _case(name: str, *expected: tuple[str, str], **changes: Any) -> Case:
    not_by = changes.pop("not_by", {})
    return Case(name, changes, frozenset(expected), not_by)


CASES: list[Case] = [
    # Stored, one per kind of recipient.
    _case("abim", moc_points="9.75", moc_credit_types="Medical Knowledge"),
    _case("rems", **REMS),
    _case("nc", recipient="NC", learner_id="MD-77", license_state="NC", **NO_MOC),
    _case("tn_by_npi", recipient="TN", learner_id="", npi="1234567893", license_state="TN",
          **NO_MOC),
    # The learner's identifiers.
    _case("id_pattern", ("learner_id", "learner.learner_id.invalid"), learner_id="12AB"),
    _case("id_missing", ("learner_id", "learner.learner_id.required"), learner_id=""),
    _case("npi_check_digit", ("npi", "learner.npi.invalid"), npi="1234567890"),
    _case("first_name", ("first_name", "learner.first_name.required"), first_name=""),
    # Dates.
    _case("birth_date", ("birth_date", "learner.birth_date.invalid"), birth_date="13-01"),
    _case("no_such_day", ("completion_date", "learner.completion_date.invalid"),
          completion_date="2026-02-30"),
    _case("future", ("completion_date", "learner.completion_date.future"),
          completion_date="2027-01-01"),
    _case("outside_activity", ("completion_date", "learner.completion_date.outside_activity"),
          completion_date="2026-02-01"),
    # Credits.
    _case("negative_cme", ("cme_credits", "learner.cme_credits.invalid"), cme_credits="-1"),
    _case("points_step", ("moc_points", "learner.moc_points.step"), moc_points="2.1"),
    _case("points_over", ("moc_points", "learner.moc_points.over_registered"), moc_points="12"),
    _case("credit_type", ("moc_credit_types", "learner.moc_credit_types.not_allowed"),
          moc_credit_types="Lifelong Learning"),
    # A recipient's own rules.
    _case("rems_fields", ("profession", "learner.profession.required"),
          ("practice_state", "learner.practice_state.required"),
          ("dea_registration", "learner.dea_registration.required"),
          **{**REMS, "learner_id": "L-1", "profession": "", "practice_state": "",
             "dea_registration": ""}),
    _case("licence_state", ("license_state", "learner.license_state.mismatch"),
          recipient="NC", learner_id="MD-78", license_state="ME", **NO_MOC),
    _case("state_without_id", ("learner_id", "learner.learner_id.required"),
          recipient="NC", learner_id="", license_state="NC", **NO_MOC),
    # The activity, and what only a file or the web service says.
    _case("unknown_activity", ("provider_activity_id", "learner.activity.not_found"),
          provider_activity_id="NOPE", not_by={"form": FORM_ONE_ACTIVITY}),
    _case("unregistered", ("recipient", "learner.activity.not_registered"),
          provider_activity_id="GR-2", not_by={"form": FORM_ONE_ACTIVITY}),
    _case("action", ("action", "learner.action.not_allowed"), action="Update",
          not_by={"form": FORM_NO_ACTION}),
    _case("delete_unknown", ("action", "learner.record.not_found"), action="Delete",
          not_by={"form": FORM_NO_ACTION}),
    # Control characters.
    _case("bell", ("first_name", CONTROL_CHARACTER_RULE), first_name="A" + BELL + "da",
          not_by={"xml": XML_NO_CONTROL}),
]  # fmt: skip

Errors = frozenset[tuple[str, str, str]]


@dataclass
class Outcome:
    errors: dict[str, Errors] = field(default_factory=dict)  # case: (field, rule, message)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)  # case: stored values


class NotCarried(Exception):
    """The channel has no way to carry this record."""


@dataclass
class World:
    provider: Provider
    editor: User
    client_as: Callable[[User], Client]

    def records(self) -> dict[str, dict[str, Any]]:
        """Each case's record as file text: a default learner (a name and an ID of its
        own, so that no two records are the same record) with the case's changes."""
        return {
            case.name: {
                "provider_activity_id": "GR-1",
                **LEARNER_ROW,
                "learner_id": f"{100001 + number}",
                "last_name": _surname(number),
                **case.changes,
            }
            for number, case in enumerate(CASES)
        }


def _surname(number: int) -> str:
    return "Lovelace" + "abcdefghijklmnopqrstuvwxyz"[number % 26] * (1 + number // 26)


@pytest.fixture
def world(provider: Provider, editor: User, client_as: Callable[[User], Client]) -> World:
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=Decimal(12))
    for code in ("ABIM", "REMS", "NC", "TN"):
        register(activity, code)
    make_activity(provider, provider_activity_id="GR-2")
    return World(provider, editor, client_as)


# ---------------------------------------------------------------------------
# What was stored


def _stored(outcome: Outcome, names: dict[str, str]) -> None:
    """Each stored record's values, under the case whose learner it is (by surname)."""
    for completion in LearnerCompletion.objects.select_related("activity", "recipient"):
        values = {name: getattr(completion, name) for name in COMPLETION_VALUE_FIELDS}
        values["activity"] = completion.activity.provider_activity_id
        values["recipient"] = completion.recipient.code
        values["status"] = completion.status
        outcome.stored[names[completion.last_name]] = values


def _surnames(records: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {record["last_name"]: name for name, record in records.items()}


# ---------------------------------------------------------------------------
# The channels


def via_form(world: World, records: dict[str, dict[str, Any]]) -> Outcome:
    outcome = Outcome()
    client = world.client_as(world.editor)
    new_url = reverse("learners:new", args=[world.provider.provider_id])
    for name, record in records.items():
        registration = ActivityRegistration.objects.filter(
            activity__provider_activity_id=record["provider_activity_id"],
            recipient__code=record["recipient"],
        ).first()
        if registration is None:
            raise NotCarried(name)
        asked = completion_field_names(registration.recipient)
        carried = {"provider_activity_id", "recipient", *asked}
        if any(str(value).strip() for key, value in record.items() if key not in carried):
            raise NotCarried(name)
        data: dict[str, Any] = {"registration": registration.pk}
        for key in asked:
            value = str(record.get(key, ""))
            if key == "moc_credit_types":
                data[key] = [part.strip() for part in value.split(";") if part.strip()]
            else:
                data[key] = value
        response = client.post(new_url, data)
        if response.status_code == 400:
            outcome.errors[name] = frozenset(
                (item.error.field, item.error.rule, item.error.message)
                for item in response.context["summary"]
            )
        else:
            assert response.status_code == 302, (name, response.status_code)
    _stored(outcome, _surnames(records))
    return outcome


def _file(world: World, records: dict[str, dict[str, Any]], name: str, content: bytes) -> Outcome:
    """Upload one file holding the records in order; its errors by case, and what it stored."""
    names = list(records)
    first_row = 1 if name.endswith(".xml") else 2  # a table's row 1 is its header
    access = get_provider_access(world.editor, world.provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile(name, content), kind="learners")
    upload.refresh_from_db()
    assert upload.status == "partial", upload.message
    found: dict[str, set[tuple[str, str, str]]] = {}
    for row, field_name, rule, message in UploadError.objects.filter(upload=upload).values_list(
        "row", "field", "rule", "message"
    ):
        assert row is not None
        found.setdefault(names[row - first_row], set()).add((field_name, rule, message))
    outcome = Outcome({case: frozenset(errors) for case, errors in found.items()})
    _stored(outcome, _surnames(records))
    return outcome


def _columns(records: dict[str, dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for record in records.values() for key in record))


def via_tsv(world: World, records: dict[str, dict[str, Any]]) -> Outcome:
    text = io.StringIO()
    writer = csv.writer(text, dialect=csv.excel_tab)
    columns = _columns(records)
    writer.writerow(columns)
    for record in records.values():
        writer.writerow([record.get(column, "") for column in columns])
    return _file(world, records, "learners.txt", text.getvalue().encode())


def _as_excel(name: str, value: Any) -> Any:
    """A cell as Excel keeps what was typed: numbers and dates natively, a control
    character in its OOXML escape (``_x0007_``), other text as text."""
    spec = COMPLETION_FIELDS_BY_NAME.get(name)
    text = str(value)
    if not text.strip():
        return None
    if re.fullmatch(r"\d{1,15}", text) and name in ("learner_id", "npi"):
        return int(text)
    if spec is not None and spec.kind is Kind.DECIMAL:
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
        return int(number) if number == number.to_integral_value() else float(number)
    if spec is not None and spec.kind is Kind.DATE:
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            return text
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", lambda m: f"_x{ord(m.group()):04X}_", text)


def via_xlsx(world: World, records: dict[str, dict[str, Any]]) -> Outcome:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    columns = _columns(records)
    sheet.append(
        [
            COMPLETION_FIELDS_BY_NAME[c].label if c in COMPLETION_FIELDS_BY_NAME else c
            for c in columns
        ]
    )
    for record in records.values():
        sheet.append([_as_excel(column, record.get(column, "")) for column in columns])
    stream = io.BytesIO()
    workbook.save(stream)
    return _file(world, records, "learners.xlsx", stream.getvalue())


def _element(tag: str, value: Any, **attributes: str) -> str:
    text = str(value or "").strip()
    if not text:
        return ""
    attrs = "".join(f" {key}={quoteattr(val)}" for key, val in attributes.items())
    return f"<{tag}{attrs}>{escape(text)}</{tag}>"


REMS_ELEMENTS = {
    "practice_state": "StateOfPrimaryPractice",
    "dea_registration": "DEARegistration",
    "profession": "Profession",
    "practice_area": "PracticeArea",
    "surgical_procedures": "SurgicalProcedures",
    "time_in_practice": "TimeInPractice",
}


def _learner_report(name: str, record: dict[str, Any]) -> str:
    """One ``LearnerReport`` as docs/learner-files.md describes it."""
    if any(re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", str(value)) for value in record.values()):
        raise NotCarried(name)
    get = record.get
    recipient = str(get("recipient", ""))
    licence = _element("StateOfLicensure", get("license_state"))
    participant = "".join(_element(tag, get(key)) for key, tag in REMS_ELEMENTS.items())
    types = "".join(
        f"<CreditFocus>{_element('Description', part.strip())}</CreditFocus>"
        for part in str(get("moc_credit_types", "")).split(";")
        if part.strip()
    )
    action = _element("LearnerRecordAction", get("action"))
    return (
        "<LearnerReport><Member>"
        + _element("UniqueID", get("npi"), domain="NPI")
        + "<Name>"
        + _element("GivenName", get("first_name"))
        + _element("FamilyName", get("last_name"))
        + "</Name><PersonalInfo>"
        + _element("BirthDate", get("birth_date"))
        + (f"<Licensure>{licence}</Licensure>" if licence else "")
        + "</PersonalInfo></Member>"
        + (f"<Participant>{participant}</Participant>" if participant else "")
        + f"<Activity activityID={quoteattr(str(get('provider_activity_id')))}><Module>"
        + _element("CompletedDateTime", get("completion_date"))
        + "<CreditCertificate><CreditReceived>"
        + "<activityCertification>AMA PRA Category 1 Credit</activityCertification>"
        + _element("numberOfCredits", get("cme_credits"))
        + "</CreditReceived></CreditCertificate>"
        + "<CreditCertificate>"
        + _element("UniqueID", get("learner_id"), domain=recipient)
        + "<CreditReceived>"
        + _element("activityCertification", recipient)
        + _element("numberOfCredits", get("moc_points"))
        + types
        + "</CreditReceived></CreditCertificate></Module></Activity>"
        + (f"<XtensibleInfo>{action}</XtensibleInfo>" if action else "")
        + "</LearnerReport>"
    )


def via_xml(world: World, records: dict[str, dict[str, Any]]) -> Outcome:
    reports = "".join(_learner_report(name, record) for name, record in records.items())
    root = "ACCMELearnerReports"
    content = f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>{reports}</{root}>'
    return _file(world, records, "learners.xml", content.encode())


def _as_json(record: dict[str, Any]) -> dict[str, Any]:
    """The record as a JSON client sends it: JSON types (``as_json_record``), and a code
    list's value as its code, which the request schema names (a file may give the label)."""
    body = as_json_record(record)
    for name, value in body.items():
        choices = ACTIONS if name == "action" else _spec_choices(name)
        if isinstance(value, str) and choices:
            codes = {label.casefold(): code for code, label in choices.items()}
            body[name] = codes.get(value.casefold(), value)
    return body


def _spec_choices(name: str) -> dict[str, str]:
    spec = COMPLETION_FIELDS_BY_NAME.get(name)
    return dict(spec.choices) if spec is not None and spec.choices else {}


def via_json(world: World, records: dict[str, dict[str, Any]]) -> Outcome:
    """One batch. Records whose values break the request schema make it malformed as a
    whole (422, nothing written), so they are answered there and the rest is sent again."""
    names = list(records)
    bodies = [_as_json(record) for record in records.values()]
    api = Api(world.provider)
    found: dict[str, set[tuple[str, str, str]]] = {}
    response = api.post("/learner-completions", bodies)
    rest = list(range(len(bodies)))
    if response.status_code == 422:
        for error in response.json()["errors"]:
            found.setdefault(names[error["row"]], set()).add(
                (error["field"], error["rule"], error["message"])
            )
        malformed = {error["row"] for error in response.json()["errors"]}
        rest = [index for index in rest if index not in malformed]
        response = api.post("/learner-completions", [bodies[index] for index in rest])
    assert response.status_code == 200, response.content
    for result in response.json()["results"]:
        if result["errors"]:
            found[names[rest[result["index"]]]] = {
                (e["field"], e["rule"], e["message"]) for e in result["errors"]
            }
    outcome = Outcome({name: frozenset(errors) for name, errors in found.items()})
    _stored(outcome, _surnames(records))
    return outcome


CHANNELS: dict[str, Callable[[World, dict[str, dict[str, Any]]], Outcome]] = {
    "form": via_form,
    "tsv": via_tsv,
    "xlsx": via_xlsx,
    "xml": via_xml,
    "json": via_json,
}


# ---------------------------------------------------------------------------
# The tests


def _reference(records: dict[str, dict[str, Any]]) -> dict[str, Errors]:
    """The validator's own errors for each record it refuses alone (the writer's rules
    need the database; their rule IDs are in the table)."""
    recipients = load_recipients()
    found = {}
    for name, record in records.items():
        _, errors = validate_completion(record, recipients=recipients, today=timezone.localdate())
        if errors:
            found[name] = frozenset((e.field, e.rule, e.message) for e in errors)
    return found


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_every_channel_gives_the_same_rules_and_stores_the_same_values(
    world: World, channel: str
) -> None:
    records = world.records()
    carried = {name: r for name, r in records.items() if channel not in _case_named(name).not_by}
    outcome = CHANNELS[channel](world, carried)

    rules = {name: {(f, r) for f, r, _ in errors} for name, errors in outcome.errors.items()}
    expected = {case.name: set(case.expected) for case in CASES if case.name in carried}
    assert {name: rules.get(name, set()) for name in expected} == expected
    # The validator's words, whatever the channel (values are never quoted differently).
    reference = _reference(carried)
    assert {name: outcome.errors[name] for name in reference} == reference

    stored = {case.name for case in CASES if not case.expected and case.name in carried}
    assert set(outcome.stored) == stored
    assert outcome.stored == _expected_stored(carried, stored)


def _case_named(name: str) -> Case:
    return next(case for case in CASES if case.name == name)


def _expected_stored(records: dict[str, dict[str, Any]], names: set[str]) -> dict[str, Any]:
    recipients = load_recipients()
    expected = {}
    for name in names:
        record, errors = validate_completion(
            records[name], recipients=recipients, today=timezone.localdate()
        )
        assert record is not None, errors
        expected[name] = {
            **record.values(),
            "activity": record.provider_activity_id,
            "recipient": record.recipient,
            "status": "queued",
        }
    return expected


@pytest.mark.parametrize(
    ("channel", "case"),
    [(channel, case.name) for case in CASES for channel in case.not_by],
)
def test_a_record_a_channel_cannot_carry_is_declared(world: World, channel: str, case: str) -> None:
    with pytest.raises(NotCarried):
        CHANNELS[channel](world, {case: world.records()[case]})


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("A_x0007_da", "A\x07da"),  # what Excel writes for a bell
        ("A_x005F_x0007_da", "A_x0007_da"),  # what it writes for the text "_x0007_"
        ("Ada_x", "Ada_x"),
    ],
)
def test_excel_escapes_are_read_back(written: str, read: str) -> None:
    assert unescape(written) == read


def test_the_table_covers_every_family_of_rules() -> None:
    rules = {rule for case in CASES for _, rule in case.expected}
    families = {
        "learner.learner_id.invalid",
        "learner.completion_date.future",
        "learner.cme_credits.invalid",
        "learner.moc_points.over_registered",
        "learner.license_state.mismatch",
        "learner.profession.required",
        "learner.activity.not_found",
        CONTROL_CHARACTER_RULE,
    }
    assert families <= rules
    assert len({case.name for case in CASES}) == len(CASES)
