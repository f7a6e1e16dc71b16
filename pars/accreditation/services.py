"""The only writers of accreditation cases.

Every function takes the caller's :class:`~pars.accounts.access.ProviderAccess` for the
case's provider (staff get theirs from ``get_provider_access`` too), checks what the case's
status allows and records an audit event. A refusal raises :class:`CaseRefused` (nothing
changed) or ``PermissionDenied`` (the role may not do this).

The life of a case::

    draft ──submit──▶ submitted ──start review──▶ under review ──request info──▶
    more information requested ──submit──▶ resubmitted ──▶ … ──decide──▶ decided

While a case is a draft everything is editable. Submitting freezes a :class:`Submission`
(answers, document hashes and PIP selections as JSON) and locks the files it names; after
that only the sections (and the PIP selection) a request for more information reopens can
change, and the next submit is a new version.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.models import Role, User
from pars.accounts.services import invite_user
from pars.accreditation import notices
from pars.activities.models import Activity
from pars.audit.models import AuditAction
from pars.audit.services import record_event
from pars.intake.store import HashingFile, megabytes
from pars.lib.dates import us_date
from pars.providers.models import AccreditationDecision, AccreditationStatus, Provider
from pars.providers.services import create_provider, record_decision

from .models import (
    Answer,
    Case,
    CaseDocument,
    CaseStatus,
    CaseType,
    InfoRequest,
    PipEvidence,
    PipSelection,
    QuestionKind,
    RequiredAttachment,
    ReviewComment,
    SelfStudySection,
    SelfStudyTemplate,
    StoredFile,
    Submission,
)

CHANNEL = "web"

OPENED = AuditAction.CASE_OPENED
ANSWERS_SAVED = AuditAction.CASE_ANSWERS_SAVED
DOCUMENT_ADDED = AuditAction.CASE_DOCUMENT_ADDED
DOCUMENT_REMOVED = AuditAction.CASE_DOCUMENT_REMOVED
PIP_CHANGED = AuditAction.CASE_PIP_CHANGED
SUBMITTED = AuditAction.CASE_SUBMITTED
REVIEW_STARTED = AuditAction.CASE_REVIEW_STARTED
COMMENTED = AuditAction.CASE_COMMENTED
INFO_REQUESTED = AuditAction.CASE_INFO_REQUESTED
DECIDED = AuditAction.CASE_DECIDED

# Years of the term a decision starts, when staff give no end date.
TERM_YEARS = {
    AccreditationStatus.PROVISIONAL: 2,
    AccreditationStatus.ACCREDITATION: 4,
    AccreditationStatus.COMMENDATION: 6,
}
DECISION_OUTCOMES = [
    (value, label)
    for value, label in AccreditationStatus.choices
    if value != AccreditationStatus.APPLICANT
]
OPEN_STATUSES = [s for s in CaseStatus.values if s != CaseStatus.DECIDED]
REVIEWABLE = {CaseStatus.SUBMITTED, CaseStatus.UNDER_REVIEW, CaseStatus.RESUBMITTED}

# File suffixes kept on disk; anything else is stored as .bin (downloads are attachments).
_SAFE_SUFFIXES = {
    ".pdf",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".ppt",
    ".pptx",
    ".txt",
    ".csv",
    ".rtf",
    ".odt",
    ".png",
    ".jpg",
    ".jpeg",
    ".zip",
}


class CaseRefused(Exception):
    """The case's state does not allow this; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------------------
# Opening cases


def active_template(case_type: str) -> SelfStudyTemplate:
    template = SelfStudyTemplate.objects.filter(case_type=case_type, active=True).first()
    if template is None:
        raise CaseRefused("There is no active self-study for this case type; add one in the admin.")
    return template


def _require_staff(access: ProviderAccess) -> None:
    if not access.is_staff:
        raise PermissionDenied("Only the accreditor's staff do this.")


