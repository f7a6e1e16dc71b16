"""A big learner file for an activity the statistics know with one record: the writer
looks up the stored records by key, never by reading the activity's rows per batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from pars.accounts.access import get_api_access
from pars.accounts.services import create_api_key
from pars.intake.kinds import BATCH_SIZE
from pars.intake.models import UploadStatus
from pars.intake.process import process_upload
from pars.intake.store import store_upload
from pars.learners.models import LearnerCompletion
from pars.learners.services import submit_completion
from pars.testing import LEARNER_ROW, make_activity, make_provider, register
from tests.support.plans import analyze, explain, postgresql_only, quadratic_reads, recorded_selects

pytestmark = postgresql_only

HEADER = [
    "Provider Activity ID",
    "Recipient",
    "First Name",
    "Last Name",
    "Birth Month and Day",
    "Learner ID",
    "Completion Date",
    "CME Credits",
    "MOC Points",
    "MOC Credit Types",
]
ROWS = 2 * BATCH_SIZE + BATCH_SIZE // 2  # three batches: the activity grows between them


def _tsv(activity_id: str, count: int, first: int = 0) -> bytes:
    fixed = ["03/02/2026", "10", "10", "Medical Knowledge"]
    lines = [
        [activity_id, "ABIM", "Ada", f"Learner{n:06d}", "12-10", f"{100_000 + n:06d}", *fixed]
        for n in range(first, first + count)
    ]
    return "".join("\t".join(cells) + "\r\n" for cells in [HEADER, *lines]).encode()


def _upload(provider: Any, content: bytes) -> Any:
    access = get_api_access(provider, create_api_key(provider=provider)[0])
    upload = store_upload(
        access,
        SimpleUploadedFile("learners.txt", content),
        via_api=True,
        enqueue=False,
        kind="learners",
    )
    with recorded_selects(LearnerCompletion._meta.db_table) as statements:
        process_upload(upload.pk)
    upload.refresh_from_db()
    return upload, statements


def test_a_big_file_for_a_little_known_activity_is_looked_up_by_key(
    db: None, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    # Statistics taken while another provider's activity has thousands of records and
    # this one a single record (so the writer must look for stored ones).
    established = make_provider(name="Established")
    busy = make_activity(established, provider_activity_id="BUSY")
    register(busy)
    upload, _ = _upload(established, _tsv("BUSY", 3_000))
    assert upload.added == 3_000, upload.message
    newcomer = make_provider(name="Newcomer")
    activity = make_activity(newcomer, provider_activity_id="GR-1")
    register(activity)
    access = get_api_access(newcomer, create_api_key(provider=newcomer)[0])
    submit_completion(access, {"provider_activity_id": "GR-1", **LEARNER_ROW}, channel="api")
    analyze(LearnerCompletion._meta.db_table)

    upload, lookups = _upload(newcomer, _tsv("GR-1", ROWS, first=1))
    assert (upload.status, upload.added) == (UploadStatus.SUCCEEDED, ROWS), upload.message
    assert len(lookups) >= 3  # at least one per batch

    # Explained after the upload, in the test's transaction: the activity has all its
    # records (the last batch looked up again), the statistics still say one.
    for sql, params in lookups:
        plan = explain(sql, params)
        tables = {LearnerCompletion._meta.db_table}
        assert quadratic_reads(plan, tables, keys=BATCH_SIZE) == [], sql
