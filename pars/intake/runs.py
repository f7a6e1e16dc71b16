"""What every record kind's file run does the same way, around its own check and write.

A :class:`RecordRun` counts each row, reports a row that could not be read under the
kind's rule, has the kind check the rest (:meth:`RecordRun.check`) and queues the valid
records, handing them to the kind's ``flush`` in batches of ``BATCH_SIZE``; the kind's
writer records the file's one audit event through :meth:`RecordRun.file_event`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pars.audit.models import AuditEvent
from pars.audit.services import record_event
from pars.intake.fields import FieldSpec
from pars.intake.kinds import BATCH_SIZE, FileRun, ReportedError
from pars.intake.models import Channel
from pars.intake.readers import ParsedRow, column_of
from pars.intake.readers.headers import normalise_header
from pars.intake.rules import FieldError

_INDEX = re.compile(r"\[\d+\]")


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
    # The kind's fields by name (its dictionary), so an error names a field the file has
    # no column for by its template header, and a message speaks of the file's column.
    field_specs: ClassVar[Mapping[str, FieldSpec]] = {}

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
        header = column_of(parsed.columns, error.field)
        spec = self.field_specs.get(_INDEX.sub("", error.field))
        if spec is None:
            return ReportedError(error, key, header[:200])
        if not header:  # a field the file has no column for: the template's header
            return ReportedError(error, key, spec.label[:200])
        if self._speaks_of(header, spec):
            # The message speaks of the field as the file names it ("Activity Type: …").
            message = error.message
            if message[: len(spec.label)].lower() == spec.label.lower():
                message = header + message[len(spec.label) :]
                error = FieldError(error.row, error.field, error.rule, message)
        return ReportedError(error, key, header[:200])

    def _speaks_of(self, header: str, spec: FieldSpec) -> bool:
        """Whether the messages name the field by the file's header: a label of the file's
        own, not an XML element, and not the field's name (a file headed `birth_date` reads
        "Birth month and day …", as the web service says)."""
        if self.upload.file_format == Channel.XML:
            return False
        return normalise_header(header) not in (
            normalise_header(spec.label),
            normalise_header(spec.name),
        )

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
                description=f"{self.upload.title} ({self.upload.original_name})",
                details={"upload": self.upload.pk},
            )
        return self.event
