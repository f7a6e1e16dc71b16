"""The reminder email of a reporting year: one message per provider not yet done.

Staff preview it and the task sends it through the same function,
:func:`reminder_email`, so what staff see is exactly what the provider gets.
It goes to the provider's primary CME contact and its administrators (those who did
not turn reminder emails off), and into the inbox of its administrators and editors.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from pars.accounts.access import ProviderAccess
from pars.accounts.models import Membership, Role
from pars.notifications.models import Kind
from pars.notifications.services import email_opted_out, notify, provider_users
from pars.providers.models import Contact, ContactRole, Provider
from pars.reporting.models import ReportingYear
from pars.reporting.services import YearStatus, year_status


@dataclass(frozen=True)
class ReminderEmail:
    provider: Provider
    status: YearStatus
    recipients: list[str]
    subject: str
    body: str

    @property
    def attested(self) -> bool:
        return self.status.attested


def _reader(provider: Provider) -> ProviderAccess:
    """Read-only access of the system to one provider (the task runs for no user)."""
    return ProviderAccess(provider=provider, user=None, role=None)


def reminder_recipients(provider: Provider) -> list[str]:
    """The primary CME contact, then the active administrators; each address once."""
    access = _reader(provider)
    addresses = list(
        access.records(Contact).filter(role=ContactRole.PRIMARY).values_list("email", flat=True)
    )
    admins = list(
        access.records(Membership)
        .filter(role=Role.ADMIN, user__is_active=True)
        .order_by("user__email")
        .values_list("user_id", "user__email")
    )
    # An administrator who turned reminder emails off still finds them in the inbox.
    off = email_opted_out((user_id for user_id, _ in admins), Kind.DEADLINE_REMINDER)
    addresses += [address for user_id, address in admins if user_id not in off]
    seen: set[str] = set()
    unique = []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def _absolute(path: str) -> str:
    return settings.PARS_BASE_URL.rstrip("/") + path


def reminder_email(
    provider: Provider, reporting_year: ReportingYear, today: datetime.date | None = None
) -> ReminderEmail:
    today = today or timezone.localdate()
    status = year_status(_reader(provider), reporting_year, today)
    provider_id = provider.provider_id
    context = {
        "provider": provider,
        "status": status,
        "late": status.days_left is not None and status.days_left < 0,
        "days_late": -(status.days_left or 0),
        "tasks_left": status.tasks_left,
        "dashboard_url": _absolute(reverse("reporting:dashboard", args=[provider_id])),
        "summary_url": _absolute(
            reverse("reporting:program_summary", args=[provider_id, reporting_year.year])
        ),
        "attest_url": _absolute(
            reverse("reporting:attest", args=[provider_id, reporting_year.year])
        ),
        "site_name": settings.PARS_SITE_NAME,
        "support_email": settings.PARS_SUPPORT_EMAIL,
    }
    subject = " ".join(render_to_string("reporting/email/reminder_subject.txt", context).split())
    return ReminderEmail(
        provider=provider,
        status=status,
        recipients=reminder_recipients(provider),
        subject=f"{settings.PARS_SITE_NAME} - {subject}",
        body=render_to_string("reporting/email/reminder.txt", context),
    )


def send_reminder(email: ReminderEmail) -> None:
    send_mail(email.subject, email.body, None, email.recipients)


def post_reminder(email: ReminderEmail) -> None:
    """The reminder in the inbox of the provider's administrators and editors."""
    notify(
        provider_users(email.provider),
        Kind.DEADLINE_REMINDER,
        email.subject.removeprefix(f"{settings.PARS_SITE_NAME} - "),
        body=email.body,
        link=reverse("reporting:dashboard", args=[email.provider.provider_id]),
        provider=email.provider,
        email=False,  # the reminder is its own email, to the contact and administrators
    )
