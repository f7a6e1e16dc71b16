"""Held records: resend those whose learner now matches the recipient's registry."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from pars.learners.connectors.base import MATCH, MatchingUnavailable, connector_for
from pars.learners.delivery.queueing import BATCH_SIZE, notify_webhooks, schedule_delivery
from pars.learners.dictionary import group_names, stored_names
from pars.learners.models import (
    CompletionEvent,
    CompletionEventKind,
    CompletionStatus,
    LearnerCompletion,
    Recipient,
)

logger = logging.getLogger(__name__)


# The learner's identity as stored (the birth date as month and day): what the
# recipient's registry matches on.
_IDENTITY = stored_names(group_names("learner"))


def _identity(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: values[name] for name in _IDENTITY}


def release_held(code: str) -> int:
    """Resend the recipient's held records whose learner now matches its registry.

    Each released record gets a new version (queued, event "released"); delivery is
    scheduled. Returns how many were released (0 when the connector cannot match). A
    recipient that matches no learners (REMS) holds nothing: all its held records go.
    """
    recipient = Recipient.objects.filter(code=code).first()
    if recipient is None:
        return 0
    if not recipient.matches_learners:
        return _release_all(recipient)
    held = list(
        LearnerCompletion.objects.filter(recipient=recipient, status=CompletionStatus.HELD)
        .order_by("pk")
        .values("pk", "provider__sandbox_of", *_IDENTITY)
    )
    released = 0
    # A sandbox's records are matched by the registry simulator, never by the recipient.
    for sandbox in (False, True):
        connector = connector_for(recipient, sandbox=sandbox)
        rows = [row for row in held if (row["provider__sandbox_of"] is not None) == sandbox]
        for start in range(0, len(rows), BATCH_SIZE):
            chunk = rows[start : start + BATCH_SIZE]
            try:
                outcomes = connector.match_learners(recipient, [_identity(row) for row in chunk])
            except MatchingUnavailable as error:
                logger.info("Release %s: matching unavailable: %s", recipient.code, error)
                return released
            matched = [
                row["pk"]
                for row, outcome in zip(chunk, outcomes, strict=True)
                if outcome.status == MATCH
            ]
            released += _release(recipient, matched)
    if released:
        logger.info("Release %s: %d held records released", recipient.code, released)
        transaction.on_commit(lambda: schedule_delivery([recipient.code]))
    return released


def _release_all(recipient: Recipient) -> int:
    held = LearnerCompletion.objects.filter(recipient=recipient, status=CompletionStatus.HELD)
    ids = list(held.order_by("pk").values_list("pk", flat=True))
    released = sum(
        _release(recipient, ids[start : start + BATCH_SIZE])
        for start in range(0, len(ids), BATCH_SIZE)
    )
    if released:
        logger.info("Release %s: %d held records released", recipient.code, released)
        transaction.on_commit(lambda: schedule_delivery([recipient.code]))
    return released


def _release(recipient: Recipient, completion_ids: list[int]) -> int:
    if not completion_ids:
        return 0
    now = timezone.now()
    changed: dict[int, list[int]] = defaultdict(list)
    with transaction.atomic():
        completions = list(
            LearnerCompletion.objects.select_for_update().filter(
                pk__in=completion_ids, status=CompletionStatus.HELD
            )
        )
        for completion in completions:
            completion.version += 1
            completion.status = CompletionStatus.QUEUED
            completion.status_reason = ""
            completion.status_code = ""
            completion.status_changed_at = now
            completion.updated_at = now
            completion.batch = None
            changed[completion.provider_id].append(completion.pk)
        LearnerCompletion.objects.bulk_update(
            completions,
            [
                "version",
                "status",
                "status_reason",
                "status_code",
                "status_changed_at",
                "updated_at",
                "batch",
            ],
        )
        CompletionEvent.objects.bulk_create(
            CompletionEvent(
                provider_id=completion.provider_id,
                completion=completion,
                kind=CompletionEventKind.RELEASED,
                version=completion.version,
                detail=(
                    f"The learner now matches the {recipient.code} registry; resent."
                    if recipient.matches_learners
                    else f"{recipient.code} records are reported, not matched; resent."
                ),
            )
            for completion in completions
        )
        notify_webhooks(changed)
    return len(completions)
