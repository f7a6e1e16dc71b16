"""The only writers of registrations and learner completions.

Every channel ends here after the validator (:mod:`pars.learners.validation`). The
checks that need the database live here, once for every channel: the activity
exists and is the provider's, it is registered for the recipient, the completion
falls within its dates, within its registered points and credit types, and before the
board's credit claim date.

A completion is never edited in place without a trace and never deleted: a change
makes a new *version* that is queued for delivery again, a delete becomes a
withdrawal sent to the recipient, and each step is a :class:`CompletionEvent`
(holding field names, never personal values). Re-sending the same record is a no-op.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity
from pars.activities.services import activities_by_key
from pars.audit.models import AuditAction, AuditEvent
from pars.audit.services import record_event
from pars.intake.models import Upload
from pars.learners.delivery import schedule_delivery
from pars.learners.models import (
    ActivityRegistration,
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
    CleanRegistration,
    FieldError,
    RecipientRules,
    load_recipients,
    validate_completion,
)
from pars.learners.webhooks import notify_status_changes

# Fields compared to tell a correction from a resend of the same record.
_VALUE_FIELDS = tuple(
    name for name in COMPLETION_VALUE_FIELDS if name not in ("learner_key", "completion_date")
)
COPY_THRESHOLD = 500  # rows from which a PostgreSQL insert goes through COPY


class CompletionRefused(Exception):
    """A single write (web form, JSON) the validator or writer refused, with its errors."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


class RegistrationRefused(CompletionRefused):
    pass


# ---------------------------------------------------------------------------
# Registrations


def save_registration(
    access: ProviderAccess,
    activity: Activity,
    clean: CleanRegistration,
    *,
    channel: str,
) -> ActivityRegistration:
    """Register the activity with a recipient (or update the registration), attested now."""
    access.require_edit()
    assert activity.provider_id == access.provider.pk
    recipient = Recipient.objects.get(code=clean.recipient)
    with transaction.atomic():
        registration, created = ActivityRegistration.objects.select_for_update().get_or_create(
            activity=activity,
            recipient=recipient,
            defaults={"provider": access.provider},
        )
        for name in (
            "moc_points",
            "credit_types",
            "practice_areas",
            "participation_threshold",
            "feedback_type",
            "disclosure_date",
            "credit_claim_date",
            "internal_id",
            "rems_type",
            "rems_rpc_id",
        ):
            default: Any = [] if name in ("credit_types", "practice_areas") else None
            if name in ("feedback_type", "internal_id", "rems_type", "rems_rpc_id"):
                default = ""
            setattr(registration, name, clean.values.get(name, default))
        registration.attested_by = access.user
        registration.attested_at = timezone.now()
        registration.last_channel = channel
        registration.save()
        record_event(
            access,
            AuditAction.REGISTRATION_SAVED,
            channel=channel,
            description=f"{activity.provider_activity_id} registered with {recipient.code}"
            + ("" if created else " (changed)"),
            details={"activity": activity.provider_activity_id, "recipient": recipient.code},
        )
    return registration


def delete_registration(
    access: ProviderAccess, registration: ActivityRegistration, *, channel: str
) -> None:
    """Remove a registration that no (unwithdrawn) completion depends on."""
    access.require_edit()
    live = (
        access.records(LearnerCompletion)
        .filter(activity_id=registration.activity_id, recipient_id=registration.recipient_id)
        .exclude(status=CompletionStatus.WITHDRAWN)
    )
    if live.exists():
        rule = "registration.activity.has_completions"
        raise RegistrationRefused([FieldError(None, "recipient", rule, RULES[rule].message)])
    with transaction.atomic():
        code = registration.recipient.code
        activity_id = registration.activity.provider_activity_id
        registration.delete()
        record_event(
            access,
            AuditAction.REGISTRATION_DELETED,
            channel=channel,
            description=f"{activity_id} no longer registered with {code}",
            details={"activity": activity_id, "recipient": code},
        )


# ---------------------------------------------------------------------------
# Looking up activities and registrations (cached across the batches of a file)


