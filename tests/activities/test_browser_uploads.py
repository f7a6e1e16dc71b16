"""Batch uploads in a real browser (Debian's chromium driven by Playwright), checked
against the web service.

1. For each format (tab-delimited text, Excel, XML) a file built from the PARS template
   with two valid rows and one invalid one (End Date before Start Date): an editor logs
   in, uploads it from the Uploads tab and reads on the upload's page that nothing was
   applied and which row, field and rule failed. The same file then goes through
   ``POST /api/v1/uploads``; the web service reports the same status, counts and errors.
2. A valid file is applied (its activities appear on the Activities tab); the same file
   uploaded again is a duplicate and changes nothing.

Tasks run immediately (tests/conftest.py), so the live server processes a file inside
the POST that uploads it.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from openpyxl import load_workbook
from playwright.sync_api import (
    APIRequestContext,
    Browser,
    Locator,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.activities.parsers.layouts import CURRENT
from pars.activities.xlsx_template import TEMPLATE_SUPPORTERS
from pars.intake.models import Upload
from pars.providers.models import Provider
from pars.testing import TEST_PASSWORD
from tests.support.browser import TIMEOUT_MS, launch_chromium, skip_without_chromium

skip_without_chromium()

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REJECTED = "Rejected (errors found, nothing changed)"
BAD_DATES = ("end_date", "activity.end_date.before_start")

# The template's header for each dictionary field.
HEADERS = {column.target: column.header for column in CURRENT.columns}


@dataclass(frozen=True)
class Row:
    provider_activity_id: str
    title: str
    start: date
    end: date
    activity_format: str = "Course"


def _rows(prefix: str) -> list[Row]:
    """Two valid activities with an invalid one (it ends before it starts) between them."""
    return [
        Row(f"{prefix}-1", "Cardiology Update", date(2026, 3, 1), date(2026, 3, 2)),
        Row(f"{prefix}-2", "Sepsis Recognition", date(2026, 3, 10), date(2026, 3, 1)),
        Row(f"{prefix}-3", "Grand Rounds: Heart Failure", date(2026, 4, 7), date(2026, 4, 7)),
    ]


def _cells(row: Row) -> dict[str, Any]:
    """The row's values by dictionary field (the targets of the layout's columns)."""
    return {
        "provider_activity_id": row.provider_activity_id,
        "title": row.title,
        "activity_format": row.activity_format,
        "start_date": row.start,
        "end_date": row.end,
    }


# ---------------------------------------------------------------------------
# The three files, from the PARS template


def tsv_file(rows: list[Row]) -> bytes:
    """Tab-delimited text under the current layout's header row (one supporter block)."""
    header = CURRENT.headers(supporters=1)
    lines = [header]
    for row in rows:
        values = {HEADERS[target]: value for target, value in _cells(row).items()}
        lines.append(
            [
                value.strftime("%m/%d/%Y") if isinstance(value, date) else str(value)
                for value in (values.get(name, "") for name in header)
            ]
        )
    return "".join("\t".join(cells) + "\r\n" for cells in lines).encode()


def xlsx_file(template: bytes, rows: list[Row]) -> bytes:
    """The downloaded Excel template with `rows` filled in under its header row."""
    workbook = load_workbook(io.BytesIO(template))
    sheet = workbook["Activities"]
    header = [cell.value for cell in sheet[1]]
    assert header == CURRENT.headers(supporters=TEMPLATE_SUPPORTERS)
    assert sheet.max_row == 1  # an empty template
    for number, row in enumerate(rows, start=2):
        for target, value in _cells(row).items():
            sheet.cell(row=number, column=header.index(HEADERS[target]) + 1, value=value)
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


