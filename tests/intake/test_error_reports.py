"""Error reports a coordinator can act on: each error names the row as the spreadsheet
numbers it, the record's key (the Provider Activity ID; for learners the activity,
recipient and completion date, never personal data) and the file's own column header,
through the real upload job, on the page, in the CSV and Excel downloads and in the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.intake.models import Upload, UploadError, UploadStatus
from pars.intake.store import store_upload
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME
from pars.providers.models import Provider
from pars.testing import LEARNER_ROW, make_activity, register

Where = tuple[int | None, str, str, str, str]  # row, record, column, field, rule


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _upload(provider: Provider, user: User, name: str, content: bytes, **kwargs: Any) -> Upload:
    access = get_provider_access(user, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile(name, content), **kwargs)
    upload.refresh_from_db()
    return upload


def _where(upload: Upload) -> list[Where]:
    return [
        (error.row, error.record, error.column, error.field, error.rule)
        for error in UploadError.objects.filter(upload=upload).order_by("row", "pk")
    ]


def _url(name: str, upload: Upload) -> str:
    kwargs = {"provider_id": upload.provider.provider_id, "pk": upload.pk}
    return reverse(f"uploads:{name}", kwargs=kwargs)


# ---------------------------------------------------------------------------
# Activity files

ACTIVITY_HEADER = ["Provider Activity ID", "Activity Title", "Activity Format", "Start Date"]
ACTIVITY_HEADER += ["End Date"]


def _activity_tsv() -> bytes:
    """Row 2 holds a title with a line break (a quoted cell over lines 2-3 of the text):
    the bad activity U-2 is row 3, as a spreadsheet shows it, not line 4."""
    lines = [
        "\t".join(ACTIVITY_HEADER),
        '"U-1"\t"Cardiology\nupdate"\tCourse\t03/01/2026\t03/02/2026',
        "U-2\tHeart failure\tWebinar\t03/01/2026\t03/02/2026",
        "U-3\tArrhythmia\tCourse\t03/01/2026\t03/02/2026",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_an_activity_text_file_reports_line_record_and_header(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    upload = _upload(provider, editor, "activities.txt", _activity_tsv())
    assert upload.status == UploadStatus.REJECTED
    assert _where(upload) == [
        (3, "U-2", "Activity Format", "activity_format", "activity.activity_format.not_allowed")
    ]

    client = client_as(editor)
    page = client.get(_url("detail", upload)).text
    assert "<td>U-2</td><td>Activity Format</td>" in page
    assert "activity_format<" not in page  # no internal field name

    response = client.get(_url("errors_csv", upload))
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["Row", "Record", "Column", "Message", "Rule"]
    assert [line[0] for line in lines[1:]] == ["3"]
    assert lines[1][1:3] == ["U-2", "Activity Format"]

    response = client.get(_url("errors_xlsx", upload))
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Row", "Record", "Column", "Message", "Rule")
    assert rows[1][:3] == (3, "U-2", "Activity Format")


def test_an_activity_workbook_reports_the_sheet_row(provider: Provider, editor: User) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Provider Activity ID", "activity title", "Activity Format", "Start Date"])
    sheet["E1"] = "End Date"
    sheet.append(["X-1", "Cardiology", "Course", "03/01/2026", "03/02/2026"])
    sheet.append([])  # a blank row is skipped, and still counted as a sheet row
    sheet.append(["X-2", "A" * 600, "Course", "03/01/2026", "03/02/2026"])
    stream = io.BytesIO()
    workbook.save(stream)
    upload = _upload(provider, editor, "activities.xlsx", stream.getvalue())
    assert upload.status == UploadStatus.REJECTED, upload.message
    assert _where(upload) == [(4, "X-2", "activity title", "title", "activity.title.too_long")]
    error = UploadError.objects.get(upload=upload)
    assert error.field_shown == "activity title"  # the file's own spelling


_XML_ACTIVITY = """\
  <MedicalEducationMetrics>
    <ActivityDescription>
      <lom:lom>
        <lom:general>
          <lom:identifier>
            <lom:catalog>Provider Activity ID</lom:catalog><lom:entry>{id}</lom:entry>
          </lom:identifier>
          <lom:title><lom:string language="en">Cardiology</lom:string></lom:title>
        </lom:general>
        <hx:healthcareMetadata>
          <hx:healthcareEducation>
            <hx:startDateTime>2026-03-01T00:00:00</hx:startDateTime>
            <hx:endDateTime>2026-03-02T00:00:00</hx:endDateTime>
            <hx:activityFormat><lom:string language="en">{format}</lom:string></hx:activityFormat>
          </hx:healthcareEducation>
        </hx:healthcareMetadata>
      </lom:lom>
    </ActivityDescription>
  </MedicalEducationMetrics>
