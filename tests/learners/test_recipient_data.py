"""Today's boards and their rules, as rows of the Recipient table (issue 13, points 6, 12-14).

The boards ACCME lists in CME for MOC today (ABO is ophthalmology, ABOS orthopaedic surgery,
ABPMR from 2025), credit types with windows by completion date (ABPath's SAM), pairs of
credit types one activity may not be registered for together (ABO), a board's first activity
day (ABPMR), ABA's one record per diplomate, activity and day with patient safety in a
second record, both within the registered points, and learner IDs written with spaces or
dashes: each through the JSON batch or the registration API and a file through the real
upload job, the stored records checked field by field; and each rule changes when its
Recipient row changes, with no code.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadError
from pars.intake.store import store_upload
from pars.learners.dictionary import SEED_RECIPIENTS
from pars.learners.models import ActivityRegistration, LearnerCompletion, Recipient
from pars.learners.validation import load_recipients, validate_completion
from pars.providers.models import Provider
from pars.testing import LEARNER_ROW, learner_json, learner_row, make_activity, register
from tests.learners.test_api import Api

ABPATH_SAM = "Self-Assessment Module (SAM)"
IMP = "Improvement in Medical Practice"


@pytest.fixture
def api(provider: Provider) -> Api:
    return Api(provider)


def upload(editor: User, provider: Provider, rows: list[dict[str, Any]]) -> Upload:
    """The rows as a tab-delimited learner file (dictionary names as headers), through the
    real upload job."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO()
    writer = csv.writer(text, dialect=csv.excel_tab)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    access = get_provider_access(editor, provider.provider_id)
    stored = store_upload(
        access, SimpleUploadedFile("learners.txt", text.getvalue().encode()), kind="learners"
    )
    stored.refresh_from_db()
    return stored


def upload_errors(stored: Upload) -> list[tuple[int | None, str, str]]:
    return list(
        UploadError.objects.filter(upload=stored)
        .order_by("row", "id")
        .values_list("row", "field", "rule")
    )


def stored_fields(completion: LearnerCompletion) -> dict[str, Any]:
    return {
        "activity": completion.activity.provider_activity_id,
        "recipient": completion.recipient.code,
        "first_name": completion.first_name,
        "last_name": completion.last_name,
        "birth_month": completion.birth_month,
        "birth_day": completion.birth_day,
        "learner_id": completion.learner_id,
        "learner_key": completion.learner_key,
        "completion_date": completion.completion_date,
        "cme_credits": completion.cme_credits,
        "moc_points": completion.moc_points,
        "moc_credit_types": completion.moc_credit_types,
        "status": completion.status,
    }


def results(response: Any) -> list[tuple[str, list[str]]]:
    assert response.status_code == 200, response.content
    return [
        (result["outcome"], [error["rule"] for error in result["errors"]])
        for result in response.json()["results"]
    ]


# ---------------------------------------------------------------------------
# Point 12: the boards ACCME lists today


def test_the_recipients_are_the_boards_accme_lists_today(db: None) -> None:
    names = dict(Recipient.objects.values_list("code", "name"))
    assert names["ABO"] == "American Board of Ophthalmology"
    assert names["ABOS"] == "American Board of Orthopaedic Surgery"
    assert names["ABPMR"] == "American Board of Physical Medicine and Rehabilitation"
    assert {"ABA", "ABIM", "ABO", "ABOHNS", "ABP", "ABPATH", "ABPMR", "ABS", "ABTS"} <= set(names)
    abo = Recipient.objects.get(code="ABO")
    assert abo.credit_types == ["Lifelong Learning", "Self-Assessment", "Patient Safety", IMP]
    assert abo.exclusive_credit_types == [[IMP, "Patient Safety"]]
    assert Recipient.objects.get(code="ABPMR").earliest_activity_start == datetime.date(2025, 1, 1)
    assert Recipient.objects.get(code="ABTS").self_reported_cme_until == datetime.date(2027, 12, 31)
    abpath = Recipient.objects.get(code="ABPATH")
    assert abpath.credit_types == ["Lifelong Learning", ABPATH_SAM, IMP]
    assert abpath.credit_type_windows == [{"credit_type": ABPATH_SAM, "valid_until": "2020-12-31"}]
    aba = Recipient.objects.get(code="ABA")
    assert (aba.separate_credit_types, aba.records_within_registered_points) == (
        ["Patient Safety"],
        True,
    )
    # The other boards carry none of these rules.
    abim = Recipient.objects.get(code="ABIM")
    assert (abim.credit_type_windows, abim.exclusive_credit_types) == ([], [])
    assert (abim.separate_credit_types, abim.records_within_registered_points) == ([], False)


