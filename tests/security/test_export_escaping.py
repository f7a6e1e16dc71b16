"""Every CSV and XLSX the app produces escapes formula-like cells (issue 7, "Exports").

Text a provider or learner typed (activity title, supporter, provider name, city, learner
name, an upload's echoed value…) is planted beginning with ``=``, ``+``, ``-``, ``@`` (and
their full-width forms, U+FF1D, U+FF0B, U+FF0D, U+FF20), a tab or a carriage return; every
export is fetched as the user who may fetch it, and no cell may start with one of those
characters (they must come out behind an apostrophe, as
`pars.lib.spreadsheets.escape_formula` writes them), and no XLSX cell may be a formula.
Every export is served as an attachment.

``test_every_spreadsheet_export_is_covered`` fails when a module starts producing CSV or
XLSX, or a URL starts serving it, without an entry in :data:`EXPORTS` here.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from openpyxl import load_workbook

from pars.accounts.models import Role, User
from pars.activities.models import Activity, CommercialSupport
from pars.intake.models import Upload, UploadError, UploadStatus
from pars.learners.models import LearnerCompletion
from pars.providers.models import Provider
from pars.testing import make_contact, make_decision, make_member, make_user
from tests.support.national_data import YEAR, National, national  # noqa: F401

PAYLOADS = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    # Full-width forms, which spreadsheet programs may read as the ASCII ones (issue 11).
    '\uff1dHYPERLINK("http://evil.example","x")',
    "\uff0b1+cmd|' /C calc'!A0",
    "\uff0d2+3+cmd|' /C calc'!A0",
    "\uff20SUM(1+1)*cmd|' /C calc'!A0",
]
# What no exported cell may start with (unless behind an apostrophe): written out here, not
# taken from the module under test, so that a prefix it forgets fails this test.
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")  # a negative number is no formula


def payload(number: int) -> str:
    return PAYLOADS[number % len(PAYLOADS)]


@dataclass
class Planted:
    national: National
    provider: Provider  # one provider with everything typed hostile
    upload: Upload
    staff: User
    admin: User
    on_commit: Any  # django_capture_on_commit_callbacks: runs the tasks queued on commit


@pytest.fixture
def planted(
    national: National,  # noqa: F811
    settings: Any,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> Planted:
    settings.MEDIA_ROOT = tmp_path / "media"
    n = 0
    for provider in Provider.objects.all():
        provider.name = payload(n) + f" provider {n}"
        provider.city = payload(n + 1)
        provider.save()
        n += 1
    for activity in Activity.objects.all():
        Activity.objects.filter(pk=activity.pk).update(
            title=payload(n) + " title",
            city=payload(n + 1) + " city",
            description=payload(n + 2),
        )
        n += 1
    for support in CommercialSupport.objects.all():
        CommercialSupport.objects.filter(pk=support.pk).update(
            source=payload(n) + f" supporter {n}", in_kind_description=payload(n + 1)
        )
        n += 1
    for completion in LearnerCompletion.objects.all():
        LearnerCompletion.objects.filter(pk=completion.pk).update(
            first_name=payload(n),
            last_name=payload(n + 1) + " learner",
            practice_area=payload(n + 2)[:60],
            time_in_practice=payload(n + 3)[:30],
        )
        n += 1
    provider = national.providers["accme1"]
    make_contact(provider, name=payload(0) + " contact", title=payload(3), phone="+1 555 0100")
    make_decision(provider, notes=payload(1) + " notes")
    admin = make_member(provider, Role.ADMIN, first_name=payload(2), last_name=payload(4))
    upload = Upload.objects.create(
        provider=provider,
        kind="activities",
        created_by=admin,
        file_format="tsv",
        original_name=payload(5) + ".txt",
        size=1,
        sha256="0" * 64,
        status=UploadStatus.REJECTED,
    )
    for number, text in enumerate(PAYLOADS):
        UploadError.objects.create(
            provider=provider,
            upload=upload,
            row=number + 2,
            field=text[:100],
            rule=text[:100],
            message=f"{text} is not a valid value",
        )
    staff = make_user("exports-staff@accreditor.example", is_staff=True, is_superuser=True)
    return Planted(national, provider, upload, staff, admin, django_capture_on_commit_callbacks)


# ---------------------------------------------------------------------------
# Reading what came back


def _body(response: Any) -> bytes:
    assert response.status_code == 200, response.status_code
    # Every export is saved as a file, never shown in the browser tab (issue 11).
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;"), disposition
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def csv_cells(data: bytes) -> Iterator[str]:
    text = data.decode("utf-8-sig")
    for row in csv.reader(io.StringIO(text, newline="")):
        yield from row


def xlsx_cells(data: bytes) -> Iterator[Any]:
    workbook = load_workbook(io.BytesIO(data))  # not read-only: data_type is exact
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                yield cell.value


def tsv_cells(data: bytes) -> Iterator[str]:
    text = data.decode("utf-8-sig")
    for row in csv.reader(io.StringIO(text, newline=""), dialect="excel-tab"):
        yield from row


def zip_csv_cells(data: bytes) -> Iterator[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if name.endswith(".csv"):
                yield from csv_cells(archive.read(name))


def unescaped(cells: Iterator[Any]) -> list[str]:
    return [
        value
        for value in cells
        if isinstance(value, str) and value.startswith(DANGEROUS) and not NUMBER.fullmatch(value)
    ]


# ---------------------------------------------------------------------------
# The exports


@dataclass(frozen=True)
class Export:
    url_name: str
    fetch: Callable[[Planted, Client], bytes]  # the response body
    read: Callable[[bytes], Iterator[Any]]
    as_staff: bool
    planted_text: bool = True  # the export shows typed text: escaped payloads must appear


def _get(name: str, *args: Any) -> Callable[[Planted, Client], bytes]:
    def fetch(p: Planted, client: Client) -> bytes:
        values = [arg(p) if callable(arg) else arg for arg in args]
        return _body(client.get(reverse(name, args=values)))

    return fetch


def _get_year(name: str) -> Callable[[Planted, Client], bytes]:
    # The Learner Counts templates are per reporting year (`?year=`).
    def fetch(p: Planted, client: Client) -> bytes:
        url = reverse(name, args=[p.provider.provider_id])
        return _body(client.get(url, {"year": YEAR}))

    return fetch


def _provider_id(p: Planted) -> str:
    return p.provider.provider_id


def _upload_pk(p: Planted) -> int:
    return int(p.upload.pk)


def _research(p: Planted, client: Client) -> bytes:
    with p.on_commit(execute=True):  # the task is queued on commit
        response = client.post(
            reverse("research:request"), {"first_year": YEAR - 1, "last_year": YEAR}
        )
    assert response.status_code == 302, response.status_code
    from pars.datareports.models import ResearchExport

    export = ResearchExport.objects.latest("pk")
    assert export.status == "done", (export.status, export.message)
    return _body(client.get(reverse("research:download", args=[export.pk])))


EXPORTS = [
    Export(
        "uploads:errors_csv", _get("uploads:errors_csv", _provider_id, _upload_pk), csv_cells, False
    ),
    Export(
        "uploads:errors_xlsx",
        _get("uploads:errors_xlsx", _provider_id, _upload_pk),
        xlsx_cells,
        False,
    ),
    Export("uploads:template", _get("uploads:template", _provider_id), xlsx_cells, False, False),
    Export("learners:template", _get("learners:template", _provider_id), xlsx_cells, False, False),
    Export(
        "learners:accme_template",
        _get("learners:accme_template", _provider_id),
        xlsx_cells,
        False,
        False,
    ),
    Export("activities:export_tsv", _get("activities:export_tsv", _provider_id), tsv_cells, False),
    # The Learner Counts templates come pre-filled with the year's open activities.
    Export("uploads:learner_counts", _get_year("uploads:learner_counts"), xlsx_cells, False),
    Export("uploads:learner_counts_tsv", _get_year("uploads:learner_counts_tsv"), tsv_cells, False),
    Export(
        "activities:export_xlsx", _get("activities:export_xlsx", _provider_id), xlsx_cells, False
    ),
    Export("review:package_xlsx", _get("review:package_xlsx", _provider_id), xlsx_cells, True),
    Export(
        "datareports:data_report_csv", _get("datareports:data_report_csv", YEAR), csv_cells, True
    ),
    Export(
        "datareports:data_report_xlsx", _get("datareports:data_report_xlsx", YEAR), xlsx_cells, True
    ),
    Export("datareports:rems_xlsx", _get("datareports:rems_xlsx", YEAR), xlsx_cells, True),
    Export(
        "datareports:rems_csv[activities]",
        _get("datareports:rems_csv", YEAR, "activities"),
        csv_cells,
        True,
    ),
    Export(
        "datareports:rems_csv[learners]",
        _get("datareports:rems_csv", YEAR, "learners"),
        csv_cells,
        True,
    ),
    # Learner search downloads (issue 15 point 7): learner names and REMS answers.
    Export("learners:export_csv", _get("learners:export_csv", _provider_id), csv_cells, False),
    Export("learners:export_xlsx", _get("learners:export_xlsx", _provider_id), xlsx_cells, False),
    Export(
        "learners:staff_export_csv",
        _get("learners:staff_export_csv", _provider_id),
        csv_cells,
        True,
    ),
    Export(
        "learners:staff_export_xlsx",
        _get("learners:staff_export_xlsx", _provider_id),
        xlsx_cells,
        True,
    ),
    # An anonymous data set: no typed text reaches it, but its CSVs are checked all the same.
    Export("research:download", _research, zip_csv_cells, True, False),
]


@pytest.mark.parametrize("export", EXPORTS, ids=[export.url_name for export in EXPORTS])
def test_no_exported_cell_starts_like_a_formula(
    planted: Planted, client_as: Callable[[User], Client], export: Export
) -> None:
    client = client_as(planted.staff if export.as_staff else planted.admin)
    data = export.fetch(planted, client)
    cells = list(export.read(data))
    assert cells, "the export is empty"
    assert unescaped(iter(cells)) == []
    if export.planted_text:
        escaped = [c for c in cells if isinstance(c, str) and c.startswith("'")]
        assert any(c[1:].startswith(DANGEROUS) for c in escaped), (
            "no planted value reached this export: the test plants nothing it shows"
        )
        full_width = [c for c in escaped if c[1:].startswith(DANGEROUS[6:])]
        assert full_width, "no full-width payload reached this export"


# ---------------------------------------------------------------------------
# The guard: a new export must be added above

# Modules that write CSV/XLSX, and the export URL names (above) that cover them; modules
# that write no download a user receives say why.
PRODUCERS: dict[str, set[str] | str] = {
    "pars/lib/spreadsheets.py": "the escaping writers themselves",
    "pars/intake/views.py": {
        "uploads:errors_csv",
        "uploads:errors_xlsx",
        "uploads:template",
        "learners:template",
        "learners:accme_template",
    },
    "pars/intake/xlsx_template.py": {
        "activities:export_xlsx",
        "uploads:template",
        "learners:template",
        "learners:accme_template",
    },
    "pars/activities/xlsx_template.py": {"uploads:template", "activities:export_xlsx"},
    "pars/activities/file_export.py": {
        "activities:export_tsv",
        "activities:export_xlsx",
        "uploads:learner_counts",
        "uploads:learner_counts_tsv",
    },
    "pars/activities/upload_views.py": {"uploads:learner_counts", "uploads:learner_counts_tsv"},
    "pars/activities/views.py": {"activities:export_tsv", "activities:export_xlsx"},
    "pars/accreditation/review_views.py": {"review:package_xlsx"},
    "pars/datareports/views.py": {
        "datareports:data_report_csv",
        "datareports:data_report_xlsx",
        "datareports:rems_xlsx",
        "datareports:rems_csv[activities]",
        "datareports:rems_csv[learners]",
    },
    "pars/datareports/research.py": {"research:download"},
    "pars/learners/exports.py": {
        "learners:export_csv",
        "learners:export_xlsx",
        "learners:staff_export_csv",
        "learners:staff_export_xlsx",
    },
    "pars/activities/services.py": "COPY text for PostgreSQL bulk writes, no download",
    "pars/learners/demo/__init__.py": "writes demo learner files to disk (make run), no download",
    "pars/learners/connectors/simulator.py": "reads registry files; writes none",
}
MARKERS = re.compile(
    r"text/csv|spreadsheetml|csv\.writer|csv\.DictWriter|write_rows_csv|write_rows_xlsx"
    r"|write_sheets_xlsx|\bWorkbook\(|openpyxl import .*Workbook|\.to_csv\(|\.to_excel\("
)
ROOT = Path(__file__).resolve().parents[2]


def _url_patterns(
    resolver: URLResolver, prefix: str = "", ns: str = ""
) -> Iterator[tuple[str, str]]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = ns
            if pattern.namespace:
                inner = f"{ns}:{pattern.namespace}" if ns else pattern.namespace
            yield from _url_patterns(pattern, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            name = f"{ns}:{pattern.name}" if ns else str(pattern.name)
            yield prefix + str(pattern.pattern), name


def test_every_spreadsheet_export_is_covered() -> None:
    covered = {export.url_name for export in EXPORTS}
    found = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "pars").rglob("*.py")
        if "parsers" not in path.parts and MARKERS.search(path.read_text(encoding="utf-8"))
    }
    unknown = found - set(PRODUCERS)
    assert not unknown, (
        f"{sorted(unknown)} write CSV/XLSX: add their downloads to EXPORTS in this test "
        "(and route them through pars.lib.spreadsheets), or say in PRODUCERS why not"
    )
    for module, names in PRODUCERS.items():
        if isinstance(names, set):
            assert names <= covered, (module, names - covered)
    # Every URL whose path names a spreadsheet is fetched above.
    served = {
        name
        for path, name in _url_patterns(get_resolver())
        if re.search(r"\.(csv|xlsx|tsv|xls)\b", path) or ("research" in path and "download" in path)
    }
    covered_names = {name.partition("[")[0] for name in covered}
    assert served <= covered_names, sorted(served - covered_names)