@dataclass(frozen=True)
class _Registered:
    recipient_pk: int
    moc_points: Decimal | None
    credit_types: frozenset[str]
    credit_claim_date: datetime.date | None


@dataclass(frozen=True)
class _ActivityInfo:
    pk: int
    provider_activity_id: str
    start_date: datetime.date
    end_date: datetime.date
    registrations: dict[str, _Registered]


class ActivityLookup:
    """The provider's activities a batch refers to, loaded once per ID per file.

    It also remembers which (activity, recipient) pairs had no completion when first
    loaded: the writer need not look for stored records of those. That stays true for
    the lookup's life only because a file's duplicate records are refused before the
    writer sees them: use one lookup per file (or per call).
    """

    def __init__(self, access: ProviderAccess) -> None:
        self.access = access
        self._by_ref: dict[str, _ActivityInfo | None] = {}
        self.fresh: set[tuple[int, int]] = set()

    def load(self, refs: Iterable[str]) -> None:
        missing = {ref for ref in refs if ref not in self._by_ref}
        if not missing:
            return
        for ref in missing:
            self._by_ref[ref] = None
        by_pid = [ref for ref in missing if not ref.startswith("#")]
        by_accme = [ref[1:] for ref in missing if ref.startswith("#")]
        fields = ("pk", "provider_activity_id", "accme_activity_id", "start_date", "end_date")
        found: dict[str, tuple[Any, ...]] = {}
        if by_pid:
            for row in activities_by_key(self.access, by_pid, *fields):
                found[row[1]] = row
        if by_accme:
            for row in (
                self.access.records(Activity)
                .filter(accme_activity_id__in=by_accme)
                .values_list(*fields)
            ):
                found[f"#{row[2]}"] = row
        registrations: dict[int, dict[str, _Registered]] = {row[0]: {} for row in found.values()}
        # A pair's first record in the unique index's order: the plan must probe that
        # index, whatever the statistics say. An EXISTS may be planned as a scan that
        # stops at the first match, which reads the whole table for a pair with none.
        first_record = (
            LearnerCompletion.objects.filter(
                activity_id=OuterRef("activity_id"), recipient_id=OuterRef("recipient_id")
            )
            .order_by("learner_key", "completion_date")
            .values("pk")[:1]
        )
        for reg in (
            ActivityRegistration.objects.filter(activity_id__in=list(registrations))
            .annotate(reported=Subquery(first_record))
            .values_list(
                "activity_id",
                "recipient__code",
                "recipient_id",
                "moc_points",
                "credit_types",
                "credit_claim_date",
                "reported",
            )
        ):
            if reg[6] is None:
                self.fresh.add((reg[0], reg[2]))
            registrations[reg[0]][reg[1]] = _Registered(
                reg[2], reg[3], frozenset(reg[4] or ()), reg[5]
            )
        for ref, row in found.items():
            self._by_ref[ref] = _ActivityInfo(row[0], row[1], row[3], row[4], registrations[row[0]])

    def get(self, ref: str) -> _ActivityInfo | None:
        return self._by_ref.get(ref)