def test_abo_cannot_be_registered_for_both_improvement_and_patient_safety(
    provider: Provider, api: Api
) -> None:
    activity = make_activity(provider, provider_activity_id="EYE/1", ama_credits=4)
    path = "/activities/EYE%2F1/registrations/ABO"
    both = api.put(path, {"attest": True, "moc_points": 4, "credit_types": [IMP, "Patient Safety"]})
    assert both.status_code == 400, both.content
    assert [error["rule"] for error in both.json()["errors"]] == [
        "registration.credit_types.exclusive"
    ]
    assert not ActivityRegistration.objects.filter(activity=activity).exists()
    fine = api.put(
        path, {"attest": True, "moc_points": 4, "credit_types": [IMP, "Self-Assessment"]}
    )
    assert fine.status_code == 201, fine.content
    registration = ActivityRegistration.objects.get(activity=activity, recipient__code="ABO")
    assert (registration.moc_points, registration.credit_types) == (
        Decimal(4),
        [IMP, "Self-Assessment"],
    )


def test_abpmr_registers_only_activities_starting_in_2025_or_later(
    provider: Provider, api: Api
) -> None:
    early = make_activity(
        provider,
        provider_activity_id="PMR-2024",
        start_date=datetime.date(2024, 12, 31),
        end_date=datetime.date(2025, 1, 2),
        reporting_year=2024,
        ama_credits=3,
    )
    body = {"attest": True, "moc_points": 3, "credit_types": ["Lifelong Learning"]}
    refused = api.put("/activities/PMR-2024/registrations/ABPMR", body)
    assert refused.status_code == 400, refused.content
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("recipient", "registration.activity.starts_too_early")
    ]
    assert "01/01/2025" in refused.json()["errors"][0]["message"]
    assert not ActivityRegistration.objects.filter(activity=early).exists()
    on_time = make_activity(
        provider,
        provider_activity_id="PMR-2025",
        start_date=datetime.date(2025, 1, 1),
        end_date=datetime.date(2025, 1, 2),
        reporting_year=2025,
        ama_credits=3,
    )
    assert api.put("/activities/PMR-2025/registrations/ABPMR", body).status_code == 201
    assert ActivityRegistration.objects.get(activity=on_time).recipient.code == "ABPMR"


def test_the_web_form_refuses_what_the_api_refuses(
    client_as: Callable[[User], Client], provider: Provider, editor: User
) -> None:
    early = make_activity(
        provider,
        provider_activity_id="PMR-2024",
        start_date=datetime.date(2024, 12, 31),
        end_date=datetime.date(2025, 1, 2),
        reporting_year=2024,
        ama_credits=3,
    )
    client = client_as(editor)

    def post(activity: Activity, code: str, credit_types: list[str]) -> str:
        address = reverse(
            "learners:registration",
            kwargs={"provider_id": provider.provider_id, "pk": activity.pk, "code": code},
        )
        response = client.post(
            address, {"attest": "on", "moc_points": "3", "credit_types": credit_types}
        )
        assert response.status_code == 400
        return response.content.decode()

    assert "registration.activity.starts_too_early" in post(early, "ABPMR", ["Lifelong Learning"])
    assert "registration.credit_types.exclusive" in post(early, "ABO", [IMP, "Patient Safety"])
    assert not ActivityRegistration.objects.exists()