def open_case(
    access: ProviderAccess,
    *,
    case_type: str,
    due_date: datetime.date | None = None,
    staff_owner: User | None = None,
) -> Case:
    """Staff open a case for the provider; it starts as a draft with the active self-study."""
    _require_staff(access)
    if case_type not in CaseType.values:
        raise CaseRefused(f"Unknown case type {case_type!r}.")
    template = active_template(case_type)
    with transaction.atomic():
        provider = Provider.objects.select_for_update().get(pk=access.provider.pk)
        if access.records(Case).filter(status__in=OPEN_STATUSES).exists():
            raise CaseRefused(f"{provider.name} already has an open accreditation case.")
        case = Case.objects.create(
            provider=provider,
            case_type=case_type,
            template=template,
            due_date=due_date,
            staff_owner=staff_owner,
            opened_by=access.user,
        )
        _event(access, case, OPENED, f"{case.get_case_type_display()} case opened")
    return case


@dataclass(frozen=True)
class Applicant:
    name: str
    provider_id: str
    accreditor_type: str
    email: str
    state: str | None = None
    first_name: str = ""
    last_name: str = ""


def open_applicant_case(
    staff: User,
    applicant: Applicant,
    *,
    due_date: datetime.date | None = None,
    staff_owner: User | None = None,
) -> Case:
    """A new organization: create it as an applicant, invite its first administrator (the
    "System Access Granted" email) and open its initial-accreditation case, in one step."""
    if not (staff.is_active and staff.is_staff):
        raise PermissionDenied("Only the accreditor's staff do this.")
    accreditor_type, state = applicant.accreditor_type, applicant.state
    if staff.is_state_accreditor_staff:
        # A state medical society accredits intrastate providers of its own state only.
        assert staff.staff_accreditor is not None
        accreditor_type, state = "state", staff.staff_accreditor.state
    with transaction.atomic():
        provider = create_provider(
            name=applicant.name,
            provider_id=applicant.provider_id,
            accreditor_type=accreditor_type,
            state=state,
        )
        invite_user(
            provider=provider,
            email=applicant.email,
            role=Role.ADMIN,
            invited_by=staff,
            first_name=applicant.first_name,
            last_name=applicant.last_name,
        )
        access = get_provider_access(staff, provider.provider_id)
        return open_case(
            access, case_type=CaseType.INITIAL, due_date=due_date, staff_owner=staff_owner
        )


# ---------------------------------------------------------------------------
# What may change


def _open_request(case: Case) -> InfoRequest | None:
    if case.status != CaseStatus.INFO_REQUESTED:
        return None
    return case.info_requests.filter(answered_in__isnull=True).order_by("-id").first()


def editable_section_ids(case: Case) -> set[int]:
    """The sections whose answers and documents may change now."""
    if case.status == CaseStatus.DRAFT:
        return set(
            SelfStudySection.objects.filter(template=case.template_id).values_list("pk", flat=True)
        )
    request = _open_request(case)
    if request is None:
        return set()
    return set(request.sections.values_list("pk", flat=True))


def pip_editable(case: Case) -> bool:
    if case.status == CaseStatus.DRAFT:
        return True
    request = _open_request(case)
    return bool(request and request.reopen_pip)


def _require_section_editable(case: Case, section: SelfStudySection) -> None:
    if section.template_id != case.template_id:
        raise CaseRefused("This section is not part of the case's self-study.")
    if section.pk not in editable_section_ids(case):
        raise CaseRefused(
            f"Section {section.code} cannot change now: the case is "
            f"{case.get_status_display().lower()}. Staff reopen sections by requesting "
            "more information."
        )


def _require_pip_editable(case: Case) -> None:
    if not pip_editable(case):
        raise CaseRefused(
            "The performance-in-practice selection cannot change now: the case is "
            f"{case.get_status_display().lower()}."
        )


def _locked_case(access: ProviderAccess, case: Case) -> Case:
    """The case row locked for the transaction (and proven to be this provider's)."""
    return Case.objects.select_for_update().get(pk=case.pk, provider=access.provider)


