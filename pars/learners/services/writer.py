"""Writing a batch of validated completions: add, correct, resubmit or withdraw."""

from __future__ import annotations

import datetime
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity
from pars.activities.year_lock import Closure
from pars.audit.models import AuditAction, AuditEvent
from pars.audit.services import record_event
from pars.intake.models import Upload
from pars.intake.outcomes import (
    ADDED,
    CATEGORY,
    CORRECTED,
    RESUBMITTED,
    UNCHANGED,
    WITHDRAWN,
    BatchOutcomes,
)
from pars.learners.delivery import schedule_delivery
from pars.learners.models import (
    CompletionEvent,
    CompletionEventKind,
    CompletionStatus,
    LearnerCompletion,
    Recipient,
)
from pars.learners.validation import (
    COMPLETION_VALUE_FIELDS,
    RULES,
    CleanCompletion,
    FieldError,
    RecipientRules,
    RefusedFacts,
    load_recipients,
    refused_facts,
)
from pars.learners.webhooks import notify_status_changes
from pars.lib.prepared_rows import PreparedRows
from pars.reporting.locks import closures, locked_years

from .insert import _insert
from .lookups import (
    ActivityLookup,
    ActivityVerdicts,
    _ActivityInfo,
    _against_activity,
    activity_passes,
)

# Fields compared to tell a correction from a resend of the same record.
_VALUE_FIELDS = tuple(
    name for name in COMPLETION_VALUE_FIELDS if name not in ("learner_key", "completion_date")
)


# A stored completion's identity: activity, recipient, learner, completion date.
_Identity = tuple[int, int, str, datetime.date]


@dataclass
class CompletionResult(BatchOutcomes):
    """Each record's outcome (added, corrected, resubmitted after a withdrawal, unchanged,
    withdrawn or rejected, with the stored record's id, version and status), and what
    delivery and the webhooks need."""

    recipients: set[str] = field(default_factory=set)  # recipients with records to deliver
    changed_ids: list[int] = field(default_factory=list)  # existing records whose status changed

    @property
    def corrected(self) -> int:
        """Corrected and resubmitted records."""
        return self.updated

    def count_only(self, outcome: str, records: int) -> None:
        """Records of this outcome counted, with no outcome of their own (the upload job
        counts a file's records: a big file's would be hundreds of thousands of objects)."""
        self._counts[CATEGORY[outcome]] += records


YEAR_LOCKED_RULE = "learner.reporting_year.locked"

# Withdrawn, or on the way: withdrawing such a record again changes nothing.
_WITHDRAWN_STATUSES = (
    CompletionStatus.WITHDRAWN,
    CompletionStatus.WITHDRAWAL_QUEUED,
    CompletionStatus.WITHDRAWAL_SENT,
)


