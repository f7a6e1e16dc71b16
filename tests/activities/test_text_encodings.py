"""Activity files as Windows Excel and LMS exports write them, through the real upload job.

The same three activities as UTF-8 tab-delimited text, as Windows-1252 CSV, as UTF-16
"Unicode Text" and as semicolon-separated UTF-8 must store the same values; the upload
result says how the file was read.
"""

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

from pars.accounts.models import User
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadStatus
from pars.providers.models import Provider
from tests.activities.test_uploads import HEADER, row

TITLES = [
    "Dr O\u2019Brien\u2019s grand rounds",  # U+2019 is byte 0x92 in Windows-1252
    "Caf\u00e9 scientifique \u2013 sepsis",  # U+00E9 is 0xE9, U+2013 0x96
    'Heart failure, "advanced"',  # a comma and quotes: quoted in CSV
]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _file(delimiter: str, encoding: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    for number, title in enumerate(TITLES, start=1):
        writer.writerow(row(f"ENC-{number}", title=title))
    return out.getvalue().encode(encoding)


def _stored(provider: Provider) -> list[tuple[str, str, str]]:
    return list(
        Activity.objects.filter(provider=provider)
        .order_by("provider_activity_id")
        .values_list("provider_activity_id", "title", "last_channel")
    )


@pytest.mark.parametrize(
    ("name", "delimiter", "encoding", "notices"),
    [
        ("activities.txt", "\t", "utf-8", []),
        ("export.csv", ",", "cp1252", ["read as Windows-1252", "read as comma-separated values"]),
        ("unicode.txt", "\t", "utf-16", ["read as UTF-16"]),
        ("export.csv", ";", "utf-8-sig", ["read as semicolon-separated values"]),
    ],
)
def test_each_encoding_and_separator_stores_the_same_activities(
    provider: Provider,
    editor: User,
    client_as: Callable[[User], Client],
    name: str,
    delimiter: str,
    encoding: str,
    notices: list[str],
) -> None:
    _, secret = create_api_key(provider=provider)
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    content = _file(delimiter, encoding)
    response = Client().post("/api/v1/uploads", {"file": SimpleUploadedFile(name, content)}, **auth)
    assert response.status_code == 202, response.content
    status = Client().get(response["Location"], **auth).json()
    assert status["status"] == "succeeded", status["message"]
    assert status["notices"] == notices
    assert _stored(provider) == [
        (f"ENC-{number}", title, "tsv") for number, title in enumerate(TITLES, start=1)
    ]
    # The result page says it too.
    upload = Upload.objects.get()
    assert upload.status == UploadStatus.SUCCEEDED
    detail = reverse(
        "uploads:detail", kwargs={"provider_id": provider.provider_id, "pk": upload.pk}
    )
    page = client_as(editor).get(detail).content.decode()
    for notice in notices:
        assert notice[0].upper() + notice[1:] in page
