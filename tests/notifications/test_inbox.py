"""The inbox, the header's unread count and the email choices: each user's own only."""

import datetime
import re
from collections.abc import Callable
from typing import Any

from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from pars.accounts.models import Membership, User
from pars.notifications.models import Kind, Notification, NotificationPreference
from pars.notifications.services import notify
from pars.providers.models import Provider

ClientAs = Callable[[User], Client]
WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _tell(user: User, provider: Provider | None, title: str = "Decision recorded") -> Notification:
    (notification,) = notify(
        [user], Kind.DECISION_RECORDED, title, link="/guide/", provider=provider, email=False
    )
    return notification


def test_the_header_shows_the_unread_count_on_every_page(
    provider: Provider, admin_user: User, client_as: ClientAs
) -> None:
    client = client_as(admin_user)
    dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
    assert 'aria-label="Inbox, ' not in client.get(dashboard).text
    _tell(admin_user, provider)
    _tell(admin_user, provider, "Year closed")
    page = client.get(dashboard).text
    assert 'aria-label="Inbox, 2 unread"' in page
    assert '<span class="badge warn">2</span>' in page


def test_the_inbox_lists_marks_read_and_opens(
    provider: Provider, admin_user: User, client_as: ClientAs
) -> None:
    first = _tell(admin_user, provider, "First news")
    second = _tell(admin_user, provider, "Second news")
    client = client_as(admin_user)
    inbox = client.get(reverse("notifications:inbox"))
    assert "First news" in inbox.text
    assert "Second news" in inbox.text
    assert inbox.context["unread"] == 2
    # Mark one read through htmx: only its row comes back, with the new count.
    row = client.post(
        reverse("notifications:read", args=[first.pk]), headers={"HX-Request": "true"}
    )
    assert row.status_code == 200
    assert "<html" not in row.text
    assert "First news" in row.text
    assert "1 unread" in row.text
    first.refresh_from_db()
    assert first.read_at is not None
    # "Open" marks read and goes to what it is about.
    opened = client.post(reverse("notifications:read", args=[second.pk]), {"open": "1"})
    assert opened.status_code == 302
    assert opened["Location"] == "/guide/"
    assert client.get(reverse("notifications:inbox"), {"show": "unread"}).context["unread"] == 0


def test_mark_all_read_reads_only_ones_own(
    provider: Provider, admin_user: User, editor: User, client_as: ClientAs
) -> None:
    _tell(admin_user, provider)
    _tell(admin_user, None)
    theirs = _tell(editor, provider)
    response = client_as(admin_user).post(reverse("notifications:read_all"))
    assert response.status_code == 302
    assert not Notification.objects.filter(user=admin_user, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_another_users_notification_is_404_and_never_shown(
    provider: Provider, admin_user: User, editor: User, mallory: User, client_as: ClientAs
) -> None:
    mine = _tell(admin_user, provider, "Riverside decision")
    for someone in (editor, mallory):  # a colleague at the same provider, another provider
        client = client_as(someone)
        assert client.post(reverse("notifications:read", args=[mine.pk])).status_code == 404
        assert (
            client.post(reverse("notifications:read", args=[mine.pk]), {"open": "1"}).status_code
            == 404
        )
        assert "Riverside decision" not in client.get(reverse("notifications:inbox")).text
    mine.refresh_from_db()
    assert mine.read_at is None
    anonymous = Client().get(reverse("notifications:inbox"))
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]


def test_notifications_about_a_provider_one_left_are_hidden(
    provider: Provider, admin_user: User, other_provider: Provider, client_as: ClientAs
) -> None:
    Membership.objects.create(user=admin_user, provider=other_provider, role="editor")
    _tell(admin_user, other_provider, "Elsewhere news")
    client = client_as(admin_user)
    assert "Elsewhere news" in client.get(reverse("notifications:inbox")).text
    Membership.objects.filter(user=admin_user, provider=other_provider).delete()
    page = client.get(reverse("notifications:inbox"))
    assert "Elsewhere news" not in page.text
    assert page.context["unread"] == 0


