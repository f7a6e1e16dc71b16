"""What became of each record of a batch: one outcome per record, for every channel.

Both writers (``pars.activities.services.apply_activities``,
``pars.learners.services.apply_completions``) fill a :class:`BatchOutcomes` as they
write, from what they already know (the upsert's RETURNING, the stored records they
read to compare): the JSON endpoints answer per record from it, and the upload job
(``process.tally``) takes a file's counts from it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pars.intake.rules import FieldError

# The five outcomes every record kind shares.
ADDED = "added"
UPDATED = "updated"
UNCHANGED = "unchanged"
WITHDRAWN = "withdrawn"
REJECTED = "rejected"
# The words a record kind uses for one of them, kept because its answers publish them:
# a learner record is corrected, or resubmitted after a withdrawal; an activity is deleted.
CORRECTED = "corrected"
RESUBMITTED = "resubmitted"
DELETED = "deleted"

CATEGORY = {
    ADDED: ADDED,
    UPDATED: UPDATED,
    CORRECTED: UPDATED,
    RESUBMITTED: UPDATED,
    UNCHANGED: UNCHANGED,
    WITHDRAWN: WITHDRAWN,
    DELETED: WITHDRAWN,
    REJECTED: REJECTED,
}


@dataclass(slots=True)
class RecordOutcome:
    """One record of a batch: its row, its key, what became of it and the stored record.

    `key` is the record's identity as its kind names it (the Provider Activity ID; a
    completion's activity, recipient, learner and date). `id`, `version` and `status`
    are the stored record's after the write: None for a rejected record, and `id` None
    for a completion inserted through COPY (a big file), whose ids are not read back.
    """

    row: int | None
    key: object
    outcome: str
    id: int | None = None
    version: int | None = None
    status: str = ""

    @property
    def category(self) -> str:
        """added, updated, unchanged, withdrawn or rejected, whatever the kind's word."""
        return CATEGORY[self.outcome]


@dataclass
class BatchOutcomes:
    """The outcomes of a batch's records and the errors of the rejected ones."""

    outcomes: list[RecordOutcome] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    _counts: Counter[str] = field(default_factory=Counter, repr=False)
    _rejected: set[int | None] = field(default_factory=set, repr=False)

    def add(
        self,
        row: int | None,
        key: object,
        outcome: str,
        *,
        id: int | None = None,  # the stored record's id, as the answers name it
        version: int | None = None,
        status: str = "",
    ) -> RecordOutcome:
        record = RecordOutcome(row, key, outcome, id, version, status)
        self._counts[CATEGORY[outcome]] += 1  # KeyError: not an outcome
        self.outcomes.append(record)
        return record

    def reject(self, errors: Iterable[FieldError], keys: Mapping[int | None, object]) -> None:
        """Add errors, and one rejected outcome for each row they name (`keys`: by row)."""
        for error in errors:
            self.errors.append(error)
            if error.row not in self._rejected:
                self._rejected.add(error.row)
                self.add(error.row, keys.get(error.row), REJECTED)

    def count(self, category: str) -> int:
        return self._counts[category]

    @property
    def added(self) -> int:
        return self._counts[ADDED]

    @property
    def updated(self) -> int:
        return self._counts[UPDATED]

    @property
    def unchanged(self) -> int:
        return self._counts[UNCHANGED]

    @property
    def withdrawn(self) -> int:
        return self._counts[WITHDRAWN]

    @property
    def rejected_rows(self) -> int:
        """The rows with errors (those of ``errors``, however they were added)."""
        return len({error.row for error in self.errors})

    def by_row(self) -> dict[int | None, RecordOutcome]:
        return {outcome.row: outcome for outcome in self.outcomes}
