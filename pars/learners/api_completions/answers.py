"""A stored completion as the API answers it (list item and detail)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from pars.accounts.access import ProviderAccess
from pars.intake.fields import Kind
from pars.learners.api_common import (
    number,
    timestamp,
)
from pars.learners.dictionary import COMPLETION_FIELDS
from pars.learners.guidance import what_to_do
from pars.learners.models import (
    CompletionEvent,
    DeliveryItem,
    LearnerCompletion,
)

from .schemas import PERSONAL


def completion_url(completion_id: int) -> str:
    return reverse("api-v1:learner_completion", kwargs={"completion_id": completion_id})


def _value(spec: Any, completion: LearnerCompletion) -> Any:
    name = spec.name
    if name == "provider_activity_id":
        return completion.activity.provider_activity_id
    if name == "accme_activity_id":
        return completion.activity.accme_activity_id
    if name == "recipient":
        return completion.recipient.code
    if name == "birth_date":
        return f"{completion.birth_month:02d}-{completion.birth_day:02d}"
    value = getattr(completion, name)
    if spec.kind is Kind.DECIMAL:
        return number(value)
    if spec.kind is Kind.DATE:
        return value.isoformat()
    if spec.kind is Kind.TEXT_LIST:
        return list(value or [])
    return value


def completion_json(completion: LearnerCompletion, *, personal: bool) -> dict[str, Any]:
    """The record as the API answers it (personal fields only when asked for)."""
    data: dict[str, Any] = {"id": completion.pk, "url": completion_url(completion.pk)}
    for spec in COMPLETION_FIELDS:
        if personal or spec.name not in PERSONAL:
            data[spec.name] = _value(spec, completion)
    data.update(
        status=completion.status,
        status_label=completion.get_status_display(),
        status_reason=completion.status_reason,
        status_code=completion.status_code,
        what_to_do=what_to_do(completion, personal=personal),
        status_changed_at=timestamp(completion.status_changed_at),
        version=completion.version,
        last_channel=completion.last_channel,
        upload=completion.upload_id,
        created_at=timestamp(completion.created_at),
        updated_at=timestamp(completion.updated_at),
    )
    return data


def detail_json(access: ProviderAccess, completion: LearnerCompletion) -> dict[str, Any]:
    data = completion_json(completion, personal=True)
    data["events"] = [
        {
            "at": timestamp(event.at),
            "kind": event.kind,
            "label": event.get_kind_display(),
            "version": event.version,
            "channel": event.channel,
            "changed_fields": list(event.changed_fields or []),
            "detail": event.detail,
        }
        for event in access.records(CompletionEvent)
        .filter(completion=completion)
        .order_by("at", "id")
    ]
    data["deliveries"] = [
        {
            "version": item.version,
            "action": item.action,
            "outcome": item.outcome,
            "reason": item.reason,
            "reason_code": item.reason_code,
            "batch_status": item.batch.status,
            "sent_at": timestamp(item.batch.sent_at),
            "finished_at": timestamp(item.batch.finished_at),
        }
        for item in access.records(DeliveryItem)
        .filter(completion=completion)
        .select_related("batch")
        .order_by("id")
    ]
    return data


def _records(access: ProviderAccess) -> QuerySet[LearnerCompletion]:
    return access.records(LearnerCompletion).select_related("activity", "recipient")
