"""Route samples for the annual-report API (see tests/route_walker.py)."""

from tests.route_walker import Sample

REPORTING_API_SAMPLES: dict[str, Sample] = {}