def test_the_first_activity_day_is_data(provider: Provider, api: Api) -> None:
    make_activity(provider, provider_activity_id="IM-1", ama_credits=3)  # starts 2026-03-01
    body = {"attest": True, "moc_points": 3, "credit_types": ["Medical Knowledge"]}
    Recipient.objects.filter(code="ABIM").update(earliest_activity_start=datetime.date(2026, 4, 1))
    refused = api.put("/activities/IM-1/registrations/ABIM", body)
    assert [e["rule"] for e in refused.json()["errors"]] == [
        "registration.activity.starts_too_early"
    ]
    Recipient.objects.filter(code="ABIM").update(earliest_activity_start=None)
    assert api.put("/activities/IM-1/registrations/ABIM", body).status_code == 201


# ---------------------------------------------------------------------------
# Point 6: learner IDs written with spaces or dashes


def test_digit_ids_are_read_without_spaces_and_dashes_other_ids_as_written(db: None) -> None:
    recipients = load_recipients()
    activity_row = {"provider_activity_id": "GR-1", **LEARNER_ROW}
    for written in ("123 456", "123-456", " 123 - 456 ", "123\u2013456"):
        record, errors = validate_completion(
            {**activity_row, "learner_id": written}, recipients=recipients
        )
        assert errors == [], written
        assert record is not None
        assert (record.learner_id, record.learner_key) == ("123456", "id:123456")
    # Still six digits once read: "12-34" is not an ABIM ID.
    _, errors = validate_completion({**activity_row, "learner_id": "12-34"}, recipients=recipients)
    assert [error.rule for error in errors] == ["learner.learner_id.invalid"]
    # REMS takes the provider's own identifiers: a dash is part of them.
    rems = {**activity_row, "recipient": "REMS", "learner_id": "L-0042", "moc_points": ""}
    rems |= {"moc_credit_types": "", "profession": "Nurse", "practice_state": "MI"}
    rems |= {"dea_registration": "None"}
    record, errors = validate_completion(rems, recipients=recipients)
    assert errors == []
    assert record is not None
    assert record.learner_id == "L-0042"


def test_ids_with_spaces_and_dashes_are_stored_normalised_by_json_and_files(
    provider: Provider, editor: User, api: Api
) -> None:
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=12)
    register(activity, "ABIM")
    response = api.report([learner_json(activity, learner_id="123 456")])
    assert results(response) == [("added", [])]
    # The same learner written with a dash, in a file: the same record, unchanged.
    same = upload(editor, provider, [learner_row(activity, learner_id="123-456")])
    assert upload_errors(same) == []
    other = upload(
        editor, provider, [learner_row(activity, learner_id="654 321", last_name="Byron")]
    )
    assert (other.status, upload_errors(other)) == ("succeeded", [])
    stored = {c.last_name: stored_fields(c) for c in LearnerCompletion.objects.all()}
    common = {
        "activity": "GR-1",
        "recipient": "ABIM",
        "first_name": "Ada",
        "birth_month": 12,
        "birth_day": 10,
        "completion_date": datetime.date(2026, 3, 2),
        "cme_credits": Decimal(10),
        "moc_points": Decimal(10),
        "moc_credit_types": ["Medical Knowledge"],
        "status": "queued",
    }
    assert stored == {
        "Lovelace": {
            **common,
            "last_name": "Lovelace",
            "learner_id": "123456",
            "learner_key": "id:123456",
        },
        "Byron": {
            **common,
            "last_name": "Byron",
            "learner_id": "654321",
            "learner_key": "id:654321",
        },
    }


# ---------------------------------------------------------------------------
# Point 13: credit types with windows


@pytest.fixture
def sam_activity(provider: Provider) -> Activity:
    """A pathology activity over the end of ABPath's SAM, registered for all its types."""
    # The board's reporting window is data too: seven years reach back to 2020.
    Recipient.objects.filter(code="ABPATH").update(window_years=7)
    activity = make_activity(
        provider,
        provider_activity_id="PATH-1",
        start_date=datetime.date(2020, 12, 1),
        end_date=datetime.date(2021, 1, 31),
        reporting_year=2020,
        ama_credits=10,
    )
    register(activity, "ABPATH", credit_types=["Lifelong Learning", ABPATH_SAM])
    return activity


