"""Route samples for the annual-report and audit pages (see tests/route_walker.py)."""

from tests.route_walker import Sample

REPORTING_SAMPLES: dict[str, Sample] = {}
