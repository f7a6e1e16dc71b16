"""Background entry point: notification emails leave through the task worker."""

from __future__ import annotations

import logging

from django.tasks import task
from django.utils import timezone

from pars.notifications import emails
from pars.notifications.models import Notification
from pars.notifications.services import email_opted_out

logger = logging.getLogger(__name__)


@task()
def send_notification_emails(notification_ids: list[int]) -> int:
    """Email each notification not emailed yet; the user's choice is read again now
    (one who turned the kind off meanwhile gets none). Returns how many were sent."""
    pending = list(
        Notification.objects.filter(
            pk__in=notification_ids, emailed_at__isnull=True, user__is_active=True
        ).select_related("user")
    )
    sent = 0
    for notification in pending:
        if notification.user_id in email_opted_out([notification.user_id], notification.kind):
            continue
        try:
            emails.send_notification(notification)
        except Exception:
            logger.exception("Notification email %s failed", notification.pk)
            continue
        Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
        sent += 1
    return sent