def _against_activity(
    row: int | None,
    record: CleanCompletion,
    info: _ActivityInfo | None,
    recipient: RecipientRules,
    today: datetime.date,
) -> list[FieldError]:
    """The rules that need the activity and its registration."""

    def error(field_name: str, rule: str, message: str | None = None) -> FieldError:
        return FieldError(row, field_name, rule, message or RULES[rule].message)

    if info is None:
        field_name = "provider_activity_id" if record.provider_activity_id else "accme_activity_id"
        return [
            error(
                field_name,
                "learner.activity.not_found",
                f"No activity of yours has the ID '{record.activity_ref.lstrip('#')[:100]}'.",
            )
        ]
    registered = info.registrations.get(record.recipient)
    if registered is None:
        return [
            error(
                "recipient",
                "learner.activity.not_registered",
                f"Activity '{info.provider_activity_id}' is not registered for "
                f"{record.recipient}; register it first (Activity → Registrations).",
            )
        ]
    if record.action == "delete":
        return []
    errors = []
    if not info.start_date <= record.completion_date <= info.end_date:
        errors.append(
            error(
                "completion_date",
                "learner.completion_date.outside_activity",
                f"Completion Date {record.completion_date:%m/%d/%Y} is outside the activity's "
                f"dates ({info.start_date:%m/%d/%Y} – {info.end_date:%m/%d/%Y}).",
            )
        )
    if registered.credit_claim_date and today > registered.credit_claim_date:
        errors.append(
            error(
                "completion_date",
                "learner.credit_claim_date.passed",
                f"{record.recipient} took completions of this activity until "
                f"{registered.credit_claim_date:%m/%d/%Y}.",
            )
        )
    if recipient.is_moc:
        points = record.moc_points
        if points is not None and registered.moc_points is not None:
            if points > registered.moc_points:
                errors.append(
                    error(
                        "moc_points",
                        "learner.moc_points.over_registered",
                        f"MOC Points ({points}) exceed the {registered.moc_points} the activity "
                        f"is registered for with {record.recipient}.",
                    )
                )
            elif not recipient.variable_credit and points != registered.moc_points:
                errors.append(
                    error(
                        "moc_points",
                        "learner.moc_points.not_variable",
                        f"{record.recipient} accepts no variable credit: report the registered "
                        f"{registered.moc_points} points.",
                    )
                )
        unregistered = [
            name for name in record.moc_credit_types if name not in registered.credit_types
        ]
        if unregistered and registered.credit_types:
            errors.append(
                error(
                    "moc_credit_types",
                    "learner.moc_credit_types.not_registered",
                    f"MOC Credit Types: {', '.join(unregistered)} not registered for this "
                    f"activity (registered: {', '.join(sorted(registered.credit_types))}).",
                )
            )
    return errors


# ---------------------------------------------------------------------------
# Writing completions


@dataclass
class CompletionResult:
    added: int = 0
    corrected: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    errors: list[FieldError] = field(default_factory=list)
    recipients: set[str] = field(default_factory=set)  # recipients with records to deliver
    changed_ids: list[int] = field(default_factory=list)  # existing records whose status changed

    @property
    def rejected_rows(self) -> int:
        return len({error.row for error in self.errors})


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
) -> CompletionResult:
    """Write validated completions: add (or correct), or withdraw.

    Explicitly partial: a record the activity checks refuse comes back as errors and
    the others are written. The same record sent again changes nothing. Runs in one
    transaction (nested in the caller's); delivery is scheduled after the commit.
    """
    access.require_edit()
    recipients = recipients if recipients is not None else load_recipients()
    lookup = lookup or ActivityLookup(access)
    today = today or timezone.localdate()
    result = CompletionResult()
    lookup.load({record.activity_ref for _, record in records})

    checked: list[tuple[int | None, CleanCompletion, _ActivityInfo]] = []
    for row, record in records:
        info = lookup.get(record.activity_ref)
        errors = _against_activity(row, record, info, recipients[record.recipient], today)
        if errors:
            result.errors.extend(errors)
        else:
            assert info is not None
            checked.append((row, record, info))
    if not checked:
        return result

    with transaction.atomic():
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
        new: list[tuple[int, int, CleanCompletion]] = []
        pending: set[tuple[int, int, str, datetime.date]] = set()
        for row, record, info in checked:
            registered = info.registrations[record.recipient]
            key = (info.pk, registered.recipient_pk, record.learner_key, record.completion_date)
            current = existing.get(key)
            if record.action == "delete":
                if current is None:
                    rule = "learner.record.not_found"
                    result.errors.append(FieldError(row, "action", rule, RULES[rule].message))
                elif _withdraw(access, current, channel=channel):
                    result.withdrawn += 1
                    result.changed_ids.append(current.pk)
                    result.recipients.add(record.recipient)
                else:
                    result.unchanged += 1
                continue
            if current is None:
                if key in pending:  # the same record twice in this batch
                    result.unchanged += 1
                    continue
                pending.add(key)
                new.append((info.pk, registered.recipient_pk, record))
                result.recipients.add(record.recipient)
                continue
            changed = _changed_fields(current, record.values())
            if not changed and current.status != CompletionStatus.WITHDRAWN:
                result.unchanged += 1
                continue
            kind = (
                CompletionEventKind.RESUBMITTED
                if current.status == CompletionStatus.WITHDRAWN
                else CompletionEventKind.CORRECTED
            )
            _new_version(
                current, record.values(), kind, channel=channel, user=access.user, changed=changed
            )
            result.corrected += 1
            result.changed_ids.append(current.pk)
            result.recipients.add(record.recipient)
        _insert(access, new, channel=channel, upload=upload)
        result.added = len(new)
        if schedule and result.recipients:
            codes = sorted(result.recipients)
            transaction.on_commit(lambda: schedule_delivery(codes))
        if result.changed_ids:
            notify_status_changes(access.provider, result.changed_ids)
    return result