# ---------------------------------------------------------------------------
# The provider's work


def save_answers(
    access: ProviderAccess, case: Case, section: SelfStudySection, values: dict[int, str]
) -> list[Answer]:
    """Save the answers to a section's questions (question id → text); empty clears one."""
    access.require_edit()
    with transaction.atomic():
        case = _locked_case(access, case)
        _require_section_editable(case, section)
        questions = {q.pk: q for q in section.questions.all()}
        errors: dict[str, str] = {}
        for pk, value in values.items():
            question = questions.get(pk)
            if question is None:
                raise CaseRefused("An answer names a question of another section.")
            value = value.strip()
            choosing = question.kind in (QuestionKind.CHOICE, QuestionKind.YES_NO)
            if value and choosing and value not in question.options:
                errors[f"q{pk}"] = f"Choose one of: {', '.join(question.options)}."
        if errors:
            raise ValidationError(errors)
        saved = []
        for pk, value in values.items():
            answer, _ = Answer.objects.update_or_create(
                case=case,
                question_id=pk,
                defaults={"value": value.strip(), "updated_by": access.user},
            )
            saved.append(answer)
        _event(access, case, ANSWERS_SAVED, f"Answers to {section.code} saved")
    return saved


def _store(uploaded: File, target: StoredFile, user: User | None) -> None:
    """Check the size, keep the file under a random name and record its SHA-256."""
    limit = settings.PARS_MAX_UPLOAD_BYTES
    size = uploaded.size or 0
    if size > limit:
        raise CaseRefused(
            f"The file is {megabytes(size)}; PARS accepts files of up to {megabytes(limit)}."
        )
    if size == 0:
        raise CaseRefused("The file is empty.")
    original = PurePath((uploaded.name or "document").replace("\\", "/")).name[:255]
    suffix = PurePath(original).suffix.lower()
    if suffix not in _SAFE_SUFFIXES:
        suffix = ".bin"
    hashing = HashingFile(uploaded)
    target.original_name = original or "document"
    target.size = size
    target.uploaded_by = user
    target.file.save(f"{uuid.uuid4().hex}{suffix}", hashing, save=False)
    if hashing.bytes_read != size:
        hashing.digest = hashlib.sha256()
        for chunk in uploaded.chunks():
            hashing.digest.update(chunk)
    target.sha256 = hashing.digest.hexdigest()
    try:
        with transaction.atomic():
            target.save()
    except BaseException:
        target.file.delete(save=False)
        raise


def add_document(
    access: ProviderAccess,
    case: Case,
    section: SelfStudySection,
    uploaded: File,
    attachment: RequiredAttachment | None = None,
) -> CaseDocument:
    access.require_edit()
    with transaction.atomic():
        case = _locked_case(access, case)
        _require_section_editable(case, section)
        if attachment is not None and attachment.section_id != section.pk:
            raise CaseRefused("That required attachment belongs to another section.")
        document = CaseDocument(case=case, section=section, attachment=attachment)
        _store(uploaded, document, access.user)
        _event(
            access,
            case,
            DOCUMENT_ADDED,
            f"Document {document.original_name} added to {section.code}",
            {"document": document.pk, "sha256": document.sha256},
        )
    return document


def remove_document(access: ProviderAccess, case: Case, document: CaseDocument) -> None:
    access.require_edit()
    with transaction.atomic():
        case = _locked_case(access, case)
        document = CaseDocument.objects.select_for_update().get(pk=document.pk, case=case)
        if document.locked:
            raise CaseRefused("This document was submitted; it is kept unchanged.")
        _require_section_editable(case, document.section)
        name = document.original_name
        document.delete()
        _event(access, case, DOCUMENT_REMOVED, f"Document {name} removed")
    transaction.on_commit(lambda: document.file.delete(save=False))