def path_row(activity: Activity, **overrides: Any) -> dict[str, Any]:
    row = {
        "recipient": "ABPATH",
        "learner_id": "12345",
        "completion_date": "2020-12-31",
        "moc_credit_types": ABPATH_SAM,
    }
    return learner_row(activity, **{**row, **overrides})


def test_a_credit_type_past_its_window_is_refused_by_completion_date(
    provider: Provider, editor: User, api: Api, sam_activity: Activity
) -> None:
    response = api.report(
        [
            learner_json(sam_activity, **path_row(sam_activity)),
            learner_json(sam_activity, **path_row(sam_activity, completion_date="2021-01-01")),
        ]
    )
    assert results(response) == [
        ("added", []),
        ("rejected", ["learner.moc_credit_types.outside_window"]),
    ]
    error = response.json()["results"][1]["errors"][0]
    assert error["field"] == "moc_credit_types"
    assert "until 12/31/2020" in error["message"]
    assert "01/01/2021" in error["message"]
    stored = upload(
        editor,
        provider,
        [
            path_row(
                sam_activity, learner_id="22222", last_name="Two", completion_date="01/05/2021"
            ),
            path_row(
                sam_activity,
                learner_id="33333",
                last_name="Three",
                completion_date="01/05/2021",
                moc_credit_types="Lifelong Learning",
            ),
            path_row(
                sam_activity, learner_id="44 444", last_name="Four", completion_date="12/30/2020"
            ),
        ],
    )
    assert stored.status == "partial", stored.message
    assert upload_errors(stored) == [
        (2, "moc_credit_types", "learner.moc_credit_types.outside_window")
    ]
    records = {c.last_name: stored_fields(c) for c in LearnerCompletion.objects.all()}
    assert set(records) == {"Lovelace", "Three", "Four"}
    assert records["Four"] == {
        "activity": "PATH-1",
        "recipient": "ABPATH",
        "first_name": "Ada",
        "last_name": "Four",
        "birth_month": 12,
        "birth_day": 10,
        "learner_id": "44444",
        "learner_key": "id:44444",
        "completion_date": datetime.date(2020, 12, 30),
        "cme_credits": Decimal(10),
        "moc_points": Decimal(10),
        "moc_credit_types": [ABPATH_SAM],
        "status": "queued",
    }
    assert records["Three"]["moc_credit_types"] == ["Lifelong Learning"]
    assert records["Three"]["completion_date"] == datetime.date(2021, 1, 5)


def test_a_window_given_to_a_credit_type_in_the_table_applies_at_once(
    provider: Provider, api: Api
) -> None:
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=12)
    register(activity, "ABIM", credit_types=["Medical Knowledge", "Patient Safety"])
    row = learner_json(activity, moc_credit_types=["Patient Safety"])
    abim = Recipient.objects.get(code="ABIM")
    abim.credit_type_windows = [{"credit_type": "Patient Safety", "valid_from": "2026-06-01"}]
    abim.full_clean()
    abim.save()
    assert results(api.report([row])) == [("rejected", ["learner.moc_credit_types.outside_window"])]
    abim.credit_type_windows = [{"credit_type": "Patient Safety", "valid_from": "2026-01-01"}]
    abim.save()
    assert results(api.report([row])) == [("added", [])]


def test_the_admin_refuses_rules_naming_no_credit_type_of_the_board(db: None) -> None:
    from django.core.exceptions import ValidationError

    abo = Recipient.objects.get(code="ABO")
    abo.exclusive_credit_types = [["Patient Safety", "Medical Knowledge"]]
    abo.credit_type_windows = [{"credit_type": "Self-Assessment", "valid_until": "soon"}]
    with pytest.raises(ValidationError) as refused:
        abo.full_clean()
    assert set(refused.value.message_dict) == {"exclusive_credit_types", "credit_type_windows"}


def test_the_rule_catalogue_lists_the_new_rules(api: Api) -> None:
    response = api.get("/rules/learners")
    assert response.status_code == 200
    ids = {rule["id"] for rule in response.json()["rules"]}
    assert {
        "learner.moc_credit_types.outside_window",
        "learner.moc_credit_types.separate_record",
        "learner.moc_points.over_day_total",
        "registration.credit_types.exclusive",
        "registration.activity.starts_too_early",
    } <= ids


