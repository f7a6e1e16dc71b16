"""Route samples for the upload pages and API (see tests/route_walker.py)."""

from tests.route_walker import Sample

UPLOAD_SAMPLES: dict[str, Sample] = {}
