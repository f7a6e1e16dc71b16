"""The audit trail pages: a provider's events (staff), one activity's history (staff, and
the provider's own users from the activity's page).

Read-only; everything is reached through the provider's access, so state-accreditor
staff see only the providers their society accredits (404 otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.decorators import provider_view, staff_view
from pars.activities.dictionary import FIELDS_BY_NAME, SUPPORTER_FIELDS_BY_NAME
from pars.activities.models import Activity, ActivityChange, ActivityStatus
from pars.audit.models import AuditAction, AuditEvent
from pars.intake.models import Channel
from pars.reporting.services import PROGRAM_SUMMARY_FIELDS

EVENTS_PER_PAGE = 25
CHANGES_PER_EVENT = 10  # on the list; "show all" pages through the rest
CHANGES_PER_PAGE = 100

CHANNELS = dict(Channel.choices)


def channel_label(channel: str) -> str:
    return CHANNELS.get(channel, channel)


def field_label(name: str) -> str:
    if name in FIELDS_BY_NAME:
        return FIELDS_BY_NAME[name].label
    if name in PROGRAM_SUMMARY_FIELDS:
        return PROGRAM_SUMMARY_FIELDS[name]
    if name == "supporters":
        return "Commercial Supporters"
    try:
        model_field = Activity._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(model_field, "verbose_name", name)).capitalize()


def _plain(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(_plain(item) for item in value)
    if isinstance(value, dict):
        if "source" in value:  # a commercial supporter
            parts = [
                f"{SUPPORTER_FIELDS_BY_NAME[key].label}: {_plain(item)}"
                for key, item in value.items()
                if key in SUPPORTER_FIELDS_BY_NAME
                and key != "source"
                and item not in (None, "", [], False)
            ]
            return str(value["source"]) + (f" ({', '.join(parts)})" if parts else "")
        return ", ".join(f"{key}: {_plain(item)}" for key, item in value.items())
    return str(value)


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: str
    new: str


def _labelled(name: str, value: Any) -> Any:
    """Choice codes as the labels people know (``enduring`` → "Enduring Material")."""
    choices: Mapping[str, str] = {}
    if name == "status":
        choices = dict(ActivityStatus.choices)
    elif name in FIELDS_BY_NAME:
        choices = FIELDS_BY_NAME[name].choices
    if not choices:
        return value
    if isinstance(value, list):
        return [choices.get(item, item) if isinstance(item, str) else item for item in value]
    return choices.get(value, value) if isinstance(value, str) else value


def field_changes(changes: dict[str, Any]) -> list[FieldChange]:
    """A stored {field: [old, new]} mapping as rows to show."""
    rows = []
    for name, pair in changes.items():
        old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
        rows.append(
            FieldChange(
                name,
                field_label(name),
                _plain(_labelled(name, old)),
                _plain(_labelled(name, new)),
            )
        )
    return rows


@dataclass(frozen=True)
class ChangeRow:
    change: ActivityChange
    fields: list[FieldChange]


@dataclass(frozen=True)
class EventRow:
    event: AuditEvent
    channel: str
    created: int  # activities created by this event that still exist
    change_count: int
    changes: list[ChangeRow]
    summary_changes: list[FieldChange]  # program-summary figures, from the event's details

    @property
    def more_changes(self) -> int:
        return self.change_count - len(self.changes)


def _change_rows(changes: Any) -> list[ChangeRow]:
    return [ChangeRow(change, field_changes(change.changes)) for change in changes]


def _event_rows(access: ProviderAccess, events: list[AuditEvent], limit: bool) -> list[EventRow]:
    created = dict(
        access.records(Activity)
        .filter(created_by_event__in=events)
        .values("created_by_event")
        .annotate(count=Count("id"))
        .values_list("created_by_event", "count")
    )
    rows = []
    for event in events:
        changes = getattr(event, "first_changes", []) if limit else []
        summary = event.details.get("changes") if isinstance(event.details, dict) else None
        rows.append(
            EventRow(
                event=event,
                channel=channel_label(event.channel),
                created=created.get(event.pk, 0),
                change_count=event.change_count,  # type: ignore[attr-defined]
                changes=_change_rows(changes),
                summary_changes=field_changes(summary) if isinstance(summary, dict) else [],
            )
        )
    return rows


@staff_view
def provider_audit(request: HttpRequest, provider_id: str) -> HttpResponse:
    """The provider's audit events, newest first, with what each changed."""
    access = get_provider_access(request.user, provider_id)
    event_id = request.GET.get("event", "")
    if event_id.isdigit():
        return _one_event(request, access, int(event_id))
    events = _events(access)
    action = request.GET.get("action", "")
    if action in AuditAction.values:
        events = events.filter(action=action)
    channel = request.GET.get("channel", "")
    if channel:
        events = events.filter(channel=channel)
    events = events.prefetch_related(
        Prefetch(
            "activity_changes",
            queryset=access.records(ActivityChange).order_by("provider_activity_id", "id")[
                :CHANGES_PER_EVENT
            ],
            to_attr="first_changes",  # a sliced prefetch needs its own attribute
        )
    )
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    channels = sorted(set(access.records(AuditEvent).values_list("channel", flat=True)))
    filters = QueryDict(mutable=True)
    filters.update(
        {key: value for key, value in (("action", action), ("channel", channel)) if value}
    )
    return render(
        request,
        "audit/provider.html",
        {
            "access": access,
            "provider": access.provider,
            "page": page,
            "rows": _event_rows(access, list(page.object_list), limit=True),
            "actions": AuditAction.choices,
            "action": action,
            "channels": [(value, channel_label(value)) for value in channels],
            "channel": channel,
            "filters": filters.urlencode(),
        },
    )


