"""Downloads meant for people write dates as the pages do, 12/31/2026: the staff data
report and REMS report (CSV and XLSX) and the review package (XLSX and PDF). The research
data set, read by statistical software, keeps ISO 8601."""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import Any

import openpyxl
import time_machine
from django.urls import reverse

from pars.accreditation.review_package import build_review_package
from pars.accreditation.review_views import render_pdf
from pars.lib.spreadsheets import write_rows_csv
from pars.providers.models import Provider
from pars.testing import make_user
from tests.accreditation.test_review_package import (  # noqa: F401
    SPECS,
    TERM,
    _staff_access,
    reviewed,
)
from tests.support.national_data import YEAR, National, national  # noqa: F401

ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
US = re.compile(r"^\d{2}/\d{2}/\d{4}$")


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def _staff(client_as: Any) -> Any:
    return client_as(make_user("sam@accreditor.example", is_staff=True))


@time_machine.travel(datetime.datetime(2026, 12, 31, 17, 0, tzinfo=datetime.UTC))
def test_the_data_report_csv_says_as_of_which_day_month_first(
    national: National,  # noqa: F811
    client_as: Any,
) -> None:
    client = _staff(client_as)
    rows = _csv(client.get(f"/staff/data-report/{YEAR}.csv"))
    assert ["Figures as of", "12/31/2026"] in rows
    assert not [cell for row in rows for cell in row if ISO.search(cell)]
    workbook = openpyxl.load_workbook(
        io.BytesIO(b"".join(client.get(f"/staff/data-report/{YEAR}.xlsx").streaming_content))
    )
    as_of = next(row for row in workbook["About"].iter_rows() if row[0].value == "Figures as of")
    assert as_of[1].value.date() == datetime.date(2026, 12, 31)
    assert as_of[1].number_format == "mm/dd/yyyy"


def test_the_rems_learner_csv_writes_completion_dates_month_first(
    national: National,  # noqa: F811
    client_as: Any,
) -> None:
    client = _staff(client_as)
    rows = _csv(client.get(f"/staff/rems-report/{YEAR}-learners.csv"))
    column = rows[0].index("Completion Date")
    assert {row[column] for row in rows[1:]} == {f"03/01/{YEAR}"}
    activities = _csv(client.get(f"/staff/rems-report/{YEAR}-activities.csv"))
    starts = {row[activities[0].index("Start Date")] for row in activities[1:]}
    assert starts
    assert all(US.match(value) for value in starts)
    assert not [cell for row in rows + activities for cell in row if ISO.search(cell)]


def test_the_review_package_shows_dates_month_first(reviewed: Provider, client_as: Any) -> None:  # noqa: F811
    staff = make_user("rev@accreditor.example", is_staff=True)
    response = client_as(staff).get(reverse("review:package_xlsx", args=["0001234"]))
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    header, *rows = list(workbook["Activities"].iter_rows())
    start = [cell.value for cell in header].index("Start date")
    assert rows
    assert all(row[start].number_format == "mm/dd/yyyy" for row in rows)

    pdf = render_pdf(build_review_package(_staff_access(reviewed), *TERM), compress=False)
    first = SPECS[0]["start_date"]
    assert first.strftime("%m/%d/%Y").encode() in pdf
    assert first.isoformat().encode() not in pdf


def test_the_research_data_set_keeps_iso_dates_for_statistical_software() -> None:
    day = datetime.date(2026, 12, 31)
    for iso_dates, expected in ((False, "12/31/2026"), (True, "2026-12-31")):
        stream = io.StringIO()
        write_rows_csv(stream, ["Day"], [[day]], bom=False, iso_dates=iso_dates)
        assert stream.getvalue().splitlines() == ["Day", expected]
