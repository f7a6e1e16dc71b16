"""Background work of the annual report: the reminder emails of a reporting year."""

from __future__ import annotations

import logging

from django.tasks import task

from pars.providers.models import Provider
from pars.reporting.models import ReportingYear
from pars.reporting.reminders import post_reminder, reminder_email, send_reminder

logger = logging.getLogger(__name__)


@task()
def send_year_reminders(year: int, provider_pks: list[int]) -> dict[str, int]:
    """Email each provider not done with the year; attested providers are skipped.

    Whether a provider is done is checked again here, when the mail leaves: one that
    attested after staff queued the reminders gets none.
    """
    reporting_year = ReportingYear.objects.get(year=year)
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    for provider in Provider.objects.filter(pk__in=provider_pks).order_by("name"):
        email = reminder_email(provider, reporting_year)
        if email.attested:
            counts["skipped"] += 1
            continue
        post_reminder(email)  # the inbox keeps it, whatever the email choices
        if not email.recipients:
            counts["skipped"] += 1
            continue
        try:
            send_reminder(email)
        except Exception:
            logger.exception("Reminder to provider %s failed", provider.provider_id)
            counts["failed"] += 1
        else:
            counts["sent"] += 1
    return counts
