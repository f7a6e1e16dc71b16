"""Hostile files through the real upload path (issue 7, "Uploads and XML").

Each file goes through :func:`pars.intake.store.store_upload` and the background
job (the tests' ImmediateBackend runs it in-process), once as an activity file and once
as a learner file. Each must end refused (rejected or failed), with nothing written,
quickly, with a message naming the problem, and without memory growth.

Hostile workbooks (issue 11, point 5) are generated here at the size the issue found: a
5 MB workbook whose shared strings inflate to 188 MB within the 100:1 ratio, 1.2 million
shared strings, a 170 MB sheet, parts that add up to more than the limit, a row of cells
referring to long strings, one huge cell. They go through the activity job, the learner
job and the pre-validation page; the process's peak resident memory (reset before each
file through ``/proc/self/clear_refs``) may grow by at most 100 MB.

The builders of the parser-level suites are reused (``tests/activities/test_parse_xml.py``,
``test_parse_xlsx.py``); this suite adds the end-to-end path: format sniffing, the
stored file, the job and the Upload's final state.
"""

from __future__ import annotations

import functools
import io
import random
import re
import struct
import time
import tracemalloc
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.audit.models import AuditEvent
from pars.intake.models import Upload, UploadError, UploadStatus
from pars.intake.store import store_upload
from pars.learners.models import LearnerCompletion
from pars.providers.models import Provider
from tests.activities.test_parse_xlsx import WORKBOOK_XML
from tests.activities.test_parse_xml import _LAUGHS, LONG_COMMENT

MAX_SECONDS = 5.0  # wall time of store_upload + the job, per file (generous for CI)
MAX_PEAK_BYTES = 50 * 1024 * 1024  # tracemalloc peak while storing and processing
MAX_RSS_GROWTH = 100 * 1024 * 1024  # the process's peak resident memory, over its start

ROOTS = {"activities": b"ACCMEActivities", "learners": b"ACCMELearnerReports"}
ENTITY_REFUSED = "DOCTYPE"
# A header row each reader accepts (activities: the PARS layout; learners: the minimum).
TEXT_HEADERS = {
    ROOTS["activities"]: b"Provider Activity ID\tActivity Title\tActivity Format\n",
    ROOTS["learners"]: b"First Name\tLast Name\tCompletion Date\n",
}  # the parsers refuse any DOCTYPE, hence every entity


def _xml(root: bytes, prolog: bytes, body: bytes = b"") -> bytes:
    return b'<?xml version="1.0"?>\n' + prolog + b"<" + root + b">" + body + b"</" + root + b">"


