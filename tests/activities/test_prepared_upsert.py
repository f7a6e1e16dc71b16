"""The activity writer's SQLite path (one prepared INSERT … ON CONFLICT, no model
instances) stores exactly what Django's bulk_create stores for the same records: every
column, new and updated, with and without commercial supporters."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity, CommercialSupport
from pars.activities.services import apply_activities
from pars.activities.validation import CleanActivity, validate_activity
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.providers.models import Provider
from pars.testing import make_member, make_provider
from tests.support.faults import ROOT  # noqa: F401  (puts bench/ on the path)

pytestmark = pytest.mark.skipif(
    connection.vendor == "postgresql", reason="PostgreSQL writes through COPY"
)
# Bookkeeping that differs between two writes by design.
OWN = {"id", "provider", "created_at", "updated_at", "created_by_event"}
COLUMNS = [f.attname for f in Activity._meta.concrete_fields if f.name not in OWN]


def _records(count: int, **changes: Any) -> list[tuple[int | None, CleanActivity]]:
    from activities_upload import raw_rows  # bench/

    records: list[tuple[int | None, CleanActivity]] = []
    for number, raw in enumerate(raw_rows(count), start=2):
        record, errors = validate_activity({**raw, **changes}, row=number)
        assert record is not None, errors
        records.append((number, record))
    return records


def _stored(provider: Provider) -> dict[str, tuple[Any, ...]]:
    rows = Activity.objects.filter(provider=provider).order_by("provider_activity_id")
    supporters = CommercialSupport.objects.filter(provider=provider).order_by("position")
    by_activity: dict[int, list[Any]] = {}
    for activity, *values in supporters.values_list(
        "activity", "source", "monetary_amount", "in_kind"
    ):
        by_activity.setdefault(activity, []).append(values)
    return {
        row["provider_activity_id"]: (
            *(row[name] for name in COLUMNS),
            by_activity.get(row["id"], []),
        )
        for row in rows.values("id", *COLUMNS)
    }


def _bulk_create(
    provider: Provider, user: User, records: list[tuple[int | None, CleanActivity]]
) -> None:
    """The reference: what the writer did before, through Django's bulk_create."""
    access = get_provider_access(user, provider.provider_id)
    event = record_event(access, AuditAction.ACTIVITIES_WRITTEN, channel="tsv")
    activities = Activity.objects.bulk_create(
        [
            Activity(provider=provider, last_channel="tsv", created_by_event=event, **r.values)
            for _, r in records
        ],
        update_conflicts=True,
        unique_fields=["provider", "provider_activity_id"],
        update_fields=[f.name for f in Activity._meta.concrete_fields if f.name not in OWN],
    )
    CommercialSupport.objects.filter(activity__in=activities).delete()
    CommercialSupport.objects.bulk_create(
        CommercialSupport(provider=provider, activity=a, position=n, **s)
        for a, (_, r) in zip(activities, records, strict=True)
        for n, s in enumerate(r.supporters, start=1)
    )


def test_the_prepared_upsert_stores_what_bulk_create_stores(db: None) -> None:
    ours, reference = make_provider(provider_id="0007501"), make_provider(provider_id="0007502")
    user = make_member(ours, email="prep@ours.example")
    other = make_member(reference, email="prep@reference.example")
    access = get_provider_access(user, ours.provider_id)
    first, changed = (
        _records(60),
        _records(
            60, city="Bangor", ama_credits="2.25", commercial_support_received="No", supporters=[]
        ),
    )

    result = apply_activities(access, first, channel="tsv")
    assert result.added == 60
    _bulk_create(reference, other, first)
    assert _stored(ours) == _stored(reference)

    result = apply_activities(access, changed, channel="tsv")
    assert result.updated == 60
    _bulk_create(reference, other, changed)
    assert _stored(ours) == _stored(reference)
