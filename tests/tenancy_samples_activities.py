"""Route samples for the activity pages and API (see tests/route_walker.py)."""

from tests.route_walker import Sample

ACTIVITY_SAMPLES: dict[str, Sample] = {}