_XML_ACTIVITY = """\
  <MedicalEducationMetrics>
    <ReportDescription>
      <ReportingStartDate>{start}</ReportingStartDate>
      <ReportingEndDate>{end}</ReportingEndDate>
    </ReportDescription>
    <ActivityDescription>
      <lom:lom>
        <lom:general>
          <lom:identifier>
            <lom:catalog>Provider Activity ID</lom:catalog><lom:entry>{id}</lom:entry>
          </lom:identifier>
          <lom:title><lom:string language="en">{title}</lom:string></lom:title>
        </lom:general>
        <hx:healthcareMetadata>
          <hx:healthcareEducation>
            <hx:startDateTime>{start}T00:00:00</hx:startDateTime>
            <hx:endDateTime>{end}T00:00:00</hx:endDateTime>
            <hx:activityFormat><lom:string language="en">{format}</lom:string></hx:activityFormat>
          </hx:healthcareEducation>
        </hx:healthcareMetadata>
      </lom:lom>
    </ActivityDescription>
    <XtensibleInfo>
      <accme:activityRecordAction>Add</accme:activityRecordAction>
    </XtensibleInfo>
  </MedicalEducationMetrics>
"""


def xml_file(rows: list[Row]) -> bytes:
    """An ACCMEActivities document shaped like tests/activities/data/sample_mems.xml."""
    activities = "".join(
        _XML_ACTIVITY.format(
            id=escape(row.provider_activity_id),
            title=escape(row.title),
            format=escape(row.activity_format),
            start=row.start.isoformat(),
            end=row.end.isoformat(),
        )
        for row in rows
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ACCMEActivities xmlns="http://ns.medbiq.org/metrics/v1/"\n'
        '                 xmlns:lom="http://ltsc.ieee.org/xsd/LOM"\n'
        '                 xmlns:hx="http://ns.medbiq.org/lom/extend/v1/"\n'
        '                 xmlns:a="http://ns.medbiq.org/address/v1/"\n'
        '                 xmlns:accme="urn:pars:accme-extensions:v1">\n'
        f"{activities}"
        "</ACCMEActivities>\n"
    ).encode()


# ---------------------------------------------------------------------------
# Browser and web service


@pytest.fixture(autouse=True)
def _media(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def playwright(monkeypatch: pytest.MonkeyPatch) -> Iterator[Playwright]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls made
    # here while it runs are still synchronous, so Django may allow them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as running:
        yield running


@pytest.fixture
def page(playwright: Playwright) -> Iterator[Page]:
    browser: Browser = launch_chromium(playwright)
    try:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        yield context.new_page()
        context.close()
    finally:
        browser.close()


@pytest.fixture
def api(
    playwright: Playwright, live_server: LiveServer, provider: Provider
) -> Iterator[APIRequestContext]:
    """The web service as a program sees it: no cookies, the provider's bearer key."""
    _, secret = create_api_key(provider=provider, name="browser test")
    context = playwright.request.new_context(
        base_url=live_server.url, extra_http_headers={"Authorization": f"Bearer {secret}"}
    )
    yield context
    context.dispose()


def _log_in_and_open_uploads(page: Page, base_url: str, provider: Provider, user: User) -> None:
    page.goto(f"{base_url}/accounts/login/")
    expect(page.get_by_role("heading", name="Log in to PARS")).to_be_visible()
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1, name=provider.name)).to_be_visible()
    _open_tab(page, "Uploads")
    expect(page).to_have_url(f"{base_url}/p/{provider.provider_id}/uploads/")
    expect(page.get_by_role("heading", name="Upload activities from a file")).to_be_visible()


