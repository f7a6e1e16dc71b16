"""Close the year's activities in one file: the Learner Counts template of a year comes
pre-filled with its open activities; filled in and uploaded, it closes them and leaves
every other activity as it was. It updates existing activities only, the provider's own."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable
from decimal import Decimal
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
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.activities.parsers.layouts import learner_counts_columns
from pars.activities.parsers.row_readers import recognise
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.testing import make_activity

pytestmark = pytest.mark.django_db

COUNTS_HEADER = [
    "Provider Activity ID",
    "ACCME Activity ID",
    "Activity Title",
    "Reporting Year",
    "# of Physicians",
    "# of Other Learners",
    "Outcome Measures",
    "Commercial Support Received?",
    "Joint Provider(s)",
]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _ready(provider: Provider, key: str, year: int = 2025, **fields: Any) -> Activity:
    """An activity with everything Active asks for, its end date past: Ready to Close."""
    values: dict[str, Any] = {
        "provider_activity_id": key,
        "title": f"Course {key}",
        "activity_format": "course",
        "delivery_methods": ["in_person"],
        "start_date": datetime.date(year, 5, 1),
        "end_date": datetime.date(year, 5, 2),
        "reporting_year": year,
        "description": "What it teaches.",
        "city": "Boston",
        "state": "MA",
        "country": "USA",
        "ama_credits": Decimal(2),
        "listed_on_passport": False,
        "providership": "direct",
        "status": "ready_to_close",
    }
    values.update(fields)
    return make_activity(provider, **values)


@pytest.fixture
def year_2025(provider: Provider, other_provider: Provider) -> dict[str, Activity]:
    return {
        "A": _ready(provider, "A-1", accme_activity_id="900001"),
        "B": _ready(provider, "B-2"),
        "C": _ready(provider, "C-3"),
        "closed": _ready(
            provider,
            "D-4",
            physician_learners=5,
            other_learners=1,
            outcome_measures=[{"outcome": "learner_knowledge", "measurement_types": []}],
            commercial_support_received=False,
            status="closed",
        ),
        "2024": _ready(provider, "E-5", year=2024),
        "theirs": _ready(other_provider, "X-9"),
    }


def _url(name: str, provider: Provider, year: int | str | None = 2025) -> str:
    url = reverse(f"uploads:{name}", args=[provider.provider_id])
    return url if year is None else f"{url}?year={year}"


def _download(client: Client, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def _rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), dialect="excel-tab"))


def _tsv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, dialect="excel-tab", lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


def _upload(provider: Provider, user: User, content: bytes, name: str = "counts.txt") -> Upload:
    access = get_provider_access(user, provider.provider_id)
    return store_upload(access, SimpleUploadedFile(name, content), via_api=False)


def _stamps(provider: Provider) -> dict[str, Any]:
    return dict(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", "updated_at")
    )


def _statuses() -> dict[str, str]:
    return dict(Activity.objects.values_list("provider_activity_id", "status"))


def test_the_prefilled_tab_delimited_template_closes_what_is_filled_in(
    year_2025: dict[str, Activity],
    provider: Provider,
    editor: User,
    client_as: Callable[[User], Client],
) -> None:
    rows = _rows(_download(client_as(editor), _url("learner_counts_tsv", provider)))
    assert rows[0] == COUNTS_HEADER
    # The year's open activities, and only those (not Closed, not 2024, not another's).
    assert [row[0] for row in rows[1:]] == ["A-1", "B-2", "C-3"]
    assert rows[1][1:4] == ["900001", "Course A-1", "2025"]
    before = _stamps(provider)

    filled = [row[:] for row in rows]
    for row, counts in ((filled[1], ("12", "3")), (filled[2], ("0", "0"))):
        row[4:8] = [*counts, "Learner Knowledge:Objective", "No"]
    filled[3][4] = "7"  # C-3: a count, but no outcome measure nor commercial support answer
    upload = _upload(provider, editor, _tsv(filled))
    assert upload.status == UploadStatus.SUCCEEDED, list(upload.errors.values("message"))
    assert upload.layout == "learner_counts"
    assert (upload.added, upload.updated) == (0, 3)
    statuses = _statuses()
    assert (statuses["A-1"], statuses["B-2"]) == ("closed", "closed")
    assert statuses["C-3"] == "ready_to_close"
    # What C-3 still lacks to close is said, with its row.
    notices = " ".join(upload.notices)
    assert "1 row leaves its activity open, not Closed" in notices
    assert "Outcome Measures (row 4)" in notices
    assert "Commercial Support Received? (row 4)" in notices
    closed = Activity.objects.get(provider_activity_id="A-1")
    assert (closed.physician_learners, closed.other_learners) == (12, 3)
    # The fields without a column keep their values.
    assert (closed.city, closed.ama_credits, closed.description) == (
        "Boston",
        Decimal(2),
        "What it teaches.",
    )
    after = _stamps(provider)
    for untouched in ("D-4", "E-5"):
        assert after[untouched] == before[untouched]
    assert Activity.objects.get(provider_activity_id="X-9").status == "ready_to_close"

    # The same file again is recognized as a duplicate; the same rows in another file
    # change nothing (counted as unchanged). A new template has only C-3 left.
    assert _upload(provider, editor, _tsv(filled), "again.txt").status == "duplicate"
    again = _upload(provider, editor, _tsv([filled[0], *reversed(filled[1:])]), "again.txt")
    assert again.status == UploadStatus.SUCCEEDED, list(again.errors.values("message"))
    assert (again.updated, again.unchanged) == (0, 3)
    assert _stamps(provider) == after
    rows = _rows(_download(client_as(editor), _url("learner_counts_tsv", provider)))
    assert [row[0] for row in rows[1:]] == ["C-3"]


def test_the_prefilled_excel_template_has_drop_downs_and_closes_on_upload(
    year_2025: dict[str, Activity],
    provider: Provider,
    editor: User,
    client_as: Callable[[User], Client],
) -> None:
    content = _download(client_as(editor), _url("learner_counts", provider))
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Learner Counts", "Instructions", "Lists"]
    sheet = workbook["Learner Counts"]
    headers = [cell.value for cell in sheet[1]]
    assert headers == COUNTS_HEADER
    assert [sheet.cell(row, 1).value for row in range(2, sheet.max_row + 1)] == [
        "A-1",
        "B-2",
        "C-3",
    ]
    drop_downs = {str(v.sqref).split(":")[0] for v in sheet.data_validations.dataValidation}
    support = headers.index("Commercial Support Received?") + 1
    assert f"{sheet.cell(1, support).column_letter}2" in drop_downs

    for row in range(2, 5):
        sheet.cell(row, headers.index("# of Physicians") + 1).value = 10
        sheet.cell(row, headers.index("# of Other Learners") + 1).value = 0
        sheet.cell(row, headers.index("Outcome Measures") + 1).value = "Learner Competence"
        sheet.cell(row, support).value = "No"
    out = io.BytesIO()
    workbook.save(out)
    before = _stamps(provider)
    upload = _upload(provider, editor, out.getvalue(), "counts.xlsx")
    assert upload.status == UploadStatus.SUCCEEDED, list(upload.errors.values("message"))
    assert upload.updated == 3
    statuses = _statuses()
    assert [statuses[key] for key in ("A-1", "B-2", "C-3")] == ["closed"] * 3
    assert _stamps(provider)["E-5"] == before["E-5"]


def test_an_unknown_id_is_an_error_of_its_row_and_column_and_nothing_is_created(
    year_2025: dict[str, Activity], provider: Provider, editor: User
) -> None:
    rows = [
        ["Provider Activity ID", "# of Physicians", "# of Other Learners"],
        ["A-1", "4", "0"],
        ["NOPE-1", "4", "0"],
    ]
    upload = _upload(provider, editor, _tsv(rows))
    assert upload.status == UploadStatus.REJECTED
    (error,) = upload.errors.all()
    assert (error.row, error.field, error.column) == (
        3,
        "provider_activity_id",
        "Provider Activity ID",
    )
    assert "No activity has the Provider Activity ID 'NOPE-1'" in error.message
    assert "updates existing activities only" in error.message
    assert not Activity.objects.filter(provider_activity_id="NOPE-1").exists()
    assert Activity.objects.get(provider_activity_id="A-1").physician_learners is None


def test_a_row_may_name_its_activity_by_the_accme_activity_id(
    year_2025: dict[str, Activity], provider: Provider, editor: User
) -> None:
    rows = [
        ["ACCME Activity ID", "# of Physicians", "# of Other Learners"],
        ["900001", "4", "2"],
        ["900999", "4", "0"],
    ]
    upload = _upload(provider, editor, _tsv(rows))
    (error,) = upload.errors.all()
    assert (error.row, error.column) == (3, "ACCME Activity ID")
    assert "No activity has the ACCME Activity ID '900999'" in error.message
    rows.pop()
    upload = _upload(provider, editor, _tsv(rows), "one.txt")
    assert upload.status == UploadStatus.SUCCEEDED, list(upload.errors.values("message"))
    updated = Activity.objects.get(provider_activity_id="A-1")
    assert (updated.physician_learners, updated.other_learners) == (4, 2)


def test_another_providers_activities_are_unknown_and_its_template_is_not_found(
    year_2025: dict[str, Activity],
    provider: Provider,
    other_provider: Provider,
    editor: User,
    mallory: User,
    client_as: Callable[[User], Client],
) -> None:
    rows = [["Provider Activity ID", "# of Physicians", "# of Other Learners"], ["X-9", "1", "1"]]
    upload = _upload(provider, editor, _tsv(rows))
    (error,) = upload.errors.all()
    assert "No activity has the Provider Activity ID 'X-9'" in error.message
    assert Activity.objects.get(provider_activity_id="X-9").physician_learners is None
    # Mallory (another provider's user) may not download this provider's templates.
    client = client_as(mallory)
    for name in ("learner_counts", "learner_counts_tsv"):
        assert client.get(_url(name, provider)).status_code == 404
    # Her own template holds her own activities only.
    rows = _rows(_download(client, _url("learner_counts_tsv", other_provider)))
    assert [row[0] for row in rows[1:]] == ["X-9"]


def test_the_template_needs_a_year_and_the_upload_page_offers_each_open_year(
    year_2025: dict[str, Activity],
    provider: Provider,
    editor: User,
    client_as: Callable[[User], Client],
) -> None:
    client = client_as(editor)
    assert client.get(_url("learner_counts_tsv", provider, None)).status_code == 404
    assert client.get(_url("learner_counts", provider, "next")).status_code == 404
    page = client.get(reverse("uploads:list", args=[provider.provider_id])).content.decode()
    assert "Closing the year: the Learner Counts file" in page
    for year in (2025, 2024):
        assert _url("learner_counts", provider, year).replace("?", "?") in page.replace(
            "&amp;", "&"
        )


def test_learner_counts_headers_are_recognised_and_a_full_header_is_not() -> None:
    reader, is_header = recognise(["Provider Activity ID", "# of Physicians"])
    assert (reader.layout.name, is_header) == ("learner_counts", True)
    reader, _ = recognise(["Reporting Year", "ACCME Activity ID", "# of non-Physicians"])
    assert reader.layout.name == "learner_counts"
    # The current layout has these columns too; with any other column it is that layout.
    reader, _ = recognise(["Provider Activity ID", "Activity Format", "# of Physicians"])
    assert reader.layout.name == "current"
    # Legacy years ask for their own closing fields.
    assert "Hours of Instruction" in [c.header for c in learner_counts_columns(2019)]
    assert "Hours of Instruction" not in [c.header for c in learner_counts_columns(2025)]


def test_an_integrator_closes_the_year_through_the_uploads_api(
    year_2025: dict[str, Activity], provider: Provider, other_provider: Provider
) -> None:
    _, secret = create_api_key(provider=provider)
    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    rows = [
        ["Provider Activity ID", "# of Physicians", "# of Other Learners", "Outcome Measures",
         "Commercial Support Received?"],
        ["A-1", "20", "4", "Patient Health", "No"],
        ["X-9", "1", "1", "Patient Health", "No"],  # another provider's: unknown here
    ]  # fmt: skip
    content = SimpleUploadedFile("counts.txt", _tsv(rows))
    response = Client().post("/api/v1/uploads", {"file": content, "policy": "partial"}, **auth)
    assert response.status_code == 202
    data = Client().get(response["Location"], **auth).json()
    assert data["layout"] == "learner_counts"
    assert (data["updated"], data["rejected"]) == (1, 1)
    assert [(e["row"], e["rule"], e["column"]) for e in data["errors"]] == [
        (3, "activity.provider_activity_id.not_found", "Provider Activity ID")
    ]
    assert _statuses()["A-1"] == "closed"
    assert Activity.objects.get(provider=other_provider).physician_learners is None
