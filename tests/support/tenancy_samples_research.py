"""Route samples for the research data set pages (see route_walker.py)."""

from typing import Any

from pars.datareports.models import ResearchExport, ResearchExportStatus
from tests.support.route_walker import Kind, Sample, Victim


def _export(v: Victim) -> dict[str, Any]:
    """A finished data set, so a 404 for outsiders is the staff rule's, not a missing row."""
    export, _created = ResearchExport.objects.get_or_create(
        first_year=2026,
        last_year=2026,
        defaults={"status": ResearchExportStatus.DONE, "file": "research/sample.zip"},
    )
    return {"export_id": export.pk}


RESEARCH_SAMPLES: dict[str, Sample] = {
    "research:list": Sample(Kind.STAFF),
    "research:request": Sample(Kind.STAFF),
    "research:detail": Sample(Kind.STAFF, _export),
    "research:download": Sample(Kind.STAFF, _export),
}
