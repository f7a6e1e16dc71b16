"""The accreditation services: completeness, the frozen submission, the request-for-
information cycle and the decision that lands in the provider's history."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from pars.accounts.access import get_provider_access
from pars.accounts.models import Membership, Role, User
from pars.accreditation import services
from pars.accreditation.models import Case, CaseStatus, SelfStudyTemplate
from pars.accreditation.seed import TEMPLATES
from pars.audit.models import AuditEvent
from pars.providers.models import AccreditationStatus, Provider
from pars.testing import make_activity
from tests.support.accreditation import fill_everything, fill_section, open_case, pdf

pytestmark = pytest.mark.django_db


def test_the_migration_seeds_one_self_study_per_case_type() -> None:
    assert set(SelfStudyTemplate.objects.values_list("case_type", flat=True)) == {
        spec["case_type"] for spec in TEMPLATES
    }
    reaccreditation = SelfStudyTemplate.objects.get(case_type="reaccreditation")
    titles = list(reaccreditation.sections.values_list("title", flat=True))
    assert "Mission" in titles
    assert "Independence" in titles
    assert "Commercial support" in titles


def test_completeness_lists_what_is_missing_until_everything_is_there(
    provider: Provider, admin_user: User, staff: User
) -> None:
    case = open_case(staff, provider)
    assert case.status == CaseStatus.DRAFT
    missing = services.completeness(case)
    wheres = {m.where for m in missing}
    assert {"C1", "C5", "C8", "PIP"} <= wheres
    assert any(m.what == "Attach: CME mission statement" for m in missing)
    access = get_provider_access(admin_user, provider.provider_id)
    with pytest.raises(services.CaseRefused, match="incomplete"):
        services.submit_case(access, case)
    fill_everything(access, case)
    assert services.completeness(case) == []


def test_submit_freezes_what_was_sent_and_refuses_later_edits(
    provider: Provider, admin_user: User, staff: User
) -> None:
    case = open_case(staff, provider)
    access = get_provider_access(admin_user, provider.provider_id)
    fill_everything(access, case)
    submission = services.submit_case(access, case)
    case.refresh_from_db()
    assert (case.status, submission.version) == (CaseStatus.SUBMITTED, 1)
    mission = next(s for s in submission.snapshot["sections"] if s["code"] == "C1")
    assert mission["questions"][0]["answer"] == "Our answer."
    document = case.documents.get(section__code="C1")
    assert mission["documents"][0]["sha256"] == document.sha256
    assert document.locked
    assert len(submission.snapshot["pip"]) == 3
    assert all(e["locked"] for e in case.pip_selections.all()[0].evidence.values("locked"))
    section = case.template.sections.get(code="C1")
    with pytest.raises(services.CaseRefused):
        services.save_answers(access, case, section, {section.questions.all()[0].pk: "Changed"})
    with pytest.raises(services.CaseRefused):
        services.add_document(access, case, section, pdf())
    with pytest.raises(services.CaseRefused):
        services.select_activity(access, case, make_activity(provider))
    with pytest.raises(services.CaseRefused):
        services.submit_case(access, case)
    assert AuditEvent.objects.filter(provider=provider, action=services.SUBMITTED).count() == 1


def test_only_an_administrator_submits(provider: Provider, editor: User, staff: User) -> None:
    case = open_case(staff, provider)
    access = get_provider_access(editor, provider.provider_id)
    fill_everything(access, case)  # editors do the work
    with pytest.raises(PermissionDenied):
        services.submit_case(access, case)


def test_a_request_for_information_reopens_named_sections_until_resubmission(
    provider: Provider, admin_user: User, staff: User
) -> None:
    case = open_case(staff, provider)
    access = get_provider_access(admin_user, provider.provider_id)
    staff_access = get_provider_access(staff, provider.provider_id)
    fill_everything(access, case)
    first = services.submit_case(access, case)
    services.start_review(staff_access, case)
    services.add_comment(staff_access, case, "Mission lacks expected results.")
    mission = case.template.sections.get(code="C1")
    request = services.request_information(
        staff_access, case, "Restate the expected results.", sections=[mission]
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.INFO_REQUESTED
    assert services.editable_section_ids(case) == {mission.pk}
    assert not services.pip_editable(case)
    needs = case.template.sections.get(code="C2")
    with pytest.raises(services.CaseRefused):
        services.save_answers(access, case, needs, {needs.questions.all()[0].pk: "No"})
    question = mission.questions.all()[0]
    services.save_answers(access, case, mission, {question.pk: "Change in performance."})
    services.add_document(access, case, mission, pdf("mission-v2.pdf"))
    second = services.submit_case(access, case)
    case.refresh_from_db()
    request.refresh_from_db()
    assert (case.status, second.version, request.answered_in) == (CaseStatus.RESUBMITTED, 2, 2)
    first.refresh_from_db()
    answers = {s["code"]: s["questions"][0]["answer"] for s in first.snapshot["sections"]}
    assert answers["C1"] == "Our answer."  # version 1 is unchanged
    answers = {s["code"]: s["questions"][0]["answer"] for s in second.snapshot["sections"]}
    assert answers["C1"] == "Change in performance."
    assert services.editable_section_ids(case) == set()


def test_the_decision_lands_in_the_history_and_sets_status_and_term(
    provider: Provider, admin_user: User, staff: User
) -> None:
    provider.accreditation_status = AccreditationStatus.ACCREDITATION
    provider.save()
    case = open_case(staff, provider)
    access = get_provider_access(admin_user, provider.provider_id)
    fill_everything(access, case)
    services.submit_case(access, case)
    staff_access = get_provider_access(staff, provider.provider_id)
    with pytest.raises(PermissionDenied):
        services.decide(access, case, outcome="commendation", decided_on=datetime.date(2026, 7, 1))
    decision = services.decide(
        staff_access, case, outcome="commendation", decided_on=datetime.date(2026, 7, 1)
    )
    provider.refresh_from_db()
    case.refresh_from_db()
    assert case.status == CaseStatus.DECIDED
    assert case.decision == decision
    assert decision.decision_type == "reaccreditation"
    assert provider.decisions.first() == decision
    assert provider.accreditation_status == AccreditationStatus.COMMENDATION
    assert (provider.term_start, provider.term_end) == (
        datetime.date(2026, 7, 1),
        datetime.date(2032, 6, 30),
    )
    with pytest.raises(services.CaseRefused):
        services.decide(
            staff_access, case, outcome="probation", decided_on=datetime.date(2026, 8, 1)
        )
    # The provider may get its next case now.
    assert open_case(staff, provider, "progress_report").status == CaseStatus.DRAFT


def test_one_open_case_per_provider(provider: Provider, staff: User) -> None:
    open_case(staff, provider)
    with pytest.raises(services.CaseRefused, match="already has an open"):
        open_case(staff, provider, "progress_report")


def test_a_decision_needs_a_submission(provider: Provider, staff: User) -> None:
    case = open_case(staff, provider)
    with pytest.raises(services.CaseRefused):
        services.decide(
            get_provider_access(staff, provider.provider_id),
            case,
            outcome="accreditation",
            decided_on=datetime.date(2026, 7, 1),
        )


def test_a_locked_document_is_kept(provider: Provider, admin_user: User, staff: User) -> None:
    case = open_case(staff, provider, "progress_report")
    access = get_provider_access(admin_user, provider.provider_id)
    fill_section(access, case, "P1")
    document = case.documents.get()
    services.submit_case(access, case)
    staff_access = get_provider_access(staff, provider.provider_id)
    services.request_information(
        staff_access, case, "More", sections=list(case.template.sections.all())
    )
    case.refresh_from_db()
    with pytest.raises(services.CaseRefused, match="kept unchanged"):
        services.remove_document(access, case, document)


def test_empty_and_oversized_files_are_refused(
    provider: Provider, admin_user: User, staff: User, settings: Any
) -> None:
    case = open_case(staff, provider, "progress_report")
    access = get_provider_access(admin_user, provider.provider_id)
    section = case.template.sections.get()
    with pytest.raises(services.CaseRefused, match="empty"):
        services.add_document(access, case, section, pdf(body=b""))
    settings.PARS_MAX_UPLOAD_BYTES = 10
    with pytest.raises(services.CaseRefused, match="up to"):
        services.add_document(access, case, section, pdf(body=b"x" * 11))
    assert not case.documents.exists()


def test_staff_open_an_applicant_with_its_first_user_in_one_step(staff: User) -> None:
    case = services.open_applicant_case(
        staff,
        services.Applicant(
            name="Harbor Valley CME",
            provider_id="0007777",
            accreditor_type="accme",
            email="director@harbor.example",
        ),
        due_date=datetime.date(2026, 12, 1),
    )
    provider = Provider.objects.get(provider_id="0007777")
    assert provider.accreditation_status == AccreditationStatus.APPLICANT
    assert (case.provider, case.case_type) == (provider, "initial")
    membership = Membership.objects.get(provider=provider)
    assert (membership.user.email, membership.role) == ("director@harbor.example", Role.ADMIN)
    assert [m.subject for m in mail.outbox if "director@harbor.example" in m.to]
    assert "System Access Granted" in mail.outbox[-1].subject


def test_an_applicant_is_not_created_twice(staff: User, provider: Provider) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.open_applicant_case(
            staff,
            services.Applicant(
                name="Dup",
                provider_id=provider.provider_id,
                accreditor_type="accme",
                email="a@b.example",
            ),
        )
    assert Case.objects.count() == 0