def select_activity(access: ProviderAccess, case: Case, activity: Activity) -> PipSelection:
    """Choose an activity of the provider for performance-in-practice review."""
    access.require_edit()
    with transaction.atomic():
        case = _locked_case(access, case)
        _require_pip_editable(case)
        if activity.provider_id != case.provider_id:
            raise CaseRefused("Only the provider's own activities can be selected.")
        if case.pip_selections.filter(activity=activity).exists():
            raise CaseRefused("This activity is already selected.")
        selection = PipSelection.objects.create(
            case=case,
            activity=activity,
            selected_by=access.user,
            selected_by_staff=access.is_staff,
        )
        _event(
            access,
            case,
            PIP_CHANGED,
            f"Activity {activity.provider_activity_id} selected for performance-in-practice review",
        )
    return selection


def remove_selection(access: ProviderAccess, case: Case, selection: PipSelection) -> None:
    access.require_edit()
    with transaction.atomic():
        case = _locked_case(access, case)
        _require_pip_editable(case)
        selection = PipSelection.objects.get(pk=selection.pk, case=case)
        if selection.evidence.filter(locked=True).exists():
            raise CaseRefused("This selection was submitted with its evidence; it is kept.")
        if selection.selected_by_staff and not access.is_staff:
            raise CaseRefused("Staff selected this activity; only staff remove it.")
        files = [evidence.file for evidence in selection.evidence.all()]
        selection.delete()
        _event(access, case, PIP_CHANGED, "An activity was removed from the PIP selection")

    def delete_files() -> None:
        for stored in files:
            stored.delete(save=False)

    transaction.on_commit(delete_files)


def add_evidence(
    access: ProviderAccess, case: Case, selection: PipSelection, uploaded: File
) -> PipEvidence:
    access.require_edit()
    with transaction.atomic():
        case = _locked_case(access, case)
        _require_pip_editable(case)
        if selection.case_id != case.pk:
            raise CaseRefused("That selection belongs to another case.")
        evidence = PipEvidence(selection=selection)
        _store(uploaded, evidence, access.user)
        _event(
            access,
            case,
            PIP_CHANGED,
            f"Evidence {evidence.original_name} added to the performance-in-practice review",
            {"evidence": evidence.pk, "sha256": evidence.sha256},
        )
    return evidence


# ---------------------------------------------------------------------------
# Completeness and submission


@dataclass(frozen=True)
class Missing:
    where: str  # a section code, or "PIP"
    what: str


def completeness(case: Case) -> list[Missing]:
    """What the case still lacks before it can be submitted (empty: complete)."""
    missing: list[Missing] = []
    answered = {
        pk
        for pk, value in case.answers.values_list("question_id", "value")
        if value and value.strip()
    }
    attached = set(case.documents.values_list("attachment_id", flat=True))
    sections = case.template.sections.prefetch_related("questions", "attachments")
    for section in sections:
        for question in section.questions.all():
            if question.required and question.pk not in answered:
                missing.append(Missing(section.code, f"Answer: {question.text}"))
        for attachment in section.attachments.all():
            if attachment.pk not in attached:
                missing.append(Missing(section.code, f"Attach: {attachment.name}"))
    wanted = case.template.pip_activities
    selections = list(case.pip_selections.prefetch_related("evidence"))
    if len(selections) < wanted:
        missing.append(
            Missing(
                "PIP",
                f"Select {wanted} activities for performance-in-practice review "
                f"({len(selections)} selected).",
            )
        )
    for selection in selections:
        if not selection.evidence.all():
            label = selection.activity.title if selection.activity else "a deleted activity"
            missing.append(Missing("PIP", f"Evidence for {label}"))
    return missing


def _file_entry(stored: StoredFile) -> dict[str, Any]:
    return {
        "id": stored.pk,
        "name": stored.original_name,
        "size": stored.size,
        "sha256": stored.sha256,
    }


