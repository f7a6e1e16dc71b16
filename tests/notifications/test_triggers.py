"""Each event tells the provider's users in the inbox and by email, unless they opted out."""

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django import Settings

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.accreditation import services as accreditation
from pars.accreditation.provider_services import record_decision_as
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.notifications.models import Kind, Notification
from pars.providers.models import AccreditationDecision, ContactRole, Provider
from pars.reporting.models import ReportingYear
from pars.reporting.services import (
    attest,
    complete_program_summary,
    reopen_year,
    save_program_summary,
)
from pars.reporting.tasks import send_year_reminders
from pars.testing import make_contact
from tests.reporting.test_annual_report import FIGURES, _closed_course
from tests.support.accreditation import fill_everything, open_case

OptOut = Callable[[User, str], None]


def told(kind: str) -> dict[str, str]:
    """Who has an inbox item of this kind: email -> title."""
    return {
        n.user.email: n.title for n in Notification.objects.filter(kind=kind).select_related("user")
    }


def mailed() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_a_request_for_information_the_resubmission_and_the_decision(
    provider: Provider,
    admin_user: User,
    editor: User,
    reader: User,
    staff: User,
    opt_out: OptOut,
    django_capture_on_commit_callbacks: Any,
) -> None:
    opt_out(editor, Kind.CASE_INFO_REQUESTED)
    opt_out(admin_user, Kind.DECISION_RECORDED)
    case = open_case(staff, provider)
    access = get_provider_access(admin_user, provider.provider_id)
    staff_access = get_provider_access(staff, provider.provider_id)
    fill_everything(access, case)
    accreditation.submit_case(access, case)
    mail.outbox.clear()  # the submission's own mail, if any
    mission = case.template.sections.get(code="C1")
    with django_capture_on_commit_callbacks(execute=True):
        accreditation.request_information(
            staff_access,
            case,
            "Restate the expected results.",
            sections=[mission],
            due_date=datetime.date(2027, 1, 15),
        )
    # Those who can change the case are told; the read-only user is not.
    assert set(told(Kind.CASE_INFO_REQUESTED)) == {admin_user.email, editor.email}
    assert mailed() == [admin_user.email]  # the editor turned this email off
    (message,) = mail.outbox
    assert "More information requested" in message.subject
    assert "Restate the expected results." in message.body
    assert "section C1" in message.body
    assert "01/15/2027" in message.body
    assert f"/p/{provider.provider_id}/accreditation/{case.pk}/" in message.body
    assert told(Kind.CASE_SUBMITTED) == {}  # the first submission: the case had no owner
    # The provider answers and resubmits: the staff member who asked is told.
    mail.outbox.clear()
    question = mission.questions.all()[0]
    with django_capture_on_commit_callbacks(execute=True):
        accreditation.save_answers(access, case, mission, {question.pk: "Restated."})
        accreditation.submit_case(access, case)
    assert told(Kind.CASE_SUBMITTED) == {
        staff.email: "Riverside Health resubmitted its reaccreditation case"
    }
    assert mailed() == [staff.email]
    assert f"/staff/accreditation/{case.pk}/" in mail.outbox[0].body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        accreditation.decide(
            staff_access,
            case,
            outcome="accreditation",
            decided_on=datetime.date(2026, 11, 20),
        )
    # A decision is news to everyone, read-only users included.
    assert set(told(Kind.DECISION_RECORDED)) == {admin_user.email, editor.email, reader.email}
    assert mailed() == [editor.email, reader.email]
    assert "Accreditation decision: Accreditation" in mail.outbox[0].subject


