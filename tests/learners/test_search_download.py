"""Learner search and download (issue 15 point 7): the provider's list narrows by
recipient, learner name, learner ID or NPI, activity, completion dates and status; "Download
CSV" and "Download Excel" hold every matching record (not one page), only the provider's
own, with the dictionary's labels and mm/dd/yyyy dates. Staff downloads are masked until a
reason is given, as the staff page is."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from pars.accounts.models import User
from pars.activities.models import Activity
from pars.audit.models import AuditAction, AuditEvent
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.learners.views.common import PER_PAGE
from pars.providers.models import Provider
from pars.testing import make_activity, register

DAY = datetime.date(2026, 3, 1)


def add(
    activity: Activity, code: str, number: int, **fields: Any
) -> LearnerCompletion:  # one record, written directly: the writer is not under test here
    values: dict[str, Any] = {
        "provider": activity.provider,
        "activity": activity,
        "recipient": Recipient.objects.get(code=code),
        "learner_key": f"K{number}",
        "first_name": f"First{number}",
        "last_name": f"Last{number}",
        "birth_month": 12,
        "birth_day": 10,
        "learner_id": f"{100000 + number}",
        "npi": "",
        "completion_date": DAY,
        "status": CompletionStatus.QUEUED,
    }
    values.update(fields)
    return LearnerCompletion.objects.create(**values)


@pytest.fixture
def records(provider: Provider, other_provider: Provider) -> dict[str, LearnerCompletion]:
    rounds = make_activity(provider, provider_activity_id="GR-1", title="Grand Rounds")
    cardio = make_activity(provider, provider_activity_id="CARD-2", title="Cardiology update")
    for activity in (rounds, cardio):
        for code in ("ABIM", "TN", "REMS"):
            register(activity, code)
    theirs = make_activity(other_provider, provider_activity_id="GR-1", title="Grand Rounds")
    register(theirs, "ABIM")
    return {
        "ada": add(rounds, "ABIM", 1, first_name="Ada", last_name="Lovelace", npi="1234567893"),
        "grace": add(
            rounds,
            "TN",
            2,
            first_name="Grace",
            last_name="Hopper",
            license_state="TN",
            completion_date=datetime.date(2026, 3, 20),
            status=CompletionStatus.ACCEPTED,
        ),
        "alan": add(
            cardio,
            "REMS",
            3,
            first_name="Alan",
            last_name="Turing",
            completion_date=datetime.date(2026, 4, 2),
            status=CompletionStatus.REPORTED,
        ),
        "ada2": add(cardio, "ABIM", 4, first_name="Ada", last_name="Byron", learner_id="LOV-1"),
        "theirs": add(theirs, "ABIM", 5, first_name="Ada", last_name="Secretsson"),
    }


def url(name: str, provider: Provider) -> str:
    return reverse(name, kwargs={"provider_id": provider.provider_id})


def listed(client: Client, provider: Provider, **params: str) -> set[str]:
    response = client.get(url("learners:list", provider), params)
    assert response.status_code == 200
    return {c.last_name for c in response.context["page"]}


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response.streaming  # streamed, not built in memory
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def xlsx_sheet(response: Any) -> Any:
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = b"".join(response.streaming_content)
    return load_workbook(io.BytesIO(data)).worksheets[0]


def xlsx_rows(response: Any) -> list[list[Any]]:
    return [[cell.value for cell in row] for row in xlsx_sheet(response).iter_rows()]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"recipient": "tn"}, {"Hopper"}),
        ({"recipient": "REMS"}, {"Turing"}),
        ({"q": "ada"}, {"Lovelace", "Byron"}),  # first name, any case
        ({"q": "HOPP"}, {"Hopper"}),  # part of the last name
        ({"learner": "1234567893"}, {"Lovelace"}),  # an NPI, whole
        ({"learner": "LOV-1"}, {"Byron"}),  # a learner ID, whole
        ({"learner": "LOV"}, set()),  # a part of one finds nobody
        ({"activity_q": "card-2"}, {"Turing", "Byron"}),  # the Provider Activity ID
        ({"activity_q": "rounds"}, {"Lovelace", "Hopper"}),  # a word of the title
        ({"from": "2026-03-15"}, {"Hopper", "Turing"}),
        ({"to": "03/20/2026"}, {"Lovelace", "Hopper", "Byron"}),  # mm/dd/yyyy too
        ({"from": "2026-03-15", "to": "2026-03-31"}, {"Hopper"}),
        ({"status": "reported"}, {"Turing"}),
        ({"q": "ada", "activity_q": "GR-1"}, {"Lovelace"}),  # filters combine
        ({"status": "queued", "recipient": "ABIM", "to": "2026-03-01"}, {"Lovelace", "Byron"}),
    ],
)
def test_each_filter_narrows_the_list_and_they_combine(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    records: dict[str, LearnerCompletion],
    params: dict[str, str],
    expected: set[str],
) -> None:
    client = client_as(editor)
    assert listed(client, provider, **params) == expected
    # The download holds the same records as the list.
    rows = csv_rows(client.get(url("learners:export_csv", provider), params))
    assert {row[5] for row in rows[1:]} == expected


def test_the_list_offers_the_downloads_with_its_filters(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    records: dict[str, LearnerCompletion],
) -> None:
    body = client_as(editor).get(url("learners:list", provider), {"status": "reported"})
    text = body.content.decode()
    assert f"{url('learners:export_csv', provider)}?status=reported" in text
    assert f"{url('learners:export_xlsx', provider)}?status=reported" in text
    for shown in ("Download CSV", "Download Excel", 'name="learner"', 'name="activity_q"'):
        assert shown in text
    assert 'name="from"' in text


def test_a_download_holds_every_matching_record_beyond_one_page_and_only_the_providers(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    records: dict[str, LearnerCompletion],
) -> None:
    rounds = records["ada"].activity
    for number in range(PER_PAGE + 5):
        add(rounds, "ABIM", 1000 + number, last_name=f"Many{number:03d}")
    client = client_as(editor)
    params = {"q": "Many"}
    csv_ = csv_rows(client.get(url("learners:export_csv", provider), params))
    xlsx = xlsx_rows(client.get(url("learners:export_xlsx", provider), params))
    expected = {f"Many{n:03d}" for n in range(PER_PAGE + 5)}
    assert len(csv_) - 1 == PER_PAGE + 5 == len(xlsx) - 1
    assert {row[5] for row in csv_[1:]} == expected == {row[5] for row in xlsx[1:]}
    # Unfiltered: every record of the provider's, none of the other provider's.
    everything = csv_rows(client.get(url("learners:export_csv", provider)))
    names = {row[5] for row in everything[1:]}
    assert len(everything) - 1 == LearnerCompletion.objects.filter(provider=provider).count()
    assert "Secretsson" not in names
    assert "Lovelace" in names


def test_columns_carry_the_dictionarys_labels_and_us_dates(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    records: dict[str, LearnerCompletion],
) -> None:
    client = client_as(editor)
    rows = csv_rows(client.get(url("learners:export_csv", provider), {"learner": "1234567893"}))
    header, row = rows
    record = dict(zip(header, row, strict=True))
    assert record["Provider Activity ID"] == "GR-1"
    assert record["Activity Title"] == "Grand Rounds"
    assert record["Recipient"] == "ABIM"
    assert record["First Name"] == "Ada"
    assert record["Birth Month and Day"] == "12-10"
    assert record["Learner ID"] == "100001"  # the provider's own users see personal data
    assert record["NPI"] == "1234567893"
    assert record["Completion Date"] == "03/01/2026"
    assert record["Status"] == "Queued"
    # The workbook holds real dates and numbers (Excel sorts and sums them), shown mm/dd/yyyy.
    response = client.get(url("learners:export_xlsx", provider), {"status": "accepted"})
    sheet = xlsx_sheet(response)
    cells = {head.value: cell for head, cell in zip(sheet[1], sheet[2], strict=True)}
    assert cells["Completion Date"].value.date() == datetime.date(2026, 3, 20)
    assert cells["Completion Date"].number_format == "mm/dd/yyyy"
    assert cells["License State"].value == "TN"
    LearnerCompletion.objects.filter(npi="1234567893").update(cme_credits=Decimal("6.25"))
    response = client.get(url("learners:export_xlsx", provider), {"learner": "1234567893"})
    sheet = xlsx_sheet(response)
    cells = {head.value: cell for head, cell in zip(sheet[1], sheet[2], strict=True)}
    assert cells["CME Credits"].value == 6.25  # a number, not the text "6.25"


def test_typed_text_is_escaped_against_formulas(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    records: dict[str, LearnerCompletion],
) -> None:
    LearnerCompletion.objects.filter(pk=records["ada"].pk).update(
        first_name='=HYPERLINK("http://evil.example","x")', last_name="\uff0bcmd"
    )
    client = client_as(editor)
    params = {"learner": "1234567893"}
    row = csv_rows(client.get(url("learners:export_csv", provider), params))[1]
    assert row[4:6] == ['\'=HYPERLINK("http://evil.example","x")', "'\uff0bcmd"]
    row = xlsx_rows(client.get(url("learners:export_xlsx", provider), params))[1]
    assert row[4:6] == ['\'=HYPERLINK("http://evil.example","x")', "'\uff0bcmd"]


@pytest.mark.parametrize("name", ["learners:export_csv", "learners:export_xlsx"])
def test_another_providers_user_gets_404(
    client_as: Callable[[User], Client],
    provider: Provider,
    mallory: User,
    records: dict[str, LearnerCompletion],
    name: str,
) -> None:
    assert client_as(mallory).get(url(name, provider)).status_code == 404


@pytest.mark.parametrize("name", ["learners:staff_export_csv", "learners:staff_export_xlsx"])
def test_staff_downloads_are_for_staff_only(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    records: dict[str, LearnerCompletion],
    name: str,
) -> None:
    client = client_as(editor)
    assert client.get(url(name, provider)).status_code == 404
    assert client.post(url(name, provider), {"reason": "curious"}).status_code == 404


def test_a_download_costs_the_same_queries_whatever_its_size(
    client_as: Callable[[User], Client],
    provider: Provider,
    editor: User,
    records: dict[str, LearnerCompletion],
) -> None:
    client = client_as(editor)
    client.get(url("learners:list", provider))  # the session settles first

    def queries(name: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response: Any = client.get(url(name, provider))
            if response.streaming:
                b"".join(response.streaming_content)
        return len(captured)

    small = {name: queries(name) for name in ("learners:export_csv", "learners:export_xlsx")}
    rounds = records["ada"].activity
    cardio = records["alan"].activity
    for number in range(40):
        add(rounds if number % 2 else cardio, "ABIM" if number % 3 else "TN", 2000 + number)
    for name, count in small.items():
        assert queries(name) == count, name
        assert count <= 8, (name, count)


STAFF_PERSONAL = ("100001", "1234567893", "12-10")


def test_staff_download_is_masked_without_a_reason_and_shown_with_one(
    client_as: Callable[[User], Client],
    provider: Provider,
    staff: User,
    records: dict[str, LearnerCompletion],
) -> None:
    client = client_as(staff)
    params = {"learner": "1234567893"}
    masked = csv_rows(client.get(url("learners:staff_export_csv", provider), params))
    record = dict(zip(*masked, strict=True))
    assert record["Last Name"] == "Lovelace"
    assert (record["Learner ID"], record["NPI"], record["Birth Month and Day"]) == (
        "••••01",
        "••••93",
        "••-••",
    )
    # The provider's own download does not unmask for staff either.
    theirs = csv_rows(client.get(url("learners:export_csv", provider), params))
    assert not set(STAFF_PERSONAL) & {cell for row in theirs for cell in row}
    assert not AuditEvent.objects.filter(action=AuditAction.PERSONAL_DATA_VIEWED).exists()

    # Without a reason: the page again, 400, nothing shown or recorded.
    response = client.post(url("learners:staff_export_xlsx", provider), {"reason": ""})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action=AuditAction.PERSONAL_DATA_VIEWED).exists()

    reason = {"reason": "Board asked to confirm a license", **params}
    shown = xlsx_rows(client.post(url("learners:staff_export_xlsx", provider), reason))
    record = dict(zip(*shown, strict=True))
    assert (record["Learner ID"], record["NPI"], record["Birth Month and Day"]) == STAFF_PERSONAL
    event = AuditEvent.objects.get(action=AuditAction.PERSONAL_DATA_VIEWED)
    assert event.user == staff
    assert event.details["reason"] == "Board asked to confirm a license"
    assert event.details["completions"] == 1
    assert event.details["filters"] == {"learner": "••••93"}  # the searched NPI, masked
    assert not any(value in str(event.details) for value in STAFF_PERSONAL)


def test_staff_page_offers_masked_and_reasoned_downloads(
    client_as: Callable[[User], Client],
    provider: Provider,
    staff: User,
    records: dict[str, LearnerCompletion],
) -> None:
    text = client_as(staff).get(url("learners:staff_list", provider)).content.decode()
    assert url("learners:staff_export_csv", provider) in text
    assert "Download Excel with personal data" in text