def test_preferences_default_on_and_turn_emails_off_but_not_the_inbox(
    provider: Provider,
    admin_user: User,
    client_as: ClientAs,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_as(admin_user)
    page = client.get(reverse("notifications:preferences"))
    assert all(on for _, _, on in page.context["kinds"])
    wanted = [kind for kind in Kind.values if kind != Kind.DECISION_RECORDED]
    assert client.post(reverse("notifications:preferences"), {"email": wanted}).status_code == 302
    assert (
        NotificationPreference.objects.get(user=admin_user, kind=Kind.DECISION_RECORDED).email
        is False
    )
    page = client.get(reverse("notifications:preferences"))
    assert {k: on for k, _, on in page.context["kinds"]}[Kind.DECISION_RECORDED] is False
    with django_capture_on_commit_callbacks(execute=True):
        notify([admin_user], Kind.DECISION_RECORDED, "Decision", provider=provider)
        notify([admin_user], Kind.YEAR_CLOSED, "Year closed", provider=provider)
    assert [m.subject for m in mail.outbox] == ["PARS - Year closed"]
    assert Notification.objects.filter(user=admin_user).count() == 2


def test_the_badge_costs_one_count_and_reading_writes_nothing(
    provider: Provider, admin_user: User, client_as: ClientAs
) -> None:
    _tell(admin_user, provider)
    client = client_as(admin_user)
    dashboard = reverse("reporting:dashboard", args=[provider.provider_id])
    client.get(dashboard)  # the first request after login may renew the session
    with CaptureQueriesContext(connection) as on_dashboard:
        assert client.get(dashboard).status_code == 200
    badge = [q["sql"] for q in on_dashboard.captured_queries if "notification" in q["sql"]]
    assert len(badge) == 1
    assert "COUNT(" in badge[0].upper()
    with CaptureQueriesContext(connection) as reading:
        assert client.get(reverse("notifications:inbox")).status_code == 200
        assert client.get(reverse("notifications:preferences")).status_code == 200
    queries = on_dashboard.captured_queries + reading.captured_queries
    assert [q["sql"] for q in queries if WRITE.match(q["sql"])] == []


def test_staff_and_provider_users_choose_among_their_own_kinds(
    admin_user: User, staff: User, client_as: ClientAs
) -> None:
    def offered(user: User) -> set[str]:
        page = client_as(user).get(reverse("notifications:preferences"))
        return {kind for kind, _, _ in page.context["kinds"]}

    assert offered(staff) == {Kind.CASE_SUBMITTED}
    assert Kind.CASE_SUBMITTED not in offered(admin_user)
    assert Kind.LEARNER_DIGEST in offered(admin_user)
    # Saving one audience's choices leaves the other's kinds alone.
    client_as(staff).post(reverse("notifications:preferences"), {})
    assert set(
        NotificationPreference.objects.filter(user=staff).values_list("kind", flat=True)
    ) == {Kind.CASE_SUBMITTED}


def test_someone_invited_who_never_set_a_password_gets_no_provider_email(
    provider: Provider, admin_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    invited = User.objects.create_user("invited@example.org")  # no password: not taken up
    Membership.objects.create(user=invited, provider=provider, role="editor")
    assert not invited.has_usable_password()
    with django_capture_on_commit_callbacks(execute=True):
        notify([admin_user, invited], Kind.YEAR_CLOSED, "Year closed", provider=provider)
    assert [m.to for m in mail.outbox] == [[admin_user.email]]
    assert Notification.objects.filter(user=invited).count() == 1  # there at first sign-in


def test_the_inbox_writes_times_as_every_other_page_does(
    provider: Provider, admin_user: User, client_as: ClientAs
) -> None:
    news = _tell(admin_user, provider, "Timed news")
    zone = timezone.get_current_timezone()
    at = datetime.datetime(2026, 3, 2, 15, 13, tzinfo=zone)
    Notification.objects.filter(pk=news.pk).update(created_at=at)
    inbox = client_as(admin_user).get(reverse("notifications:inbox")).text
    assert "03/02/2026 15:13" in inbox  # not "3:13 PM" beside "15:13" elsewhere