class ClosedYears:
    """The provider's attested (closed) reporting years, as the learner writer applies them.

    A closed year's completions (and registrations) are read-only for the provider, unless
    the recipient takes completions after attestation (``Recipient.accepts_completions_
    after_attestation``, domain decision 6). Read once per batch, and kept with a file's
    ActivityLookup for its later batches; the activities' reporting years are read only
    while some year is closed (one query per batch).
    """

    def __init__(self, access: ProviderAccess, *, hold: bool = False) -> None:
        self.access = access
        # hold: the provider held for writing (pars.reporting.locks), so an attestation
        # waits for this transaction and none slipped in since the years were read.
        self.held = hold
        years = locked_years(access.provider, for_update=hold)
        self.closures: dict[int, Closure] = closures(access.provider, years) if years else {}
        self.open_recipients: frozenset[str] = (
            frozenset(
                Recipient.objects.filter(accepts_completions_after_attestation=True).values_list(
                    "code", flat=True
                )
            )
            if years
            else frozenset()
        )
        self._year_of: dict[int, int] = {}

    def load(self, activity_pks: Iterable[int]) -> None:
        """The reporting years of these activities (of those not read yet)."""
        if not self.closures:
            return  # the common case: nothing closed, nothing to read
        missing = {pk for pk in activity_pks if pk not in self._year_of}
        if missing:
            self._year_of.update(
                self.access.records(Activity)
                .filter(pk__in=missing)
                .values_list("pk", "reporting_year")
            )

    def closure(self, activity_pk: int, recipient: str) -> Closure | None:
        """The closure that makes this activity's completions for `recipient` read-only."""
        if not self.closures or recipient in self.open_recipients:
            return None
        self.load([activity_pk])
        return self.closures.get(self._year_of.get(activity_pk, 0))

    def error(
        self,
        row: int | None,
        activity_pk: int,
        recipient: str,
        field_name: str = "provider_activity_id",
    ) -> FieldError | None:
        """The one rule of every channel: a closed year's completions do not change."""
        closure = self.closure(activity_pk, recipient)
        if closure is None:
            return None
        who = f" by {closure.attested_by}" if closure.attested_by else ""
        day = timezone.localtime(closure.attested_at)
        return FieldError(
            row,
            field_name,
            YEAR_LOCKED_RULE,
            f"The {closure.year} annual report of this provider was attested on {day:%m/%d/%Y}"
            f"{who}: the completions and registrations of its activities for {recipient} can no "
            f"longer be added, changed or withdrawn. Ask the accreditor's staff to reopen the "
            f"{closure.year} report.",
        )

    def still_current(self) -> bool:
        """Hold the provider for writing (in the caller's transaction) and say whether the
        closed years are still those read: False when a year was attested or reopened
        since (the caller checks again)."""
        if self.held:
            return True
        years = locked_years(self.access.provider, for_update=True)
        self.held = True
        return years == set(self.closures)


# A file's closed years, read with its first batch: one ActivityLookup per file (or call).
_CLOSED_YEARS: weakref.WeakKeyDictionary[ActivityLookup, ClosedYears] = weakref.WeakKeyDictionary()


def closed_years(lookup: ActivityLookup, *, fresh: bool = False) -> ClosedYears:
    """The closed years of the lookup's provider, read once for the lookup's batches."""
    closed = _CLOSED_YEARS.get(lookup)
    if closed is None or fresh:
        closed = _CLOSED_YEARS[lookup] = ClosedYears(lookup.access, hold=fresh)
    return closed


def _locked_error(
    closed: ClosedYears,
    row: int | None,
    record: CleanCompletion | RefusedFacts,
    info: _ActivityInfo | None,
) -> FieldError | None:
    if info is None:
        return None
    field_name = "provider_activity_id" if record.provider_activity_id else "accme_activity_id"
    return closed.error(row, info.pk, record.recipient, field_name)


@dataclass(slots=True)
class _New:
    """A record to insert, and the rows of the batch that sent it (repeats are unchanged)."""

    activity_pk: int
    recipient_pk: int
    record: CleanCompletion
    rows: list[int | None]


