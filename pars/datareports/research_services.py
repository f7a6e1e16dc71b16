"""Requesting and generating research data sets (the writes of the research pages)."""

from __future__ import annotations

import logging
import tempfile

from django.core.files import File
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from pars.accounts.models import User
from pars.datareports.models import ResearchExport, ResearchExportStatus
from pars.datareports.research import build_research_zip

logger = logging.getLogger(__name__)


def request_research_export(user: User, first_year: int, last_year: int) -> ResearchExport:
    """Record the request and queue its generation once the request's data is committed."""
    export = ResearchExport.objects.create(
        requested_by=user, first_year=first_year, last_year=last_year
    )
    transaction.on_commit(lambda: generate_research_export_task.enqueue(export.pk))
    return export


def generate_research_export(export_id: int) -> str:
    """Build the zip of one request and attach it; safe to run twice."""
    claimed = ResearchExport.objects.filter(
        pk=export_id, status=ResearchExportStatus.QUEUED
    ).update(status=ResearchExportStatus.RUNNING, started_at=timezone.now())
    export = ResearchExport.objects.get(pk=export_id)
    if not claimed:
        return export.status
    try:
        with tempfile.TemporaryFile() as out:
            summary = build_research_zip(export.first_year, export.last_year, out)
            out.seek(0)
            name = f"pars-research-{export.first_year}-{export.last_year}-{export.pk}.zip"
            export.file.save(name, File(out), save=False)
    except Exception:
        logger.exception("research data set %s failed", export_id)
        export.status = ResearchExportStatus.FAILED
        export.message = "Generating the data set failed; the error is in the worker's log."
        export.finished_at = timezone.now()
        export.save()
        return export.status
    export.status = ResearchExportStatus.DONE
    export.activity_rows = summary.activity_rows
    export.table_cells = summary.table_cells
    export.suppressed_cells = summary.suppressed_cells
    export.finished_at = timezone.now()
    export.save()
    return export.status


# The background entry point, beside its work (request_research_export queues it).
@task()
def generate_research_export_task(export_id: int) -> str:
    """Build the research data set of one request; returns its status."""
    return generate_research_export(export_id)
