"""A new provider's first big file, with statistics present: no lookup of the activity
writer may read the provider's rows (or the staging table) once per row."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from pars.accounts.access import get_api_access
from pars.accounts.services import create_api_key
from pars.activities.models import Activity
from pars.intake.kinds import BATCH_SIZE
from pars.intake.models import UploadStatus
from pars.intake.process import process_upload
from pars.intake.store import store_upload
from pars.testing import make_provider
from tests.support.plans import analyze, explain, postgresql_only, quadratic_reads, recorded_selects

pytestmark = postgresql_only

HEADER = "Action\tProvider Activity ID\tActivity Title\tActivity Format\tStart Date\tEnd Date\r\n"
ROWS = 2 * BATCH_SIZE + BATCH_SIZE // 2  # three batches: the provider grows between them


def _tsv(count: int) -> bytes:
    lines = [
        f"\tNEW-{n:06d}\tGrand Rounds {n}\tCourse\t03/01/2026\t03/02/2026\r\n" for n in range(count)
    ]
    return (HEADER + "".join(lines)).encode()


def test_a_new_providers_first_file_is_looked_up_by_key(
    db: None, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    # Statistics taken while the table holds another provider's activities and none of
    # the new provider's: the planner expects about one row of the new provider.
    established = make_provider(name="Established")
    Activity.objects.bulk_create(
        Activity(
            provider=established,
            provider_activity_id=f"OLD-{n:06d}",
            title="Tumor Board",
            activity_format="Course",
            start_date=datetime.date(2025, 3, 1),
            end_date=datetime.date(2025, 3, 2),
            reporting_year=2025,
        )
        for n in range(3_000)
    )
    newcomer = make_provider(name="Newcomer")
    analyze(Activity._meta.db_table)

    access = get_api_access(newcomer, create_api_key(provider=newcomer)[0])
    upload = store_upload(
        access, SimpleUploadedFile("first.txt", _tsv(ROWS)), via_api=True, enqueue=False
    )
    with recorded_selects(Activity._meta.db_table) as lookups:
        process_upload(upload.pk)
    upload.refresh_from_db()
    assert (upload.status, upload.added) == (UploadStatus.SUCCEEDED, ROWS), upload.message
    assert len(lookups) >= 3  # at least one per batch

    # Explained after the upload, in the test's transaction: the provider has all its
    # rows (the last batch looked up again), the statistics still say about one.
    for sql, params in lookups:
        plan = explain(sql, params)
        tables = {Activity._meta.db_table, "pars_activity_stage"}
        assert quadratic_reads(plan, tables, keys=BATCH_SIZE) == [], sql