def _zip_bytes(members: dict[str, bytes], *, raw_names: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(zipfile.ZipInfo(name) if raw_names else name, content)
    return out.getvalue()


def _png() -> bytes:
    header = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return header + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + b"\0\0\0\0" + b"\0" * 64


@dataclass(frozen=True)
class Hostile:
    """A hostile file: its name, bytes (per upload kind), format hint and expected words."""

    name: str
    content: Any  # bytes, or a callable(root) -> bytes
    words: tuple[str, ...]
    hint: str | None = None

    def bytes_for(self, kind: str) -> bytes:
        return self.content(ROOTS[kind]) if callable(self.content) else self.content


HOSTILE: dict[str, Hostile] = {
    case.name: case
    for case in [
        Hostile(
            "billion-laughs.xml",
            lambda root: _xml(
                root,
                b'<!DOCTYPE lolz [<!ENTITY lol0 "lol">' + _LAUGHS + b"]>",
                b"&lol9;",
            ),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            # Past the 64 KiB byte pre-scan: the parser's own prolog guard must refuse it.
            "billion-laughs-late.xml",
            lambda root: _xml(
                root,
                LONG_COMMENT + b'<!DOCTYPE lolz [<!ENTITY lol0 "lol">' + _LAUGHS + b"]>",
                b"&lol9;",
            ),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            "quadratic-entity.xml",
            lambda root: _xml(
                root,
                b'<!DOCTYPE r [<!ENTITY big "' + b"x" * 200_000 + b'">]>',
                b"&big;" * 20_000,
            ),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            # Entities are refused, so the blow-up left is one enormous text node.
            "huge-text.xml",
            lambda root: _xml(root, b"", b"<Junk>" + b"x" * (12 * 1024 * 1024) + b"</Junk>"),
            ("not well-formed XML",),
        ),
        Hostile(
            "huge-attribute.xml",
            lambda root: _xml(root, b"", b'<Junk a="' + b"x" * (12 * 1024 * 1024) + b'"/>'),
            ("not well-formed XML",),
        ),
        Hostile(
            "xxe-file.xml",
            lambda root: _xml(
                root, b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;"
            ),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            "xxe-url.xml",
            lambda root: _xml(
                root, b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/">]>', b"&xxe;"
            ),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            "xxe-file-late.xml",
            lambda root: _xml(
                root,
                LONG_COMMENT + b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
                b"&xxe;",
            ),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            "external-dtd.xml",
            lambda root: _xml(root, b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/pars.dtd">'),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            "parameter-entity.xml",
            lambda root: _xml(
                root, b'<!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p">%p;]>'
            ),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            "undeclared-entity.xml",
            lambda root: _xml(root, b"", b"&xxe;"),
            ("Entity 'xxe' not defined",),
        ),
        Hostile(
            "zip-bomb.xlsx",
            _zip_bytes(
                {"xl/workbook.xml": WORKBOOK_XML, "xl/worksheets/sheet1.xml": b"\0" * 50_000_000}
            ),
            ("zip bomb",),
        ),
        Hostile(
            "zip-traversal.xlsx",
            _zip_bytes({"xl/workbook.xml": WORKBOOK_XML, "../../evil.xml": b"x"}, raw_names=True),
            ("unsafe path",),
        ),
        Hostile(
            "zip-absolute.xlsx",
            _zip_bytes({"xl/workbook.xml": WORKBOOK_XML, "/etc/evil": b"x"}, raw_names=True),
            ("unsafe path",),
        ),
        Hostile("not-a-workbook.xlsx", _zip_bytes({"word/document.xml": b"<d/>"}), ("Excel",)),
        Hostile("png-named.xlsx", _png(), ("a PNG image, not delimited text",)),
        Hostile(
            # XML with an external entity, named .txt: the content decides, not the name.
            "xml-named.txt",
            lambda root: _xml(
                root, b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', b"&xxe;"
            ),
            (ENTITY_REFUSED,),
        ),
        Hostile(
            # An Excel workbook, named .xml and uploaded with the format "xml".
            "xlsx-named.xml",
            _zip_bytes({"xl/workbook.xml": WORKBOOK_XML, "[Content_Types].xml": b"<Types/>"}),
            ("a zip archive (an Excel workbook .xlsx?), not XML",),
            hint="xml",
        ),
        Hostile(
            # The same workbook forced as tab-delimited text.
            "xlsx-named.txt",
            _zip_bytes({"xl/workbook.xml": WORKBOOK_XML, "[Content_Types].xml": b"<Types/>"}),
            ("a zip archive (an Excel workbook .xlsx?), not delimited text",),
            hint="tsv",
        ),
        Hostile(
            # Text forced as Excel.
            "text-named.xlsx",
            b"Provider Activity ID\tActivity Title\nA-1\tCardiology\n",
            ("not an Excel workbook",),
            hint="xlsx",
        ),
        Hostile("nul-bytes.txt", b"First Name\tLast\x00 Name\nA\tB\n", ("NUL",)),
        Hostile(
            "nul-bytes.xml",
            lambda root: _xml(root, b"", b"<Junk>a\x00b</Junk>"),
            ("not well-formed XML",),
        ),
        Hostile(
            "invalid-utf8.xml",
            lambda root: _xml(root, b"", b"<Junk>Jos\xe9</Junk>"),
            ("encoding",),
        ),
        Hostile(
            # UTF-16 without its byte-order mark cannot be told from binary (with the mark it
            # is read: tests/intake/test_text_files.py).
            "utf16.txt",
            "First Name\tLast Name\nAda\tLovelace\n".encode("utf-16-le"),
            ("NUL",),
        ),
    ]
}


# ---------------------------------------------------------------------------
# Hostile workbooks (built once per session: the big ones take a second each)

MB = 1_000_000
_MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_REL = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_BOOK = (
    b'<?xml version="1.0"?><workbook ' + _MAIN + b' xmlns:r="' + _REL + b'">'
    b'<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_BOOK_RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    b'2006/relationships"><Relationship Id="rId1" Type="' + _REL + b'/worksheet" '
    b'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="' + _REL + b'/sharedStrings" '
    b'Target="sharedStrings.xml"/></Relationships>'
)
_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
    b'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    b'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
    b'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    b'worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'
)
_ROOT_RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    b'2006/relationships"><Relationship Id="rId1" Type="' + _REL + b'/officeDocument" '
    b'Target="xl/workbook.xml"/></Relationships>'
)
# A header each upload kind accepts (the same columns as TEXT_HEADERS).
XLSX_HEADERS = {
    root: [cell.decode() for cell in header.rstrip(b"\n").split(b"\t")]
    for root, header in TEXT_HEADERS.items()
}


