"""The only writers of activities: every channel ends here after the validator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction

from pars.accounts.access import ProviderAccess
from pars.activities.models import Activity, CommercialSupport
from pars.activities.validation import RULES, CleanActivity, FieldError

_VALUE_FIELDS = [
    f.name
    for f in Activity._meta.concrete_fields
    if f.name not in ("id", "provider", "provider_activity_id", "created_at")
]


@dataclass
class BatchResult:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    errors: list[FieldError] = field(default_factory=list)


def apply_activities(
    access: ProviderAccess, records: Sequence[tuple[int | None, CleanActivity]], *, channel: str
) -> BatchResult:
    """Write validated activities: upsert by Provider Activity ID, or delete.

    All or nothing: runs in one transaction (nested in the caller's, if any) and
    raises nothing for user mistakes; a delete of an unknown ID comes back as an
    error and the caller decides whether to roll back.
    """
    access.require_edit()
    result = BatchResult()
    deletes = [(row, record) for row, record in records if record.action == "delete"]
    upserts = [record for _, record in records if record.action == "upsert"]
    with transaction.atomic():
        if deletes:
            ids = [record.provider_activity_id for _, record in deletes]
            known = set(
                access.records(Activity)
                .filter(provider_activity_id__in=ids)
                .values_list("provider_activity_id", flat=True)
            )
            for row, record in deletes:
                if record.provider_activity_id not in known:
                    rule = "activity.provider_activity_id.unknown"
                    result.errors.append(
                        FieldError(row, "provider_activity_id", rule, RULES[rule].message)
                    )
            result.deleted, _ = (
                access.records(Activity).filter(provider_activity_id__in=known).delete()
            )
            result.deleted = len(known)
        if upserts:
            _upsert(access, upserts, channel, result)
    return result


def _upsert(
    access: ProviderAccess, records: list[CleanActivity], channel: str, result: BatchResult
) -> None:
    keys = [record.provider_activity_id for record in records]
    existing = set(
        access.records(Activity)
        .filter(provider_activity_id__in=keys)
        .values_list("provider_activity_id", flat=True)
    )
    result.updated += len(existing)
    result.added += len(set(keys) - existing)
    activities = [
        Activity(provider=access.provider, last_channel=channel, **record.values)
        for record in records
    ]
    Activity.objects.bulk_create(
        activities,
        update_conflicts=True,
        unique_fields=["provider", "provider_activity_id"],
        update_fields=_VALUE_FIELDS,
    )
    # A written record replaces its supporters as a whole.
    CommercialSupport.objects.filter(
        provider=access.provider, activity__in=[activity.pk for activity in activities]
    ).delete()
    CommercialSupport.objects.bulk_create(
        CommercialSupport(
            provider=access.provider, activity=activity, position=position, **supporter
        )
        for activity, record in zip(activities, records, strict=True)
        for position, supporter in enumerate(record.supporters, start=1)
    )


def save_activity(access: ProviderAccess, record: CleanActivity, *, channel: str) -> Activity:
    """Write one validated activity (web form, JSON) and return it."""
    apply_activities(access, [(None, record)], channel=channel)
    return access.get(Activity, provider_activity_id=record.provider_activity_id)


def delete_activity(access: ProviderAccess, activity: Activity) -> None:
    access.require_edit()
    access.records(Activity).filter(pk=activity.pk).delete()
