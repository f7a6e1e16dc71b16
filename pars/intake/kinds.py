"""Kinds of batch file: each record kind registers how its rows are read and taken.

``pars.activities.uploads`` registers "activities" (all or nothing) and
``pars.learners.uploads`` "learners" (explicitly partial); the job (process.py) is the
same for both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, ClassVar

from pars.accounts.access import ProviderAccess
from pars.audit.models import AuditEvent
from pars.intake.models import Upload, UploadPolicy
from pars.intake.readers import ParsedRow
from pars.intake.rules import FieldError

BATCH_SIZE = 2_000  # valid rows written per batch; also the progress step
MAX_STORED_ERRORS = 10_000  # error rows kept per upload; the rest are only counted

# (layout name, parsed rows, the open byte stream if any) of a file.
OpenedRows = tuple[str, Iterator[ParsedRow], IO[bytes] | None]


@dataclass(frozen=True)
class ReportedError:
    """An error as the upload's report keeps it (UploadError): where in the file it is."""

    error: FieldError
    record: str = ""  # the record's key in the file (see RecordRun.key_of)
    column: str = ""  # the file's own header of the error's field


# How many row numbers the result message names per missing field (big files).
_DRAFT_ROWS_SHOWN = 5


@dataclass
class FileRun:
    """What one pass over a file found and did; each kind of upload says how rows are taken.

    Runs of a ``partial`` kind (learner files), and uploads whose uploader asked for it
    (``Upload.policy``), apply their valid rows and report the others (:attr:`keeps_valid`);
    the others apply the file only when every row is valid.
    """

    upload: Upload
    access: ProviderAccess
    estimate: int | None = None
    rows_total: int = 0
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    rejected: int = 0
    error_count: int = 0
    errors: list[ReportedError] = field(default_factory=list)
    layout: str = ""
    file_message: str = ""
    notices: list[str] = field(default_factory=list)  # what the reader said (Upload.notices)
    event: AuditEvent | None = None
    # Records saved below the status they could reach, and what they lack for it: each
    # field label -> (how many rows, the first rows), for the result message.
    drafts: int = 0
    draft_needs: dict[str, tuple[int, list[int]]] = field(default_factory=dict)
    partial: ClassVar[bool] = False
    noun: ClassVar[str] = "record"

    @property
    def keeps_valid(self) -> bool:
        """Valid rows are applied and the others reported (else all or nothing)."""
        return self.partial or self.upload.policy == UploadPolicy.PARTIAL

    def note_draft(self, row: int | None, lacking: Iterable[str]) -> None:
        """A record saved as a draft, lacking these fields (labels) for its next status."""
        self.drafts += 1
        for label in lacking:
            count, rows = self.draft_needs.get(label, (0, []))
            if row is not None and len(rows) < _DRAFT_ROWS_SHOWN:
                rows.append(row)
            self.draft_needs[label] = (count + 1, rows)

    def report(self, errors: Iterable[FieldError]) -> None:
        for error in errors:
            self.error_count += 1
            if len(self.errors) < MAX_STORED_ERRORS:
                self.errors.append(self.locate(error))

    def locate(self, error: FieldError) -> ReportedError:
        """The error with its record key and the file's column (a kind that knows them
        says so: RecordRun)."""
        return ReportedError(error)

    def take(self, parsed: ParsedRow) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def applied(self) -> None:
        """The file's rows and result are in its transaction, to commit (not called for a
        refused file or a dry run): what is to follow the commit is queued here, after
        the finish time's stamp, so that the stamp is the commit's."""


@dataclass
class UploadKind:
    """A kind of batch file: how to read its rows and how to take them."""

    name: str
    # Opens a stored file; the reader appends what the uploader should know to the list.
    open_rows: Callable[[Upload, list[str]], AbstractContextManager[OpenedRows]]
    new_run: Callable[[Upload, ProviderAccess, int | None], FileRun]


UPLOAD_KINDS: dict[str, UploadKind] = {}


def register_upload_kind(kind: UploadKind) -> None:
    UPLOAD_KINDS[kind.name] = kind
