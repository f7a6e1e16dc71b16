"""Route samples for the annual-report API (see route_walker.py).

Every route names a reporting year, not a row: a key reaches only its own provider's
report of that year, so another provider's key reads its own (empty) report and its
writes act on its own report only (the walk checks that the victim's rows, its annual
report included, are unchanged). The year must exist, or every answer would be a 404.
"""

import datetime
from typing import Any

from pars.reporting.models import ReportingYear
from tests.support.route_walker import Kind, Sample, Victim

YEAR = 2026


def _year(v: Victim) -> dict[str, Any]:
    # Only the year, which belongs to no provider: the walk snapshots the victim's rows
    # before it fills the URLs, so a victim row made here would count as a change.
    ReportingYear.objects.get_or_create(
        year=YEAR, defaults={"deadline": datetime.date(YEAR + 1, 3, 31)}
    )
    return {"year": YEAR}


REPORTING_API_SAMPLES: dict[str, Sample] = {
    "api-v1:annual_report": Sample(Kind.API_SCOPED, _year),
    "api-v1:annual_report_program_summary": Sample(Kind.API_SCOPED, _year),
    "api-v1:annual_report_program_summary_complete": Sample(Kind.API_SCOPED, _year),
    "api-v1:annual_report_attestation": Sample(Kind.API_SCOPED, _year),
}
