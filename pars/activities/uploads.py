"""Activity files through the shared upload job (``pars.intake``): all or nothing by default.

A file changes PARS only if every row in it is valid. One invalid row (or a delete of
an unknown Provider Activity ID, or a Provider Activity ID that appears twice in the
file) and nothing in the file is applied; the error report lists every problem found.
The uploader may instead choose, per upload, to apply the valid rows and report the
others (``Upload.policy`` partial).
How files are stored, processed, reported and recovered is ``pars.intake``'s.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, ClassVar, cast

from pars.accounts.access import ProviderAccess
from pars.activities.dictionary import FIELDS_BY_NAME
from pars.activities.file_export import stored_raw
from pars.activities.models import Activity
from pars.activities.parsers.layouts import LEARNER_COUNTS
from pars.activities.parsers.tsv import read_tsv
from pars.activities.parsers.xlsx import read_xlsx
from pars.activities.parsers.xml import read_xml
from pars.activities.services import BatchResult, apply_activities, refusals
from pars.activities.status_needs import status_needs
from pars.activities.validation import (
    RULES,
    UPDATE_UNKNOWN_ACCME_RULE,
    UPDATE_UNKNOWN_RULE,
    CleanActivity,
    validate_activity,
)
from pars.activities.year_lock import locked_years
from pars.audit.models import AuditAction
from pars.intake.background import settle_writes, write_batch
from pars.intake.fields import FieldSpec
from pars.intake.kinds import BATCH_SIZE, OpenedRows, UploadKind, register_upload_kind
from pars.intake.models import Channel, Upload
from pars.intake.process import tally
from pars.intake.readers import ParsedRow
from pars.intake.readers.delimited import TextSource
from pars.intake.rules import FieldError
from pars.intake.runs import RecordRun
from pars.intake.store import open_stored
from pars.lib.seen_hashes import SeenHashes


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
    field_specs: ClassVar[Mapping[str, FieldSpec]] = FIELDS_BY_NAME
    audit_action: ClassVar[str] = AuditAction.ACTIVITIES_WRITTEN

    # Hashes of the Provider Activity IDs seen (64-bit machine integers, not the IDs:
    # 500,000 rows cost 8 MB, not 50).
    seen_ids: SeenHashes = field(init=False)
    # The provider's attested years, read once per file (the validator refuses rows in
    # them together with their other problems; the writer checks again under its lock).
    closed_years: frozenset[int] | None = None
    # Learner Counts rows left short of Closed: each missing field's label -> (how many
    # rows, the first rows), for the notice the upload shows.
    open_needs: dict[str, tuple[int, list[int]]] = field(default_factory=dict)
    open_rows: int = 0
    open_notice: str = ""
    # The day rows are checked against (a row past its end date is Ready to Close), read
    # again every batch rather than every row (the clock is dear at this rate).
    today: datetime.date | None = None

    def __post_init__(self) -> None:
        self.seen_ids = SeenHashes(self.estimate or 0)  # sized once for the file's rows

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
        if self.closed_years is None:
            self.closed_years = frozenset(locked_years(self.access.provider))
        raw: Mapping[str, Any] = parsed.data
        counts = self.layout == LEARNER_COUNTS.name
        if counts:
            stored, problems = stored_activity(self.access, parsed)
            if stored is None:
                self.reject(problems)
                return None
            raw = {**stored, **updated_fields(parsed.data)}
        if self.today is None or self.rows_total % BATCH_SIZE == 0:
            self.today = datetime.date.today()  # noqa: DTZ011 (a calendar date is meant)
        record, errors = validate_activity(
            raw, row=parsed.row, today=self.today, closed_years=self.closed_years
        )
        key = record.provider_activity_id if record else _raw_id(parsed.data)
        if key and not self.seen_ids.add(hash(key)):
            rule = "activity.provider_activity_id.duplicate_in_file"
            errors = [
                *errors,
                FieldError(parsed.row, "provider_activity_id", rule, RULES[rule].message),
            ]
        if errors or record is None:
            self.reject(errors)
            return None
        if counts:
            self._note_open(parsed.row, record)
        elif record.values.get("status") == "draft":
            needs = status_needs(record.values, record.supporters)
            self.note_draft(parsed.row, [missing.label for missing in needs.missing])
        return record

    def _note_open(self, row: int | None, record: CleanActivity) -> None:
        """A Learner Counts row whose activity is not Closed by it: what it lacks to close."""
        if record.values.get("status") == "closed":
            return
        self.open_rows += 1
        # What closing asks (the next status after Active), whatever the row's status.
        needs = status_needs({**record.values, "status": "active"}, record.supporters)
        for missing in needs.missing:
            count, rows = self.open_needs.get(missing.label, (0, []))
            if row is not None and len(rows) < _ROWS_SHOWN:
                rows.append(row)
            self.open_needs[missing.label] = (count + 1, rows)

    def _show_open(self) -> None:
        """The upload's notice of the Learner Counts rows that did not close (kept current
        batch by batch; the last one stays)."""
        if self.open_notice in self.notices:
            self.notices.remove(self.open_notice)
        if not self.open_rows:
            return
        lacks = []
        for label, (count, rows) in self.open_needs.items():
            more = f" and {count - len(rows)} more" if count > len(rows) else ""
            shown = ", ".join(str(row) for row in rows)
            lacks.append(f"{label} (row{'s' if count != 1 else ''} {shown}{more})")
        rows_text = (
            "1 row leaves its activity"
            if self.open_rows == 1
            else (f"{self.open_rows} rows leave their activities")
        )
        self.open_notice = f"{rows_text} open, not Closed: to close, " + (
            ("they lack " + "; ".join(lacks) + ".") if lacks else "ask for nothing more."
        )
        self.notices.append(self.open_notice)

    def flush(self) -> None:
        self._show_open()
        if not self.batch:
            return
        # The batch before this one is settled first: whether this one is written
        # depends on its errors (writing).
        settle_writes(self)
        batch, self.batch = self.batch, []
        if self.keeps_valid:
            write_batch(self, lambda: self._apply_valid(batch), self._tally_each)
        elif self.writing:
            write_batch(
                self,
                lambda: apply_activities(
                    self.access, batch, channel=self.upload.file_format, event=self.file_event
                ),
                self._tally,
            )
        else:
            # Nothing is written any more, but the report still lists every problem.
            write_batch(self, lambda: BatchResult(errors=refusals(self.access, batch)), self._tally)

    def reject(self, errors: Iterable[FieldError]) -> None:
        # The batch being written is counted first: the report keeps the file's order.
        settle_writes(self)
        super().reject(errors)

    def _tally(self, result: BatchResult) -> None:
        tally(self, result)

    def _tally_each(self, results: list[BatchResult]) -> None:
        for result in results:
            tally(self, result)

    def _apply_valid(self, batch: list[tuple[int | None, CleanActivity]]) -> list[BatchResult]:
        """Write the batch's records the writer accepts, report the ones it refuses (the
        writer applies a batch all or nothing, so the refused ones are taken out first).
        Runs where the batch is written (background.py): the outcomes are counted later."""
        results = []
        refused = refusals(self.access, batch)
        if refused:
            results.append(BatchResult(errors=refused))
            rows = {error.row for error in refused}
            batch = [(row, record) for row, record in batch if row not in rows]
        if batch:
            results.append(
                apply_activities(
                    self.access, batch, channel=self.upload.file_format, event=self.file_event
                )
            )
        return results


_ROWS_SHOWN = 5  # row numbers named per missing field in the notice


def stored_activity(
    access: ProviderAccess, parsed: ParsedRow
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The stored activity a Learner Counts row updates, as the validator reads it back
    (file_export.stored_raw), or the row's error: it names no activity of the provider.
    The row's Provider Activity ID finds it, or when that is blank its ACCME Activity ID
    (which must then be the provider's one activity with it)."""
    key = _raw_id(parsed.data)
    activities = access.records(Activity).prefetch_related("supporters")
    if key:
        found = list(activities.filter(provider_activity_id=key)[:1])
        if found:
            return stored_raw(found[0]), []
        message = f"No activity has the Provider Activity ID {key!r}. " + _UPDATES_ONLY
        return None, [FieldError(parsed.row, "provider_activity_id", UPDATE_UNKNOWN_RULE, message)]
    accme = parsed.data.get("accme_activity_id")
    accme = "" if accme is None else str(accme).strip()
    if accme:
        found = list(activities.filter(accme_activity_id=accme)[:2])
        if len(found) == 1:
            return stored_raw(found[0]), []
        which = "No activity has" if not found else "Several activities have"
        message = (
            f"{which} the ACCME Activity ID {accme!r}; give the Provider Activity ID. "
            + _UPDATES_ONLY
        )
        rule = UPDATE_UNKNOWN_ACCME_RULE
        return None, [FieldError(parsed.row, "accme_activity_id", rule, message)]
    message = "Give the Provider Activity ID (or the ACCME Activity ID) of the activity to update."
    rule = "activity.provider_activity_id.required"
    return None, [FieldError(parsed.row, "provider_activity_id", rule, message)]


_UPDATES_ONLY = (
    "A Learner Counts file updates existing activities only; add the activity first "
    "(the activity form, the API or a full activity file)."
)


def updated_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a Learner Counts row changes: its columns, except a blank Provider
    Activity ID (the row found its activity by the ACCME Activity ID)."""
    return {
        name: value
        for name, value in data.items()
        if not (name == "provider_activity_id" and not _raw_id(data))
    }


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
