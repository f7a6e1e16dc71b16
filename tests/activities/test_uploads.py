"""Batch uploads through the web pages: store, process all or nothing, report."""

from __future__ import annotations

import csv
import io
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from pars.accounts.models import Membership, Role, User
from pars.activities import uploads
from pars.activities.models import Activity
from pars.intake import kinds, process, runs, store
from pars.intake.models import Upload, UploadError, UploadStatus
from pars.intake.process import process_upload
from pars.intake.progress import progress_key
from pars.intake.readers import FileRejected, ParsedRow
from pars.intake.store import detect_format, store_upload
from pars.providers.models import Provider
from pars.testing import make_activity

HEADER = [
    "Action",
    "Provider Activity ID",
    "Activity Title",
    "Activity Format",
    "Start Date",
    "End Date",
]


def row(activity_id: str, title: str = "Cardiology update", fmt: str = "Course") -> list[str]:
    return ["", activity_id, title, fmt, "03/01/2026", "03/02/2026"]


def tsv(*rows: list[str]) -> bytes:
    return "".join("\t".join(cells) + "\r\n" for cells in (HEADER, *rows)).encode()


GOOD = tsv(row("U-1"), row("U-2"), row("U-3"))
THREE_GOOD_ONE_BAD = tsv(row("U-1"), row("U-2"), row("U-3"), row("U-4", fmt="Webinar"))


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _list_url(provider: Provider) -> str:
    return reverse("uploads:list", kwargs={"provider_id": provider.provider_id})


def _url(name: str, upload: Upload) -> str:
    kwargs = {"provider_id": upload.provider.provider_id, "pk": upload.pk}
    return reverse(f"uploads:{name}", kwargs=kwargs)


def _post(
    client: Client, provider: Provider, content: bytes, name: str = "activities.txt", **extra: str
) -> Any:
    data = {"file": SimpleUploadedFile(name, content), "file_format": "", **extra}
    return client.post(_list_url(provider), data)


def _upload(provider: Provider, content: bytes, user: User | None = None, **kwargs: Any) -> Upload:
    from pars.accounts.access import get_api_access, get_provider_access
    from pars.accounts.services import create_api_key

    if user is not None:
        access = get_provider_access(user, provider.provider_id)
    else:
        access = get_api_access(provider, create_api_key(provider=provider)[0])
    return store_upload(
        access, SimpleUploadedFile("file.txt", content), via_api=user is None, **kwargs
    )


def _ids(provider: Provider) -> list[str]:
    return sorted(
        Activity.objects.filter(provider=provider).values_list("provider_activity_id", flat=True)
    )


# ---------------------------------------------------------------------------
# The web page


