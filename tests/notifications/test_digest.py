"""The daily digest of learner records rejected or held: counts, a link, no personal data."""

import datetime
import io
from typing import Any

from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from pars.accounts.models import User
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.notifications.models import Kind, Notification
from pars.providers.models import Provider
from pars.testing import make_activity, register

NAME, LEARNER_ID, LICENSE = ("Zebulon", "Quillfeather"), "7654321", "MD-998877"


def _record(provider: Provider, activity: Any, code: str, status: str, n: int) -> None:
    LearnerCompletion.objects.create(
        provider=provider,
        activity=activity,
        recipient=Recipient.objects.get(code=code),
        learner_key=f"id:{code}{n}",
        first_name=NAME[0],
        last_name=NAME[1],
        birth_month=1,
        birth_day=2,
        learner_id=LEARNER_ID if code == "ABIM" else LICENSE,
        license_state="NC" if code != "ABIM" else "",
        completion_date=activity.start_date,
        status=status,
        status_changed_at=timezone.now(),
    )


def _run() -> str:
    out = io.StringIO()
    call_command("send_learner_digest", stdout=out)
    return out.getvalue()


def test_one_digest_per_provider_and_day_with_counts_and_no_personal_data(
    provider: Provider,
    admin_user: User,
    editor: User,
    reader: User,
    other_provider: Provider,
    mallory: User,
    opt_out: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    opt_out(editor, Kind.LEARNER_DIGEST)
    activity = make_activity(provider, provider_activity_id="CARD-7", title="Cardiology update")
    register(activity, "ABIM")
    state_board = Recipient.objects.filter(kind="state_board").order_by("code").first()
    assert state_board is not None
    register(activity, state_board.code)
    _record(provider, activity, "ABIM", CompletionStatus.REJECTED, 1)
    _record(provider, activity, "ABIM", CompletionStatus.REJECTED, 2)
    _record(provider, activity, "ABIM", CompletionStatus.HELD, 3)
    _record(provider, activity, state_board.code, CompletionStatus.HELD, 4)
    _record(provider, activity, "ABIM", CompletionStatus.ACCEPTED, 5)  # fine: not counted
    with django_capture_on_commit_callbacks(execute=True):
        assert "1 provider" in _run()
    # Administrators and editors see it in the inbox; the editor opted out of the email.
    digests = Notification.objects.filter(kind=Kind.LEARNER_DIGEST)
    assert sorted(n.user.email for n in digests) == [admin_user.email, editor.email]
    assert [m.to for m in mail.outbox] == [[admin_user.email]]
    (message,) = mail.outbox
    assert "2 rejected, 2 held" in message.subject
    abim = Recipient.objects.get(code="ABIM").name
    assert f"CARD-7 Cardiology update ({abim}): 2 rejected, 1 held" in message.body
    assert f"CARD-7 Cardiology update ({state_board.name}): 0 rejected, 1 held" in message.body
    assert f"/p/{provider.provider_id}/learners/" in message.body
    for personal in (*NAME, LEARNER_ID, LICENSE):
        assert personal not in f"{message.subject}\n{message.body}"
        assert all(personal not in n.title + n.body for n in digests)
    # Run again the same day (a second cron, a retry): no one is told twice.
    with django_capture_on_commit_callbacks(execute=True):
        _run()
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(kind=Kind.LEARNER_DIGEST).count() == 2
    assert not Notification.objects.filter(user=mallory).exists()


def test_the_next_days_digest_counts_only_what_is_new(
    provider: Provider, admin_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    from pars.learners.digest import send_digest

    activity = make_activity(provider, provider_activity_id="CARD-8")
    register(activity, "ABIM")
    _record(provider, activity, "ABIM", CompletionStatus.HELD, 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_digest(provider)
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    assert not send_digest(provider, tomorrow)  # nothing new: no digest, no email
    assert len(mail.outbox) == 1


def test_no_problems_no_digest(provider: Provider, admin_user: User) -> None:
    activity = make_activity(provider)
    register(activity, "ABIM")
    _record(provider, activity, "ABIM", CompletionStatus.ACCEPTED, 1)
    assert "0 providers" in _run()
    assert not Notification.objects.exists()
