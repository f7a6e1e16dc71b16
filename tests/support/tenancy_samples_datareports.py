"""Route samples for the data report and the REMS report (see route_walker.py)."""

from typing import Any

from tests.support.route_walker import Kind, Sample, Victim
from tests.support.tenancy_samples_reporting import _year


def _staff_year(v: Victim) -> dict[str, Any]:
    return {"year": _year()}


DATAREPORTS_SAMPLES: dict[str, Sample] = {
    "datareports:current": Sample(Kind.STAFF),
    "datareports:data_report": Sample(Kind.STAFF, _staff_year),
    "datareports:data_report_csv": Sample(Kind.STAFF, _staff_year),
    "datareports:data_report_xlsx": Sample(Kind.STAFF, _staff_year),
    "datareports:rems_xlsx": Sample(Kind.STAFF, _staff_year),
    "datareports:rems_csv": Sample(Kind.STAFF, lambda v: {**_staff_year(v), "sheet": "learners"}),
}