def apply_completions(
    access: ProviderAccess,
    records: Sequence[tuple[int | None, CleanCompletion]],
    *,
    channel: str,
    recipients: Mapping[str, RecipientRules] | None = None,
    lookup: ActivityLookup | None = None,
    upload: Upload | None = None,
    event: AuditEvent | None = None,
    today: datetime.date | None = None,
    schedule: bool = True,
    use_copy: bool = True,
    copy_behind: bool = False,
    outcomes: bool = True,
) -> CompletionResult:
    """Write validated completions: add (or correct), or withdraw.

    Explicitly partial: a record the activity checks refuse comes back as errors and
    the others are written. The same record sent again changes nothing. Runs in one
    transaction (nested in the caller's); delivery is scheduled after the commit.
    `use_copy` False: every new record's id comes back (COPY, for big batches on
    PostgreSQL, reads none back). `copy_behind` (the upload job, inside the file's
    transaction): a big batch's COPY runs on beside the caller once this returns; the
    caller's next statement waits for it and raises its error (copy_behind.py).
    `outcomes` False (the upload job): the new records are counted, with no outcome
    each (the others' outcomes and every error are kept).
    """
    access.require_edit()
    recipients = recipients if recipients is not None else load_recipients()
    lookup = lookup or ActivityLookup(access)
    today = today or timezone.localdate()
    result = CompletionResult()
    lookup.load({record.activity_ref for _, record in records})
    closed = closed_years(lookup)

    checked = _checked(records, recipients, lookup, closed, today, result)
    if not checked:
        return result

    # The COPY behind is started once the savepoint is released (its statement would
    # wait for it), in the caller's transaction: never outside of one.
    later: list[Callable[[], None]] | None = (
        [] if copy_behind and connection.in_atomic_block else None
    )
    with transaction.atomic():
        if not closed.still_current():  # a year was attested (or reopened) meanwhile
            result, closed = CompletionResult(), closed_years(lookup, fresh=True)
            checked = _checked(records, recipients, lookup, closed, today, result)
            if not checked:
                return result
        if event is None:
            event = record_event(
                access,
                AuditAction.LEARNERS_WRITTEN,
                channel=channel,
                details={"records": len(checked)},
            )
        existing = _existing(
            [
                item
                for item in checked
                if (item[2].pk, item[2].registrations[item[1].recipient].recipient_pk)
                not in lookup.fresh
            ]
        )
        new = _write_each(access, checked, existing, result, channel=channel)
        options = {"channel": channel, "upload": upload, "event": event}
        ids = _insert_new(access, new, options, use_copy=use_copy, later=later)
        _added(result, new, ids, each=outcomes)
        if schedule and result.recipients:
            codes = sorted(result.recipients)
            transaction.on_commit(lambda: schedule_delivery(codes))
        if result.changed_ids:
            notify_status_changes(access.provider, result.changed_ids)
    for start in later or ():
        start()
    return result


def _insert_new(
    access: ProviderAccess,
    new: list[_New],
    options: dict[str, Any],
    *,
    use_copy: bool,
    later: list[Callable[[], None]] | None,
) -> list[int | None]:
    """Insert the new records (`options`: channel, upload, event); their ids, in order."""
    rows = [(item.activity_pk, item.recipient_pk, item.record) for item in new]
    if connection.vendor == "postgresql":
        return _insert(access, rows, use_copy=use_copy, later=later, **options)
    return _insert_prepared(access, rows, **options)


def _added(result: CompletionResult, new: list[_New], ids: list[int | None], *, each: bool) -> None:
    """The new records' outcomes: added (the same record again in the batch unchanged);
    `each` False: only counted (see CompletionResult.count_only)."""
    if not each:
        result.count_only(ADDED, len(new))
        result.count_only(UNCHANGED, sum(len(item.rows) for item in new) - len(new))
        return
    status = str(CompletionStatus.QUEUED)
    for item, pk in zip(new, ids, strict=True):
        key = item.record.identity()
        result.add(item.rows[0], key, ADDED, id=pk, version=1, status=status)
        for row in item.rows[1:]:  # the same record again in this batch
            result.add(row, key, UNCHANGED, id=pk, version=1, status=status)


_NEW_ROWS = PreparedRows(LearnerCompletion)
_IDENTITY_COLUMNS = "id, activity_id, recipient_id, learner_key, completion_date"


