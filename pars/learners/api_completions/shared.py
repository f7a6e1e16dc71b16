"""The router of the learner completion endpoints, and the limits they share."""

from __future__ import annotations

from ninja import Router

# Each operation names its operationId: the one it had before this module became a
# package (ninja derives it from the module), which clients generated from the schema use.
router = Router(tags=["learner completions"])

MAX_RECORDS = 1_000
DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000

RULE_CURSOR = "api.cursor.invalid"
