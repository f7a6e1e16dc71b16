"""Export the activity list as the upload layouts (tab-delimited, Excel), edit, upload again."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity, ActivityChange
from pars.activities.parsers.layouts import CURRENT
from pars.audit.models import AuditEvent
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.testing import make_activity

SUPPORTER_1 = ["Supporter 1 Source", "Supporter 1 Monetary Amount", "Supporter 1 In-Kind?"]
SUPPORTER_2 = ["Supporter 2 Source", "Supporter 2 In-Kind?", "Supporter 2 In-Kind Description"]
HEADER = [
    "Status",
    "Provider Activity ID",
    "Activity Title",
    "Activity Format",
    "Delivery Method",
    "Start Date",
    "End Date",
    "Description",
    "City",
    "State",
    "Country",
    "Providership",
    "Joint Provider(s)",
    "AMA PRA Category 1 Credits",
    "Hours of Instruction",
    "# of Physicians",
    "# of Other Learners",
    "Designed to change Competence?",
    "Learning Formats",
    "Outcome Measures",
    "Competencies",
    "Commercial Support Received?",
    "List on CME Passport?",
    "Fee for Participation",
    "Registration",
    "Activity URL",
    "MIPS Improvement Activity?",
    *SUPPORTER_1,
    *SUPPORTER_2,
]
# A current-year activity with every kind of value, a legacy-year one (activity-type code,
# hours, flags, competencies, sub-categories) and a draft.
ROWS = [
    ["", "EX-1", "Cardiology update", "Course", "In-Person; Live-Streamed", "03/01/2026",
     "03/02/2026", "Heart failure, today.\nTwo lines.", "Boston", "MA", "USA", "Joint",
     "Org A; Org B", "1.25", "", "12", "3", "", "",
     "Learner Competence:Objective,Subjective; Patient Health", "", "Yes", "Yes",
     "No, it's free", "Open to all", "https://example.org/a", "No",
     "Pharma Inc", "5000", "No", "Device Co", "Yes", "Loaner scanners"],
    ["", "EX-2", "Grand rounds 2019", "RSS", "", "01/10/2019", "12/10/2019", "", "Omaha",
     "NE", "USA", "Direct", "", "20", "10.5", "40", "0", "Yes", "Lecture; Panel", "",
     "Medical Knowledge; Professionalism", "No", "", "", "", "", "No",
     "", "", "", "", "", ""],
    ["Draft", "EX-3", "Ethics draft", "Enduring Material", "Online", "05/01/2026",
     "05/01/2027", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
     "", "", "", "", "", "", "", ""],
]  # fmt: skip


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _tsv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, dialect="excel-tab", lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode()


def _upload(provider: Provider, user: User, content: bytes, name: str = "file.txt") -> Upload:
    access = get_provider_access(user, provider.provider_id)
    return store_upload(access, SimpleUploadedFile(name, content), via_api=False)


@pytest.fixture
def reported(provider: Provider, editor: User) -> Provider:
    upload = _upload(provider, editor, _tsv(HEADER, ROWS))
    assert upload.status == UploadStatus.SUCCEEDED, list(upload.errors.values("message"))
    assert upload.added == 3
    statuses = dict(Activity.objects.values_list("provider_activity_id", "status"))
    # Each status a file asks for differently comes back the same (Ready to Close asks Active).
    assert statuses == {"EX-1": "closed", "EX-2": "ready_to_close", "EX-3": "draft"}
    return provider


def _export(client: Client, provider: Provider, kind: str, query: str = "") -> bytes:
    url = reverse(f"activities:export_{kind}", kwargs={"provider_id": provider.provider_id})
    response = client.get(url + query)
    assert response.status_code == 200
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def _snapshot(provider: Provider) -> dict[str, Any]:
    return dict(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", "updated_at")
    )


def _rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), dialect="excel-tab"))


def _unchanged_upload(provider: Provider, editor: User, content: bytes, name: str) -> None:
    before, events = _snapshot(provider), AuditEvent.objects.count()
    upload = _upload(provider, editor, content, name)
    assert upload.status == UploadStatus.SUCCEEDED, list(upload.errors.values("message"))
    assert (upload.rows_total, upload.unchanged, upload.added, upload.updated) == (3, 3, 0, 0)
    assert _snapshot(provider) == before
    assert AuditEvent.objects.count() == events  # nothing written, not even an event


def test_the_tab_delimited_export_uploads_again_unchanged_and_one_edit_changes_one_field(
    reported: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    content = _export(client_as(editor), reported, "tsv")
    rows = _rows(content)
    assert rows[0] == CURRENT.headers(2)  # the template's header, two supporter blocks
    by_id = {row[2]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_id["EX-1"]["Start Date"] == "03/01/2026"
    assert by_id["EX-1"]["Fee for Participation"] == "No, it's free"
    assert by_id["EX-2"]["Activity Format"] == "RSS"
    assert by_id["EX-2"]["Hours of Instruction"] == "10.5"
    _unchanged_upload(reported, editor, content, "export.txt")

    title = rows[0].index("Activity Title")
    edited = [row[:] for row in rows]
    next(row for row in edited if row[2] == "EX-2")[title] = "Grand rounds, renamed"
    upload = _upload(reported, editor, _tsv(edited[0], edited[1:]), "edited.txt")
    assert (upload.updated, upload.unchanged) == (1, 2)
    change = ActivityChange.objects.get()
    assert change.provider_activity_id == "EX-2"
    assert change.changes == {"title": ["Grand rounds 2019", "Grand rounds, renamed"]}


def _edit_xlsx(content: bytes, activity_id: str, header: str, value: Any) -> bytes:
    workbook = load_workbook(io.BytesIO(content))
    sheet = workbook["Activities"]
    headers = [cell.value for cell in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[headers.index("Provider Activity ID")].value == activity_id:
            row[headers.index(header)].value = value
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_the_excel_export_is_the_template_filled_in_and_uploads_again(
    reported: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    content = _export(client_as(editor), reported, "xlsx")
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Activities", "Instructions", "Lists"]
    sheet = workbook["Activities"]
    assert [cell.value for cell in sheet[1]] == CURRENT.headers(2)
    assert sheet.max_row == 4
    drop_downs = {str(v.sqref).split(":")[0] for v in sheet.data_validations.dataValidation}
    format_column = CURRENT.headers(2).index("Activity Format") + 1
    assert f"{sheet.cell(1, format_column).column_letter}2" in drop_downs
    _unchanged_upload(reported, editor, content, "export.xlsx")

    edited = _edit_xlsx(content, "EX-1", "Supporter 1 Monetary Amount", 7500)
    upload = _upload(reported, editor, edited, "edited.xlsx")
    assert (upload.updated, upload.unchanged) == (1, 2)
    change = ActivityChange.objects.get()
    assert change.provider_activity_id == "EX-1"
    assert list(change.changes) == ["supporters"]
    old, new = change.changes["supporters"]
    assert [s["monetary_amount"] for s in old] == [5000, None]
    assert [s["monetary_amount"] for s in new] == [7500, None]
    assert new[1]["in_kind_description"] == "Loaner scanners"


def test_the_exports_keep_the_list_filters(
    reported: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(editor)

    def exported(kind: str, query: str) -> set[str]:
        content = _export(client, reported, kind, query)
        if kind == "tsv":
            return {row[2] for row in _rows(content)[1:]}
        sheet = load_workbook(io.BytesIO(content))["Activities"]
        return {str(row[2]) for row in sheet.iter_rows(min_row=2, values_only=True)}

    for kind in ("tsv", "xlsx"):
        assert exported(kind, "?year=2026") == {"EX-1", "EX-3"}
        assert exported(kind, "?year=2026&status=draft") == {"EX-3"}
        assert exported(kind, "?q=grand") == {"EX-2"}
        assert exported(kind, "?format=enduring") == {"EX-3"}


def test_formula_like_text_is_escaped_in_both_files(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    make_activity(provider, provider_activity_id="F-1", title='=HYPERLINK("http://x")')
    client = client_as(editor)
    rows = _rows(_export(client, provider, "tsv"))
    assert rows[1][rows[0].index("Activity Title")] == '\'=HYPERLINK("http://x")'

    sheet = load_workbook(io.BytesIO(_export(client, provider, "xlsx")))["Activities"]
    cell = sheet.cell(2, CURRENT.headers(0).index("Activity Title") + 1)
    assert cell.value == '\'=HYPERLINK("http://x")'
    assert cell.data_type == "s"  # text, not a formula


def test_the_upload_page_offers_a_tab_delimited_template_and_shows_accepted_files(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(editor)
    kwargs = {"provider_id": provider.provider_id}
    page = client.get(reverse("uploads:list", kwargs=kwargs))
    url = reverse("uploads:template_tsv", kwargs=kwargs)
    assert url in page.text
    assert "<details open>" in page.text

    template = client.get(url)
    assert template["Content-Disposition"] == 'attachment; filename="pars-activity-template.txt"'
    header = _rows(template.content)[0]
    assert header == CURRENT.headers(3)
    row = dict.fromkeys(header, "")
    row.update(
        {
            "Provider Activity ID": "T-1",
            "Activity Title": "Filled template",
            "Activity Format": "Course",
            "Start Date": "03/01/2026",
            "End Date": "03/02/2026",
        }
    )
    upload = _upload(provider, editor, template.content + "\t".join(row.values()).encode())
    assert (upload.status, upload.added) == (UploadStatus.SUCCEEDED, 1)
    assert Activity.objects.get(provider=provider).title == "Filled template"


def test_the_download_links_follow_the_filters_the_list_shows(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(editor)
    url = reverse("activities:list", kwargs={"provider_id": provider.provider_id})
    excel = reverse("activities:export_xlsx", kwargs={"provider_id": provider.provider_id})
    page = client.get(url, {"year": "2026", "status": "draft"}).text
    assert f'{excel}?year=2026&amp;status=draft"' in page
    assert "Download as tab-delimited" in page
    # A filter changed in place (htmx) sends the links again with the rows.
    changed = client.get(url, {"year": "2025"}, headers={"HX-Request": "true"}).text
    assert "<html" not in changed
    assert 'id="activity-downloads" hx-swap-oob="true"' in changed
    assert f'{excel}?year=2025"' in changed


def test_formula_like_text_reads_back_as_stored(
    reported: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    # The apostrophe the exports put before formula-like text is the file's, not the
    # title's: both files upload again unchanged.
    titles = {"EX-1": "=Cardiology 2026", "EX-2": "-Grand rounds", "EX-3": "@Home study"}
    for activity_id, title in titles.items():
        Activity.objects.filter(provider=reported, provider_activity_id=activity_id).update(
            title=title
        )
    client = client_as(editor)
    for kind, name in (("tsv", "again.txt"), ("xlsx", "again.xlsx")):
        _unchanged_upload(reported, editor, _export(client, reported, kind), name)
    stored = dict(
        Activity.objects.filter(provider=reported).values_list("provider_activity_id", "title")
    )
    assert stored == titles