def _insert_prepared(
    access: ProviderAccess,
    new: list[tuple[int, int, CleanCompletion]],
    *,
    channel: str,
    upload: Upload | None,
    event: AuditEvent | None = None,
) -> list[int | None]:
    """SQLite: the new records as bulk_create inserts them, by prepared multi-row INSERTs
    (model instances and the SQL of each value cost most of the time SQLite's write lock
    is held); their ids, in order, found by each record's identity (it is unique)."""
    now = timezone.now()
    fixed = {
        "provider": access.provider.pk,
        "status": CompletionStatus.QUEUED,
        "status_changed_at": now,
        "last_channel": channel,
        "upload": upload.pk if upload is not None else None,
        "created_by_event": event.pk if event is not None else None,
        "created_at": now,
        "updated_at": now,
    }
    rows = _NEW_ROWS.rows(
        (
            {**record.values(), "activity": activity_pk, "recipient": recipient_pk}
            for activity_pk, recipient_pk, record in new
        ),
        fixed,
    )
    ids: dict[tuple[int, int, str, str], int] = {}
    most = connection.features.max_query_params or 999
    step = max(1, min(1_000, most // len(_NEW_ROWS.fields)))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), step):
            chunk = rows[start : start + step]
            cursor.execute(
                f"INSERT INTO {_NEW_ROWS.table} ({_NEW_ROWS.names}) VALUES "  # noqa: S608 (model names)
                + ", ".join([_NEW_ROWS.placeholders] * len(chunk))
                + f" RETURNING {_IDENTITY_COLUMNS}",
                [value for row in chunk for value in row],
            )
            for pk, activity_pk, recipient_pk, key, date in cursor.fetchall():
                ids[(activity_pk, recipient_pk, key, str(date))] = pk
    return [
        ids[(activity_pk, recipient_pk, record.learner_key, record.completion_date.isoformat())]
        for activity_pk, recipient_pk, record in new
    ]


# A record to write: its row, the record, its activity, and the closed year's refusal if
# its activity's year is closed (it stands only if the record would change anything).
_Checked = tuple[int | None, CleanCompletion, _ActivityInfo, FieldError | None]


def _checked(
    records: Sequence[tuple[int | None, CleanCompletion]],
    recipients: Mapping[str, RecipientRules],
    lookup: ActivityLookup,
    closed: ClosedYears,
    today: datetime.date,
    result: CompletionResult,
) -> list[_Checked]:
    """The records the activity checks pass; the others' errors go to the result (a closed
    year's refusal with them: every problem at once)."""
    checked: list[_Checked] = []
    lookup.load_day_points(records, recipients)
    if closed.closures:
        closed.load(info.pk for _, record in records if (info := lookup.get(record.activity_ref)))
    verdicts: ActivityVerdicts = {}
    for row, record in records:
        info = lookup.get(record.activity_ref)
        rules = recipients[record.recipient]
        # Most records pass at once; the others are judged with every error.
        errors = (
            []
            if info is not None and activity_passes(record, info, rules, today, verdicts)
            else _against_activity(row, record, info, rules, today)
        )
        # Nothing closed is the common case: no call per row for it.
        locked = _locked_error(closed, row, record, info) if closed.closures else None
        if errors:
            result.reject(errors + ([locked] if locked else []), {row: record.identity()})
        else:
            assert info is not None
            checked.append((row, record, info, locked))
    return checked


def refused_errors(
    lookup: ActivityLookup,
    refused: Sequence[tuple[int | None, Mapping[str, Any], list[FieldError]]],
    *,
    recipients: Mapping[str, RecipientRules],
    today: datetime.date,
) -> list[list[FieldError]]:
    """Each refused record's errors (row, raw record, the validator's errors), with the
    activity checks its readable values allow: every problem in one answer, not the
    validator's first and the writer's on the next try. The activities are read at once,
    only those the lookup has not seen (see ActivityLookup.load)."""
    if not refused:
        return []
    facts = [refused_facts(raw, recipients, errors) for _, raw, errors in refused]
    lookup.load({fact.activity_ref for fact in facts if fact is not None})
    closed = closed_years(lookup)
    if closed.closures:
        closed.load(info.pk for fact in facts if fact and (info := lookup.get(fact.activity_ref)))
    answers = []
    for (row, _, errors), fact in zip(refused, facts, strict=True):
        if fact is None:
            answers.append(errors)
            continue
        info = lookup.get(fact.activity_ref)
        found = _against_activity(row, fact, info, recipients[fact.recipient], today)
        locked = _locked_error(closed, row, fact, info)
        if locked is not None:
            found.append(locked)
        said = {(error.field, error.rule) for error in errors}
        answers.append(errors + [error for error in found if (error.field, error.rule) not in said])
    return answers


def _write_each(
    access: ProviderAccess,
    checked: list[_Checked],
    existing: dict[_Identity, LearnerCompletion],
    result: CompletionResult,
    *,
    channel: str,
) -> list[_New]:
    """Withdraw or correct the stored records; the new ones come back to be inserted."""
    new: dict[_Identity, _New] = {}
    for row, record, info, locked in checked:
        registered = info.registrations[record.recipient]
        key = (info.pk, registered.recipient_pk, record.learner_key, record.completion_date)
        current = existing.get(key)
        if locked is not None:
            # A closed year: the same record sent again is unchanged; any change is refused.
            if current is not None and not _would_change(current, record):
                _stored(result, row, record, UNCHANGED, current)
            else:
                result.reject([locked], {row: record.identity()})
        elif record.action == "delete":
            _delete_one(access, row, record, current, result, channel=channel)
        elif current is not None:
            _resend_one(access, row, record, current, result, channel=channel)
        elif key in new:  # the same record twice in this batch
            new[key].rows.append(row)
        else:
            new[key] = _New(info.pk, registered.recipient_pk, record, [row])
            result.recipients.add(record.recipient)
    return list(new.values())


def _stored(
    result: CompletionResult,
    row: int | None,
    record: CleanCompletion,
    outcome: str,
    current: LearnerCompletion,
) -> None:
    """The record's outcome, with the stored record as it is now."""
    result.add(
        row,
        record.identity(),
        outcome,
        id=current.pk,
        version=current.version,
        status=str(current.status),
    )


def _delete_one(
    access: ProviderAccess,
    row: int | None,
    record: CleanCompletion,
    current: LearnerCompletion | None,
    result: CompletionResult,
    *,
    channel: str,
) -> None:
    if current is None:
        rule = "learner.record.not_found"
        error = FieldError(row, "action", rule, RULES[rule].message)
        result.reject([error], {row: record.identity()})
    elif _withdraw(access, current, channel=channel):
        _stored(result, row, record, WITHDRAWN, current)
        result.changed_ids.append(current.pk)
        result.recipients.add(record.recipient)
    else:
        _stored(result, row, record, UNCHANGED, current)


def _resend_one(
    access: ProviderAccess,
    row: int | None,
    record: CleanCompletion,
    current: LearnerCompletion,
    result: CompletionResult,
    *,
    channel: str,
) -> None:
    """A record PARS has: unchanged, corrected, or resubmitted after a withdrawal."""
    changed = _changed_fields(current, record.values())
    withdrawn = current.status == CompletionStatus.WITHDRAWN
    if not changed and not withdrawn:
        _stored(result, row, record, UNCHANGED, current)
        return
    kind = CompletionEventKind.RESUBMITTED if withdrawn else CompletionEventKind.CORRECTED
    _new_version(current, record.values(), kind, channel=channel, by=access, changed=changed)
    _stored(result, row, record, RESUBMITTED if withdrawn else CORRECTED, current)
    result.changed_ids.append(current.pk)
    result.recipients.add(record.recipient)


def _would_change(current: LearnerCompletion, record: CleanCompletion) -> bool:
    """Whether writing the record would change the stored one (see _resend_one, _withdraw)."""
    if record.action == "delete":
        return current.status not in _WITHDRAWN_STATUSES
    return current.status == CompletionStatus.WITHDRAWN or bool(
        _changed_fields(current, record.values())
    )


def _existing(
    checked: list[_Checked],
) -> dict[_Identity, LearnerCompletion]:
    """The stored records with the identity of a record of the batch, by identity."""
    keys = {
        (
            info.pk,
            info.registrations[record.recipient].recipient_pk,
            record.learner_key,
            record.completion_date,
        )
        for _, record, info, _ in checked
    }
    if not keys:
        return {}
    rows: Iterable[LearnerCompletion]
    if connection.vendor == "postgresql":
        # Four arrays instead of thousands of parameters, and one probe of the unique
        # index per record: OFFSET 0 keeps the planner from making it a join that reads
        # the table (or an activity's records) once per batch, whatever the statistics
        # say. The rows are locked: delivery must not change a status this batch is
        # about to rewrite.
        activity_pks, recipient_pks, learner_keys, dates = (
            list(column) for column in zip(*keys, strict=True)
        )
        rows = LearnerCompletion.objects.raw(
            "SELECT c.* FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::date[]) "
            "AS k(a, r, l, d) CROSS JOIN LATERAL (SELECT * FROM learners_learnercompletion "
            "x WHERE x.activity_id = k.a AND x.recipient_id = k.r AND x.learner_key = k.l "
            "AND x.completion_date = k.d OFFSET 0) c FOR UPDATE OF c",
            [activity_pks, recipient_pks, learner_keys, dates],
        )
    else:
        rows = LearnerCompletion.objects.select_for_update().filter(
            activity_id__in={key[0] for key in keys}, learner_key__in={key[2] for key in keys}
        )
    found = {
        (row.activity_id, row.recipient_id, row.learner_key, row.completion_date): row
        for row in rows
    }
    return {key: row for key, row in found.items() if key in keys}


def _changed_fields(current: LearnerCompletion, values: Mapping[str, Any]) -> list[str]:
    changed = []
    for name in _VALUE_FIELDS:
        old, new = getattr(current, name), values.get(name)
        if isinstance(old, Decimal) or isinstance(new, Decimal):
            if old is None or new is None:
                if (old is None) != (new is None):
                    changed.append(name)
            elif Decimal(old) != Decimal(new):
                changed.append(name)
        elif (old or None) != (new or None) and not (old is False and new is False):
            changed.append(name)
    return changed


def _new_version(
    completion: LearnerCompletion,
    values: Mapping[str, Any],
    kind: str,
    *,
    channel: str,
    by: ProviderAccess,
    changed: list[str],
    detail: str = "",
) -> None:
    """A new version of the record, and its event crediting `by`'s user or API key."""
    for name, value in values.items():
        setattr(completion, name, value)
    completion.version += 1
    completion.status = CompletionStatus.QUEUED
    completion.status_reason = ""
    completion.status_code = ""
    completion.status_changed_at = timezone.now()
    completion.batch = None
    completion.last_channel = channel
    completion.save()
    CompletionEvent.objects.create(
        provider_id=completion.provider_id,
        completion=completion,
        kind=kind,
        version=completion.version,
        changed_fields=changed,
        detail=detail,
        channel=channel,
        user=by.user,
        api_key=by.api_key,
    )


def _withdraw(access: ProviderAccess, completion: LearnerCompletion, *, channel: str) -> bool:
    """Withdraw a record (False: it already is). One never sent is withdrawn at once."""
    if completion.status in _WITHDRAWN_STATUSES:
        return False
    completion.version += 1
    completion.batch = None
    completion.status_reason = ""
    completion.status_code = ""
    completion.status_changed_at = timezone.now()
    completion.last_channel = channel
    if completion.ever_sent:
        completion.status = CompletionStatus.WITHDRAWAL_QUEUED
        kind = CompletionEventKind.WITHDRAWAL_REQUESTED
    else:
        completion.status = CompletionStatus.WITHDRAWN
        kind = CompletionEventKind.DELETED
    completion.save()
    CompletionEvent.objects.create(
        provider_id=completion.provider_id,
        completion=completion,
        kind=kind,
        version=completion.version,
        channel=channel,
        user=access.user,
        api_key=access.api_key,
    )
    return True