def _open_tab(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Provider").get_by_role("link", name=name).click()


def _download_template(page: Page) -> bytes:
    expect(page.get_by_text("Accepted files")).to_be_visible()  # open, not collapsed
    with page.expect_download() as info:
        page.get_by_role("link", name="download the Excel template").click()
    download = info.value
    assert download.suggested_filename == "pars-activity-template.xlsx"
    return Path(download.path()).read_bytes()


def _upload(page: Page, name: str, content: bytes, mime: str, file_format: str = "") -> int:
    """Choose the file on the Uploads page, submit, land on the upload's page; its id."""
    page.get_by_label("Activity file").set_input_files(
        {"name": name, "mimeType": mime, "buffer": content}
    )
    if file_format:
        page.get_by_label("Format").select_option(label=file_format)
    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(re.compile(r"/uploads/\d+/$"))
    upload_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    number = Upload.objects.get(pk=upload_id).number  # the provider's activity uploads' count
    expect(page.get_by_role("heading", name=f"Activity upload #{number}: {name}")).to_be_visible()
    return upload_id


def _result(page: Page, status: str) -> Locator:
    """The finished result part of the upload's page (it is polled until then)."""
    result = page.locator("#upload-result")
    expect(result.locator(".badge")).to_have_text(status)
    return result


def _stat(result: Locator, label: str) -> int:
    """A figure of the result's counts: "3 rows", "1 row with errors"…"""
    tile = result.locator(".stats article").filter(has_text=re.compile(rf"^\s*[\d,]+\s+{label}$"))
    return int(tile.locator("strong").inner_text().replace(",", ""))


def _error_table(result: Locator) -> list[dict[str, Any]]:
    table = result.get_by_role("table")
    header = [cell.strip() for cell in table.locator("thead th").all_inner_texts()]
    # The file's own column, not the PARS field name (that is the web service's `field`).
    assert header == ["Row", "Record", "Column", "Message", "Rule"]
    errors = []
    for row in table.locator("tbody tr").all():
        cells = [cell.strip() for cell in row.get_by_role("cell").all_inner_texts()]
        number, record, column, message, rule = cells
        errors.append(
            {
                "row": None if number == "—" else int(number),
                "record": "" if record == "—" else record,
                "column": column,
                "rule": rule,
                "message": message,
            }
        )
    return errors


def _api_upload(api: APIRequestContext, name: str, content: bytes, mime: str) -> dict[str, Any]:
    """POST the file to /api/v1/uploads and read the upload until it has finished."""
    response = api.post(
        "/api/v1/uploads", multipart={"file": {"name": name, "mimeType": mime, "buffer": content}}
    )
    assert response.status == 202, response.text()
    accepted = response.json()
    assert accepted["url"] == f"/api/v1/uploads/{accepted['id']}"
    assert response.headers["location"] == accepted["url"]
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        answer = api.get(accepted["url"])
        assert answer.status == 200, answer.text()
        data: dict[str, Any] = answer.json()
        if data["finished"] or time.monotonic() > deadline:
            return data
        time.sleep(0.2)


# ---------------------------------------------------------------------------
# 1. An invalid row: nothing applied, the same errors on the page and in the web service

FORMATS = {
    # format: (file name, MIME type, the Format choice on the upload form)
    "tsv": ("activities.txt", "text/plain", ""),
    "xlsx": ("pars-activities.xlsx", XLSX_TYPE, "Excel workbook (.xlsx)"),
    "xml": ("activities.xml", "application/xml", ""),
}
FORMAT_LABELS = {"tsv": "Tab-delimited file", "xlsx": "Excel file", "xml": "XML file"}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("file_format", ["tsv", "xlsx", "xml"])
def test_a_file_with_an_invalid_row_is_rejected_alike_in_the_browser_and_the_api(
    file_format: str,
    page: Page,
    api: APIRequestContext,
    live_server: LiveServer,
    provider: Provider,
    editor: User,
) -> None:
    name, mime, choice = FORMATS[file_format]
    rows = _rows(file_format.upper())
    _log_in_and_open_uploads(page, live_server.url, provider, editor)
    if file_format == "xlsx":
        content = xlsx_file(_download_template(page), rows)
    elif file_format == "xml":
        content = xml_file(rows)
    else:
        content = tsv_file(rows)
    # The invalid activity: the sheet row (header = row 1), or the position in the XML.
    bad_row = 2 if file_format == "xml" else 3

    upload_id = _upload(page, name, content, mime, choice)
    result = _result(page, REJECTED)
    file_details = page.get_by_role("definition").first
    expect(file_details).to_contain_text(FORMAT_LABELS[file_format])
    expect(result.get_by_role("alert")).to_have_text(
        "1 of 3 rows has errors, so nothing in the file was applied. "
        "Fix every error listed and upload the whole file again."
    )
    expect(page.get_by_text("All or nothing: a file is applied only if every row")).to_be_visible()
    shown = {
        "rows_total": _stat(result, "rows"),
        "added": _stat(result, "added"),
        "updated": _stat(result, "updated"),
        "deleted": _stat(result, "deleted"),
        "rejected": _stat(result, "rows? with errors"),
        "error_count": _stat(result, "errors?"),
    }
    assert shown == {
        "rows_total": 3,
        "added": 0,
        "updated": 0,
        "deleted": 0,
        "rejected": 1,
        "error_count": 1,
    }
    errors = _error_table(result)
    assert [(e["row"], e["rule"]) for e in errors] == [(bad_row, BAD_DATES[1])]
    assert errors[0]["message"] == "End Date is before the Start Date."
    bad = result.get_by_role("row").filter(has_text=BAD_DATES[1])
    expect(bad.get_by_role("cell").first).to_have_text(str(bad_row))
    assert not Activity.objects.exists()
    upload = Upload.objects.get(pk=upload_id)
    assert (upload.file_format, upload.created_by, upload.via_api) == (file_format, editor, False)

    # The same file through the web service: the same verdict, the same errors.
    data = _api_upload(api, name, content, mime)
    assert data["id"] != upload_id
    assert data["status"] == "rejected"
    assert data["status_label"] == REJECTED
    assert data["file_format"] == file_format
    assert data["message"] == result.get_by_role("alert").inner_text().strip()
    assert {key: data[key] for key in shown} == shown
    assert [{k: v for k, v in e.items() if k != "field"} for e in data["errors"]] == errors
    assert [(e["row"], e["field"], e["rule"]) for e in data["errors"]] == [(bad_row, *BAD_DATES)]
    assert data["errors_next"] is None
    assert not Activity.objects.exists()

    # The Uploads list has both, the web service's marked as such.
    page.get_by_role("link", name="← Uploads").click()
    listed = page.get_by_role("row").filter(has_text=name)
    expect(listed).to_have_count(2)
    expect(listed.filter(has_text="browser test")).to_contain_text(REJECTED)
    expect(listed.filter(has_text=editor.email)).to_contain_text(REJECTED)


# ---------------------------------------------------------------------------
# 2. A valid file is applied; the same file again changes nothing


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_valid_file_is_applied_and_the_same_file_again_is_a_duplicate(
    page: Page, live_server: LiveServer, provider: Provider, editor: User
) -> None:
    rows = [row for row in _rows("OK") if row.end >= row.start]
    content = tsv_file(rows)
    _log_in_and_open_uploads(page, live_server.url, provider, editor)

    first_id = _upload(page, "valid.txt", content, "text/plain")
    result = _result(page, "Applied")
    expect(result.get_by_text("Applied: 2 added, 0 updated, 0 deleted (2 rows).")).to_be_visible()
    expect(result.get_by_role("alert")).to_have_count(0)
    assert (_stat(result, "rows"), _stat(result, "added"), _stat(result, "updated")) == (2, 2, 0)
    assert _stat(result, "errors?") == 0
    expect(result.get_by_role("table")).to_have_count(0)

    # The activities are on the Activities tab.
    _open_tab(page, "Activities")
    expect(page.get_by_role("heading", name="Activities", exact=True)).to_be_visible()
    expect(page.get_by_text("2 activities")).to_be_visible()
    for row in rows:
        listed = page.get_by_role("row").filter(has_text=row.provider_activity_id)
        expect(listed).to_have_count(1)
        expect(listed.get_by_role("link", name=row.title)).to_be_visible()
        expect(listed).to_contain_text("Course")
    before = sorted(Activity.objects.values_list("provider_activity_id", "title", "updated_at"))
    assert [activity[0] for activity in before] == ["OK-1", "OK-3"]

    # The same bytes again, under another name: a duplicate that changes nothing.
    _open_tab(page, "Uploads")
    second_id = _upload(page, "valid-again.txt", content, "text/plain")
    assert second_id != first_id
    result = _result(page, "Already uploaded (nothing changed)")
    # Numbered among the provider's activity uploads, not by the id every upload shares.
    first = Upload.objects.get(pk=first_id)
    assert first.number == 1
    expect(result.get_by_role("alert")).to_contain_text(
        re.compile(r"^This file was already applied by activity upload #1 \(valid\.txt, .+\); ")
    )
    expect(result.get_by_role("alert")).to_contain_text("nothing was changed.")
    assert (_stat(result, "added"), _stat(result, "updated"), _stat(result, "deleted")) == (0, 0, 0)
    result.get_by_role("link", name="See activity upload #1").click()
    expect(page).to_have_url(re.compile(rf"/uploads/{first_id}/$"))
    _result(page, "Applied")

    _open_tab(page, "Activities")
    expect(page.get_by_text("2 activities")).to_be_visible()
    after = sorted(Activity.objects.values_list("provider_activity_id", "title", "updated_at"))
    assert after == before


# ---------------------------------------------------------------------------
# 3. What was reported, downloaded as Excel, edited in one cell and uploaded again


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_exported_workbook_uploads_again_unchanged_and_an_edited_cell_updates_one(
    page: Page, live_server: LiveServer, provider: Provider, editor: User
) -> None:
    rows = [row for row in _rows("EX") if row.end >= row.start]
    _log_in_and_open_uploads(page, live_server.url, provider, editor)
    _upload(page, "valid.txt", tsv_file(rows), "text/plain")
    _result(page, "Applied")

    _open_tab(page, "Activities")
    page.get_by_label("Reporting year").select_option("2026")  # the downloads follow it
    expect(page.get_by_role("button", name="Download as Excel")).to_have_attribute(
        "href", re.compile(r"year=2026")
    )
    with page.expect_download() as info:
        page.get_by_role("button", name="Download as Excel").click()
    assert info.value.suggested_filename == f"activities-{provider.provider_id}-2026.xlsx"
    exported = Path(info.value.path()).read_bytes()
    before = sorted(Activity.objects.values_list("provider_activity_id", "title", "updated_at"))

    _open_tab(page, "Uploads")
    _upload(page, "export.xlsx", exported, XLSX_TYPE)
    result = _result(page, "Applied")
    assert (_stat(result, "rows"), _stat(result, "added"), _stat(result, "updated")) == (2, 0, 0)
    after = sorted(Activity.objects.values_list("provider_activity_id", "title", "updated_at"))
    assert after == before

    workbook = load_workbook(io.BytesIO(exported))
    sheet = workbook["Activities"]
    title = [cell.value for cell in sheet[1]].index(HEADERS["title"])
    assert sheet.cell(2, 3).value == "EX-1"
    sheet.cell(2, title + 1).value = "Cardiology Update, edited"
    edited = io.BytesIO()
    workbook.save(edited)
    _open_tab(page, "Uploads")
    _upload(page, "edited.xlsx", edited.getvalue(), XLSX_TYPE)
    result = _result(page, "Applied")
    assert (_stat(result, "added"), _stat(result, "updated")) == (0, 1)
    titles = dict(Activity.objects.values_list("provider_activity_id", "title"))
    assert titles == {"EX-1": "Cardiology Update, edited", "EX-3": "Grand Rounds: Heart Failure"}
