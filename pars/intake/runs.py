"""What every record kind's file run does the same way, around its own check and write.

A :class:`RecordRun` counts each row, reports a row that could not be read under the
kind's rule, has the kind check the rest (:meth:`RecordRun.check`) and queues the valid
records, handing them to the kind's ``flush`` in batches of ``BATCH_SIZE``; the kind's
writer records the file's one audit event through :meth:`RecordRun.file_event`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pars.audit.models import AuditEvent
from pars.audit.services import record_event
from pars.intake.kinds import BATCH_SIZE, FileRun, ReportedError
from pars.intake.readers import ParsedRow, column_of
from pars.intake.rules import FieldError


class RecordRow(int):
    """A queued record's row number, with its parsed record: the writer passes the row
    on to the record's errors unchanged, so each error finds its own record even when
    one row is split into several (see RecordRun.locate)."""

    parsed: ParsedRow

    def __new__(cls, row: int, parsed: ParsedRow) -> RecordRow:
        number = super().__new__(cls, row)
        number.parsed = parsed
        return number


@dataclass
class RecordRun[Record](FileRun):
    """A file run of one record kind: rows are checked one by one and written in batches
    (``flush`` writes ``batch`` and empties it)."""

    unreadable_rule: ClassVar[str]  # the rule ID of a row the reader could not read
    audit_action: ClassVar[str]  # the AuditAction of the file's audit event

    batch: list[tuple[int | None, Record]] = field(default_factory=list)
    # The rows of the batch (and the row being checked) by number, for the error report
    # (locate): the writer's errors carry only the row (a queued record's is a RecordRow).
    rows: dict[int | None, ParsedRow] = field(default_factory=dict)

    def take(self, parsed: ParsedRow) -> None:
        self.rows_total += 1
        if not self.batch:
            self.rows.clear()  # the last batch is written: keep only the rows to come
        self.rows[parsed.row] = parsed
        if parsed.problem:
            error = FieldError(parsed.row, "row", self.unreadable_rule, parsed.problem)
            self.reject([error])
            return
        record = self.check(parsed)
        if record is None:
            return
        row = RecordRow(parsed.row, parsed) if parsed.row is not None else None
        self.batch.append((row, record))
        if len(self.batch) >= BATCH_SIZE:
            self.flush()

    def check(self, parsed: ParsedRow) -> Record | None:
        """The row's valid record; None once the row is rejected (see :meth:`reject`)."""
        raise NotImplementedError

    def key_of(self, data: Mapping[str, Any]) -> str:
        """The record's key in the report (never personal data), from its raw values."""
        raise NotImplementedError

    def locate(self, error: FieldError) -> ReportedError:
        # One row of ACCME's template is several records: a writer's error names its
        # record by the RecordRow; a check's error is the row's last (current) record.
        parsed = getattr(error.row, "parsed", None) or self.rows.get(error.row)
        if parsed is None:
            return ReportedError(error)
        key = self.key_of(parsed.data)[:200]
        return ReportedError(error, key, column_of(parsed.columns, error.field)[:200])

    def reject(self, errors: Iterable[FieldError]) -> None:
        """One rejected row and its errors."""
        self.rejected += 1
        self.report(errors)

    def file_event(self) -> AuditEvent:
        """The file's one audit event, recorded with its first batch (in the file's
        transaction, so it is rolled back with the file)."""
        if self.event is None:
            self.event = record_event(
                self.access,
                self.audit_action,
                channel=self.upload.file_format,
                description=f"Upload #{self.upload.pk} ({self.upload.original_name})",
                details={"upload": self.upload.pk},
            )
        return self.event