def build_snapshot(case: Case) -> dict[str, Any]:
    """The case as it stands, as JSON: what a submission freezes."""
    answers = dict(case.answers.values_list("question_id", "value"))
    documents: dict[int, list[CaseDocument]] = {}
    for document in case.documents.select_related("attachment"):
        documents.setdefault(document.section_id, []).append(document)
    sections = []
    for section in case.template.sections.prefetch_related("questions"):
        sections.append(
            {
                "id": section.pk,
                "code": section.code,
                "title": section.title,
                "questions": [
                    {
                        "id": q.pk,
                        "text": q.text,
                        "kind": q.kind,
                        "answer": answers.get(q.pk, ""),
                    }
                    for q in section.questions.all()
                ],
                "documents": [
                    {
                        **_file_entry(d),
                        "attachment": d.attachment.name if d.attachment else "",
                    }
                    for d in documents.get(section.pk, [])
                ],
            }
        )
    pip = []
    for selection in case.pip_selections.select_related("activity").prefetch_related("evidence"):
        activity = selection.activity
        pip.append(
            {
                "selection": selection.pk,
                "activity": activity.pk if activity else None,
                "provider_activity_id": activity.provider_activity_id if activity else "",
                "title": activity.title if activity else "(deleted activity)",
                "start_date": activity.start_date.isoformat()
                if activity and activity.start_date
                else "",
                "selected_by_staff": selection.selected_by_staff,
                "evidence": [_file_entry(e) for e in selection.evidence.all()],
            }
        )
    return {
        "case_type": case.case_type,
        "template": case.template.name,
        "sections": sections,
        "pip": pip,
    }


def can_submit(access: ProviderAccess) -> bool:
    return access.is_staff or access.role == Role.ADMIN


def submit_case(access: ProviderAccess, case: Case) -> Submission:
    """Freeze what is sent: a new submission version; its files are locked for good."""
    access.require_edit()
    if not can_submit(access):
        raise PermissionDenied("Only the provider's administrator submits the self-study.")
    with transaction.atomic():
        case = _locked_case(access, case)
        if case.status not in (CaseStatus.DRAFT, CaseStatus.INFO_REQUESTED):
            raise CaseRefused(f"The case is {case.get_status_display().lower()}; nothing to send.")
        missing = completeness(case)
        if missing:
            raise CaseRefused(f"The self-study is incomplete: {len(missing)} items missing.")
        version = case.submissions.count() + 1
        submission = Submission.objects.create(
            case=case, version=version, submitted_by=access.user, snapshot=build_snapshot(case)
        )
        case.documents.update(locked=True)
        PipEvidence.objects.filter(selection__case=case).update(locked=True)
        request = _open_request(case)
        if request is not None:
            request.answered_in = version
            request.save(update_fields=["answered_in"])
        case.status = CaseStatus.RESUBMITTED if version > 1 else CaseStatus.SUBMITTED
        case.save(update_fields=["status"])
        _event(access, case, SUBMITTED, f"Self-study submitted (version {version})")
        notices.case_submitted(case, version)
    return submission


# ---------------------------------------------------------------------------
# Staff review


def start_review(access: ProviderAccess, case: Case) -> Case:
    _require_staff(access)
    with transaction.atomic():
        case = _locked_case(access, case)
        if case.status not in (CaseStatus.SUBMITTED, CaseStatus.RESUBMITTED):
            raise CaseRefused("Only a submitted case goes under review.")
        case.status = CaseStatus.UNDER_REVIEW
        case.save(update_fields=["status"])
        _event(access, case, REVIEW_STARTED, "Review started")
    return case


def add_comment(
    access: ProviderAccess,
    case: Case,
    body: str,
    *,
    section: SelfStudySection | None = None,
    visible_to_provider: bool = True,
) -> ReviewComment:
    _require_staff(access)
    body = body.strip()
    if not body:
        raise CaseRefused("Write the comment first.")
    with transaction.atomic():
        case = _locked_case(access, case)
        if section is not None and section.template_id != case.template_id:
            raise CaseRefused("This section is not part of the case's self-study.")
        latest = case.submissions.order_by("-version").first()
        comment = ReviewComment.objects.create(
            case=case,
            section=section,
            body=body,
            visible_to_provider=visible_to_provider,
            author=access.user,
            submission_version=latest.version if latest else None,
        )
        where = section.code if section else "the case"
        shown = "shown to the provider" if visible_to_provider else "staff only"
        _event(access, case, COMMENTED, f"Comment on {where} ({shown})")
    return comment


