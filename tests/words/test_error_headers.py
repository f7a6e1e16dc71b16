"""Error reports speak the uploader's words: each error names the file's own column header
(ACCME's labels when the file has them), never a PARS field name, and its message speaks of
that column, on the page, in the CSV and Excel downloads and in the API; an unknown activity
type lists every accepted code and label."""

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
from pars.activities.dictionary import FORMATS, LEGACY_ACTIVITY_TYPES
from pars.activities.parsers.layouts import TEMPLATE_D
from pars.intake.models import Upload, UploadError, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from tests.learners.test_accme_learner_template import ACCME_ID, HEADER, ROWS, accme_activity

__all__ = ["accme_activity"]  # the fixture, used below

DATA = Path(__file__).parents[1] / "activities" / "data"
# Internal names of the fields the files below get wrong: none may reach a person.
INTERNAL = ("activity_format", "birth_date", "first_name")


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _url(name: str, upload: Upload) -> str:
    kwargs = {"provider_id": upload.provider.provider_id, "pk": upload.pk}
    return reverse(f"uploads:{name}", kwargs=kwargs)


def _template_d(activity_type: str) -> bytes:
    """ACCME's Template D with its header row, the first activity's type replaced."""
    rows = DATA.joinpath("template_d.txt").read_text().splitlines()
    cells = rows[0].split("\t")
    cells[10] = activity_type  # the "Activity Type" column
    rows[0] = "\t".join(cells)
    return ("\r\n".join(["\t".join(TEMPLATE_D.headers()), *rows]) + "\r\n").encode()


def _downloads(client: Client, upload: Upload) -> tuple[list[list[str]], list[tuple[Any, ...]]]:
    response = client.get(_url("errors_csv", upload))
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(_url("errors_xlsx", upload)).content))
    assert sheet.active is not None
    return lines, list(sheet.active.iter_rows(values_only=True))


def test_an_unknown_activity_type_in_accmes_template_is_reported_in_its_words(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("d.txt", _template_d("Webinar")))
    upload.refresh_from_db()
    assert upload.status == UploadStatus.REJECTED, upload.message
    error = UploadError.objects.get(upload=upload)
    assert (error.row, error.record, error.column) == (2, "TD-2016-101", "Activity Type")
    # The message names the file's column, and every code and label it could have said.
    assert error.message.startswith("Activity Type: 'Webinar' is not allowed.")
    for code, label in FORMATS.items():
        assert f"{label} ({code})" in error.message
    for code in LEGACY_ACTIVITY_TYPES:
        assert f"{code} (" in error.message
    assert "C (Course)" in error.message
    assert "IEM (Internet Activity Enduring Material)" in error.message

    client = client_as(editor)
    page = client.get(_url("detail", upload)).text
    table = page.split("<table>", 1)[1].split("</table>", 1)[0]
    assert "<th>Column</th>" in table
    assert "<td>TD-2016-101</td><td>Activity Type</td>" in table
    lines, rows = _downloads(client, upload)
    assert lines[0] == ["Row", "Record", "Column", "Message", "Rule"]
    assert lines[1][:3] == ["2", "TD-2016-101", "Activity Type"]
    assert rows[1][:3] == (2, "TD-2016-101", "Activity Type")
    for text in (table, str(lines), str(rows)):
        for name in INTERNAL:
            assert name not in text.replace("activity.activity_format.not_allowed", "")


def test_the_api_answer_names_the_column_and_keeps_the_field(provider: Provider) -> None:
    """Programs keep `field` (the contract); `column` and the message are the file's."""
    _, secret = create_api_key(provider=provider)
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    content = _template_d("Webinar")
    response = Client().post(
        "/api/v1/uploads", {"file": SimpleUploadedFile("d.txt", content)}, **auth
    )
    assert response.status_code == 202
    [error] = Client().get(response["Location"], **auth).json()["errors"]
    assert (error["column"], error["field"]) == ("Activity Type", "activity_format")
    assert error["message"].startswith("Activity Type: 'Webinar' is not allowed.")


def test_a_field_the_file_lacks_is_named_by_the_templates_header(
    provider: Provider, editor: User
) -> None:
    """A required field with no column in the file: the header to add, not `title`."""
    text = "Provider Activity ID\tActivity Format\tStart Date\tEnd Date\r\n"
    text += "N-1\tCourse\t03/01/2026\t03/02/2026\r\n"
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("n.txt", text.encode()))
    [error] = UploadError.objects.filter(upload=upload)
    assert (error.field, error.column) == ("title", "Activity Title")
    assert error.field_shown == "Activity Title"


def test_a_learner_file_in_accmes_template_is_reported_in_its_words(
    provider: Provider,
    editor: User,
    accme_activity: Any,
    client_as: Callable[[User], Client],
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    good, bad = list(ROWS[0]), list(ROWS[1])
    bad[5] = "31/31"  # Date of Birth
    for row in (good, bad):
        writer.writerow([f"{c:%m/%d/%Y}" if hasattr(c, "strftime") else c for c in row])
    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(
        access, SimpleUploadedFile("accme.csv", out.getvalue().encode()), kind="learners"
    )
    upload.refresh_from_db()
    assert upload.status == UploadStatus.PARTIAL, upload.message
    error = UploadError.objects.get(upload=upload)
    assert (error.row, error.column) == (3, "Date of Birth")
    assert error.message.startswith("Date of Birth ")
    assert ACCME_ID in error.record

    client = client_as(editor)
    page = client.get(_url("detail", upload)).text
    table = page.split("<table>", 1)[1].split("</table>", 1)[0]
    assert "<td>Date of Birth</td>" in table
    lines, rows = _downloads(client, upload)
    assert lines[1][2] == rows[1][2] == "Date of Birth"
    for text in (table, str(lines), str(rows)):
        assert "Birth Month and Day" not in text  # PARS's own label of the field
        for name in INTERNAL:
            assert name not in text.replace("learner.birth_date.invalid", "")