def _filler(prefix: bytes, suffix: bytes) -> bytes:
    """About 1.3 MB of XML items that deflate about 45:1 (under the 100:1 ratio check)."""
    rng = random.Random(11)
    return b"".join(
        prefix + b"Cardiology grand rounds " + b"update " * 40 + rng.randbytes(3).hex().encode()
        + suffix
        for _ in range(4_000)
    )  # fmt: skip


def _write_workbook(
    sheet: bytes | tuple[bytes, int] = b"",
    strings: bytes | tuple[bytes, int] = b"",
    extra: tuple[str, bytes, int] | None = None,
    declared: int | None = None,
) -> bytes:
    """A workbook: its sheet's rows and shared strings' items, each as bytes or as
    (an item block, bytes to reach by repeating it), streamed into the zip."""

    def write(archive: zipfile.ZipFile, name: str, head: bytes, body: Any, tail: bytes) -> None:
        with archive.open(name, "w", force_zip64=True) as part:
            part.write(head)
            if isinstance(body, tuple):
                block, size = body
                for _ in range(size // len(block) + 1):
                    part.write(block)
            else:
                part.write(body)
            part.write(tail)

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _TYPES)  # openpyxl needs these two
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _BOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _BOOK_RELS)
        count = b' uniqueCount="%d"' % declared if declared is not None else b""
        write(archive, "xl/sharedStrings.xml", b"<sst " + _MAIN + count + b">", strings, b"</sst>")
        write(
            archive,
            "xl/worksheets/sheet1.xml",
            b"<worksheet " + _MAIN + b"><sheetData>",
            sheet,
            b"</sheetData></worksheet>",
        )
        if extra is not None:
            name, block, size = extra
            write(archive, name, b"", (block, size), b"")
    return out.getvalue()


def _inline_row(number: int, cells: list[str]) -> bytes:
    return (
        b'<row r="%d">' % number
        + b"".join(b'<c t="inlineStr"><is><t>%s</t></is></c>' % cell.encode() for cell in cells)
        + b"</row>"
    )


@functools.cache
def shared_strings_bomb() -> bytes:
    """The issue's workbook: shared strings that inflate to 188 MB, each part under 100:1."""
    return _write_workbook(strings=(_filler(b"<si><t>", b"</t></si>"), 188 * MB))


@functools.cache
def shared_strings_count() -> bytes:
    """1.2 million different short texts (26 MB of XML): each costs ~100 bytes in a list."""
    items = b"".join(b"<si><t>L%07d</t></si>" % number for number in range(1_200_000))
    return _write_workbook(strings=items, declared=1_200_000)