def _existing(
    checked: list[tuple[int | None, CleanCompletion, _ActivityInfo]],
) -> dict[tuple[int, int, str, datetime.date], LearnerCompletion]:
    """The stored records with the identity of a record of the batch, by identity."""
    keys = {
        (
            info.pk,
            info.registrations[record.recipient].recipient_pk,
            record.learner_key,
            record.completion_date,
        )
        for _, record, info in checked
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
    user: Any,
    changed: list[str],
    detail: str = "",
) -> None:
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
        user=user,
    )


def _withdraw(access: ProviderAccess, completion: LearnerCompletion, *, channel: str) -> bool:
    """Withdraw a record (False: it already is). One never sent is withdrawn at once."""
    if completion.status in (
        CompletionStatus.WITHDRAWN,
        CompletionStatus.WITHDRAWAL_QUEUED,
        CompletionStatus.WITHDRAWAL_SENT,
    ):
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
    )
    return True


_COPY_COLUMNS = (
    "provider_id",
    "activity_id",
    "recipient_id",
    *COMPLETION_VALUE_FIELDS,
    "status",
    "status_reason",
    "status_code",
    "status_changed_at",
    "version",
    "ever_sent",
    "last_channel",
    "upload_id",
    "created_at",
    "updated_at",
)


def _insert(
    access: ProviderAccess,
    new: list[tuple[int, int, CleanCompletion]],
    *,
    channel: str,
    upload: Upload | None,
) -> None:
    if not new:
        return
    now = timezone.now()
    if connection.vendor != "postgresql" or len(new) < COPY_THRESHOLD:
        LearnerCompletion.objects.bulk_create(
            (
                LearnerCompletion(
                    provider=access.provider,
                    activity_id=activity_pk,
                    recipient_id=recipient_pk,
                    status=CompletionStatus.QUEUED,
                    status_changed_at=now,
                    last_channel=channel,
                    upload=upload,
                    created_at=now,
                    updated_at=now,
                    **record.values(),
                )
                for activity_pk, recipient_pk, record in new
            ),
            batch_size=1_000,
        )
        return
    # COPY is several times faster than INSERT for the big learner files (and model
    # instances would cost more than the database): the rows were checked against the
    # table above, and the unique constraint still holds.
    fixed_head = f"{access.provider.pk}\t"
    stamp = now.isoformat()
    fixed_tail = (
        f"\t{CompletionStatus.QUEUED}\t\t\t{stamp}\t1\tf\t{channel}\t"
        f"{upload.pk if upload is not None else NULL}\t{stamp}\t{stamp}\n"
    )
    table = LearnerCompletion._meta.db_table
    columns = ", ".join(_COPY_COLUMNS)
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            lines = []
            types_json: dict[tuple[str, ...], str] = {}
            text = _copy_text
            for activity_pk, recipient_pk, r in new:
                # Only the free-text fields can hold a tab or a backslash; the others are
                # codes, digits and dates the validator produced.
                types = tuple(r.moc_credit_types)
                encoded = types_json.get(types)
                if encoded is None:
                    encoded = types_json[types] = text(json.dumps(r.moc_credit_types))
                cme = NULL if r.cme_credits is None else r.cme_credits
                moc = NULL if r.moc_points is None else r.moc_points
                surgical = (
                    NULL if r.surgical_procedures is None else "tf"[not r.surgical_procedures]
                )
                lines.append(
                    f"{fixed_head}{activity_pk}\t{recipient_pk}\t{text(r.learner_key)}\t"
                    f"{text(r.first_name)}\t{text(r.last_name)}\t{r.birth_month}\t"
                    f"{r.birth_day}\t{text(r.learner_id)}\t{r.npi}\t{r.license_state}\t"
                    f"{r.completion_date.isoformat()}\t{cme}\t{moc}\t{encoded}\t"
                    f"{r.profession}\t{r.practice_state}\t{r.dea_registration}\t"
                    f"{r.practice_area}\t{surgical}\t{r.time_in_practice}{fixed_tail}"
                )
            copy.write("".join(lines))


