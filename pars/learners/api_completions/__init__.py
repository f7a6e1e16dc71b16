"""Learner completions in the web service: report, list, read, correct, resubmit, withdraw.

Every record goes through the one validator (``validate_completion``) and the one writer
(``apply_completions`` and the single-record services), exactly like a learner file or the
web form, so a bad record gets the same rule IDs from every channel. Reporting is
**explicitly partial**: valid records are written, invalid ones come back with their errors,
and the answer is 200 with a result per record.

Personal data: the provider's own key may read its learners' identifiers and birth month
and day (it sent them), in a record's detail and, with ``include=personal``, in lists;
never in an error message, and never in a URL (the status query is a POST for that reason).
"""

from __future__ import annotations

# isort: off
# The route modules in the order they were declared: the order of the OpenAPI document.
from .shared import router
from .batch import report_completions
from .reading import completion_detail, list_completions
from .corrections import correct, delete_completion, resubmit, withdraw
from .status import status_query
from .learner_files import upload_learners

# isort: on

__all__ = [
    "completion_detail",
    "correct",
    "delete_completion",
    "list_completions",
    "report_completions",
    "resubmit",
    "router",
    "status_query",
    "upload_learners",
    "withdraw",
]