@functools.cache
def huge_sheet() -> bytes:
    """A 170 MB sheet of rows (openpyxl keeps an element per row: ~90 bytes each)."""
    return _write_workbook(
        sheet=(_filler(b'<row><c t="inlineStr"><is><t>', b"</t></is></c></row>"), 170 * MB)
    )


@functools.cache
def inflated_total() -> bytes:
    """Two parts of 110 MB each: every part within its limit, the whole beyond it."""
    rows = _filler(b'<row><c t="inlineStr"><is><t>', b"</t></is></c></row>")
    return _write_workbook(sheet=(rows, 110 * MB), extra=("xl/media/image1.bin", rows, 110 * MB))


@functools.cache
def long_strings(root: bytes) -> bytes:
    """200 shared strings of 32,000 characters, and a row of 40 cells referring to them
    (1.3 million characters: a reader that copies each cell's text holds them all)."""
    rng = random.Random(5)
    strings = b"".join(  # each a random 2,000 characters 16 times: deflates about 16:1
        b"<si><t>%s</t></si>" % (rng.randbytes(1_000).hex() * 16).encode()[:31_990]
        for _ in range(200)
    )
    cells = b"".join(b'<c t="s"><v>%d</v></c>' % (column % 200) for column in range(40))
    sheet = _inline_row(1, XLSX_HEADERS[root]) + b'<row r="2">' + cells + b"</row>"
    return _write_workbook(sheet=sheet, strings=strings)


@functools.cache
def huge_cell(root: bytes) -> bytes:
    """One inline string of 4 MB, far beyond the 32,767 characters of an Excel cell."""
    text = random.Random(3).randbytes(2 * MB).hex()
    return _write_workbook(sheet=_inline_row(1, XLSX_HEADERS[root]) + _inline_row(2, [text]))


XLSX_HOSTILE = [
    Hostile(
        "shared-strings-bomb.xlsx",
        lambda root: shared_strings_bomb(),
        ("shared strings", "more than the limit of 67,108,864"),
    ),
    Hostile(
        "shared-strings-count.xlsx",
        lambda root: shared_strings_count(),
        ("1,200,000 shared strings", "more than the limit of 1,000,000"),
    ),
    Hostile("huge-sheet.xlsx", lambda root: huge_sheet(), ("sheet1.xml", "more than the limit")),
    Hostile(
        "inflated-total.xlsx",
        lambda root: inflated_total(),
        ("uncompressed it would take", "more than the limit of 209,715,200"),
    ),
    Hostile("long-strings.xlsx", long_strings, ("row 2 holds more than 1,000,000 characters",)),
    Hostile("huge-cell.xlsx", huge_cell, ("more than 32,767 characters",)),
]
HOSTILE.update((case.name, case) for case in XLSX_HOSTILE)


def _proc_status(field: str) -> int | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


class PeakMemory:
    """The process's peak resident memory over a block, less its resident memory at the
    start (Linux: the peak is reset through /proc/self/clear_refs; elsewhere 0)."""

    def __enter__(self) -> PeakMemory:
        self.growth = 0
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            self.start = _proc_status("VmRSS")
        except OSError:
            self.start = None
        return self

    def __exit__(self, *_: object) -> None:
        peak = _proc_status("VmHWM")
        if self.start is not None and peak is not None:
            self.growth = peak - self.start


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def _written(provider: Provider) -> tuple[int, int, int]:
    return (
        Activity.objects.filter(provider=provider).count(),
        LearnerCompletion.objects.count(),
        AuditEvent.objects.filter(provider=provider).count(),
    )