NULL = "\\N"
_COPY_SPECIAL = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A text value in COPY's text format (backslash and control characters escaped)."""
    if "\\" in value or not value.isprintable():
        return value.translate(_COPY_SPECIAL)
    return value


# ---------------------------------------------------------------------------
# One record at a time (web form, JSON)


def completion_raw(completion: LearnerCompletion) -> dict[str, Any]:
    """A stored record as raw input again (for corrections: change some, keep the rest)."""
    raw: dict[str, Any] = {
        "action": "add",
        "provider_activity_id": completion.activity.provider_activity_id,
        "recipient": completion.recipient.code,
    }
    for name in COMPLETION_VALUE_FIELDS:
        if name == "birth_month":
            raw["birth_date"] = f"{completion.birth_month:02d}-{completion.birth_day:02d}"
        elif name not in ("learner_key", "birth_day"):
            value = getattr(completion, name)
            raw[name] = list(value) if isinstance(value, list) else value
    return raw


def submit_completion(
    access: ProviderAccess, raw: Mapping[str, Any], *, channel: str
) -> LearnerCompletion | None:
    """Validate and write one record (add, or delete = withdraw); raises CompletionRefused.

    Returns the record (None for a delete of a record never written).
    """
    recipients = load_recipients()
    record, errors = validate_completion(raw, recipients=recipients, today=timezone.localdate())
    if record is None:
        raise CompletionRefused(errors)
    result = apply_completions(access, [(None, record)], channel=channel, recipients=recipients)
    if result.errors:
        raise CompletionRefused(result.errors)
    return (
        access.records(LearnerCompletion)
        .filter(
            recipient__code=record.recipient,
            learner_key=record.learner_key,
            completion_date=record.completion_date,
            activity__provider_activity_id=record.provider_activity_id,
        )
        .first()
        if record.provider_activity_id
        else access.records(LearnerCompletion)
        .filter(
            recipient__code=record.recipient,
            learner_key=record.learner_key,
            completion_date=record.completion_date,
            activity__accme_activity_id=record.accme_activity_id,
        )
        .first()
    )


