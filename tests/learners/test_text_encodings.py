"""Learner files as Windows Excel and LMS exports write them, through the API and the job.

The golden learner file re-saved as Windows-1252 CSV, as UTF-16 "Unicode Text" and as
semicolon-separated text must give the same counts and store the same records as the
UTF-8 tab-delimited original, and the upload says how it was read.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from pars.accounts.services import create_api_key
from pars.learners.models import LearnerCompletion
from tests.learners.test_learner_files import DATA, golden_activity  # noqa: F401 (fixture)

URL = "/api/v1/learner-completions/uploads"
FIELDS = (
    "recipient__code",
    "first_name",
    "last_name",
    "birth_month",
    "birth_day",
    "learner_id",
    "npi",
    "license_state",
    "completion_date",
    "cme_credits",
    "moc_points",
    "moc_credit_types",
    "profession",
    "practice_state",
    "status",
)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _resaved(delimiter: str, encoding: str) -> bytes:
    rows = list(csv.reader(io.StringIO((DATA / "golden_learners.tsv").read_text()), "excel-tab"))
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def _upload(provider: Any, name: str, content: bytes) -> dict[str, Any]:
    _, secret = create_api_key(provider=provider)
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    response = Client().post(URL, {"file": SimpleUploadedFile(name, content)}, **auth)
    assert response.status_code == 202, response.content
    status: dict[str, Any] = Client().get(response["Location"], **auth).json()
    return status


def _stored() -> list[tuple[Any, ...]]:
    return sorted(LearnerCompletion.objects.values_list(*FIELDS), key=repr)


@pytest.mark.parametrize(
    ("name", "delimiter", "encoding", "notices"),
    [
        (
            "lms-export.csv",
            ",",
            "cp1252",
            ["read as Windows-1252", "read as comma-separated values"],
        ),
        ("unicode-text.txt", "\t", "utf-16", ["read as UTF-16"]),
        ("export.csv", ";", "utf-8", ["read as semicolon-separated values"]),
    ],
)
def test_a_resaved_learner_file_stores_what_the_original_does(
    provider: Any,
    golden_activity: Any,  # noqa: F811 (the fixture imported above)
    name: str,
    delimiter: str,
    encoding: str,
    notices: list[str],
) -> None:
    original = _upload(provider, "golden_learners.tsv", (DATA / "golden_learners.tsv").read_bytes())
    assert original["notices"] == []
    expected = _stored()
    assert any(row[2] == "Núñez-O'Brien" for row in expected)  # a name Windows-1252 changes
    LearnerCompletion.objects.all().delete()

    again = _upload(provider, name, _resaved(delimiter, encoding))
    assert again["notices"] == notices
    counts = ("status", "rows_total", "added", "updated", "deleted", "rejected")
    assert [again[key] for key in counts] == [original[key] for key in counts]
    assert _stored() == expected
