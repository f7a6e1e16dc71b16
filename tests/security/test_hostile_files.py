"""Hostile files through the real upload path (issue 7, "Uploads and XML").

Each file goes through :func:`pars.activities.uploads.store_upload` and the background
job (the tests' ImmediateBackend runs it in-process), once as an activity file and once
as a learner file. Each must end refused (rejected or failed), with nothing written,
quickly, with a message naming the problem, and without memory growth.

The builders of the parser-level suites are reused (``tests/activities/test_parse_xml.py``,
``test_parse_xlsx.py``); this suite adds the end-to-end path: format sniffing, the
stored file, the job and the Upload's final state.
"""

from __future__ import annotations

import io
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

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity, Upload, UploadError, UploadStatus
from pars.activities.uploads import store_upload
from pars.audit.models import AuditEvent
from pars.learners.models import LearnerCompletion
from pars.providers.models import Provider
from tests.activities.test_parse_xlsx import WORKBOOK_XML
from tests.activities.test_parse_xml import _LAUGHS, LONG_COMMENT

MAX_SECONDS = 5.0  # wall time of store_upload + the job, per file (generous for CI)
MAX_PEAK_BYTES = 50 * 1024 * 1024  # tracemalloc peak while storing and processing

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
        Hostile("png-named.xlsx", _png(), ("a PNG image, not tab-delimited text",)),
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
            ("a zip archive (an Excel workbook .xlsx?), not tab-delimited text",),
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
            "invalid-utf8-header.txt", b"First Name\tLast Nam\xe9\n", ("Line 1 is not valid UTF-8",)
        ),
        Hostile(
            # A header the reader accepts, then a Latin-1 row: refused mid-file, nothing kept.
            "invalid-utf8.txt",
            lambda root: TEXT_HEADERS[root] + b"Jos\xe9\tNu\xf1ez\t2026-03-01\n",
            ("Line 2 is not valid UTF-8 (byte 0xe9",),
        ),
        Hostile(
            "invalid-utf8.xml",
            lambda root: _xml(root, b"", b"<Junk>Jos\xe9</Junk>"),
            ("encoding",),
        ),
        Hostile(
            "utf16.txt",
            "First Name\tLast Name\nAda\tLovelace\n".encode("utf-16"),
            ("UTF-16",),
        ),
        Hostile(
            "utf16-no-bom.txt",
            "First Name\tLast Name\nAda\tLovelace\n".encode("utf-16-le"),
            ("NUL",),
        ),
    ]
}


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
    }
    assert needed <= {name.split(".")[0] for name in HOSTILE}