# ---------------------------------------------------------------------------
# Point 14: ABA, one participation record per diplomate, activity and day


@pytest.fixture
def aba_activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="ANES-1", ama_credits=10)
    register(
        activity,
        "ABA",
        moc_points=Decimal(10),
        credit_types=["Lifelong Learning", "Patient Safety"],
    )
    return activity


def aba_row(activity: Activity, **overrides: Any) -> dict[str, Any]:
    row = {"recipient": "ABA", "learner_id": "12345678", "moc_points": "6"}
    row |= {"moc_credit_types": "Lifelong Learning"}
    return learner_json(activity, **{**row, **overrides})


def test_aba_patient_safety_is_a_second_record_within_the_activitys_total(
    api: Api, aba_activity: Activity
) -> None:
    response = api.report(
        [
            aba_row(aba_activity),
            aba_row(aba_activity, moc_points=4, moc_credit_types=["Patient Safety"]),
        ]
    )
    assert results(response) == [("added", []), ("added", [])]
    stored = {
        tuple(c.moc_credit_types): stored_fields(c)
        for c in LearnerCompletion.objects.filter(recipient__code="ABA")
    }
    assert stored[("Lifelong Learning",)]["learner_key"] == "id:12345678"
    assert stored[("Patient Safety",)]["learner_key"] == "id:12345678#part:patient safety"
    for values in stored.values():
        assert values["learner_id"] == "12345678"
        assert values["completion_date"] == datetime.date(2026, 3, 2)
    assert [stored[key]["moc_points"] for key in sorted(stored)] == [Decimal(6), Decimal(4)]
    # A record mixing patient safety with other credit: two records, not one.
    mixed = api.report(
        [
            aba_row(
                aba_activity,
                learner_id="87654321",
                moc_credit_types=["Lifelong Learning", "Patient Safety"],
            )
        ]
    )
    assert results(mixed) == [("rejected", ["learner.moc_credit_types.separate_record"])]
    # The diplomate's records of the day stay within the registered 10 points.
    over = api.report([aba_row(aba_activity, moc_points=5, moc_credit_types=["Patient Safety"])])
    assert results(over) == [("rejected", ["learner.moc_points.over_day_total"])]
    message = over.json()["results"][0]["errors"][0]["message"]
    assert "11.00 points" in message
    assert "registered for 10.00" in message
    # One record per diplomate, activity, day and part: sending it again corrects it.
    corrected = api.report([aba_row(aba_activity, moc_points=5)])
    assert results(corrected) == [("corrected", [])]
    ordinary = LearnerCompletion.objects.get(learner_key="id:12345678")
    assert (ordinary.moc_points, ordinary.version) == (Decimal(5), 2)
    assert LearnerCompletion.objects.filter(recipient__code="ABA").count() == 2
    # A withdrawal names the record's credit type: the patient-safety record goes alone.
    withdrawn = api.report(
        [
            aba_row(
                aba_activity, action="delete", moc_points=None, moc_credit_types=["Patient Safety"]
            )
        ]
    )
    assert results(withdrawn) == [("withdrawn", [])]
    statuses = dict(
        LearnerCompletion.objects.filter(recipient__code="ABA").values_list("learner_key", "status")
    )
    assert statuses == {
        "id:12345678": "queued",
        "id:12345678#part:patient safety": "withdrawn",
    }
    # Withdrawn, it no longer counts towards the day's total.
    again = api.report([aba_row(aba_activity, moc_points=5, moc_credit_types=["Patient Safety"])])
    assert results(again) == [("resubmitted", [])]


