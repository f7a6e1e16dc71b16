"""Learner files on the web (the shared upload job, explicitly partial) and pre-validation
of a list of learners against a recipient's registry."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import Workbook, load_workbook
from pytest_django import Settings

from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.models import Upload
from pars.learners.connectors.simulator import load_registry
from pars.learners.models import LearnerCompletion
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register


@pytest.fixture(autouse=True)
def _media(settings: Settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    return activity


def url(name: str, provider: Provider, **kwargs: Any) -> str:
    return reverse(name, kwargs={"provider_id": provider.provider_id, **kwargs})


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def tsv(rows: list[dict[str, Any]]) -> bytes:
    header = list(rows[0])
    lines = ["\t".join(header)] + [
        "\t".join(str(row.get(name, "")) for name in header) for row in rows
    ]
    return ("\n".join(lines) + "\n").encode()


# ---------------------------------------------------------------------------
# Learner files


def test_the_learner_upload_page_explains_the_partial_policy_and_lists_learner_files(
    client_as: Callable[[User], Client], provider: Provider, editor: User
) -> None:
    Upload.objects.create(
        provider=provider,
        kind="activities",
        file_format="tsv",
        original_name="acts.txt",
        file="u/a.txt",
        size=1,
        sha256="0" * 64,
    )
    Upload.objects.create(
        provider=provider,
        kind="learners",
        file_format="tsv",
        original_name="learners-march.txt",
        file="u/l.txt",
        size=1,
        sha256="1" * 64,
    )
    body = text(client_as(editor).get(url("learners:uploads", provider)))
    assert "Valid rows are applied, rows with errors are not." in body
    assert "uploading the whole corrected file is safe" in body
    assert "learners-march.txt" in body
    assert "acts.txt" not in body
    assert "Learner file" in body
    assert url("learners:template", provider) in body
    assert "Birth Month and Day" in body  # the columns, from the dictionary
    # …and the activity Uploads page does not list the learner file.
    assert "learners-march.txt" not in text(client_as(editor).get(url("uploads:list", provider)))


def test_a_learner_file_with_good_and_bad_rows_is_applied_in_part(
    client_as: Callable[[User], Client], provider: Provider, editor: User, activity: Activity
) -> None:
    rows = [learner_row(activity, learner_id=f"{100000 + n}", last_name=f"L{n}") for n in range(3)]
    rows[1]["birth_date"] = "13-01"
    client = client_as(editor)
    response = client.post(
        url("learners:uploads", provider),
        {"file": SimpleUploadedFile("learners.txt", tsv(rows), content_type="text/plain")},
    )
    upload = Upload.objects.get()
    assert upload.kind == "learners"
    assert response.status_code == 302
    assert response["Location"] == url("uploads:detail", provider, pk=upload.pk)
    body = text(client.get(response["Location"]))
    assert "← Learner files" in body
    assert "Applied, except the rows with errors" in body
    assert "Applied 2 of 3 rows" in body
    assert "<strong>2</strong> added" in body
    assert "<strong>0</strong> corrected" in body
    assert "<strong>0</strong> withdrawn" in body
    assert "Learner files are applied row by row" in body
    assert "All or nothing" not in body
    assert "learner.birth_date.invalid" in body
    # Row, record (activity · recipient · date: no personal data), the file's header (field).
    assert "<td>3</td><td>GR-1 · ABIM · 2026-03-02</td><td>birth_date</td>" in body
    assert LearnerCompletion.objects.count() == 2
    listed = text(client.get(url("learners:uploads", provider)))
    assert "learners.txt" in listed


def test_the_activity_upload_page_still_says_all_or_nothing(
    client_as: Callable[[User], Client], provider: Provider, editor: User
) -> None:
    content = b"not an activity file"
    response = client_as(editor).post(
        url("uploads:list", provider), {"file": SimpleUploadedFile("a.txt", content)}
    )
    body = text(client_as(editor).get(response["Location"]))
    assert "← Uploads" in body
    assert "All or nothing" in body


def test_read_only_users_cannot_upload_learner_files(
    client_as: Callable[[User], Client], provider: Provider, reader: User
) -> None:
    client = client_as(reader)
    page = text(client.get(url("learners:uploads", provider)))
    assert "read-only" in page
    response = client.post(
        url("learners:uploads", provider), {"file": SimpleUploadedFile("l.txt", b"x\ty\n")}
    )
    assert response.status_code == 403
    assert not Upload.objects.exists()


def test_the_learner_template_downloads(
    client_as: Callable[[User], Client], provider: Provider, reader: User
) -> None:
    response = client_as(reader).get(url("learners:template", provider))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="pars-learner-template.xlsx"'
    workbook = load_workbook(io.BytesIO(response.content))
    headers = [cell.value for cell in workbook.worksheets[0][1]]
    assert "First Name" in headers


# ---------------------------------------------------------------------------
# Pre-validation


REGISTRY = (
    "learner_id\tfirst_name\tlast_name\tbirth_date\n"
    "123456\tAda\tLovelace\t12-10\n"
    "222222\tGrace\tHopper\t12-09\n"
)
PASTED = (
    "First Name\tLast Name\tBirth Month and Day\tBoard ID\n"
    "Ada\tLovelace\t12-10\t123456\n"
    "Grace\tHopper\t01-01\t222222\n"
    "Alan\tTuring\t06-23\t333333\n"
    "Katherine\tJohnson\t08-26\t12AB\n"
)


@pytest.fixture
def registry(db: None) -> None:
    load_registry("ABIM", io.StringIO(REGISTRY))


def results(response: Any) -> tuple[list[tuple[int, str, str]], str]:
    table = text(response).split('id="match-results"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td>\s*<td><span[^>]*>([^<]+)</span>", table)
    return [(int(row), name, label) for row, name, label in rows], table


def test_pasted_learners_are_matched_without_echoing_identifiers(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registry: None
) -> None:
    client = client_as(editor)
    page = text(client.get(url("learners:prevalidate", provider)))
    assert "Check learners" in page
    response = client.post(
        url("learners:prevalidate", provider), {"recipient": "ABIM", "learners": PASTED}
    )
    assert response.status_code == 200
    rows, table = results(response)
    assert rows == [
        (2, "Ada Lovelace", "Match"),
        (3, "Grace Hopper", "Mismatch"),
        (4, "Alan Turing", "Not found"),
        (5, "Katherine Johnson", "Invalid"),
    ]
    assert "Birth Month and Day" in table or "birth date" in table
    for identifier in ("123456", "222222", "333333", "12AB", "12-10", "12-09", "06-23"):
        assert identifier not in table
    assert "1 match" in text(response)


def test_a_small_excel_file_is_prevalidated_too(
    client_as: Callable[[User], Client], provider: Provider, editor: User, registry: None
) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["First Name", "Last Name", "Birth Month", "Birth Day", "Board ID"])
    sheet.append(["Ada", "Lovelace", 12, 10, 123456])
    stream = io.BytesIO()
    workbook.save(stream)
    response = client_as(editor).post(
        url("learners:prevalidate", provider),
        {"recipient": "ABIM", "file": SimpleUploadedFile("l.xlsx", stream.getvalue())},
    )
    rows, _ = results(response)
    assert rows == [(2, "Ada Lovelace", "Match")]


def test_prevalidation_refuses_lists_it_cannot_read_or_over_1000(
    client_as: Callable[[User], Client], provider: Provider, editor: User
) -> None:
    client = client_as(editor)
    prevalidate_url = url("learners:prevalidate", provider)
    response = client.post(prevalidate_url, {"recipient": "ABIM", "learners": ""})
    assert response.status_code == 400
    assert "Paste the learners" in text(response)
    response = client.post(prevalidate_url, {"recipient": "ABIM", "learners": "Name\tDOB\nx\ty"})
    assert response.status_code == 400
    assert "header naming the columns" in text(response)
    many = "First Name\tLast Name\n" + "".join(f"A\tB{n}\n" for n in range(1001))
    response = client.post(prevalidate_url, {"recipient": "ABIM", "learners": many})
    assert response.status_code == 400
    assert "more than 1,000 learners" in text(response)
    response = client.post(prevalidate_url, {"recipient": "", "learners": PASTED})
    assert response.status_code == 400


def test_read_only_users_cannot_prevalidate(
    client_as: Callable[[User], Client], provider: Provider, reader: User
) -> None:
    client = client_as(reader)
    assert client.get(url("learners:prevalidate", provider)).status_code == 200
    response = client.post(
        url("learners:prevalidate", provider), {"recipient": "ABIM", "learners": PASTED}
    )
    assert response.status_code == 403
