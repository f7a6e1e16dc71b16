"""Activity files through the shared upload job (``pars.intake``): all or nothing.

A file changes PARS only if every row in it is valid. One invalid row (or a delete of
an unknown Provider Activity ID, or a Provider Activity ID that appears twice in the
file) and nothing in the file is applied; the error report lists every problem found.
How files are stored, processed, reported and recovered is ``pars.intake``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, cast

from pars.activities.parsers.tsv import read_tsv
from pars.activities.parsers.xlsx import read_xlsx
from pars.activities.parsers.xml import read_xml
from pars.activities.services import apply_activities, refusals
from pars.activities.validation import RULES, CleanActivity, validate_activity
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.intake.kinds import BATCH_SIZE, FileRun, OpenedRows, UploadKind, register_upload_kind
from pars.intake.models import Channel, Upload
from pars.intake.readers import ParsedRow
from pars.intake.rules import FieldError
from pars.intake.store import local_path


@contextmanager
def _open_activity_rows(upload: Upload) -> Iterator[OpenedRows]:
    """(layout name, parsed rows, the open byte stream if any) of an activity file."""
    if upload.file_format == Channel.XLSX:
        with local_path(upload) as path:
            layout, rows = read_xlsx(path)
            yield layout.name, rows, None
        return
    with upload.file.open("rb") as opened:
        stream = cast(BinaryIO, opened)
        if upload.file_format == Channel.XML:
            yield "", read_xml(stream), stream
        else:
            layout, rows = read_tsv(stream)
            yield layout.name, rows, stream


@dataclass
class _Run(FileRun):
    """An activity file: all or nothing."""

    noun: ClassVar[str] = "activity"

    batch: list[tuple[int | None, CleanActivity]] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)

    @property
    def writing(self) -> bool:
        """Rows are written until the first error; after that they are only checked."""
        return self.error_count == 0

    def take(self, parsed: ParsedRow) -> None:
        self.rows_total += 1
        if parsed.problem:
            rule = "activity.row.unreadable"
            self.rejected += 1
            self.report([FieldError(parsed.row, "row", rule, parsed.problem)])
            return
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
            self.rejected += 1
            self.report(errors)
            return
        self.batch.append((parsed.row, record))
        if len(self.batch) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        if self.writing:
            if self.event is None:
                # One audit event for the whole file (rolled back with it, if it fails).
                self.event = record_event(
                    self.access,
                    AuditAction.ACTIVITIES_WRITTEN,
                    channel=self.upload.file_format,
                    description=f"Upload #{self.upload.pk} ({self.upload.original_name})",
                    details={"upload": self.upload.pk},
                )
            result = apply_activities(
                self.access, self.batch, channel=self.upload.file_format, event=self.event
            )
            self.added += result.added
            self.updated += result.updated
            self.deleted += result.deleted
            errors = result.errors
        else:
            # Nothing is written any more, but the report still lists every problem.
            errors = refusals(self.access, self.batch)
        self.rejected += len({error.row for error in errors})
        self.report(errors)
        self.batch = []


def _raw_id(data: dict[str, Any]) -> str:
    value = data.get("provider_activity_id")
    return "" if value is None else str(value).strip()


register_upload_kind(
    UploadKind(
        "activities",
        _open_activity_rows,
        lambda upload, access, estimate: _Run(upload=upload, access=access, estimate=estimate),
    )
)