def test_aba_records_of_one_file_count_together(
    provider: Provider, editor: User, aba_activity: Activity
) -> None:
    rows = [
        learner_row(
            aba_activity,
            recipient="ABA",
            learner_id=learner_id,
            moc_points=points,
            moc_credit_types=credit_type,
            last_name=name,
        )
        for learner_id, name, points, credit_type in (
            ("1234-5678", "Lovelace", "7", "Lifelong Learning"),
            ("1234 5678", "Lovelace", "4", "Patient Safety"),
            ("8765-4321", "Byron", "6", "Lifelong Learning"),
            ("87654321", "Byron", "4", "Patient Safety"),
        )
    ]
    stored = upload(editor, provider, rows)
    # Lovelace's patient-safety row would make 11 points of the registered 10: refused.
    assert stored.status == "partial", stored.message
    assert upload_errors(stored) == [(3, "moc_points", "learner.moc_points.over_day_total")]
    records = sorted(
        (c.last_name, c.learner_key, c.learner_id, c.moc_points, c.moc_credit_types, c.status)
        for c in LearnerCompletion.objects.all()
    )
    assert records == [
        ("Byron", "id:87654321", "87654321", Decimal(6), ["Lifelong Learning"], "queued"),
        (
            "Byron",
            "id:87654321#part:patient safety",
            "87654321",
            Decimal(4),
            ["Patient Safety"],
            "queued",
        ),
        ("Lovelace", "id:12345678", "12345678", Decimal(7), ["Lifelong Learning"], "queued"),
    ]


def test_the_day_total_and_separate_records_are_data(provider: Provider, api: Api) -> None:
    """ABIM with ABA's rules written into its row behaves as ABA does."""
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=12)
    register(activity, "ABIM", credit_types=["Medical Knowledge", "Patient Safety"])
    rows = [
        learner_json(activity, moc_points=6),
        learner_json(activity, moc_points=6, moc_credit_types=["Patient Safety"]),
    ]
    with_rules = {
        "separate_credit_types": ["Patient Safety"],
        "records_within_registered_points": True,
    }
    Recipient.objects.filter(code="ABIM").update(**with_rules)
    assert results(api.report(rows)) == [
        ("added", []),
        ("rejected", ["learner.moc_points.over_day_total"]),
    ]


# ---------------------------------------------------------------------------
# The seed gives a new database what the data migration gives an old one


def test_the_seed_and_the_data_migration_agree() -> None:
    from importlib import import_module

    migration = import_module("pars.learners.migrations.0009_recipients_today")
    seed = {row["code"]: row for row in SEED_RECIPIENTS}
    for code, values in migration.RULES.items():
        for name, value in values.items():
            expected = value.isoformat() if isinstance(value, datetime.date) else value
            assert seed[code][name] == expected, (code, name)
    assert seed["ABPATH"]["credit_types"] == migration.ABPATH_CREDIT_TYPES