def correct_completion(
    access: ProviderAccess,
    completion: LearnerCompletion,
    changes: Mapping[str, Any],
    *,
    channel: str,
) -> LearnerCompletion:
    """Change some fields of a record (also its learner identity): a new version, resent.

    The activity and the recipient stay; to move a completion, withdraw it and add it anew.
    """
    access.require_edit()
    assert completion.provider_id == access.provider.pk
    if completion.status in (CompletionStatus.WITHDRAWAL_QUEUED, CompletionStatus.WITHDRAWAL_SENT):
        rule = "learner.record.not_found"
        raise CompletionRefused(
            [
                FieldError(
                    None, "action", rule, "This record is being withdrawn; add it again instead."
                )
            ]
        )
    raw = completion_raw(completion)
    raw.update(
        {
            key: value
            for key, value in changes.items()
            if key not in ("provider_activity_id", "accme_activity_id", "recipient", "action")
        }
    )
    recipients = load_recipients(include_inactive=True)
    today = timezone.localdate()
    record, errors = validate_completion(raw, recipients=recipients, today=today)
    if record is None:
        raise CompletionRefused(errors)
    lookup = ActivityLookup(access)
    lookup.load([record.activity_ref])
    errors = _against_activity(
        None, record, lookup.get(record.activity_ref), recipients[record.recipient], today
    )
    if errors:
        raise CompletionRefused(errors)
    values = record.values()
    with transaction.atomic():
        locked = LearnerCompletion.objects.select_for_update().get(pk=completion.pk)
        clash = (
            LearnerCompletion.objects.filter(
                activity_id=locked.activity_id,
                recipient_id=locked.recipient_id,
                learner_key=values["learner_key"],
                completion_date=values["completion_date"],
            )
            .exclude(pk=locked.pk)
            .exists()
        )
        if clash:
            rule = "learner.record.duplicate_in_file"
            raise CompletionRefused(
                [
                    FieldError(
                        None,
                        "learner_id",
                        rule,
                        "Another record already has this learner and date.",
                    )
                ]
            )
        changed = _changed_fields(locked, values)
        if locked.completion_date != values["completion_date"]:
            changed.append("completion_date")
        if not changed and locked.status not in (CompletionStatus.REJECTED, CompletionStatus.HELD):
            return locked
        kind = CompletionEventKind.CORRECTED if changed else CompletionEventKind.RESUBMITTED
        _new_version(locked, values, kind, channel=channel, user=access.user, changed=changed)
        code = locked.recipient.code
        transaction.on_commit(lambda: _schedule([code]))

        notify_status_changes(access.provider, [locked.pk])
    return locked


def resubmit_completion(
    access: ProviderAccess, completion: LearnerCompletion, *, channel: str
) -> LearnerCompletion:
    """Send a rejected or held record again as it is (after the learner's data was fixed)."""
    return correct_completion(access, completion, {}, channel=channel)


def withdraw_completion(
    access: ProviderAccess, completion: LearnerCompletion, *, channel: str
) -> LearnerCompletion:
    """Withdraw a record from its recipient (at once if it was never sent)."""
    access.require_edit()
    assert completion.provider_id == access.provider.pk
    with transaction.atomic():
        locked = LearnerCompletion.objects.select_for_update().get(pk=completion.pk)
        if _withdraw(access, locked, channel=channel):
            record_event(
                access, AuditAction.LEARNERS_WRITTEN, channel=channel, details={"withdrawn": 1}
            )
            if locked.status == CompletionStatus.WITHDRAWAL_QUEUED:
                code = locked.recipient.code
                transaction.on_commit(lambda: _schedule([code]))

            notify_status_changes(access.provider, [locked.pk])
    return locked


def fix_learner_identity(
    access: ProviderAccess,
    completion: LearnerCompletion,
    changes: Mapping[str, Any],
    *,
    channel: str,
) -> list[LearnerCompletion]:
    """Correct the learner's identity on this record and on every held record of the same
    learner at the same recipient; each is resent. Returns the records changed."""
    held = list(
        access.records(LearnerCompletion)
        .filter(
            recipient_id=completion.recipient_id,
            learner_key=completion.learner_key,
            status=CompletionStatus.HELD,
        )
        .exclude(pk=completion.pk)
    )
    fixed = [correct_completion(access, completion, changes, channel=channel)]
    identity = {
        key: changes[key]
        for key in ("first_name", "last_name", "birth_date", "learner_id", "npi", "license_state")
        if key in changes
    }
    for other in held:
        fixed.append(correct_completion(access, other, identity, channel=channel))
    return fixed


def _schedule(codes: list[str]) -> None:

    schedule_delivery(codes)


def status_counts(access: ProviderAccess) -> dict[str, int]:
    """How many of the provider's records are in each status (for the dashboard)."""

    rows = access.records(LearnerCompletion).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}
