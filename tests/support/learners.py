"""Learner records for tests that need a clean record to hand to the writer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pars.learners.validation import CleanCompletion, validate_completion


def clean_completion(raw: Mapping[str, Any], **options: Any) -> CleanCompletion:
    """``validate_completion`` of a record the test knows is valid: its clean record."""
    record, errors = validate_completion(raw, **options)
    assert record is not None, errors
    return record