@pytest.mark.django_db(transaction=True)
def test_the_data_migration_brings_a_database_seeded_the_old_way_up_to_date() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("learners", "0007_completion_upload_in_intake")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    old_recipient = old.get_model("learners", "Recipient")
    # The table as the first seed left it: eight boards, ABPath's "Self-Assessment (SAM)",
    # and orthopaedic surgery under the code ABO, with a registration and a completion.
    old_recipient.objects.filter(code__in=["ABO", "ABPMR"]).delete()
    old_recipient.objects.filter(code="ABPATH").update(
        credit_types=["Lifelong Learning", "Self-Assessment (SAM)"]
    )
    old_recipient.objects.filter(code="ABOS").update(code="ABO", identifier_label="ABO ID")
    ortho = old_recipient.objects.get(code="ABO")
    abpath = old_recipient.objects.get(code="ABPATH")
    provider = Provider.objects.create(name="Riverside Health", provider_id="0001234")
    activity = make_activity(provider, provider_activity_id="OLD-1", ama_credits=5)
    old_registration = old.get_model("learners", "ActivityRegistration")
    old_completion = old.get_model("learners", "LearnerCompletion")
    for recipient, credit_type in ((ortho, "Accredited CME"), (abpath, "Self-Assessment (SAM)")):
        old_registration.objects.create(
            provider_id=provider.pk,
            activity_id=activity.pk,
            recipient_id=recipient.pk,
            moc_points=Decimal(5),
            credit_types=[credit_type],
        )
        old_completion.objects.create(
            provider_id=provider.pk,
            activity_id=activity.pk,
            recipient_id=recipient.pk,
            learner_key="id:12345",
            first_name="Ada",
            last_name="Lovelace",
            birth_month=12,
            birth_day=10,
            learner_id="12345",
            completion_date=datetime.date(2026, 3, 2),
            moc_points=Decimal(5),
            moc_credit_types=[credit_type],
        )

    MigrationExecutor(connection).migrate(leaves)

    abos = Recipient.objects.get(code="ABOS")
    assert (abos.pk, abos.name, abos.identifier_label) == (
        ortho.pk,
        "American Board of Orthopaedic Surgery",
        "ABOS ID",
    )
    assert Recipient.objects.get(code="ABO").name == "American Board of Ophthalmology"
    seeded = {row["code"]: row for row in SEED_RECIPIENTS}
    rule_fields = (
        "credit_types",
        "credit_type_windows",
        "exclusive_credit_types",
        "separate_credit_types",
        "records_within_registered_points",
    )
    for recipient in Recipient.objects.all():
        seed = seeded[recipient.code]
        for name in rule_fields:
            assert getattr(recipient, name) == seed.get(name, getattr(recipient, name)), (
                recipient.code,
                name,
            )
        for name in ("earliest_activity_start", "self_reported_cme_until"):
            value = getattr(recipient, name)
            assert (value.isoformat() if value else None) == seed.get(name), (recipient.code, name)
    assert set(seeded) == set(Recipient.objects.values_list("code", flat=True))
    # The registrations and completions stay with their board, under today's names.
    registrations = dict(
        ActivityRegistration.objects.filter(activity=activity).values_list(
            "recipient__code", "credit_types"
        )
    )
    assert registrations == {"ABOS": ["Accredited CME"], "ABPATH": [ABPATH_SAM]}
    completions = dict(
        LearnerCompletion.objects.filter(activity=activity).values_list(
            "recipient__code", "moc_credit_types"
        )
    )
    assert completions == {"ABOS": ["Accredited CME"], "ABPATH": [ABPATH_SAM]}


def _admin_post_data(recipient: Recipient, **changes: Any) -> dict[str, Any]:
    """The admin's change form of the recipient as a browser posts it, with changes."""
    from django.contrib import admin
    from django.test import RequestFactory

    model_admin = admin.site._registry[Recipient]
    request = RequestFactory().get("/")
    request.user = User(is_staff=True, is_superuser=True)
    form = model_admin.get_form(request, recipient)(instance=recipient)
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    data.update(changes)
    return data


def test_staff_give_a_credit_type_a_window_in_the_admin(
    provider: Provider, staff: User, client_as: Callable[[User], Client], api: Api
) -> None:
    activity = make_activity(provider, provider_activity_id="GR-1", ama_credits=12)
    register(activity, "ABIM", credit_types=["Medical Knowledge", "Patient Safety"])
    row = learner_json(activity, moc_credit_types=["Patient Safety"])
    abim = Recipient.objects.get(code="ABIM")
    address = reverse("admin:learners_recipient_change", args=[abim.pk])
    client = client_as(staff)
    page = client.get(address)
    assert page.status_code == 200
    for name in ("credit_type_windows", "exclusive_credit_types", "separate_credit_types"):
        assert f'name="{name}"' in page.text
    # A window naming a credit type the board does not have is refused, nothing saved.
    wrong = '[{"credit_type": "Self-Assessment", "valid_until": "2025-12-31"}]'
    refused = client.post(address, _admin_post_data(abim, credit_type_windows=wrong))
    assert refused.status_code == 200
    assert "is not one of the credit types" in refused.text
    assert Recipient.objects.get(code="ABIM").credit_type_windows == []
    window = '[{"credit_type": "Patient Safety", "valid_until": "2025-12-31"}]'
    saved = client.post(address, _admin_post_data(abim, credit_type_windows=window))
    assert saved.status_code == 302, saved.text[:2000]
    assert Recipient.objects.get(code="ABIM").credit_type_windows == [
        {"credit_type": "Patient Safety", "valid_until": "2025-12-31"}
    ]
    assert results(api.report([row])) == [("rejected", ["learner.moc_credit_types.outside_window"])]