def test_a_decision_staff_add_to_the_history_is_told(
    provider: Provider,
    admin_user: User,
    mallory: User,
    staff: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    decision = AccreditationDecision(
        provider=provider,
        decision_type="reaccreditation",
        outcome="commendation",
        decided_on=datetime.date(2026, 7, 1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        record_decision_as(get_provider_access(staff, provider.provider_id), decision)
    assert set(told(Kind.DECISION_RECORDED)) == {admin_user.email}
    assert mailed() == [admin_user.email]  # not another provider's administrator


@pytest.fixture
def year_2025(db: None) -> ReportingYear:
    return ReportingYear.objects.create(year=2025, deadline=datetime.date(2026, 3, 31))


def test_the_year_closed_and_reopened(
    provider: Provider,
    admin_user: User,
    editor: User,
    reader: User,
    staff: User,
    year_2025: ReportingYear,
    opt_out: OptOut,
    django_capture_on_commit_callbacks: Any,
) -> None:
    opt_out(editor, Kind.YEAR_CLOSED)
    access = get_provider_access(admin_user, provider.provider_id)
    _closed_course(access, "A-1", 100)
    save_program_summary(access, 2025, FIGURES, channel="web")
    complete_program_summary(access, 2025, channel="web")
    with django_capture_on_commit_callbacks(execute=True):
        attest(access, 2025, channel="web")
    assert told(Kind.YEAR_CLOSED) == {
        admin_user.email: "The 2025 annual report is attested and closed",
        editor.email: "The 2025 annual report is attested and closed",
    }
    assert mailed() == [admin_user.email]
    mail.outbox.clear()
    staff_access = get_provider_access(staff, provider.provider_id)
    with django_capture_on_commit_callbacks(execute=True):
        reopen_year(staff_access, 2025, reason="Two activities are missing")
    assert set(told(Kind.YEAR_REOPENED)) == {admin_user.email, editor.email}
    assert mailed() == [admin_user.email, editor.email]
    assert "Two activities are missing" in mail.outbox[0].body
    assert f"/p/{provider.provider_id}/report/2025/attest/" in mail.outbox[0].body


def test_a_deadline_reminder_reaches_the_inbox_and_respects_email_choices(
    provider: Provider,
    admin_user: User,
    editor: User,
    staff: User,
    year_2025: ReportingYear,
    opt_out: OptOut,
) -> None:
    make_contact(provider, role=ContactRole.PRIMARY, email="cme@riverside.example")
    second_admin = User.objects.create_user(email="ann@riverside.example")
    provider.memberships.create(user=second_admin, role="admin")
    opt_out(second_admin, Kind.DEADLINE_REMINDER)
    result = send_year_reminders.enqueue(2025, [provider.pk])
    assert result.return_value == {"sent": 1, "skipped": 0, "failed": 0}
    # One reminder, as staff previewed it, to the contact and the administrator who wants it.
    assert [m.to for m in mail.outbox] == [["cme@riverside.example", admin_user.email]]
    # The inbox of every administrator and editor keeps it, the one who opted out too.
    assert set(told(Kind.DEADLINE_REMINDER)) == {
        admin_user.email,
        editor.email,
        second_admin.email,
    }
    assert "2025" in told(Kind.DEADLINE_REMINDER)[editor.email]


HEADER = "Provider Activity ID\tActivity Title\tActivity Format\tStart Date\tEnd Date\r\n"


def _tsv(rows: int, prefix: str = "R") -> SimpleUploadedFile:
    body = HEADER + "".join(
        f"{prefix}-{n}\tCardiology update {n}\tCourse\t03/01/2026\t03/02/2026\r\n"
        for n in range(rows)
    )
    return SimpleUploadedFile("activities.txt", body.encode())


def test_a_large_upload_tells_its_uploader_when_done(
    provider: Provider,
    editor: User,
    admin_user: User,
    settings: Settings,
    tmp_path: Path,
    opt_out: OptOut,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PARS_NOTIFY_UPLOAD_ROWS = 3
    access = get_provider_access(editor, provider.provider_id)
    with django_capture_on_commit_callbacks(execute=True):
        small = store_upload(access, _tsv(2), created_by=editor)
    assert Upload.objects.get(pk=small.pk).status != UploadStatus.QUEUED
    assert told(Kind.UPLOAD_FINISHED) == {}  # small and quick: the uploader watched it
    with django_capture_on_commit_callbacks(execute=True):
        large = store_upload(access, _tsv(3, "L"), created_by=editor)
    large.refresh_from_db()
    assert (large.status, large.rows_total) == (UploadStatus.SUCCEEDED, 3)
    (title,) = told(Kind.UPLOAD_FINISHED).values()
    assert set(told(Kind.UPLOAD_FINISHED)) == {editor.email}  # the uploader only
    assert "activities.txt" in title
    assert large.get_status_display() in title
    assert mailed() == [editor.email]
    assert f"/p/{provider.provider_id}/uploads/{large.pk}/" in mail.outbox[0].body
    # The job run again (a retry) tells no one twice.
    from pars.intake.tasks import process_upload_task

    process_upload_task.enqueue(large.pk)
    assert Notification.objects.filter(kind=Kind.UPLOAD_FINISHED).count() == 1


def test_a_slow_upload_counts_as_large_and_an_opted_out_uploader_gets_no_email(
    provider: Provider,
    editor: User,
    settings: Settings,
    tmp_path: Path,
    opt_out: OptOut,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from pars.intake.announce import announce_if_large

    settings.MEDIA_ROOT = tmp_path / "media"
    opt_out(editor, Kind.UPLOAD_FINISHED)
    access = get_provider_access(editor, provider.provider_id)
    with django_capture_on_commit_callbacks(execute=True):
        upload = store_upload(access, _tsv(1), created_by=editor)
    assert told(Kind.UPLOAD_FINISHED) == {}
    upload.refresh_from_db()
    assert upload.finished_at is not None
    Upload.objects.filter(pk=upload.pk).update(
        started_at=upload.finished_at
        - datetime.timedelta(seconds=settings.PARS_NOTIFY_UPLOAD_SECONDS)
    )
    with django_capture_on_commit_callbacks(execute=True):
        announce_if_large(upload.pk)
    assert set(told(Kind.UPLOAD_FINISHED)) == {editor.email}
    assert mail.outbox == []
