"""Learner files through the shared upload job (``pars.intake``).

The job, its progress, duplicate-file check and error report are the shared ones;
what differs is the policy. Learner files are **explicitly partial**: every valid row
is applied and every invalid row is reported, because one learner's typo must not
hold back hundreds of other learners' credit. Re-uploading the file (or the corrected
file) is safe: rows already in PARS are recognised and change nothing, and nothing
is sent to a recipient twice. A file that cannot be read at all applies nothing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import ClassVar

from django.db import transaction
from django.utils import timezone

from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.intake.kinds import BATCH_SIZE, FileRun, UploadKind, register_upload_kind
from pars.intake.readers import ParsedRow
from pars.learners.delivery import schedule_delivery
from pars.learners.parsers import open_learner_rows
from pars.learners.services import ActivityLookup, apply_completions
from pars.learners.validation import (
    RULES,
    CleanCompletion,
    FieldError,
    RecipientRules,
    load_recipients,
    validate_completion,
)

KIND = "learners"


@dataclass
class LearnerRun(FileRun):
    partial: ClassVar[bool] = True
    noun: ClassVar[str] = "learner"

    batch: list[tuple[int | None, CleanCompletion]] = field(default_factory=list)
    # Hashes of the records seen (64-bit, so 500,000 rows cost a few MB, not the records).
    seen: set[int] = field(default_factory=set)
    recipients: dict[str, RecipientRules] = field(default_factory=load_recipients)
    today: datetime.date = field(default_factory=timezone.localdate)
    lookup: ActivityLookup | None = None
    to_deliver: set[str] = field(default_factory=set)

    def take(self, parsed: ParsedRow) -> None:
        self.rows_total += 1
        if parsed.problem:
            self.rejected += 1
            rule = "learner.row.unreadable"
            self.report([FieldError(parsed.row, "row", rule, parsed.problem)])
            return
        record, errors = validate_completion(
            parsed.data, row=parsed.row, recipients=self.recipients, today=self.today
        )
        if record is None:
            self.rejected += 1
            self.report(errors)
            return
        identity = hash(record.identity())
        if identity in self.seen:
            self.rejected += 1
            rule = "learner.record.duplicate_in_file"
            self.report([FieldError(parsed.row, "row", rule, RULES[rule].message)])
            return
        self.seen.add(identity)
        self.batch.append((parsed.row, record))
        if len(self.batch) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        if self.lookup is None:
            self.lookup = ActivityLookup(self.access)
        if self.event is None:
            self.event = record_event(
                self.access,
                AuditAction.LEARNERS_WRITTEN,
                channel=self.upload.file_format,
                description=f"Upload #{self.upload.pk} ({self.upload.original_name})",
                details={"upload": self.upload.pk},
            )
        result = apply_completions(
            self.access,
            self.batch,
            channel=self.upload.file_format,
            recipients=self.recipients,
            lookup=self.lookup,
            upload=self.upload,
            event=self.event,
            today=self.today,
            schedule=False,
        )
        if result.recipients - self.to_deliver:
            if not self.to_deliver:
                # Once, when the file's transaction commits: one delivery per recipient.
                transaction.on_commit(lambda: schedule_delivery(sorted(self.to_deliver)))
            self.to_deliver |= result.recipients
        self.added += result.added
        self.updated += result.corrected
        self.deleted += result.withdrawn
        self.unchanged += result.unchanged
        self.rejected += result.rejected_rows
        self.report(result.errors)
        self.batch = []


register_upload_kind(
    UploadKind(
        KIND,
        open_learner_rows,
        lambda upload, access, estimate: LearnerRun(
            upload=upload, access=access, estimate=estimate
        ),
    )
)
