"""Learner files through the shared upload job (``pars.intake``).

The job, its progress, duplicate-file check and error report are the shared ones;
what differs is the policy. Learner files are **explicitly partial**: every valid row
is applied and every invalid row is reported, because one learner's typo must not
hold back hundreds of other learners' credit. Re-uploading the file (or the corrected
file) is safe: rows already in PARS are recognized and change nothing, and nothing
is sent to a recipient twice. A file that cannot be read at all applies nothing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from pars.audit.models import AuditAction
from pars.intake.background import settle_writes, write_batch
from pars.intake.fields import FieldSpec
from pars.intake.kinds import UploadKind, register_upload_kind
from pars.intake.process import tally
from pars.intake.readers import ParsedRow
from pars.intake.runs import RecordRun
from pars.learners.delivery import schedule_delivery
from pars.learners.dictionary import COMPLETION_FIELDS_BY_NAME
from pars.learners.parsers import open_learner_rows
from pars.learners.services import (
    ActivityLookup,
    CompletionResult,
    apply_completions,
    refused_errors,
)
from pars.learners.validation import (
    RULES,
    CleanCompletion,
    FieldError,
    RecipientRules,
    load_recipients,
    validate_completion,
)
from pars.lib.dates import us_date
from pars.lib.seen_hashes import SeenHashes

KIND = "learners"


@dataclass
class LearnerRun(RecordRun[CleanCompletion]):
    partial: ClassVar[bool] = True
    noun: ClassVar[str] = "learner"
    unreadable_rule: ClassVar[str] = "learner.row.unreadable"
    field_specs: ClassVar[Mapping[str, FieldSpec]] = COMPLETION_FIELDS_BY_NAME
    audit_action: ClassVar[str] = AuditAction.LEARNERS_WRITTEN

    # Hashes of the records seen (64-bit machine integers: 500,000 rows cost 8 MB).
    seen: SeenHashes = field(init=False)
    recipients: dict[str, RecipientRules] = field(default_factory=load_recipients)
    today: datetime.date = field(default_factory=timezone.localdate)
    lookup: ActivityLookup | None = None
    to_deliver: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.seen = SeenHashes(self.estimate or 0)  # sized once for the file's rows

    def key_of(self, data: Mapping[str, Any]) -> str:
        """The activity, recipient and completion date: enough to find the row, and no
        personal data (never a name, learner ID or birth date)."""
        return record_key(data)

    def check(self, parsed: ParsedRow) -> CleanCompletion | None:
        record, errors = validate_completion(
            parsed.data, row=parsed.row, recipients=self.recipients, today=self.today
        )
        if record is None:
            settle_writes(self)  # the writer of the last batch uses the lookup too
            if self.lookup is None:
                self.lookup = ActivityLookup(self.access)
            # The activity checks too: every problem of the row in one report.
            [errors] = refused_errors(
                self.lookup,
                [(parsed.row, parsed.data, errors)],
                recipients=self.recipients,
                today=self.today,
            )
            self.reject(errors)
            return None
        if not self.seen.add(hash(record.identity())):
            rule = "learner.record.duplicate_in_file"
            self.reject([FieldError(parsed.row, "row", rule, RULES[rule].message)])
            return None
        return record

    def flush(self) -> None:
        if not self.batch:
            return
        if self.lookup is None:
            self.lookup = ActivityLookup(self.access)
        batch, self.batch = self.batch, []
        lookup = self.lookup
        write_batch(
            self,
            lambda: apply_completions(
                self.access,
                batch,
                channel=self.upload.file_format,
                recipients=self.recipients,
                lookup=lookup,
                upload=self.upload,
                event=self.file_event(),
                today=self.today,
                schedule=False,
                # The COPY runs beside the reading of the next rows (copy_behind.py),
                # unless a writer thread already writes beside them (background.py).
                copy_behind=not settings.PARS_UPLOAD_WRITE_BEHIND,
                outcomes=False,  # counted (tally)
            ),
            self._written,
        )

    def reject(self, errors: Iterable[FieldError]) -> None:
        # The batch being written is counted first: the report keeps the file's order.
        settle_writes(self)
        super().reject(errors)

    def _written(self, result: CompletionResult) -> None:
        """A batch's outcome, counted where the rows are checked (see background.py)."""
        self.to_deliver |= result.recipients
        tally(self, result)

    def applied(self) -> None:
        # Once, when the file's transaction commits: one delivery per recipient. Queued
        # after the upload's finish time is stamped (its on-commit hook comes first):
        # the six recipients' tasks took some 8 ms, which the stamp would count.
        if self.to_deliver:
            codes = sorted(self.to_deliver)
            transaction.on_commit(lambda: schedule_delivery(codes))


def record_key(data: Mapping[str, Any]) -> str:
    """A learner record's key in the error report: "CME-1 · ABIM · 2024-03-01"."""
    activity = _text(data.get("provider_activity_id"))
    if not activity:
        accme = _text(data.get("accme_activity_id"))
        activity = f"ACCME {accme}" if accme else ""
    parts = (activity, _text(data.get("recipient")), _text(data.get("completion_date")))
    return " · ".join(part for part in parts if part)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime | datetime.date):
        return us_date(value)
    return str(value).strip()


register_upload_kind(
    UploadKind(
        KIND,
        open_learner_rows,
        lambda upload, access, estimate: LearnerRun(
            upload=upload, access=access, estimate=estimate
        ),
    )
)
