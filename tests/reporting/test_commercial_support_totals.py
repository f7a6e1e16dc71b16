"""Computed commercial support equals the sum over the activities, whatever channel wrote them.

The program summary never stores commercial support: `activity_totals` sums it in SQL
from the activities of the year. Here activities are added, edited and deleted through
each of the five channels (web form, tab-delimited, Excel and XML uploads, JSON API),
and after every step the totals -- from `activity_totals` and from
``GET /api/v1/annual-reports/{year}`` -- must equal sums computed independently: in
Python over the supporter rows in the database, by a raw SQL ``SUM``, and from the
records the test sent.

The channel drivers (:func:`channel_driver`) are shared with test_year_lock_channels.py.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from xml.sax.saxutils import escape, quoteattr

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse

from pars.accounts.access import ProviderAccess, get_api_access, get_provider_access
from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity, CommercialSupport
from pars.activities.parsers.layouts import CURRENT
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.reporting.models import ReportingYear
from pars.reporting.summary import activity_totals
from pars.testing import make_activity
from tests.activities.test_activity_api import course as json_course
from tests.activities.test_activity_form import course_form, supporter_rows

YEAR = 2025

# An error as the channels report it: (row, field, rule, message); row is None for the
# web form and the API, the row (TSV, XLSX) or activity (XML) number for a file.
Error = tuple[int | None, str, str, str]


# ---------------------------------------------------------------------------
# What the test sends: a small model of an activity and its supporters


@dataclass(frozen=True)
class Supporter:
    source: str
    amount: int | None = None
    in_kind: bool = False
    description: str = ""


@dataclass(frozen=True)
class Record:
    activity_id: str
    year: int = YEAR
    title: str = "Cardiology Update"
    supporters: tuple[Supporter, ...] = ()

    @property
    def start_date(self) -> str:
        return f"{self.year}-05-01"

    @property
    def end_date(self) -> str:
        return f"{self.year}-05-02"


@dataclass
class Sent:
    """The channel's answer: the errors it reported (none: the change was applied)."""

    errors: list[Error]
    page: str = ""  # the web page shown, for the web form

    @property
    def rules(self) -> set[str]:
        return {rule for _, _, rule, _ in self.errors}


class Driver(Protocol):
    name: str

    def write(self, records: list[Record]) -> Sent: ...

    def delete(self, activity_ids: list[str]) -> Sent: ...


# ---------------------------------------------------------------------------
# The five channels


@dataclass
class WebDriver:
    provider: Provider
    user: User
    name: str = "web"
    client: Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = Client()
        self.client.force_login(self.user)

    def _url(self, view: str, *args: Any) -> str:
        return reverse(f"activities:{view}", args=[self.provider.provider_id, *args])

    def write(self, records: list[Record]) -> Sent:
        errors: list[Error] = []
        pages = []
        for record in records:
            rows = [
                {
                    "source": s.source,
                    "monetary_amount": "" if s.amount is None else str(s.amount),
                    "in_kind": "on" if s.in_kind else "",
                    "in_kind_description": s.description,
                }
                for s in record.supporters
            ]
            form = course_form(
                provider_activity_id=record.activity_id,
                title=record.title,
                start_date=record.start_date,
                end_date=record.end_date,
                commercial_support_received="yes" if rows else "no",
                supporters=supporter_rows(*rows, total=max(5, len(rows))),
            )
            existing = Activity.objects.filter(
                provider=self.provider, provider_activity_id=record.activity_id
            ).first()
            url = self._url("edit", existing.pk) if existing else self._url("new")
            response = self.client.post(url, form)
            if response.status_code != 302:
                assert response.status_code == 400, response.status_code
                errors += [
                    (None, i.error.field, i.error.rule, i.error.message)
                    for i in response.context["summary"]
                ]
                pages.append(response.text)
        return Sent(errors, "".join(pages))

    def delete(self, activity_ids: list[str]) -> Sent:
        errors: list[Error] = []
        pages = []
        for activity_id in activity_ids:
            activity = Activity.objects.get(
                provider=self.provider, provider_activity_id=activity_id
            )
            response = self.client.post(self._url("delete", activity.pk))
            if response.status_code != 302:
                assert response.status_code == 400, response.status_code
                errors += [(None, e.field, e.rule, e.message) for e in response.context["refused"]]
                pages.append(response.text)
        return Sent(errors, "".join(pages))


