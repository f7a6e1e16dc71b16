"""A batch's outcomes: each kind's words fall in the five shared outcomes, and the counts
(the ones an upload stores) derive from the records' outcomes."""

from __future__ import annotations

import pytest

from pars.intake.outcomes import CATEGORY, BatchOutcomes
from pars.intake.rules import FieldError


def test_the_counts_derive_from_the_outcomes() -> None:
    result = BatchOutcomes()
    for row, outcome in enumerate(
        ["added", "corrected", "resubmitted", "updated", "unchanged", "withdrawn", "deleted"]
    ):
        result.add(row, f"K-{row}", outcome, id=row, version=1)
    assert (result.added, result.updated, result.unchanged, result.withdrawn) == (1, 3, 1, 2)
    assert result.rejected_rows == 0
    assert result.by_row()[1].category == "updated"
    assert result.by_row()[6].category == "withdrawn"


def test_a_rejected_row_has_one_outcome_however_many_errors() -> None:
    result = BatchOutcomes()
    errors = [
        FieldError(7, "title", "activity.title.required", "Required."),
        FieldError(7, "end_date", "activity.end_date.required", "Required."),
        FieldError(9, "title", "activity.title.required", "Required."),
    ]
    result.reject(errors, {7: "A-7", 9: "A-9"})
    assert [(o.row, o.key, o.outcome, o.id) for o in result.outcomes] == [
        (7, "A-7", "rejected", None),
        (9, "A-9", "rejected", None),
    ]
    assert result.errors == errors
    assert result.rejected_rows == 2
    assert result.count("rejected") == 2


def test_only_known_outcomes() -> None:
    assert set(CATEGORY.values()) == {"added", "updated", "unchanged", "withdrawn", "rejected"}
    with pytest.raises(KeyError):
        BatchOutcomes().add(1, "K", "kept")
