"""The daily digest of learner records rejected or held, one per provider and day.

What went wrong with a learner record is on its page; the digest only says how many,
per activity and recipient, and links to the list. It holds no personal data (no name,
learner ID, license number or birth date), because email is not the place for it.
``manage.py send_learner_digest`` runs it (daily, from cron or a timer;
docs/deployment.md); running it again the same day tells no one twice.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Max
from django.urls import reverse
from django.utils import timezone

from pars.accounts.access import ProviderAccess, system_access
from pars.learners.models import CompletionStatus, LearnerCompletion
from pars.notifications.models import Kind, Notification
from pars.notifications.services import notify, provider_users
from pars.providers.models import Provider

PROBLEMS = (CompletionStatus.REJECTED, CompletionStatus.HELD)


@dataclass(frozen=True)
class DigestLine:
    activity: str  # the provider's activity ID and title
    recipient: str
    rejected: int
    held: int


def _since(provider: Provider, now: datetime.datetime) -> datetime.datetime:
    """From the provider's previous digest (at most a week back), else a day back."""
    told = system_access(provider).records(Notification)
    last = told.filter(kind=Kind.LEARNER_DIGEST).aggregate(last=Max("created_at"))["last"]
    if last is None:
        return now - datetime.timedelta(days=1)
    return max(last, now - datetime.timedelta(days=7))


def digest_lines(
    provider: Provider, since: datetime.datetime, until: datetime.datetime
) -> list[DigestLine]:
    """Counts of records that became rejected or held in the window, per activity and
    recipient (records still in that state)."""
    rows = (
        ProviderAccess(provider=provider, user=None, role=None)
        .records(LearnerCompletion)
        .filter(status__in=PROBLEMS, status_changed_at__gte=since, status_changed_at__lt=until)
        .values("activity__provider_activity_id", "activity__title", "recipient__name", "status")
        .annotate(count=Count("id"))
    )
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for row in rows:
        activity = f"{row['activity__provider_activity_id']} {row['activity__title']}"
        per_status = counts.setdefault((activity, row["recipient__name"]), {})
        per_status[row["status"]] = row["count"]
    return [
        DigestLine(
            activity,
            recipient,
            c.get(CompletionStatus.REJECTED, 0),
            c.get(CompletionStatus.HELD, 0),
        )
        for (activity, recipient), c in sorted(counts.items())
    ]


def _body(lines: list[DigestLine]) -> str:
    text = ["Learner records rejected or held since the last digest, per activity and recipient:"]
    for line in lines:
        text.append(
            f"- {line.activity} ({line.recipient}): {line.rejected} rejected, {line.held} held"
        )
    text.append(
        "\nEach record's page says what to do (correct and resend, or check the learner's "
        "details). The list opens at the records that need you."
    )
    return "\n".join(text)


def send_digest(provider: Provider, now: datetime.datetime | None = None) -> bool:
    """Tell the provider's administrators and editors; False when there was nothing."""
    now = now or timezone.now()
    lines = digest_lines(provider, _since(provider, now), now)
    if not lines:
        return False
    rejected = sum(line.rejected for line in lines)
    held = sum(line.held for line in lines)
    status = "" if rejected and held else ("rejected" if rejected else "held")
    link = reverse("learners:list", args=[provider.provider_id])
    notify(
        provider_users(provider),
        Kind.LEARNER_DIGEST,
        f"Learner records need attention: {rejected} rejected, {held} held",
        body=_body(lines),
        link=f"{link}?status={status}" if status else link,
        provider=provider,
        key=f"learner-digest:{provider.pk}:{timezone.localdate(now).isoformat()}",
    )
    return True


def send_digests(now: datetime.datetime | None = None) -> int:
    """The digest of every provider with records rejected or held; how many were sent."""
    now = now or timezone.now()
    with_problems = (
        LearnerCompletion.objects.filter(
            status__in=PROBLEMS, status_changed_at__gte=now - datetime.timedelta(days=7)
        )
        .values_list("provider_id", flat=True)
        .distinct()
    )
    sent = 0
    for provider in Provider.objects.filter(pk__in=with_problems).order_by("name"):
        sent += send_digest(provider, now)
    return sent