@dataclass
class ApiDriver:
    """The JSON API: PUT /activities/{id} ("api"), or POST /activities ("api_post")."""

    provider: Provider
    user: User
    name: str = "api"
    client: Client = field(init=False)

    def __post_init__(self) -> None:
        _, secret = create_api_key(provider=self.provider, created_by=self.user)
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    @staticmethod
    def _errors(response: Any) -> list[Error]:
        return [(e["row"], e["field"], e["rule"], e["message"]) for e in response.json()["errors"]]

    def write(self, records: list[Record]) -> Sent:
        errors: list[Error] = []
        for record in records:
            body = json_course(
                title=record.title,
                start_date=record.start_date,
                end_date=record.end_date,
                commercial_support_received=bool(record.supporters),
                supporters=[
                    {
                        "source": s.source,
                        "monetary_amount": s.amount,
                        "in_kind": s.in_kind,
                        "in_kind_description": s.description,
                    }
                    for s in record.supporters
                ],
            )
            if self.name == "api_post":
                response = self.client.post(
                    "/api/v1/activities",
                    json.dumps({**body, "provider_activity_id": record.activity_id}),
                    content_type="application/json",
                )
            else:
                response = self.client.put(
                    f"/api/v1/activities/{record.activity_id}",
                    json.dumps(body),
                    content_type="application/json",
                )
            if response.status_code not in (200, 201):
                assert response.status_code == 400, response.status_code
                errors += self._errors(response)
        return Sent(errors)

    def delete(self, activity_ids: list[str]) -> Sent:
        errors: list[Error] = []
        for activity_id in activity_ids:
            response = self.client.delete(f"/api/v1/activities/{activity_id}")
            if response.status_code != 204:
                assert response.status_code == 400, response.status_code
                errors += self._errors(response)
        return Sent(errors)


# Text cells of the PARS layout (the downloadable template) for a complete course.
_FILE_CELLS = {
    "activity_format": "Course",
    "delivery_methods": "In-Person",
    "description": "Heart failure and arrhythmia, for internists.",
    "city": "Chicago",
    "state": "IL",
    "country": "USA",
    "providership": "Direct",
    "ama_credits": "6.5",
    "physician_learners": "120",
    "other_learners": "35",
    "outcome_measures": "Learner Competence:Objective",
    "listed_on_passport": "No",
}


@dataclass
class UploadDriver:
    """TSV, XLSX and XML files, stored and processed as a user's upload."""

    provider: Provider
    user: User
    name: str
    uploads: int = 0

    def write(self, records: list[Record]) -> Sent:
        return self._send([("upsert", record) for record in records])

    def delete(self, activity_ids: list[str]) -> Sent:
        return self._send([("delete", Record(activity_id)) for activity_id in activity_ids])

    def _send(self, rows: list[tuple[str, Record]]) -> Sent:
        access = get_provider_access(self.user, self.provider.provider_id)
        content = {"tsv": _tsv, "xlsx": _xlsx, "xml": _xml}[self.name](rows)
        self.uploads += 1
        name = f"activities-{self.uploads}.{'txt' if self.name == 'tsv' else self.name}"
        upload = store_upload(access, SimpleUploadedFile(name, content))
        upload = Upload.objects.get(pk=upload.pk)
        errors = [(e.row, e.field, e.rule, e.message) for e in upload.errors.order_by("pk")]
        if errors:
            assert upload.status == UploadStatus.REJECTED, upload.status
        else:
            assert upload.status == UploadStatus.SUCCEEDED, (upload.status, upload.message)
        return Sent(errors)


