"""Reading what a completion is written against: activities and their registrations
(cached across the batches of a file), the rules that need them, and the dashboard's counts."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, Q, Subquery

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity
from pars.activities.services import activities_by_key
from pars.learners.models import (
    ActivityRegistration,
    CompletionStatus,
    LearnerCompletion,
)
from pars.learners.validation import (
    PART_MARK,
    RULES,
    CleanCompletion,
    FieldError,
    RecipientRules,
    RefusedFacts,
)


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
    # Points of each learner's records by (recipient, learner, day), then by learner key
    # (its credit-type part): the stored ones, and those this file has passed since.
    day_points: dict[tuple[str, str, datetime.date], dict[str, Decimal]] = field(
        default_factory=dict, compare=False
    )


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

    def load_day_points(
        self,
        records: Iterable[tuple[int | None, CleanCompletion]],
        recipients: Mapping[str, RecipientRules],
    ) -> None:
        """The stored points of each learner and day the batch's records add to, for the
        recipients whose records share the registered points: one query per batch, not
        one per record (see _day_total_errors)."""
        # Most recipients' records need none: they are passed over at once.
        within = {
            code for code, rules in recipients.items() if rules.records_within_registered_points
        }
        if not within:
            return
        wanted: list[tuple[_ActivityInfo, tuple[str, str, datetime.date]]] = []
        for _, record in records:
            if record.recipient not in within:
                continue
            info = self.get(record.activity_ref)
            if (
                record.action == "delete"
                or info is None
                or record.recipient not in info.registrations
            ):
                continue
            learner = record.learner_key.partition(PART_MARK)[0]
            day = (record.recipient, learner, record.completion_date)
            if day in info.day_points:
                continue
            info.day_points[day] = {}
            recipient_pk = info.registrations[record.recipient].recipient_pk
            if (info.pk, recipient_pk) not in self.fresh:
                wanted.append((info, day))
        if not wanted:
            return
        by_pk = {info.pk: info for info, _ in wanted}
        rows = (
            self.access.records(LearnerCompletion)
            .filter(
                # The learners themselves, and the (rare) separate-credit records of anyone.
                Q(learner_key__in={day[1] for _, day in wanted})
                | Q(learner_key__contains=PART_MARK),
                activity_id__in=by_pk,
                recipient__code__in={day[0] for _, day in wanted},
                completion_date__in={day[2] for _, day in wanted},
            )
            .exclude(status=CompletionStatus.WITHDRAWN)
            .values_list(
                "activity_id", "recipient__code", "learner_key", "completion_date", "moc_points"
            )
        )
        for activity_pk, code, key, date, points in rows:
            parts = by_pk[activity_pk].day_points.get((code, key.partition(PART_MARK)[0], date))
            if parts is not None:
                parts[key] = points or Decimal(0)


def _error(row: int | None, field_name: str, rule: str, message: str | None = None) -> FieldError:
    return FieldError(row, field_name, rule, message or RULES[rule].message)


def _against_activity(
    row: int | None,
    record: CleanCompletion | RefusedFacts,
    info: _ActivityInfo | None,
    recipient: RecipientRules,
    today: datetime.date,
) -> list[FieldError]:
    """The rules that need the activity and its registration: every one whose values are
    known is judged (a refused record's too, see refused_facts), not only the first."""
    if info is None:
        field_name = "provider_activity_id" if record.provider_activity_id else "accme_activity_id"
        return [
            _error(
                row,
                field_name,
                "learner.activity.not_found",
                f"No activity of yours has the ID '{record.activity_ref.lstrip('#')[:100]}'.",
            )
        ]
    errors = []
    registered = info.registrations.get(record.recipient)
    if registered is None:
        errors.append(
            _error(
                row,
                "recipient",
                "learner.activity.not_registered",
                f"Activity '{info.provider_activity_id}' is not registered for "
                f"{record.recipient}; register it first (Activity → Registrations).",
            )
        )
    if record.action == "delete":
        return errors
    day = record.completion_date
    if day is not None and not info.start_date <= day <= info.end_date:
        errors.append(
            _error(
                row,
                "completion_date",
                "learner.completion_date.outside_activity",
                f"Completion Date {day:%m/%d/%Y} is outside the activity's "
                f"dates ({info.start_date:%m/%d/%Y} – {info.end_date:%m/%d/%Y}).",
            )
        )
    if registered is None:
        return errors
    errors.extend(_registration_errors(row, record, info, registered, recipient, today, errors))
    return errors


# A registration's verdict on the values of a record that do not change from one of its
# records to the next: by id() of the registration, MOC points and credit types.
ActivityVerdicts = dict[tuple[int, Decimal | None, tuple[str, ...]], bool]


def activity_passes(
    record: CleanCompletion,
    info: _ActivityInfo,
    recipient: RecipientRules,
    today: datetime.date,
    verdicts: ActivityVerdicts,
) -> bool:
    """True when _against_activity() would find no error in the record, judged at once
    for the records big batches are made of: added, dated within the activity, for a
    recipient it is registered for that does not count a learner's day (that verdict
    depends on the records before it). The registration's rules are judged by
    _registration_errors() once per registration, points and credit types (`verdicts`:
    one batch's, with `recipient` and `today` the same for all). False: ask
    _against_activity() (tests/learners/test_activity_checks.py: the two agree)."""
    if record.action == "delete" or recipient.records_within_registered_points:
        return False
    registered = info.registrations.get(record.recipient)
    day = record.completion_date
    if registered is None or day is None or not info.start_date <= day <= info.end_date:
        return False
    key = (id(registered), record.moc_points, tuple(record.moc_credit_types))
    verdict = verdicts.get(key)
    if verdict is None:
        verdict = verdicts[key] = not _registration_errors(
            None, record, info, registered, recipient, today, []
        )
    return verdict


def _registration_errors(
    row: int | None,
    record: CleanCompletion | RefusedFacts,
    info: _ActivityInfo,
    registered: _Registered,
    recipient: RecipientRules,
    today: datetime.date,
    found: list[FieldError],
) -> list[FieldError]:
    """The rules that need the registration (``found``: the record's errors so far)."""
    errors = []
    if registered.credit_claim_date and today > registered.credit_claim_date:
        errors.append(
            _error(
                row,
                "completion_date",
                "learner.credit_claim_date.passed",
                f"{record.recipient} took completions of this activity until "
                f"{registered.credit_claim_date:%m/%d/%Y}.",
            )
        )
    if recipient.is_moc:
        errors.extend(_moc_errors(row, record, registered, recipient))
    over = any(error.rule == "learner.moc_points.over_registered" for error in errors)
    # A refused record has no learner key: its day is not judged. Points over the
    # registration are over the day's too (not said twice).
    if (
        not isinstance(record, RefusedFacts)
        and not over
        and recipient.records_within_registered_points
    ):
        count = not found and not errors  # only a record to be written counts in the day
        errors.extend(_day_total_errors(row, record, info, registered, count=count))
    return errors


def _day_total_errors(
    row: int | None,
    record: CleanCompletion,
    info: _ActivityInfo,
    registered: _Registered,
    *,
    count: bool = True,
) -> list[FieldError]:
    """A learner's records of one activity and day (a board's separate credit types are
    records of their own) together within the registered points (the Recipient row's
    ``records_within_registered_points``)."""
    if record.moc_points is None or registered.moc_points is None:
        return []
    learner = record.learner_key.partition(PART_MARK)[0]
    day = (record.recipient, learner, record.completion_date)
    parts = info.day_points.get(day)
    if parts is None:  # not loaded with its batch (ActivityLookup.load_day_points)
        parts = info.day_points[day] = _stored_points(info.pk, registered, learner, day[2])
    total = record.moc_points + sum(
        (points for key, points in parts.items() if key != record.learner_key), Decimal(0)
    )
    if total > registered.moc_points:
        return [
            _error(
                row,
                "moc_points",
                "learner.moc_points.over_day_total",
                f"This learner's {record.recipient} records of {info.provider_activity_id} "
                f"dated {record.completion_date:%m/%d/%Y} would hold {total} points; the "
                f"activity is registered for {registered.moc_points}.",
            )
        ]
    if count:
        parts[record.learner_key] = record.moc_points
    return []


def _stored_points(
    activity_pk: int, registered: _Registered, learner: str, day: datetime.date
) -> dict[str, Decimal]:
    """The points of the learner's stored (not withdrawn) records of the activity and day."""
    rows = (
        LearnerCompletion.objects.filter(
            Q(learner_key=learner) | Q(learner_key__startswith=learner + PART_MARK),
            activity_id=activity_pk,
            recipient_id=registered.recipient_pk,
            completion_date=day,
        )
        .exclude(status=CompletionStatus.WITHDRAWN)
        .values_list("learner_key", "moc_points")
    )
    return {key: points or Decimal(0) for key, points in rows}


def _moc_errors(
    row: int | None,
    record: CleanCompletion | RefusedFacts,
    registered: _Registered,
    recipient: RecipientRules,
) -> list[FieldError]:
    """The MOC rules that need the registration: its points and its credit types."""
    errors = []
    points = record.moc_points
    if points is not None and registered.moc_points is not None:
        if points > registered.moc_points:
            errors.append(
                _error(
                    row,
                    "moc_points",
                    "learner.moc_points.over_registered",
                    f"MOC Points ({points}) exceed the {registered.moc_points} the activity "
                    f"is registered for with {record.recipient}.",
                )
            )
        elif not recipient.variable_credit and points != registered.moc_points:
            errors.append(
                _error(
                    row,
                    "moc_points",
                    "learner.moc_points.not_variable",
                    f"{record.recipient} accepts no variable credit: report the registered "
                    f"{registered.moc_points} points.",
                )
            )
    if not record.moc_credit_types or not registered.credit_types:
        return errors
    unregistered = [name for name in record.moc_credit_types if name not in registered.credit_types]
    if unregistered:
        errors.append(
            _error(
                row,
                "moc_credit_types",
                "learner.moc_credit_types.not_registered",
                f"MOC Credit Types: {', '.join(unregistered)} not registered for this "
                f"activity (registered: {', '.join(sorted(registered.credit_types))}).",
            )
        )
    return errors


def status_counts(access: ProviderAccess) -> dict[str, int]:
    """How many of the provider's records are in each status (for the dashboard)."""

    rows = access.records(LearnerCompletion).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}