@pytest.mark.django_db(transaction=True)
def test_migration_0010_re_keys_patient_safety_records_stored_before_0009() -> None:
    """An ABA Patient Safety completion stored under the plain learner key gets the key
    the validator builds today: a correction then corrects it, not adds a second one."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from pars.learners.services import apply_completions
    from pars.testing import make_member, make_provider
    from tests.support.learners import clean_completion

    before = [("learners", "0009_recipients_today")]
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(before)
    old = MigrationExecutor(connection).loader.project_state(before).apps
    old_completion = old.get_model("learners", "LearnerCompletion")
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    activity = make_activity(provider, provider_activity_id="ANES-1", ama_credits=10)
    # The models as they were at 0009: today's have fields later migrations add.
    registration = old.get_model("learners", "ActivityRegistration").objects.create(
        provider_id=provider.pk,
        activity_id=activity.pk,
        recipient_id=old.get_model("learners", "Recipient").objects.get(code="ABA").pk,
        moc_points=Decimal(10),
        credit_types=["Lifelong Learning", "Patient Safety"],
    )
    stored: dict[tuple[str, str], int] = {}
    for learner, status, credit_types in (
        ("12345678", "queued", ["Patient Safety"]),
        ("87654321", "withdrawn", ["Patient Safety"]),
        ("11223344", "queued", ["Lifelong Learning"]),  # not a part: keeps its key
        ("55667788", "queued", ["Patient Safety"]),  # its new key is taken: kept as it is
        ("55667788", "queued", ["Patient Safety"]),
    ):
        key = f"id:{learner}"
        if learner in {row[0] for row in stored}:
            key += "#part:patient safety"  # sent again after 0009
        row = old_completion.objects.create(
            provider_id=provider.pk,
            activity_id=activity.pk,
            recipient_id=registration.recipient_id,
            learner_key=key,
            first_name="Ada",
            last_name="Lovelace",
            birth_month=12,
            birth_day=10,
            learner_id=learner,
            completion_date=datetime.date(2026, 3, 2),
            moc_points=Decimal(4),
            moc_credit_types=credit_types,
            status=status,
        )
        stored[(learner, key)] = row.pk

    MigrationExecutor(connection).migrate(leaves)

    keys = dict(LearnerCompletion.objects.values_list("pk", "learner_key"))
    assert [keys[pk] for pk in stored.values()] == [
        "id:12345678#part:patient safety",
        "id:87654321#part:patient safety",
        "id:11223344",
        "id:55667788",
        "id:55667788#part:patient safety",
    ]
    editor = make_member(provider, email="eddie@riverside.example")
    access = get_provider_access(editor, provider.provider_id)
    row = aba_row(activity, moc_points="5", moc_credit_types="Patient Safety")
    record = clean_completion(row, recipients=load_recipients())
    result = apply_completions(access, [(2, record)], channel="api")
    assert (result.added, result.updated, result.errors) == (0, 1, [])
    corrected = LearnerCompletion.objects.get(pk=stored[("12345678", "id:12345678")])
    assert (corrected.moc_points, corrected.version) == (Decimal(5), 2)


def test_separate_credit_types_are_read_only_in_the_admin_once_there_are_completions(
    provider: Provider, staff: User, client_as: Callable[[User], Client], api: Api
) -> None:
    aba = Recipient.objects.get(code="ABA")
    address = reverse("admin:learners_recipient_change", args=[aba.pk])
    client = client_as(staff)
    assert 'name="separate_credit_types"' in client.get(address).text
    activity = make_activity(provider, provider_activity_id="ANES-1", ama_credits=10)
    register(activity, "ABA", moc_points=Decimal(10), credit_types=["Lifelong Learning"])
    assert results(api.report([aba_row(activity)])) == [("added", [])]
    page = client.get(address)
    assert 'name="separate_credit_types"' not in page.text
    assert "needs a data migration" in page.text
    saved = client.post(address, _admin_post_data(aba, separate_credit_types="[]"))
    assert saved.status_code == 302, saved.text[:2000]
    assert Recipient.objects.get(code="ABA").separate_credit_types == ["Patient Safety"]