def _file_rows(rows: list[tuple[str, Record]]) -> tuple[list[str], list[list[Any]]]:
    blocks = max([len(record.supporters) for _, record in rows] + [1])
    table = []
    for action, record in rows:
        if action == "delete":
            values = {"action": "Delete", "provider_activity_id": record.activity_id}
        else:
            values = {
                **_FILE_CELLS,
                "provider_activity_id": record.activity_id,
                "title": record.title,
                "start_date": record.start_date,
                "end_date": record.end_date,
                "commercial_support_received": "Yes" if record.supporters else "No",
            }
        cells: list[Any] = [values.get(column.target, "") for column in CURRENT.columns]
        supporters = record.supporters if action != "delete" else ()
        for index in range(blocks):
            if index < len(supporters):
                s = supporters[index]
                cells += [
                    s.source,
                    "" if s.amount is None else str(s.amount),
                    "Yes" if s.in_kind else "",
                    s.description,
                ]
            else:
                cells += ["", "", "", ""]
        table.append(cells)
    return CURRENT.headers(supporters=blocks), table


def _tsv(rows: list[tuple[str, Record]]) -> bytes:
    headers, table = _file_rows(rows)
    text = io.StringIO()
    writer = csv.writer(text, dialect=csv.excel_tab)
    writer.writerow(headers)
    writer.writerows(table)
    return text.getvalue().encode()


def _xlsx(rows: list[tuple[str, Record]]) -> bytes:
    headers, table = _file_rows(rows)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(headers)
    for cells in table:
        sheet.append([cell if cell != "" else None for cell in cells])
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


_XML_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<ACCMEActivities xmlns="http://ns.medbiq.org/metrics/v1/"
                 xmlns:lom="http://ltsc.ieee.org/xsd/LOM"
                 xmlns:hx="http://ns.medbiq.org/lom/extend/v1/"
                 xmlns:a="http://ns.medbiq.org/address/v1/"
                 xmlns:x="urn:pars:accme-extensions:v1">
"""


def _xml_activity(action: str, record: Record) -> str:
    identifier = (
        "<lom:identifier><lom:catalog>Provider Activity ID</lom:catalog>"
        f"<lom:entry>{escape(record.activity_id)}</lom:entry></lom:identifier>"
    )
    if action == "delete":
        return f"""  <MedicalEducationMetrics>
    <ActivityDescription><lom:lom><lom:general>{identifier}</lom:general></lom:lom>
    </ActivityDescription>
    <XtensibleInfo><x:activityRecordAction>Delete</x:activityRecordAction></XtensibleInfo>
  </MedicalEducationMetrics>
"""
    amounts = "".join(
        f'<CommercialSupportAmount currency="USD" supportSource={quoteattr(s.source)}>'
        f"{s.amount}</CommercialSupportAmount>\n"
        for s in record.supporters
        if s.amount is not None
    )
    in_kind = "".join(
        f"<x:InKindSupport><x:source>{escape(s.source)}</x:source>"
        + (f"<x:description>{escape(s.description)}</x:description>" if s.description else "")
        + "</x:InKindSupport>"
        for s in record.supporters
        if s.in_kind
    )
    support = "yes" if record.supporters else "no"
    return f"""  <MedicalEducationMetrics>
    <ReportDescription>
      <ReportingStartDate>{record.start_date}</ReportingStartDate>
      <ReportingEndDate>{record.end_date}</ReportingEndDate>
    </ReportDescription>
    <ActivityDescription>
      <lom:lom>
        <lom:general>
          {identifier}
          <lom:title><lom:string language="en">{escape(record.title)}</lom:string></lom:title>
          <lom:description><lom:string language="en">Heart failure and arrhythmia, for internists.</lom:string></lom:description>
        </lom:general>
        <hx:healthcareMetadata><hx:healthcareEducation>
          <hx:credits><hx:activityCertification>AMA PRA Category 1</hx:activityCertification><hx:numberOfCredits>6.5</hx:numberOfCredits></hx:credits>
          <hx:activityLocation><a:City>Chicago</a:City><a:StateOrProvince>IL</a:StateOrProvince><a:Country><a:CountryCode>USA</a:CountryCode></a:Country></hx:activityLocation>
          <hx:startDateTime>{record.start_date}T00:00:00</hx:startDateTime>
          <hx:endDateTime>{record.end_date}T00:00:00</hx:endDateTime>
          <hx:activitySponsorship>direct</hx:activitySponsorship>
          <hx:activityFormat><lom:string language="en">Course</lom:string></hx:activityFormat>
          <hx:commercialSupport>{support}</hx:commercialSupport>
        </hx:healthcareEducation></hx:healthcareMetadata>
      </lom:lom>
      {amounts}
    </ActivityDescription>
    <ParticipationMetrics>
      <ParticipantsByCategory category="physician">120</ParticipantsByCategory>
      <ParticipantsByCategory category="non-physician">35</ParticipantsByCategory>
    </ParticipationMetrics>
    <XtensibleInfo>
      <x:DeliveryMethods><x:DeliveryMethod>In-Person</x:DeliveryMethod></x:DeliveryMethods>
      <x:ForPublicList>false</x:ForPublicList>
      {f"<x:InKindSupports>{in_kind}</x:InKindSupports>" if in_kind else ""}
    </XtensibleInfo>
  </MedicalEducationMetrics>