def request_information(
    access: ProviderAccess,
    case: Case,
    message: str,
    *,
    sections: list[SelfStudySection],
    reopen_pip: bool = False,
    due_date: datetime.date | None = None,
) -> InfoRequest:
    """Ask the provider for more: the named sections (and PIP) open again until it resubmits."""
    _require_staff(access)
    message = message.strip()
    if not message:
        raise CaseRefused("Say what information is needed.")
    if not sections and not reopen_pip:
        raise CaseRefused("Reopen at least one section or the performance-in-practice review.")
    with transaction.atomic():
        case = _locked_case(access, case)
        if case.status not in REVIEWABLE:
            raise CaseRefused(
                f"The case is {case.get_status_display().lower()}: more information is "
                "requested only of a submitted case."
            )
        if any(s.template_id != case.template_id for s in sections):
            raise CaseRefused("A section is not part of the case's self-study.")
        request = InfoRequest.objects.create(
            case=case,
            message=message,
            reopen_pip=reopen_pip,
            due_date=due_date,
            requested_by=access.user,
        )
        request.sections.set(sections)
        case.status = CaseStatus.INFO_REQUESTED
        case.save(update_fields=["status"])
        codes = ", ".join(s.code for s in sections) + (" PIP" if reopen_pip else "")
        _event(access, case, INFO_REQUESTED, f"More information requested ({codes.strip()})")
        notices.information_requested(case, request)
    return request


def default_term_end(outcome: str, start: datetime.date) -> datetime.date | None:
    years = TERM_YEARS.get(AccreditationStatus(outcome)) if outcome in TERM_YEARS else None
    if years is None:
        return None
    try:
        end = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        end = start.replace(year=start.year + years, day=28)
    return end - datetime.timedelta(days=1)


def decide(
    access: ProviderAccess,
    case: Case,
    *,
    outcome: str,
    decided_on: datetime.date,
    term_start: datetime.date | None = None,
    term_end: datetime.date | None = None,
    notes: str = "",
) -> AccreditationDecision:
    """Record the decision: it lands in the provider's decision history and, through
    ``record_decision``, sets the provider's status and term."""
    _require_staff(access)
    if outcome not in dict(DECISION_OUTCOMES):
        raise CaseRefused("Choose the outcome of the decision.")
    if outcome in TERM_YEARS:
        term_start = term_start or decided_on
        term_end = term_end or default_term_end(outcome, term_start)
    with transaction.atomic():
        case = _locked_case(access, case)
        if case.status not in REVIEWABLE | {CaseStatus.INFO_REQUESTED}:
            raise CaseRefused(
                f"The case is {case.get_status_display().lower()}: a decision needs a submission."
            )
        decision = record_decision(
            AccreditationDecision(
                provider=case.provider,
                decision_type=case.case_type,
                outcome=outcome,
                decided_on=decided_on,
                term_start=term_start,
                term_end=term_end,
                notes=notes.strip(),
            )
        )
        case.decision = decision
        case.status = CaseStatus.DECIDED
        case.save(update_fields=["decision", "status"])
        _event(
            access,
            case,
            DECIDED,
            f"Decision: {decision.get_outcome_display()} ({us_date(decided_on)})",
            {"decision": decision.pk},
        )
        notices.decision_recorded(case.provider, decision)
    return decision


# ---------------------------------------------------------------------------


def _event(
    access: ProviderAccess,
    case: Case,
    action: str,
    description: str,
    details: dict[str, Any] | None = None,
) -> None:
    record_event(
        access,
        action,
        channel=CHANNEL,
        description=description,
        details={"case": case.pk, "status": case.status, **(details or {})},
    )