def test_an_editor_uploads_a_file_and_sees_it_applied(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(editor)
    page = client.get(_list_url(provider))
    assert page.status_code == 200
    assert "All or nothing" in page.text
    assert reverse("uploads:template", kwargs={"provider_id": provider.provider_id}) in page.text

    response = _post(client, provider, GOOD)
    upload = Upload.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("detail", upload)
    assert upload.status == UploadStatus.SUCCEEDED
    assert (upload.rows_total, upload.added, upload.updated, upload.deleted) == (3, 3, 0, 0)
    assert upload.created_by == editor
    assert upload.layout == "current"
    assert upload.file_format == "tsv"
    assert upload.original_name == "activities.txt"
    assert upload.started_at
    assert upload.finished_at
    assert Path(upload.file.path).read_bytes() == GOOD
    assert _ids(provider) == ["U-1", "U-2", "U-3"]
    assert set(Activity.objects.values_list("last_channel", flat=True)) == {"tsv"}

    detail = client.get(_url("detail", upload))
    assert "Applied: 3 added" in detail.text
    assert "hx-trigger" not in detail.text  # finished: nothing to poll


def test_a_second_file_updates_by_provider_activity_id(provider: Provider, editor: User) -> None:
    _upload(provider, GOOD, editor)
    upload = _upload(provider, tsv(row("U-1", title="Renamed"), row("U-9")), editor)
    assert upload.status == UploadStatus.SUCCEEDED
    assert (upload.added, upload.updated) == (1, 1)
    assert Activity.objects.get(provider_activity_id="U-1").title == "Renamed"


def test_one_bad_row_changes_nothing_and_is_reported(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    make_activity(provider, provider_activity_id="U-2", title="Before")
    response = _post(client_as(editor), provider, THREE_GOOD_ONE_BAD)
    upload = Upload.objects.get()
    assert response.status_code == 302
    assert upload.status == UploadStatus.REJECTED
    assert (upload.rows_total, upload.rejected, upload.error_count) == (4, 1, 1)
    assert (upload.added, upload.updated) == (0, 0)
    assert _ids(provider) == ["U-2"]
    assert Activity.objects.get().title == "Before"
    error = UploadError.objects.get()
    assert (error.provider, error.row, error.field, error.rule) == (
        provider,
        5,  # the header is line 1
        "activity_format",
        "activity.activity_format.not_allowed",
    )
    assert "nothing in the file was applied" in upload.message

    page = client_as(editor).get(_url("detail", upload))
    assert "activity.activity_format.not_allowed" in page.text
    assert "Webinar" in page.text


def test_every_error_is_reported_even_after_the_first(provider: Provider, editor: User) -> None:
    content = tsv(
        row("U-1", fmt="Nope"),
        row("U-2"),
        row("U-2"),  # the same ID twice in one file
        ["Delete", "NOT-THERE", "", "", "", ""],
        ["", "U-5", "x", "Course", "03/01/2026", "03/02/2026", "stray"],
    )
    upload = _upload(provider, content, editor)
    assert upload.status == UploadStatus.REJECTED
    found = list(UploadError.objects.values_list("row", "field", "rule"))
    assert found == [
        (2, "activity_format", "activity.activity_format.not_allowed"),
        (4, "provider_activity_id", "activity.provider_activity_id.duplicate_in_file"),
        (5, "provider_activity_id", "activity.provider_activity_id.unknown"),
        (6, "row", "activity.row.unreadable"),
    ]
    assert (upload.rows_total, upload.rejected, upload.error_count) == (5, 4, 4)
    assert Activity.objects.count() == 0


def test_a_delete_of_an_unknown_id_rejects_a_file_otherwise_valid(
    provider: Provider, editor: User
) -> None:
    make_activity(provider, provider_activity_id="KEEP")
    upload = _upload(
        provider,
        tsv(["Delete", "KEEP", "", "", "", ""], ["Delete", "GONE", "", "", "", ""]),
        editor,
    )
    assert upload.status == UploadStatus.REJECTED
    assert list(UploadError.objects.values_list("row", "rule")) == [
        (3, "activity.provider_activity_id.unknown")
    ]
    assert _ids(provider) == ["KEEP"]


def test_deletes_apply_when_every_row_is_valid(provider: Provider, editor: User) -> None:
    make_activity(provider, provider_activity_id="OLD")
    upload = _upload(provider, tsv(["Delete", "OLD", "", "", "", ""], row("NEW")), editor)
    assert upload.status == UploadStatus.SUCCEEDED
    assert (upload.added, upload.deleted) == (1, 1)
    assert _ids(provider) == ["NEW"]


def test_a_file_that_cannot_be_read_is_rejected_with_its_reason(
    provider: Provider, editor: User
) -> None:
    upload = _upload(provider, tsv(row("U-1")) + b"\x00\x01 broken\tline\r\n", editor)
    assert upload.status == UploadStatus.REJECTED
    assert "NUL bytes" in upload.message
    assert "Nothing was changed" in upload.message
    assert Activity.objects.count() == 0


def test_a_file_with_only_a_header_is_rejected(provider: Provider, editor: User) -> None:
    upload = _upload(provider, tsv(), editor)
    assert upload.status == UploadStatus.REJECTED
    assert "no activity rows" in upload.message


def test_the_same_file_again_is_a_duplicate_and_changes_nothing(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    first = _upload(provider, GOOD, editor)
    Activity.objects.filter(provider_activity_id="U-1").update(title="Edited on the web")
    second = _upload(provider, GOOD, editor)
    assert second.status == UploadStatus.DUPLICATE
    assert second.duplicate_of == first
    assert f"activity upload #{first.number}" in second.message
    assert Activity.objects.get(provider_activity_id="U-1").title == "Edited on the web"
    page = client_as(editor).get(_url("detail", second))
    assert _url("detail", first) in page.text


def test_a_file_rejected_before_is_not_a_duplicate(provider: Provider, editor: User) -> None:
    assert _upload(provider, THREE_GOOD_ONE_BAD, editor).status == UploadStatus.REJECTED
    assert _upload(provider, THREE_GOOD_ONE_BAD, editor).status == UploadStatus.REJECTED


def test_the_same_file_at_another_provider_is_not_a_duplicate(
    provider: Provider, other_provider: Provider
) -> None:
    _upload(provider, GOOD)
    assert _upload(other_provider, GOOD).status == UploadStatus.SUCCEEDED
    assert _ids(other_provider) == ["U-1", "U-2", "U-3"]


def test_a_file_over_the_limit_is_refused_and_nothing_is_kept(
    provider: Provider, editor: User, client_as: Callable[[User], Client], settings: Any
) -> None:
    settings.PARS_MAX_UPLOAD_BYTES = 100
    response = _post(client_as(editor), provider, GOOD + b"x" * 100)
    assert response.status_code == 400
    assert "PARS accepts files of up to" in response.text
    assert not Upload.objects.exists()
    assert not (Path(settings.MEDIA_ROOT) / "uploads").exists()


def test_an_empty_file_is_refused(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    response = _post(client_as(editor), provider, b"")
    assert response.status_code == 400
    assert not Upload.objects.exists()


def test_a_failure_half_way_writes_nothing(
    provider: Provider, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_activity(provider, provider_activity_id="U-1", title="Before")
    monkeypatch.setattr(runs, "BATCH_SIZE", 2)  # the batches every kind's run writes
    real_apply = uploads.apply_activities
    calls: list[int] = []

    def apply_then_fail(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(uploads, "apply_activities", apply_then_fail)
    upload = _upload(provider, tsv(*(row(f"U-{n}", title="After") for n in range(1, 6))), editor)
    assert len(calls) == 2
    assert upload.status == UploadStatus.FAILED
    assert "nothing was changed" in upload.message
    assert upload.finished_at is not None
    assert _ids(provider) == ["U-1"]
    assert Activity.objects.get().title == "Before"
    assert not UploadError.objects.exists()


def test_a_finished_upload_processed_again_does_nothing(
    provider: Provider, editor: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    upload = _upload(provider, GOOD, editor)
    assert upload.status == UploadStatus.SUCCEEDED

    def must_not_write(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a finished upload was applied again")

    monkeypatch.setattr(uploads, "apply_activities", must_not_write)
    process_upload(upload.pk)  # the queue delivered the job a second time
    refreshed = Upload.objects.get(pk=upload.pk)
    assert refreshed.status == UploadStatus.SUCCEEDED
    assert refreshed.finished_at == upload.finished_at
    assert (refreshed.added, refreshed.updated) == (3, 0)

    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING)
    process_upload(upload.pk)  # another run holds the claim
    assert Upload.objects.get(pk=upload.pk).status == UploadStatus.RUNNING


def test_an_uploader_who_lost_edit_rights_meanwhile_changes_nothing(
    provider: Provider, editor: User
) -> None:
    upload = _upload(provider, GOOD, editor, enqueue=False)
    Membership.objects.filter(user=editor).update(role=Role.READONLY)
    process_upload(upload.pk)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.FAILED
    assert "no longer has edit rights" in upload.message
    assert Activity.objects.count() == 0


def test_the_format_comes_from_the_content_not_the_name(provider: Provider, editor: User) -> None:
    from pars.accounts.access import get_provider_access

    access = get_provider_access(editor, provider.provider_id)
    upload = store_upload(access, SimpleUploadedFile("sneaky.xlsx", GOOD))
    assert upload.file_format == "tsv"
    assert upload.file.name is not None
    assert upload.file.name.endswith(".txt")
    assert upload.status == UploadStatus.SUCCEEDED


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("name", "file_format", "deleted_id"),
    [
        ("golden_current.tsv", "tsv", "CHI-2024-OLD"),
        ("golden_current.xlsx", "xlsx", "CHI-2024-OLD"),
        ("golden_current.xml", "xml", "CHI-2024-OLD"),
    ],
)
def test_each_format_uploads_through_the_page(
    provider: Provider,
    editor: User,
    client_as: Callable[[User], Client],
    name: str,
    file_format: str,
    deleted_id: str,
) -> None:
    # The parsers' golden files: four activities and a delete of one that exists.
    make_activity(provider, provider_activity_id=deleted_id)
    response = _post(client_as(editor), provider, (DATA / name).read_bytes(), name="upload.bin")
    upload = Upload.objects.get()
    assert response.status_code == 302
    assert upload.file_format == file_format
    assert upload.status == UploadStatus.SUCCEEDED, upload.message
    assert (upload.rows_total, upload.added, upload.deleted) == (5, 4, 1)
    assert deleted_id not in _ids(provider)
    assert set(Activity.objects.values_list("last_channel", flat=True)) == {file_format}


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"PK\x03\x04\x14\x00", "xlsx"),
        (b"<?xml version='1.0'?><ACCMEActivities/>", "xml"),
        (b"\xef\xbb\xbf  \r\n<ACCMEActivities/>", "xml"),
        ("\ufeff<ACCMEActivities/>".encode("utf-16-le"), "xml"),
        (b"\xef\xbb\xbfAction\tProvider Activity ID\r\n", "tsv"),
        (b"Template D\t\tA-1\t2015\r\n", "tsv"),
    ],
)
def test_detect_format(head: bytes, expected: str) -> None:
    assert detect_format(head) == expected


def test_an_explicit_format_overrides_detection_and_unknown_ones_are_refused(
    provider: Provider, editor: User
) -> None:
    upload = _upload(provider, GOOD, editor, kind_hint="xlsx")
    assert upload.file_format == "xlsx"
    assert upload.status == UploadStatus.REJECTED  # the Excel reader says what is wrong
    assert upload.message.startswith("The file could not be read")
    with pytest.raises(store.UploadRefused):
        _upload(provider, GOOD, editor, kind_hint="pdf")


# ---------------------------------------------------------------------------
# With a fake parser: the error cap and the progress


@pytest.fixture
def fake_tsv(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[ParsedRow] | Exception], None]:
    """Replace the tab-delimited reader by one that yields the given rows."""

    def install(rows: list[ParsedRow] | Exception) -> None:
        def read_tsv(stream: Any, *args: Any, **kwargs: Any) -> tuple[Any, Iterator[ParsedRow]]:
            if isinstance(rows, Exception):
                raise rows
            return types.SimpleNamespace(name="fake"), iter(rows)

        monkeypatch.setattr(uploads, "read_tsv", read_tsv)

    return install


def _raw(activity_id: str, fmt: str = "Course") -> dict[str, Any]:
    return {
        "provider_activity_id": activity_id,
        "title": "T",
        "activity_format": fmt,
        "start_date": "2026-03-01",
        "end_date": "2026-03-02",
    }


def test_at_most_so_many_errors_are_kept_and_the_rest_counted(
    provider: Provider, editor: User, fake_tsv: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kinds, "MAX_STORED_ERRORS", 3)
    fake_tsv([ParsedRow(n, _raw(f"A-{n}", fmt="Bad")) for n in range(1, 6)])
    upload = _upload(provider, b"anything", editor)
    assert upload.status == UploadStatus.REJECTED
    assert (upload.rejected, upload.error_count) == (5, 5)
    assert UploadError.objects.count() == 3
    assert "the first 3 errors and 2 more" in upload.message


def test_a_file_rejected_by_the_parser_mid_way_writes_nothing(
    provider: Provider, editor: User, fake_tsv: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "BATCH_SIZE", 1)

    def rows() -> Iterator[ParsedRow]:
        yield ParsedRow(1, _raw("A-1"))
        yield ParsedRow(2, _raw("A-2"))
        raise FileRejected("Line 3 is broken.")

    fake_tsv(rows())
    upload = _upload(provider, b"anything", editor)
    assert upload.status == UploadStatus.REJECTED
    assert "Line 3 is broken." in upload.message
    assert Activity.objects.count() == 0


def test_progress_goes_to_the_cache_every_batch(
    provider: Provider, editor: User, fake_tsv: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(process, "BATCH_SIZE", 2)
    seen: list[dict[str, Any]] = []
    real_set = process.set_progress

    def record(upload_id: int, done: int, total: int | None, errors: int) -> None:
        real_set(upload_id, done, total, errors)
        seen.append(cache.get(progress_key(upload_id)))

    monkeypatch.setattr(process, "set_progress", record)
    fake_tsv([ParsedRow(n, _raw(f"A-{n}")) for n in range(1, 6)])
    upload = _upload(provider, b"a\nb\nc\nd\ne\nf\n", editor)
    assert upload.status == UploadStatus.SUCCEEDED
    assert [entry["done"] for entry in seen] == [0, 2, 4, 5]
    assert seen[0]["total"] == 6  # the line count, header included: an estimate
    assert seen[-1] == {"done": 5, "total": 5, "errors": 0}


# ---------------------------------------------------------------------------
# The progress partial and the error reports


def test_the_progress_partial_polls_until_the_upload_is_finished(
    provider: Provider, editor: User, client_as: Callable[[User], Client]
) -> None:
    client = client_as(editor)
    upload = _upload(provider, GOOD, editor, enqueue=False)
    detail = client.get(_url("detail", upload))
    assert 'hx-trigger="every 1s"' in detail.text
    assert _url("progress", upload) in detail.text

    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.RUNNING)
    cache.set(progress_key(upload.pk), {"done": 50, "total": 200, "errors": 0})
    running = client.get(_url("progress", upload))
    assert running.status_code == 200
    assert '<progress value="50" max="200"' in running.text

    Upload.objects.filter(pk=upload.pk).update(status=UploadStatus.QUEUED)
    process_upload(upload.pk)
    done = client.get(_url("progress", upload), headers={"HX-Request": "true"})
    assert done.status_code == 286  # htmx stops polling
    assert "Applied: 3 added" in done.text


def test_the_page_lists_the_first_errors_and_the_downloads_have_them_all(
    provider: Provider, editor: User, client_as: Callable[[User], Client], monkeypatch: Any
) -> None:
    from pars.intake import views as upload_views

    monkeypatch.setattr(upload_views, "ERRORS_SHOWN", 2)
    upload = _upload(provider, tsv(*(row(f"U-{n}", fmt="Bad") for n in range(1, 5))), editor)
    UploadError.objects.filter(upload=upload, row=2).update(message='=HYPERLINK("http://evil")')
    client = client_as(editor)
    page = client.get(_url("detail", upload))
    assert page.text.count("activity.activity_format.not_allowed") == 2
    assert "The first 2 of 4 errors" in page.text

    response = client.get(_url("errors_xlsx", upload))
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Row", "Record", "Column", "Message", "Rule")
    assert [r[0] for r in rows[1:]] == [2, 3, 4, 5]
    assert rows[2][4] == "activity.activity_format.not_allowed"

    response = client.get(_url("errors_csv", upload))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["Row", "Record", "Column", "Message", "Rule"]
    assert len(lines) == 5
    assert lines[1][3] == '\'=HYPERLINK("http://evil")'


def test_the_excel_template_downloads(
    provider: Provider, reader: User, client_as: Callable[[User], Client]
) -> None:
    response = client_as(reader).get(
        reverse("uploads:template", kwargs={"provider_id": provider.provider_id})
    )
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames


# ---------------------------------------------------------------------------
# Roles and tenancy


def test_a_read_only_user_sees_uploads_but_cannot_upload(
    provider: Provider, editor: User, reader: User, client_as: Callable[[User], Client]
) -> None:
    upload = _upload(provider, THREE_GOOD_ONE_BAD, editor)
    client = client_as(reader)
    page = client.get(_list_url(provider))
    assert page.status_code == 200
    assert upload.original_name in page.text
    assert 'type="file"' not in page.text
    for name in ("detail", "progress", "errors_csv", "errors_xlsx"):
        assert client.get(_url(name, upload)).status_code in (200, 286), name
    response = _post(client, provider, GOOD)
    assert response.status_code == 403
    assert Upload.objects.count() == 1


def test_another_providers_user_gets_404_on_every_upload_page(
    provider: Provider, editor: User, mallory: User, client_as: Callable[[User], Client]
) -> None:
    upload = _upload(provider, THREE_GOOD_ONE_BAD, editor)
    client = client_as(mallory)
    urls = [_url(name, upload) for name in ("detail", "progress", "errors_csv", "errors_xlsx")]
    urls += [
        _list_url(provider),
        reverse("uploads:template", kwargs={"provider_id": provider.provider_id}),
    ]
    for url in urls:
        assert client.get(url).status_code == 404, url
    assert _post(client, provider, GOOD).status_code == 404
    # Mallory's own provider does not reach the upload either.
    own = reverse(
        "uploads:detail",
        kwargs={"provider_id": mallory.memberships.get().provider.provider_id, "pk": upload.pk},
    )
    assert client.get(own).status_code == 404
    assert Upload.objects.count() == 1


# ---------------------------------------------------------------------------
# The real queue: the job is queued after the commit and the worker runs it


@pytest.mark.django_db(transaction=True)
def test_the_worker_processes_a_queued_upload(
    provider: Provider, editor: User, settings: Any
) -> None:
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}
    upload = _upload(provider, GOOD, editor)
    assert upload.status == UploadStatus.QUEUED
    assert DBTaskResult.objects.count() == 1
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    upload.refresh_from_db()
    assert upload.status == UploadStatus.SUCCEEDED
    assert _ids(provider) == ["U-1", "U-2", "U-3"]
    # A second delivery of the job finds the upload finished.
    process_upload(upload.pk)
    again = Upload.objects.get(pk=upload.pk)
    assert (again.status, again.finished_at) == (UploadStatus.SUCCEEDED, upload.finished_at)
