"""Activity files through the shared upload job (``pars.intake``): all or nothing by default.

A file changes PARS only if every row in it is valid. One invalid row (or a delete of
an unknown Provider Activity ID, or a Provider Activity ID that appears twice in the
file) and nothing in the file is applied; the error report lists every problem found.
The uploader may instead choose, per upload, to apply the valid rows and report the
others (``Upload.policy`` partial).
How files are stored, processed, reported and recovered is ``pars.intake``'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, cast

from pars.activities.parsers.tsv import read_tsv
from pars.activities.parsers.xlsx import read_xlsx
from pars.activities.parsers.xml import read_xml
from pars.activities.services import BatchResult, apply_activities, refusals
from pars.activities.status_needs import status_needs
from pars.activities.validation import RULES, CleanActivity, validate_activity
from pars.audit.models import AuditAction
from pars.intake.kinds import OpenedRows, UploadKind, register_upload_kind
from pars.intake.models import Channel, Upload
from pars.intake.process import tally
from pars.intake.readers import ParsedRow
from pars.intake.readers.delimited import TextSource
from pars.intake.rules import FieldError
from pars.intake.runs import RecordRun
from pars.intake.store import open_stored


@contextmanager
def _open_activity_rows(upload: Upload, notices: list[str]) -> Iterator[OpenedRows]:
    """(layout name, parsed rows, the open byte stream if any) of an activity file."""
    if upload.file_format == Channel.XLSX:
        with open_stored(upload) as stored:
            layout, rows = read_xlsx(stored, notices=notices)
            yield layout.name, rows, None
        return
    with upload.file.open("rb") as opened:
        stream = cast(BinaryIO, opened)
        if upload.file_format == Channel.XML:
            yield "", read_xml(stream), stream
        else:
            source = TextSource(notices=notices)
            layout, rows = read_tsv(stream, source, name=upload.original_name, notices=notices)
            yield layout.name, rows, stream


@dataclass
class _Run(RecordRun[CleanActivity]):
    """An activity file: all or nothing, unless the uploader chose to apply the valid
    rows and report the others (``Upload.policy`` partial)."""

    noun: ClassVar[str] = "activity"
    unreadable_rule: ClassVar[str] = "activity.row.unreadable"
    audit_action: ClassVar[str] = AuditAction.ACTIVITIES_WRITTEN

    seen_ids: set[str] = field(default_factory=set)

    @property
    def writing(self) -> bool:
        """Rows are written until the first error; after that they are only checked
        (unless the valid rows are kept: then every valid row is written)."""
        return self.error_count == 0 or self.keeps_valid

    def key_of(self, data: Mapping[str, Any]) -> str:
        key = _raw_id(data)
        if key:
            return key
        accme = data.get("accme_activity_id")
        return f"ACCME {str(accme).strip()}" if accme not in (None, "") else ""

    def check(self, parsed: ParsedRow) -> CleanActivity | None:
        record, errors = validate_activity(parsed.data, row=parsed.row)
        key = record.provider_activity_id if record else _raw_id(parsed.data)
        if key:
            if key in self.seen_ids:
                rule = "activity.provider_activity_id.duplicate_in_file"
                errors = [
                    *errors,
                    FieldError(parsed.row, "provider_activity_id", rule, RULES[rule].message),
                ]
            else:
                self.seen_ids.add(key)
        if errors or record is None:
            self.reject(errors)
            return None
        if record.values.get("status") == "draft":
            needs = status_needs(record.values, record.supporters)
            self.note_draft(parsed.row, [missing.label for missing in needs.missing])
        return record

    def flush(self) -> None:
        if not self.batch:
            return
        if self.keeps_valid:
            self._apply_valid()
        elif self.writing:
            result = apply_activities(
                self.access, self.batch, channel=self.upload.file_format, event=self.file_event
            )
            tally(self, result)
        else:
            # Nothing is written any more, but the report still lists every problem.
            tally(self, BatchResult(errors=refusals(self.access, self.batch)))
        self.batch = []

    def _apply_valid(self) -> None:
        """Write the batch's records the writer accepts, report the ones it refuses (the
        writer applies a batch all or nothing, so the refused ones are taken out first)."""
        refused = refusals(self.access, self.batch)
        if refused:
            tally(self, BatchResult(errors=refused))
            rows = {error.row for error in refused}
            self.batch = [(row, record) for row, record in self.batch if row not in rows]
        if self.batch:
            result = apply_activities(
                self.access, self.batch, channel=self.upload.file_format, event=self.file_event
            )
            tally(self, result)


def _raw_id(data: Mapping[str, Any]) -> str:
    value = data.get("provider_activity_id")
    return "" if value is None else str(value).strip()


register_upload_kind(
    UploadKind(
        "activities",
        _open_activity_rows,
        lambda upload, access, estimate: _Run(upload=upload, access=access, estimate=estimate),
    )
)
