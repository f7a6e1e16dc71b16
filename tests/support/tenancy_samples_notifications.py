"""Route samples for the inbox and the email choices (see route_walker.py).

The inbox pages are the signed-in user's own; one notification of the victim's user,
with the secret marker in it, must answer 404 to everyone else.
"""

from typing import Any

from tests.support.route_walker import Kind, Sample, Victim


def _victims_notification(v: Victim) -> dict[str, Any]:
    from pars.notifications.models import Kind as NotificationKind
    from pars.notifications.models import Notification

    notification, _ = Notification.objects.get_or_create(
        user=v.user,
        key="route-walker",
        defaults={
            "kind": NotificationKind.DECISION_RECORDED,
            "title": f"{v.secret_marker} decision",
            "body": v.secret_marker,
        },
    )
    return {"pk": notification.pk}


NOTIFICATION_SAMPLES: dict[str, Sample] = {
    "notifications:inbox": Sample(Kind.SELF),
    "notifications:read_all": Sample(Kind.SELF),
    "notifications:preferences": Sample(Kind.SELF),
    # Another user's notification: 404 (the owner-only rule of a provider's page).
    "notifications:read": Sample(Kind.PROVIDER, _victims_notification),
}