"""


def _activity_xml(*activities: tuple[str, str]) -> bytes:
    body = "".join(_XML_ACTIVITY.format(id=key, format=fmt) for key, fmt in activities)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ACCMEActivities xmlns="http://ns.medbiq.org/metrics/v1/"\n'
        '  xmlns:lom="http://ltsc.ieee.org/xsd/LOM"\n'
        '  xmlns:hx="http://ns.medbiq.org/lom/extend/v1/">\n'
        f"{body}</ACCMEActivities>\n"
    ).encode()


def test_an_xml_file_reports_the_record_position_and_element(provider: Provider) -> None:
    """In XML the row is the record's ordinal (the second activity is row 2), and the
    column is the element the value came from; the API shows both."""
    _, secret = create_api_key(provider=provider)
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    content = _activity_xml(("M-1", "Course"), ("M-2", "Webinar"), ("M-3", "Course"))
    response = Client().post(
        "/api/v1/uploads", {"file": SimpleUploadedFile("a.xml", content)}, **auth
    )
    assert response.status_code == 202
    upload = Upload.objects.get(pk=response.json()["id"])
    assert _where(upload) == [
        (2, "M-2", "hx:activityFormat", "activity_format", "activity.activity_format.not_allowed")
    ]
    body = Client().get(response["Location"], **auth).json()
    assert body["status"] == "rejected"
    [error] = body["errors"]
    assert (error["row"], error["record"], error["column"], error["field"]) == (
        2,
        "M-2",
        "hx:activityFormat",
        "activity_format",
    )
    page = Client().get(f"/api/v1/uploads/{upload.pk}/errors", **auth).json()
    assert page["errors"] == body["errors"]


def test_the_api_schema_describes_record_and_column(client: Client) -> None:
    description = client.get("/api/v1/openapi.json").json()
    schemas = description["components"]["schemas"]
    errors = schemas["Upload"]["properties"]["errors"]["items"]["$ref"]
    shape = schemas[errors.rsplit("/", 1)[1]]
    assert {"row", "record", "column", "field", "rule", "message"} <= set(shape["properties"])


# ---------------------------------------------------------------------------
# Learner files: the record key carries no personal data

LEARNER_FIELDS = [
    "provider_activity_id",
    "recipient",
    "first_name",
    "last_name",
    "birth_date",
    "learner_id",
    "completion_date",
    "cme_credits",
    "moc_points",
    "moc_credit_types",
]


def test_a_learner_csv_reports_line_key_and_header_without_personal_data(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    activity = make_activity(provider)
    register(activity)
    header = [COMPLETION_FIELDS_BY_NAME[name].label for name in LEARNER_FIELDS]
    good = {"provider_activity_id": activity.provider_activity_id, **LEARNER_ROW}
    bad = {**good, "learner_id": "654321", "first_name": "Grace", "birth_date": "31-31"}
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerow([good[name] for name in LEARNER_FIELDS])
    writer.writerow([bad[name] for name in LEARNER_FIELDS])
    upload = _upload(provider, editor, "learners.csv", stream.getvalue().encode(), kind="learners")
    assert upload.status == UploadStatus.PARTIAL, upload.message
    key = f"{activity.provider_activity_id} · ABIM · 2026-03-02"  # as the file has it
    label = COMPLETION_FIELDS_BY_NAME["birth_date"].label
    assert _where(upload) == [(3, key, label, "birth_date", "learner.birth_date.invalid")]
    for personal in ("Grace", "Lovelace", "654321", "31-31"):
        assert personal not in key

    response = client_as(editor).get(_url("errors_csv", upload))
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[1][0] == "3"
    assert lines[1][1:3] == [key, label]
