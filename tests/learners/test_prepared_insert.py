"""The completion writer's SQLite path (prepared multi-row INSERTs, no model instances)
stores exactly what Django's bulk_create stores for the same records, and gives each
record its own id."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection, transaction

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.learners.models import LearnerCompletion
from pars.learners.services.insert import _insert
from pars.learners.services.writer import _insert_prepared
from pars.learners.validation import CleanCompletion, load_recipients
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register
from tests.support.learners import clean_completion

pytestmark = pytest.mark.skipif(
    connection.vendor == "postgresql", reason="PostgreSQL inserts big batches through COPY"
)
TODAY = datetime.date(2026, 11, 27)
OWN = {"id", "created_at", "updated_at", "status_changed_at"}  # differ by design
COLUMNS = [f.attname for f in LearnerCompletion._meta.concrete_fields if f.name not in OWN]


class _Undo(Exception):
    pass


def _stored(ids: list[int | None]) -> list[dict[str, Any]]:
    rows = {row["id"]: row for row in LearnerCompletion.objects.values("id", *COLUMNS)}
    return [{name: rows[pk][name] for name in COLUMNS} for pk in ids if pk is not None]


def test_the_prepared_insert_stores_what_bulk_create_stores(
    provider: Provider, editor: User
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    activity = make_activity(provider, provider_activity_id="GR-1")
    registration = register(activity, "ABIM")
    recipients = load_recipients()
    records: list[CleanCompletion] = [
        clean_completion(
            learner_row(
                activity,
                learner_id=f"{100_000 + number}",
                last_name=f"Learner {number}",
                cme_credits=("10", "2.5", "0.25")[number % 3],
                moc_points=("10", "2", "1")[number % 3],
                completion_date=("2026-03-02", "2026-03-01", "2026-03-02")[number % 3],
            ),
            recipients=recipients,
            today=TODAY,
        )
        for number in range(40)
    ]
    new = [(activity.pk, registration.recipient_id, record) for record in records]

    try:
        with transaction.atomic():
            ids = _insert_prepared(access, new, channel="tsv", upload=None)
            ours = _stored(ids)
            raise _Undo
    except _Undo:
        pass
    reference = _stored(_insert(access, new, channel="tsv", upload=None, use_copy=False))

    assert len(ours) == len(records) == len(set(ids))
    assert ours == reference
    # Each id is its own record's.
    assert [row["learner_key"] for row in ours] == [record.learner_key for record in records]
