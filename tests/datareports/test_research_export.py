"""The research data set: no identity in it, counts suppressed, staff only, built by a task."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from pars.accounts.models import Role, User
from pars.datareports.models import ResearchExport, ResearchExportStatus
from pars.datareports.research import SUPPRESSED, build_research_zip
from pars.learners.models import LearnerCompletion, Recipient
from pars.providers.models import AccreditorType
from pars.testing import make_accreditor, make_activity, make_member, make_provider, make_user

MARKERS = {
    "provider_name": "Zyxwv Secret Hospital",
    "provider_id": "0777123",
    "activity_id": "QQ-MARKER-ACT",
    "title": "Marker Title Xylophone",
    "description": "Marker description quokka",
    "city": "Markerville",
    "url": "https://marker-activity.example/",
    "first_name": "Marianne",
    "last_name": "Markerson",
    "learner_id": "987654",
    "npi": "1234567893",
    "learner_key": "markerkey",
}


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _data(courses: int = 15, rss: int = 3, learners: int = 14) -> None:
    provider = make_provider(
        name=MARKERS["provider_name"],
        provider_id=MARKERS["provider_id"],
        accreditor_type=AccreditorType.ACCME,
    )
    abim = Recipient.objects.get(code="ABIM")
    first = None
    for n in range(courses):
        activity = make_activity(
            provider,
            provider_activity_id=f"{MARKERS['activity_id']}-{n}",
            title=f"{MARKERS['title']} {n}",
            description=MARKERS["description"],
            city=MARKERS["city"],
            state="ME",
            activity_url=MARKERS["url"],
            status="closed",
            physician_learners=7,
            hours_of_instruction=2,
        )
        first = first or activity
    for n in range(rss):
        make_activity(
            provider, provider_activity_id=f"RSS-{n}", activity_format="rss", status="closed"
        )
    make_activity(provider, provider_activity_id="DRAFT-1", status="draft")
    assert first is not None
    for n in range(learners):
        LearnerCompletion.objects.create(
            provider=provider,
            activity=first,
            recipient=abim,
            learner_key=f"{MARKERS['learner_key']}{n}",
            first_name=MARKERS["first_name"],
            last_name=MARKERS["last_name"],
            birth_month=3,
            birth_day=4,
            learner_id=MARKERS["learner_id"],
            npi=MARKERS["npi"],
            completion_date=datetime.date(2026, 3, 2),
            profession="Physician" if n < 12 else "Nurse",
        )


def _zip(first: int = 2026, last: int = 2026) -> dict[str, str]:
    out = io.BytesIO()
    build_research_zip(first, last, out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        return {name: archive.read(name).decode("utf-8-sig") for name in archive.namelist()}


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.django_db
def test_the_data_set_holds_no_provider_or_learner_identity() -> None:
    _data()
    files = _zip()
    assert set(files) == {
        "README.txt",
        "activities.csv",
        "activities_by_format_and_accreditor_type.csv",
        "completions_by_format_and_recipient_kind.csv",
        "completions_by_recipient_and_profession.csv",
    }
    everything = "\n".join(files.values()).lower()
    for name, marker in MARKERS.items():
        assert marker.lower() not in everything, name


@pytest.mark.django_db
def test_activity_rows_are_anonymous_coarse_and_exclude_drafts() -> None:
    _data()
    rows = _rows(_zip()["activities.csv"])
    assert len(rows) == 18  # 15 courses + 3 RSS, the draft left out
    courses = [r for r in rows if r["activity_format"] == "course"]
    assert len(courses) == 15
    assert {r["region"] for r in courses} == {"Northeast"}  # 15 share the cell: shown
    assert {r["physician_learners"] for r in courses} == {"0-10"}  # never an exact 7
    assert {r["hours_of_instruction"] for r in courses} == {"1-<4"}
    # Three RSS in the year and type: region and format both withheld.
    hidden = [r for r in rows if r["activity_format"] == SUPPRESSED]
    assert len(hidden) == 3
    assert {r["region"] for r in hidden} == {SUPPRESSED}
    assert len({r["row_id"] for r in rows}) == 18


@pytest.mark.django_db
def test_count_tables_publish_no_small_count_and_hide_the_complements() -> None:
    _data()
    files = _zip()
    for name, text in files.items():
        if not name.endswith(".csv") or name == "activities.csv":
            continue
        for row in csv.reader(io.StringIO(text)):
            for value in row[2:]:
                if value.isdigit():
                    assert int(value) == 0 or int(value) >= 11, (name, row)
    table = {
        r["activity_format"]: r
        for r in _rows(files["activities_by_format_and_accreditor_type.csv"])
    }
    # 3 RSS activities: withheld, and so is a complement in its row and its column.
    assert table["rss"]["accme"] == SUPPRESSED
    assert table["rss"]["total"] == SUPPRESSED
    assert table["course"]["accme"] == SUPPRESSED or table["Total"]["accme"] == SUPPRESSED
    assert table["enduring"]["accme"] == "0"
    professions = {
        r["recipient"]: r for r in _rows(files["completions_by_recipient_and_profession.csv"])
    }
    assert professions["ABIM"]["Nurse"] == SUPPRESSED  # 2 nurses
    assert professions["ABIM"]["Physician"] == SUPPRESSED  # its complement (12)
    assert professions["ABIM"]["total"] == "14"


@pytest.mark.django_db
def test_staff_request_a_data_set_and_the_task_builds_it(
    client_as: Callable[[User], Client], django_capture_on_commit_callbacks: object
) -> None:
    _data()
    staff = make_user("research-staff@accreditor.example", is_staff=True)
    client = client_as(staff)
    assert client.get("/staff/research/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = client.post("/staff/research/request/", {"first_year": 2026, "last_year": 2026})
    export = ResearchExport.objects.get()
    assert response["Location"] == f"/staff/research/{export.pk}/"
    assert export.status == ResearchExportStatus.DONE
    assert export.activity_rows == 18
    assert export.suppressed_cells > 0
    page = client.get(f"/staff/research/{export.pk}/").content.decode()
    assert "Download the data set" in page
    download = client.get(f"/staff/research/{export.pk}/download/")
    assert download["Content-Type"] == "application/zip"
    body = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    assert zipfile.ZipFile(io.BytesIO(body)).read("README.txt").startswith(b"PARS")


@pytest.mark.django_db
def test_years_out_of_order_are_refused(client_as: Callable[[User], Client]) -> None:
    client = client_as(make_user("research-staff@accreditor.example", is_staff=True))
    response = client.post("/staff/research/request/", {"first_year": 2027, "last_year": 2026})
    assert response.status_code == 400
    assert not ResearchExport.objects.exists()


@pytest.mark.django_db
def test_state_accreditor_staff_and_providers_get_no_research_pages(
    client_as: Callable[[User], Client],
) -> None:
    export = ResearchExport.objects.create(
        first_year=2026, last_year=2026, status=ResearchExportStatus.DONE, file="research/x.zip"
    )
    state_staff = make_user(
        "state@society.example", is_staff=True, staff_accreditor=make_accreditor("ME")
    )
    provider_user = make_member(make_provider(provider_id="0004444"), Role.ADMIN)
    for user in (state_staff, provider_user):
        client = client_as(user)
        for url in (
            "/staff/research/",
            f"/staff/research/{export.pk}/",
            f"/staff/research/{export.pk}/download/",
        ):
            assert client.get(url).status_code == 404, (user, url)
        response = client.post("/staff/research/request/", {"first_year": 2026, "last_year": 2026})
        assert response.status_code == 404
    assert ResearchExport.objects.count() == 1
