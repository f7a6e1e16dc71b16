"""The one way other apps tell users something: :func:`notify`.

It writes an inbox item for each user and queues one email per user who has not turned
that kind of email off; the task worker sends them (pars.notifications.tasks), after
the caller's transaction commits, so a rolled-back action tells no one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from pars.accounts.access import ProviderAccess, providers_visible_to
from pars.accounts.models import Membership, Role, User
from pars.notifications.models import Kind, Notification, NotificationPreference
from pars.providers.models import Provider

EVERYONE = (Role.ADMIN, Role.EDITOR, Role.READONLY)
WRITERS = (Role.ADMIN, Role.EDITOR)  # those who can act on what they are told


def provider_users(provider: Provider, roles: Sequence[str] = WRITERS) -> list[User]:
    """The provider's active users with one of these roles, by email."""
    access = ProviderAccess(provider=provider, user=None, role=None)
    memberships = (
        access.records(Membership)
        .filter(role__in=roles, user__is_active=True)
        .select_related("user")
        .order_by("user__email")
    )
    return [membership.user for membership in memberships]


def email_opted_out(user_ids: Iterable[int], kind: str) -> set[int]:
    """Which of these users turned this kind of email off (the default is on)."""
    return set(
        NotificationPreference.objects.filter(
            user_id__in=list(user_ids), kind=kind, email=False
        ).values_list("user_id", flat=True)
    )


def email_choices(user: User) -> dict[str, bool]:
    """Every kind with whether this user gets its email."""
    off = set(
        NotificationPreference.objects.filter(user=user, email=False).values_list("kind", flat=True)
    )
    return {kind: kind not in off for kind in Kind.values}


def set_email_choices(user: User, offered: Iterable[str], wanted: Iterable[str]) -> None:
    """Save the choice for each kind offered: on if wanted, off otherwise."""
    wanted = set(wanted)
    with transaction.atomic():
        for kind in offered:
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"email": kind in wanted}
            )


def notify(
    users: Iterable[User],
    kind: str,
    title: str,
    *,
    body: str = "",
    link: str = "",
    provider: Provider | None = None,
    key: str = "",
    email: bool = True,
) -> list[Notification]:
    """Tell these users something: an inbox item each, an email to those who want it.

    With a ``key``, a user who already has a notification with that key is not told
    again (a digest per day, an upload's end when its job runs twice). ``email=False``
    for callers that send their own mail (the deadline reminder). Returns what was new.
    """
    assert kind in Kind.values, kind
    recipients = {user.pk: user for user in users if user.is_active}
    fields = {
        "kind": kind,
        "title": title[:200],
        "body": body,
        "link": link,
        "provider": provider,
    }
    created: list[Notification] = []
    if key:
        for user in recipients.values():
            notification, new = Notification.objects.get_or_create(
                user=user, key=key, defaults=fields
            )
            if new:
                created.append(notification)
    else:
        created = Notification.objects.bulk_create(
            [Notification(user=user, **fields) for user in recipients.values()]
        )
    if email and created:
        off = email_opted_out((n.user_id for n in created), kind)
        # Someone invited who never set a password has not taken the access up: the inbox
        # keeps their news for their first sign-in, but no provider news goes to that address.
        pending = {pk for pk, user in recipients.items() if not user.has_usable_password()}
        ids = [n.pk for n in created if n.user_id not in off and n.user_id not in pending]
        if ids:
            transaction.on_commit(lambda: _queue_emails(ids))
    return created


def _queue_emails(ids: list[int]) -> None:
    from pars.notifications.tasks import send_notification_emails

    send_notification_emails.enqueue(ids)


def user_notifications(user: User) -> QuerySet[Notification]:
    """This user's notifications, only about providers the user may still see."""
    return Notification.objects.filter(user=user).filter(
        Q(provider__isnull=True) | Q(provider__in=providers_visible_to(user))
    )


def unread_count(user: User) -> int:
    """One COUNT of the unread rows the inbox shows (the header badge)."""
    return user_notifications(user).filter(read_at__isnull=True).count()


def mark_read(notifications: QuerySet[Notification]) -> int:
    return notifications.filter(read_at__isnull=True).update(read_at=timezone.now())