"""  # noqa: E501


def _xml(rows: list[tuple[str, Record]]) -> bytes:
    body = "".join(_xml_activity(action, record) for action, record in rows)
    return (_XML_HEAD + body + "</ACCMEActivities>\n").encode()


# The five channels; the JSON API twice, by PUT and by POST (both delete by DELETE).
CHANNELS = ["web", "tsv", "xlsx", "xml", "api", "api_post"]


def channel_driver(name: str, provider: Provider, user: User) -> Driver:
    """A driver that adds, edits and deletes activities through one channel, as `user`."""
    if name == "web":
        return WebDriver(provider, user)
    if name in ("api", "api_post"):
        return ApiDriver(provider, user, name)
    return UploadDriver(provider, user, name)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    """Uploaded files go to a temporary directory, not the development media folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


# ---------------------------------------------------------------------------
# The independent sums


@dataclass(frozen=True)
class Support:
    monetary: int
    in_kind: int
    supporters: int
    activities: int


def support_from_rows(provider: Provider, year: int) -> Support:
    """Python over every supporter row in the database, filtered in Python."""
    year_of = dict(Activity.objects.values_list("pk", "reporting_year"))
    rows = [
        row
        for row in CommercialSupport.objects.all()
        if row.provider_id == provider.pk and year_of[row.activity_id] == year
    ]
    return Support(
        monetary=sum(row.monetary_amount or 0 for row in rows),
        in_kind=sum(1 for row in rows if row.in_kind),
        supporters=len({row.source for row in rows}),
        activities=len({row.activity_id for row in rows}),
    )


def monetary_by_sql(provider: Provider, year: int) -> int:
    support = CommercialSupport._meta.db_table
    activity = Activity._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(s.monetary_amount), 0) FROM {support} s "  # noqa: S608
            f"JOIN {activity} a ON a.id = s.activity_id "
            "WHERE a.provider_id = %s AND a.reporting_year = %s",
            [provider.pk, year],
        )
        (total,) = cursor.fetchone()
    return int(total)


def support_from_records(records: dict[str, Record], year: int) -> Support:
    """What the records the test sent add up to."""
    supporters = [s for r in records.values() if r.year == year for s in r.supporters]
    return Support(
        monetary=sum(s.amount or 0 for s in supporters),
        in_kind=sum(1 for s in supporters if s.in_kind),
        supporters=len({s.source for s in supporters}),
        activities=sum(1 for r in records.values() if r.year == year and r.supporters),
    )


def assert_totals_agree(
    provider: Provider, api: Client, records: dict[str, Record], access: ProviderAccess
) -> Support:
    expected = support_from_rows(provider, YEAR)
    assert expected == support_from_records(records, YEAR)
    assert monetary_by_sql(provider, YEAR) == expected.monetary
    totals = activity_totals(access, YEAR)
    assert (
        totals.commercial_support_monetary,
        totals.in_kind_supports,
        totals.commercial_supporters,
        totals.activities_supported,
    ) == (expected.monetary, expected.in_kind, expected.supporters, expected.activities)
    answered = api.get(f"/api/v1/annual-reports/{YEAR}").json()["totals"]
    assert answered["commercial_support_monetary"] == f"{expected.monetary}.00"
    assert Decimal(answered["commercial_support_monetary"]) == expected.monetary
    assert (
        answered["in_kind_supports"],
        answered["commercial_supporters"],
        answered["activities_supported"],
        answered["activities"],
    ) == (
        expected.in_kind,
        expected.supporters,
        expected.activities,
        sum(1 for record in records.values() if record.year == YEAR),
    )
    return expected


