"""The notification email: the inbox item's words, a link, and how to stop such mail."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from pars.notifications.models import Notification


def _absolute(path: str) -> str:
    return settings.PARS_BASE_URL.rstrip("/") + path


def send_notification(notification: Notification) -> None:
    context = {
        "notification": notification,
        "user": notification.user,
        "link_url": _absolute(notification.link) if notification.link else "",
        "inbox_url": _absolute(reverse("notifications:inbox")),
        "preferences_url": _absolute(reverse("notifications:preferences")),
        "site_name": settings.PARS_SITE_NAME,
        "support_email": settings.PARS_SUPPORT_EMAIL,
    }
    send_mail(
        f"{settings.PARS_SITE_NAME} - {notification.title}",
        render_to_string("notifications/email/notification.txt", context),
        None,
        [notification.user.email],
    )