@pytest.mark.parametrize("kind", ["activities", "learners"])
@pytest.mark.parametrize("case", sorted(HOSTILE), ids=sorted(HOSTILE))
def test_a_hostile_file_is_refused_quickly_in_bounded_memory(
    provider: Provider, editor: User, kind: str, case: str
) -> None:
    hostile = HOSTILE[case]
    content = hostile.bytes_for(kind)
    access = get_provider_access(editor, provider.provider_id)
    before = _written(provider)
    uploaded = SimpleUploadedFile(hostile.name, content)
    with PeakMemory() as memory:
        tracemalloc.start()
        started = time.monotonic()
        try:
            upload = store_upload(access, uploaded, kind=kind, kind_hint=hostile.hint)
            elapsed = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    upload = Upload.objects.get(pk=upload.pk)
    assert upload.status in (UploadStatus.REJECTED, UploadStatus.FAILED), upload.message
    assert upload.message.startswith("The file could not be read: "), upload.message
    assert upload.message.endswith("Nothing was changed."), upload.message
    for words in hostile.words:
        assert words in upload.message, upload.message
    assert "/etc/passwd" not in upload.message or "SYSTEM" in upload.message
    assert "root:" not in upload.message  # no file content leaks into the message
    assert elapsed < MAX_SECONDS, f"{case}: {elapsed:.1f} s"
    assert peak < MAX_PEAK_BYTES, f"{case}: peak {peak / 2**20:.1f} MiB"
    assert memory.growth < MAX_RSS_GROWTH, f"{case}: RSS +{memory.growth / 2**20:.0f} MiB"
    assert _written(provider) == before
    assert not UploadError.objects.filter(upload=upload).exists()
    assert upload.added == upload.updated == upload.deleted == 0


def test_every_issue_case_is_covered() -> None:
    """The issue's list of hostile files, each with at least one case above."""
    needed = {
        "billion-laughs",
        "quadratic-entity",
        "huge-text",
        "xxe-file",
        "xxe-url",
        "external-dtd",
        "zip-bomb",
        "zip-traversal",
        "png-named",
        "xml-named",
        "xlsx-named",
        "nul-bytes",
        "invalid-utf8",
        "utf16",
        # issue 11, point 5
        "shared-strings-bomb",
        "shared-strings-count",
        "huge-sheet",
        "inflated-total",
        "long-strings",
    }
    assert needed <= {name.split(".")[0] for name in HOSTILE}


# ---------------------------------------------------------------------------
# Pre-validation reads its list inside the request: small files only


@functools.cache
def small_strings_bomb() -> bytes:
    """Under 1 MB, but its shared strings inflate to 30 MB: too much for a request."""
    return _write_workbook(strings=(_filler(b"<si><t>", b"</t></si>"), 30 * MB))


PREVALIDATION_HOSTILE = {
    **{case.name: case for case in XLSX_HOSTILE},
    "small-strings-bomb.xlsx": Hostile(
        "small-strings-bomb.xlsx",
        lambda root: small_strings_bomb(),
        ("shared strings", "more than the limit of 8,388,608"),
    ),
}


@pytest.mark.parametrize("case", sorted(PREVALIDATION_HOSTILE))
def test_prevalidation_refuses_a_hostile_workbook_within_the_request_in_bounded_memory(
    provider: Provider, editor: User, client_as: Any, case: str
) -> None:
    hostile = PREVALIDATION_HOSTILE[case]
    content, words = hostile.bytes_for("learners"), hostile.words
    if len(content) > 1024 * 1024:
        words = ("larger than 1 MB", "learner upload")  # refused before it is read
    client: Client = client_as(editor)
    page_url = reverse("learners:prevalidate", kwargs={"provider_id": provider.provider_id})
    assert client.get(page_url).status_code == 200  # imports and templates loaded: not measured
    before = _written(provider)
    with PeakMemory() as memory:
        tracemalloc.start()
        try:
            response = client.post(
                page_url,
                {"recipient": "ABIM", "file": SimpleUploadedFile(case, content)},
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    page = re.sub(r"\s+", " ", response.content.decode())
    assert response.status_code == 400
    for word in words:
        assert word in page, (case, word)
    assert 'id="match-results"' not in page
    assert peak < MAX_PEAK_BYTES, f"{case}: peak {peak / 2**20:.1f} MiB"
    assert memory.growth < MAX_RSS_GROWTH, f"{case}: RSS +{memory.growth / 2**20:.0f} MiB"
    assert _written(provider) == before