# ---------------------------------------------------------------------------
# The test

PHARMA = "Example Pharma"
STEPS: list[tuple[str, list[Record] | list[str], Support]] = [
    (
        "add",
        [
            Record(
                "A-1",
                supporters=(
                    Supporter(PHARMA, 5000),
                    Supporter("Device Co", in_kind=True, description="Ultrasound units"),
                ),
            ),
            Record(
                "A-2",
                supporters=(
                    Supporter(PHARMA, 2500),
                    Supporter("Biotech Inc", 1200, in_kind=True, description="Simulators"),
                ),
            ),
            Record("A-3"),
            Record("B-1", year=2026, supporters=(Supporter(PHARMA, 9999),)),
        ],
        Support(monetary=8700, in_kind=2, supporters=3, activities=2),
    ),
    (
        "edit",
        [
            # A supporter's amount changes, another goes, a new one gives in kind.
            Record(
                "A-1",
                title="Cardiology Update (revised)",
                supporters=(Supporter(PHARMA, 6000), Supporter("New Sponsor", in_kind=True)),
            ),
            # An activity without support gets some.
            Record("A-3", supporters=(Supporter("Device Co", 300),)),
            # An activity moves into the year, with its support.
            Record("B-1", supporters=(Supporter(PHARMA, 9999),)),
        ],
        Support(monetary=19999, in_kind=2, supporters=4, activities=4),
    ),
    ("delete", ["A-2"], Support(monetary=16299, in_kind=1, supporters=3, activities=3)),
    (
        "edit",
        [Record("B-1", year=2026, supporters=(Supporter(PHARMA, 9999),))],  # moves out again
        Support(monetary=6300, in_kind=1, supporters=3, activities=2),
    ),
    ("delete", ["A-1", "A-3"], Support(monetary=0, in_kind=0, supporters=0, activities=0)),
]


@pytest.mark.parametrize("channel", CHANNELS)
def test_commercial_support_totals_follow_every_change_through_every_channel(
    channel: str, provider: Provider, other_provider: Provider, editor: User, admin_user: User
) -> None:
    ReportingYear.objects.create(year=YEAR, deadline=datetime.date(YEAR + 1, 3, 31))
    # Another provider's supported activity of the same year must never count.
    theirs = make_activity(other_provider, provider_activity_id="A-1", reporting_year=YEAR)
    CommercialSupport.objects.create(
        provider=other_provider,
        activity=theirs,
        position=1,
        source="Their Pharma",
        monetary_amount=777,
        in_kind=True,
    )
    driver = channel_driver(channel, provider, editor)
    _, secret = create_api_key(provider=provider, created_by=admin_user)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    access = get_api_access(provider)
    records: dict[str, Record] = {}
    for action, payload, expected in STEPS:
        if action == "delete":
            ids = [str(item) for item in payload]
            sent = driver.delete(ids)
            for activity_id in ids:
                records.pop(activity_id)
        else:
            changed = [item for item in payload if isinstance(item, Record)]
            sent = driver.write(changed)
            records.update({record.activity_id: record for record in changed})
        assert sent.errors == [], (channel, action, sent.errors)
        assert assert_totals_agree(provider, api, records, access) == expected, (channel, action)
        stored = {
            a.provider_activity_id: (a.reporting_year, a.last_channel)
            for a in Activity.objects.filter(provider=provider)
        }
        last_channel = "api" if channel == "api_post" else channel
        assert stored == {key: (record.year, last_channel) for key, record in records.items()}
    assert activity_totals(get_api_access(other_provider), YEAR).commercial_support_monetary == 777