def _events(access: ProviderAccess) -> QuerySet[AuditEvent]:
    return (
        access.records(AuditEvent)
        .select_related("user", "api_key")
        .annotate(change_count=Count("activity_changes"))
        .order_by("-at", "-id")
    )


def _one_event(request: HttpRequest, access: ProviderAccess, event_pk: int) -> HttpResponse:
    """One event with all of its activity changes, paginated."""
    event = _events(access).filter(pk=event_pk).first()
    if event is None:
        raise Http404("No such event.")
    changes = access.records(ActivityChange).filter(event=event).order_by("provider_activity_id")
    page = Paginator(changes, CHANGES_PER_PAGE).get_page(request.GET.get("page"))
    row = _event_rows(access, [event], limit=False)[0]
    return render(
        request,
        "audit/event.html",
        {
            "access": access,
            "provider": access.provider,
            "row": row,
            "page": page,
            "changes": _change_rows(page.object_list),
        },
    )


@dataclass(frozen=True)
class HistoryRow:
    event: AuditEvent
    channel: str
    action: str  # "created", "updated", "deleted"
    fields: list[FieldChange]


@staff_view
def activity_audit(
    request: HttpRequest, provider_id: str, provider_activity_id: str
) -> HttpResponse:
    """One activity's history, for staff (from the provider's audit trail)."""
    access = get_provider_access(request.user, provider_id)
    return _activity_history(request, access, provider_activity_id, staff_page=True)


@provider_view()
def provider_activity_history(
    request: HttpRequest, access: ProviderAccess, pk: int
) -> HttpResponse:
    """One activity's history, for the provider's own users (any role may read it)."""
    activity = get_object_or_404(access.records(Activity), pk=pk)
    return _activity_history(request, access, activity.provider_activity_id, staff_page=False)


def _activity_history(
    request: HttpRequest, access: ProviderAccess, provider_activity_id: str, *, staff_page: bool
) -> HttpResponse:
    """The event that created the activity and every change since, newest first."""
    activity = (
        access.records(Activity)
        .filter(provider_activity_id=provider_activity_id)
        .select_related("created_by_event__user", "created_by_event__api_key")
        .first()
    )
    changes = (
        access.records(ActivityChange)
        .filter(provider_activity_id=provider_activity_id)
        .select_related("event__user", "event__api_key")
        .order_by("-event__at", "-id")
    )
    rows = [
        HistoryRow(
            change.event,
            channel_label(change.event.channel),
            change.action,
            field_changes(change.changes),
        )
        for change in changes
    ]
    created_event = activity.created_by_event if activity else None
    if created_event is not None:
        rows.append(HistoryRow(created_event, channel_label(created_event.channel), "created", []))
        rows.sort(key=lambda row: (row.event.at, row.event.pk), reverse=True)
    if activity is None and not rows:
        raise Http404("No such activity.")
    return render(
        request,
        "audit/activity.html",
        {
            "access": access,
            "provider": access.provider,
            "activity": activity,
            "provider_activity_id": provider_activity_id,
            "rows": rows,
            "staff_page": staff_page,
        },
    )
