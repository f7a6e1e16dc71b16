"""Dry runs ("validate only"): a write run as it would really run, then undone.

Every write of the web service (activity create and update, learner completion
batches) and every upload (API and pages) takes ``dry_run=true``. One mechanism serves
them all, so that a dry run cannot drift from the real thing: the real code runs inside
a transaction (a savepoint when one is open already), its answer is captured, and the
transaction is rolled back. The answer is the real run's (outcomes, errors with their
rule IDs, counts, status code); the provider's data is as it was.

What a rolled-back transaction takes with it: every row written, and every
``transaction.on_commit`` callback registered inside it (Django discards them), which
is how learner deliveries to boards, webhooks and notification emails are queued, so
none of them fires. Rate limits count in the cache, outside the database, so a dry run
counts as a request like any other.

A file upload is a job (``Upload``): its row is kept, marked ``dry_run``, and its job
rolls back the records it wrote but keeps its result and errors (see
``pars.intake.process``). A JSON dry run leaves one audit event (``AuditAction.DRY_RUN``)
written after the rollback, with the answer's status and counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

from pars.accounts.access import ProviderAccess
from pars.audit.models import AuditAction
from pars.audit.services import record_event

# What the OpenAPI document says of the parameter, on every write that takes it.
DESCRIPTION = (
    "`true`: check only. The request is processed exactly as it would be (the same "
    "answer: status code, outcomes, errors with rule IDs, counts) but nothing is saved, "
    "no learner data is delivered and no webhook fires. It is recorded in the audit trail "
    "as a dry run."
)
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})


def wanted(value: object) -> bool:
    """Whether a query or form value asks for a dry run (`true`, `1`, `yes`, `on`)."""
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in TRUE_WORDS


class _Undo(Exception):  # not an error: the way out of the transaction
    """Raised at the end of a dry run's transaction, carrying its answer out."""

    def __init__(self, answer: Any) -> None:
        super().__init__("dry run")
        self.answer = answer


def rehearse[T](work: Callable[[], T]) -> T:
    """Run `work` as a real run, roll back everything it wrote, and return its answer.

    Every database write of `work` and every ``on_commit`` callback it registered is
    discarded; an exception of `work` propagates (after the rollback) as it would."""
    try:
        with transaction.atomic():
            raise _Undo(work())
    except _Undo as undone:
        answer: T = undone.answer
        return answer


def audit(
    access: ProviderAccess,
    *,
    channel: str,
    description: str,
    details: dict[str, Any] | None = None,
) -> None:
    """The audit event of a dry run (written after its rollback, so it stays)."""
    record_event(
        access,
        AuditAction.DRY_RUN,
        channel=channel,
        description=description,
        details={"dry_run": True, **(details or {})},
    )
