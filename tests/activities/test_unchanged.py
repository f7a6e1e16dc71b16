"""Re-sending unchanged content reports those activities as unchanged, writes nothing and
leaves `updated_at` and the audit trail alone; a corrected file reports exactly the rows
that changed. On both writer paths (PostgreSQL's COPY and upsert, the ORM's on SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pars.accounts.access import ProviderAccess, get_api_access
from pars.accounts.services import create_api_key
from pars.activities.models import Activity, ActivityChange, CommercialSupport
from pars.activities.services import apply_activities
from pars.activities.validation import CleanActivity, validate_activity
from pars.audit.models import AuditEvent
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.providers.models import Provider
from pars.testing import make_activity
from tests.activities.test_activity_api import Api, course

DATA = Path(__file__).parent / "data"


@pytest.fixture
def access(provider: Provider) -> ProviderAccess:
    return get_api_access(provider, create_api_key(provider=provider)[0])


def stamps(provider: Provider) -> dict[str, Any]:
    return dict(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", "updated_at")
    )


def trail() -> tuple[int, int]:
    return ActivityChange.objects.count(), AuditEvent.objects.count()


# ---------------------------------------------------------------------------
# The JSON channel


def test_an_identical_put_is_200_and_writes_nothing(provider: Provider) -> None:
    api = Api(provider)
    created = api.put("SAME-1", course())
    assert created.status_code == 201
    before, supporters = stamps(provider), list(CommercialSupport.objects.values_list("pk"))
    counted = trail()
    again = api.put("SAME-1", course())
    assert again.status_code == 200, again.content
    assert again.json() == created.json()  # updated_at included
    assert stamps(provider) == before
    assert trail() == counted
    assert list(CommercialSupport.objects.values_list("pk")) == supporters  # not rewritten
    # POST with the same body, and the record read back, are unchanged too.
    assert api.post(course(provider_activity_id="SAME-1")).status_code == 200
    assert api.put("SAME-1", api.get("/SAME-1").json()).status_code == 200
    assert stamps(provider) == before
    assert trail() == counted


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Renamed"},
        {"supporters": [{"source": "Example Pharma", "monetary_amount": 5001}]},
        {
            "supporters": [
                {"source": "Device Co", "in_kind": True, "in_kind_description": "Ultrasound units"},
                {"source": "Example Pharma", "monetary_amount": 5000},
            ]
        },
        {"ama_credits": 6.75},
    ],
    ids=["value", "supporter amount", "supporter order", "number"],
)
def test_a_put_that_changes_a_value_or_a_supporter_is_an_update(
    provider: Provider, change: dict[str, Any]
) -> None:
    api = Api(provider)
    api.put("CH-1", course())
    before = stamps(provider)["CH-1"]
    changes = ActivityChange.objects.count()
    response = api.put("CH-1", course(**change))
    assert response.status_code == 200, response.content
    assert stamps(provider)["CH-1"] > before
    assert ActivityChange.objects.count() == changes + 1
    saved = response.json()
    for name, value in change.items():
        if name != "supporters":
            assert saved[name] == value
        else:
            assert [s["source"] for s in saved[name]] == [s["source"] for s in value]


def test_the_same_value_written_another_way_is_unchanged(provider: Provider) -> None:
    """6.5 and 6.50, a date as given: the stored values are compared, not the text."""
    api = Api(provider)
    api.put("W-1", course(ama_credits=6.5))
    before = stamps(provider)
    assert api.put("W-1", course(ama_credits=6.50, status="closed")).status_code == 200
    assert stamps(provider) == before


# ---------------------------------------------------------------------------
# The writer


def clean(raw: dict[str, Any]) -> CleanActivity:
    record, errors = validate_activity(raw)
    assert not errors, errors
    assert record is not None
    return record


def draft(activity_id: str, title: str = "Tumor Board") -> dict[str, Any]:
    return {
        "provider_activity_id": activity_id,
        "title": title,
        "activity_format": "course",
        "start_date": "2026-03-01",
        "end_date": "2026-03-02",
    }


def test_the_writer_tells_unchanged_records_and_keeps_its_queries_flat(
    provider: Provider, access: ProviderAccess
) -> None:
    """However many records are unchanged, the writer asks the same number of queries."""
    few = [(n, clean(draft(f"F-{n}"))) for n in range(3)]
    many = [(n, clean(draft(f"M-{n}"))) for n in range(40)]
    apply_activities(access, few, channel="api")
    apply_activities(access, many, channel="api")
    with CaptureQueriesContext(connection) as few_again:
        result = apply_activities(access, few, channel="api")
    assert (result.added, result.updated, result.unchanged) == (0, 0, 3)
    with CaptureQueriesContext(connection) as many_again:
        result = apply_activities(access, many, channel="api")
    assert (result.added, result.updated, result.unchanged) == (0, 0, 40)
    assert len(many_again.captured_queries) == len(few_again.captured_queries)
    # One changed among many: one update, the rest unchanged, still flat.
    changed = [*many[:-1], (39, clean(draft("M-39", "Renamed")))]
    with CaptureQueriesContext(connection) as one_changed:
        result = apply_activities(access, changed, channel="api")
    assert (result.added, result.updated, result.unchanged) == (0, 1, 39)
    assert [o.key for o in result.outcomes if o.outcome == "updated"] == ["M-39"]
    changed_few = [*few[:-1], (2, clean(draft("F-2", "Renamed")))]
    with CaptureQueriesContext(connection) as one_of_few:
        apply_activities(access, changed_few, channel="api")
    assert len(one_changed.captured_queries) == len(one_of_few.captured_queries)


# ---------------------------------------------------------------------------
# Files through the upload job

HEADER = ["Action", "Provider Activity ID", "Activity Title", "Activity Format", "Start Date"]
HEADER += ["End Date", "City", "State", "Country"]


def rows(titles: dict[str, str]) -> list[list[str]]:
    return [
        ["", key, title, "Course", "03/01/2026", "03/02/2026", "Chicago", "IL", "USA"]
        for key, title in titles.items()
    ]


def tsv(table: list[list[str]], newline: str = "\n") -> bytes:
    return "".join("\t".join(cells) + newline for cells in [HEADER, *table]).encode()


def upload(access: ProviderAccess, name: str, content: bytes) -> Upload:
    stored = store_upload(access, SimpleUploadedFile(name, content), via_api=True)
    return Upload.objects.get(pk=stored.pk)


def counts(done: Upload) -> tuple[Any, ...]:
    return (done.status, done.added, done.updated, done.deleted, done.unchanged)


TITLES = {f"F-{n}": f"Grand Rounds {n}" for n in range(1, 6)}


def test_the_same_file_with_other_line_endings_is_all_unchanged(
    settings: Any, tmp_path: Path, provider: Provider, access: ProviderAccess
) -> None:
    settings.MEDIA_ROOT = tmp_path
    first = upload(access, "activities.txt", tsv(rows(TITLES), "\n"))
    assert counts(first) == (UploadStatus.SUCCEEDED, 5, 0, 0, 0), first.message
    before, counted = stamps(provider), ActivityChange.objects.count()
    events = AuditEvent.objects.count()
    # Different bytes (so no duplicate by SHA-256), the same content.
    again = upload(access, "activities-saved-on-windows.txt", tsv(rows(TITLES), "\r\n"))
    assert again.status == UploadStatus.SUCCEEDED, again.message
    assert counts(again) == (UploadStatus.SUCCEEDED, 0, 0, 0, 5)
    assert again.message.startswith(
        "Applied: 0 added, 0 updated, 0 deleted, 5 unchanged (5 rows)."
    )  # then what its drafts lack
    assert stamps(provider) == before
    assert ActivityChange.objects.count() == counted
    # Nothing changed, so the audit trail has nothing to say about the file.
    assert AuditEvent.objects.count() == events


def test_a_corrected_file_reports_exactly_the_rows_that_changed(
    settings: Any, tmp_path: Path, provider: Provider, access: ProviderAccess
) -> None:
    settings.MEDIA_ROOT = tmp_path
    upload(access, "activities.txt", tsv(rows(TITLES)))
    before, counted = stamps(provider), ActivityChange.objects.count()
    corrected = {**TITLES, "F-2": "Grand Rounds 2 (corrected)", "F-4": "Grand Rounds 4 (fixed)"}
    done = upload(access, "activities-corrected.txt", tsv(rows(corrected)))
    assert counts(done) == (UploadStatus.SUCCEEDED, 0, 2, 0, 3), done.message
    assert done.message.startswith(
        "Applied: 0 added, 2 updated, 0 deleted, 3 unchanged (5 rows)."
    )  # then what its drafts lack
    changes = ActivityChange.objects.order_by("provider_activity_id")
    assert ActivityChange.objects.count() == counted + 2
    assert [(c.provider_activity_id, c.action, list(c.changes)) for c in changes] == [
        ("F-2", "updated", ["title"]),
        ("F-4", "updated", ["title"]),
    ]
    after = stamps(provider)
    assert {key for key in after if after[key] != before[key]} == {"F-2", "F-4"}


def test_an_export_re_imported_into_its_own_provider_is_unchanged(
    settings: Any, tmp_path: Path, provider: Provider, access: ProviderAccess
) -> None:
    settings.MEDIA_ROOT = tmp_path
    for name in ("golden_current.tsv", "template_c.txt", "legacy_43.txt"):
        if name == "golden_current.tsv":
            make_activity(provider, provider_activity_id="CHI-2024-OLD")  # the file deletes it
        done = upload(access, name, (DATA / name).read_bytes())
        assert done.status == UploadStatus.SUCCEEDED, (name, done.message)
    before, counted = stamps(provider), trail()
    export = Api(provider).client.get("/api/v1/exports/activities.xml")
    assert export.status_code == 200
    done = upload(access, "export.xml", export.getvalue())
    assert done.status == UploadStatus.SUCCEEDED, done.message
    assert (done.added, done.updated, done.deleted) == (0, 0, 0), done.message
    assert done.unchanged == len(before)
    assert stamps(provider) == before
    assert ActivityChange.objects.count() == counted[0]
