"""The REMS report: a year's REMS activities and REMS learners, and nothing else."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import load_workbook

from pars.accounts.models import Role
from pars.datareports.rems_report import ACTIVITY_COLUMNS, LEARNER_COLUMNS
from pars.learners.models import LearnerCompletion
from pars.testing import make_accreditor, make_member, make_user
from tests.support.national_data import YEAR, National, national  # noqa: F401

PERSONAL = ("Secret", "Learnername", "LOCAL", "1234567893")


def _staff(client_as: Any, **fields: Any) -> Any:
    return client_as(make_user(is_staff=True, **fields))


def _workbook(response: Any) -> Any:
    assert response.status_code == 200
    return load_workbook(io.BytesIO(b"".join(response.streaming_content)))


def _rows(sheet: Any) -> list[dict[str, Any]]:
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def test_the_workbook_holds_only_rems_records_of_the_year(
    national: National,  # noqa: F811
    client_as: Any,
) -> None:
    response = _staff(client_as).get(f"/staff/rems-report/{YEAR}.xlsx")
    assert response["Content-Disposition"] == 'attachment; filename="rems-report-2026.xlsx"'
    workbook = _workbook(response)
    assert workbook.sheetnames == ["Activities", "Learners"]

    activities = _rows(workbook["Activities"])
    assert list(activities[0]) == list(ACTIVITY_COLUMNS)
    by_id = {row["Provider Activity ID"]: row for row in activities}
    # A1, S1 and T1 are registered for REMS in 2026; A-OLD is 2025; A3 and J1 only for MOC.
    assert sorted(by_id) == ["A1", "S1", "T1"]
    assert {row["REMS Recipient"] for row in activities} == {"REMS"}
    assert by_id["A1"]["RPC ID"] == "EG-123456-001"
    assert by_id["A1"]["REMS Type"] == "Opioid Analgesic"
    assert by_id["A1"]["Activity Type"] == "Course"
    assert by_id["A1"]["Physician Learners"] == 120
    # REMS completions only (A1 also has five ABIM ones), the withdrawn one left out.
    assert (by_id["A1"]["REMS Learner Completions"], by_id["A1"]["REMS Completions Accepted"]) == (
        2,
        1,
    )
    assert (by_id["S1"]["REMS Learner Completions"], by_id["S1"]["REMS Completions Accepted"]) == (
        3,
        2,
    )
    assert by_id["T1"]["REMS Learner Completions"] == 1

    learners = _rows(workbook["Learners"])
    assert list(learners[0]) == list(LEARNER_COLUMNS)
    expected = LearnerCompletion.objects.filter(
        recipient__code="REMS", activity__reporting_year=YEAR
    ).exclude(status__startswith="withdraw")
    assert len(learners) == expected.count() == 6
    assert {row["REMS Recipient"] for row in learners} == {"REMS"}
    assert sorted({row["Provider Activity ID"] for row in learners}) == ["A1", "S1", "T1"]
    first = learners[0]
    assert first["Profession"] == "Physician"
    assert first["State of Primary Practice"] == "ME"
    assert first["DEA Registration"] == "Individual"
    assert first["Practice Area"] == "Pain"
    assert first["Surgical Procedures"] == "No"
    assert first["Time in Practice"] == "6-10 years"
    assert {row["RPC ID"] for row in learners} == {
        "EG-123456-001",
        "EG-222222-002",
        "EG-333333-003",
    }
    text = " ".join(
        str(cell.value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
    )
    for personal in PERSONAL:
        assert personal not in text
    assert "EG-999999-999" not in text  # the 2025 registration


def test_csv_variants(national: National, client_as: Any) -> None:  # noqa: F811
    client = _staff(client_as)
    for sheet, count, columns in (
        ("activities", 3, ACTIVITY_COLUMNS),
        ("learners", 6, LEARNER_COLUMNS),
    ):
        response = client.get(f"/staff/rems-report/{YEAR}-{sheet}.csv")
        assert response.status_code == 200
        disposition = f'attachment; filename="rems-report-2026-{sheet}.csv"'
        assert response["Content-Disposition"] == disposition
        body = b"".join(response.streaming_content).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(body)))
        assert rows[0] == list(columns)
        assert len(rows) == count + 1
    assert client.get(f"/staff/rems-report/{YEAR}-secrets.csv").status_code == 404
    assert client.get("/staff/rems-report/1999.xlsx").status_code == 404


def test_state_accreditor_staff_get_only_their_providers(
    national: National,  # noqa: F811
    client_as: Any,
) -> None:
    client = _staff(client_as, staff_accreditor=make_accreditor("ME"))
    workbook = _workbook(client.get(f"/staff/rems-report/{YEAR}.xlsx"))
    assert [row["Provider Activity ID"] for row in _rows(workbook["Activities"])] == ["S1"]
    assert {row["Provider Activity ID"] for row in _rows(workbook["Learners"])} == {"S1"}


@pytest.mark.parametrize(
    "url",
    [
        f"/staff/rems-report/{YEAR}.xlsx",
        f"/staff/rems-report/{YEAR}-activities.csv",
        f"/staff/rems-report/{YEAR}-learners.csv",
    ],
)
def test_only_staff_reach_the_rems_report(
    national: National,  # noqa: F811
    client_as: Any,
    client: Any,
    url: str,
) -> None:
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    member = make_member(national.providers["state_me"], Role.ADMIN)
    assert client_as(member).get(url).status_code == 404
