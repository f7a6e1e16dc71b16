"""The accreditation pages: the provider's case workspace and the staff's review.

Provider pages live under ``/p/<provider_id>/accreditation/`` behind ``provider_view`` and
read cases through the access (``access.get(Case, ...)``); staff pages find cases only among
``providers_visible_to`` the staff member. Every write goes through
:mod:`pars.accreditation.services`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from pars.accounts.access import ProviderAccess, get_provider_access, providers_visible_to
from pars.accounts.decorators import provider_view, staff_view
from pars.activities.models import Activity

from . import services
from .forms import (
    ApplicantForm,
    CommentForm,
    DecisionForm,
    DocumentForm,
    EvidenceForm,
    InfoRequestForm,
    OpenCaseForm,
)
from .models import (
    Case,
    CaseDocument,
    CaseStatus,
    CaseType,
    PipEvidence,
    PipSelection,
    SelfStudySection,
    StoredFile,
    Submission,
)
from .services import CaseRefused


def _case_url(case: Case) -> str:
    return reverse(
        "accreditation:case", kwargs={"provider_id": case.provider.provider_id, "pk": case.pk}
    )


def _section_url(case: Case, section: SelfStudySection) -> str:
    return reverse(
        "accreditation:section",
        kwargs={"provider_id": case.provider.provider_id, "pk": case.pk, "section_pk": section.pk},
    )


def _pip_url(case: Case) -> str:
    return reverse(
        "accreditation:pip", kwargs={"provider_id": case.provider.provider_id, "pk": case.pk}
    )


def _download(stored: StoredFile) -> FileResponse:
    response = FileResponse(
        stored.file.open("rb"),
        as_attachment=True,
        filename=stored.original_name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _section_rows(case: Case) -> list[dict[str, Any]]:
    """Each section with how far it is: answered questions and attached documents."""
    answered = {
        pk for pk, value in case.answers.values_list("question_id", "value") if value.strip()
    }
    documents: dict[int, int] = {}
    for section_id in case.documents.values_list("section_id", flat=True):
        documents[section_id] = documents.get(section_id, 0) + 1
    editable = services.editable_section_ids(case)
    rows = []
    for section in case.template.sections.prefetch_related("questions"):
        questions = list(section.questions.all())
        rows.append(
            {
                "section": section,
                "answered": sum(1 for q in questions if q.pk in answered),
                "questions": len(questions),
                "documents": documents.get(section.pk, 0),
                "editable": section.pk in editable,
            }
        )
    return rows


# ---------------------------------------------------------------------------
# The provider's workspace


@provider_view()
def case_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    cases = access.records(Case).select_related("template", "decision")
    return render(request, "accreditation/case_list.html", {"access": access, "cases": cases})


@provider_view()
def case_detail(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    case = access.get(Case, pk=pk)
    open_request = case.info_requests.filter(answered_in__isnull=True).first()
    context = {
        "access": access,
        "case": case,
        "sections": _section_rows(case),
        "missing": services.completeness(case),
        "pip_count": case.pip_selections.count(),
        "pip_editable": services.pip_editable(case),
        "comments": case.comments.filter(visible_to_provider=True).select_related("section"),
        "info_requests": case.info_requests.prefetch_related("sections"),
        "open_request": open_request if case.status == CaseStatus.INFO_REQUESTED else None,
        "submissions": case.submissions.select_related("submitted_by"),
        "can_submit": services.can_submit(access)
        and case.status in (CaseStatus.DRAFT, CaseStatus.INFO_REQUESTED),
    }
    return render(request, "accreditation/case.html", context)


@provider_view()
def section(request: HttpRequest, access: ProviderAccess, pk: int, section_pk: int) -> HttpResponse:
    case = access.get(Case, pk=pk)
    section = get_object_or_404(SelfStudySection, pk=section_pk, template=case.template_id)
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        access.require_edit()
        values = {
            q.pk: request.POST[f"q{q.pk}"]
            for q in section.questions.all()
            if f"q{q.pk}" in request.POST
        }
        try:
            services.save_answers(access, case, section, values)
        except CaseRefused as refused:
            messages.error(request, refused.message)
            status = 409
        except ValidationError as invalid:
            errors = invalid.message_dict
            status = 400
        else:
            messages.success(request, f"Answers to {section.code} {section.title} saved.")
            return redirect(_section_url(case, section))
    answers = dict(case.answers.values_list("question_id", "value"))
    editable = access.can_edit and section.pk in services.editable_section_ids(case)
    questions = [
        {
            "question": q,
            "name": f"q{q.pk}",
            "value": request.POST.get(f"q{q.pk}", "") if errors else answers.get(q.pk, ""),
            "errors": errors.get(f"q{q.pk}", []),
        }
        for q in section.questions.all()
    ]
    context = {
        "access": access,
        "case": case,
        "section": section,
        "questions": questions,
        "editable": editable,
        "documents": case.documents.filter(section=section).select_related("attachment"),
        "attachments": section.attachments.all(),
        "document_form": DocumentForm(section=section),
        "comments": case.comments.filter(section=section, visible_to_provider=True),
        "sections": case.template.sections.all(),
    }
    return render(request, "accreditation/section.html", context, status=status)


@provider_view(edit=True)
@require_POST
def document_upload(
    request: HttpRequest, access: ProviderAccess, pk: int, section_pk: int
) -> HttpResponse:
    case = access.get(Case, pk=pk)
    section = get_object_or_404(SelfStudySection, pk=section_pk, template=case.template_id)
    form = DocumentForm(request.POST, request.FILES, section=section)
    if not form.is_valid():
        messages.error(request, "Choose a file to upload.")
        return redirect(_section_url(case, section))
    try:
        document = services.add_document(
            access, case, section, form.cleaned_data["file"], form.cleaned_data["attachment"]
        )
    except CaseRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{document.original_name} uploaded.")
    return redirect(_section_url(case, section))


@provider_view()
def document_download(
    request: HttpRequest, access: ProviderAccess, pk: int, doc_pk: int
) -> HttpResponseBase:
    case = access.get(Case, pk=pk)
    return _download(get_object_or_404(CaseDocument, pk=doc_pk, case=case))


@provider_view(edit=True)
@require_POST
def document_remove(
    request: HttpRequest, access: ProviderAccess, pk: int, doc_pk: int
) -> HttpResponse:
    case = access.get(Case, pk=pk)
    document = get_object_or_404(CaseDocument, pk=doc_pk, case=case)
    try:
        services.remove_document(access, case, document)
    except CaseRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{document.original_name} removed.")
    return redirect(_section_url(case, document.section))


def _activity_choices(access: ProviderAccess, case: Case, query: str) -> QuerySet[Activity]:
    activities = access.records(Activity).exclude(
        pk__in=case.pip_selections.exclude(activity=None).values("activity_id")
    )
    if query:
        activities = activities.filter(
            Q(title__icontains=query) | Q(provider_activity_id__icontains=query)
        )
    return activities.order_by("-start_date", "-pk")[:50]


@provider_view()
def pip(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    case = access.get(Case, pk=pk)
    if request.method == "POST":
        access.require_edit()
        activity_pk = request.POST.get("activity", "")
        if not activity_pk.isdigit():
            messages.error(request, "Choose an activity.")
        else:
            activity = access.get(Activity, pk=int(activity_pk))
            try:
                services.select_activity(access, case, activity)
            except CaseRefused as refused:
                messages.error(request, refused.message)
            else:
                messages.success(request, f"{activity.title} selected for review.")
        return redirect(_pip_url(case))
    query = request.GET.get("q", "").strip()
    context = {
        "access": access,
        "case": case,
        "selections": case.pip_selections.select_related("activity", "selected_by")
        .prefetch_related("evidence")
        .order_by("selected_at", "id"),
        "activities": _activity_choices(access, case, query),
        "query": query,
        "editable": access.can_edit and services.pip_editable(case),
        "wanted": case.template.pip_activities,
        "evidence_form": EvidenceForm(),
    }
    return render(request, "accreditation/pip.html", context)


@provider_view(edit=True)
@require_POST
def pip_remove(request: HttpRequest, access: ProviderAccess, pk: int, sel_pk: int) -> HttpResponse:
    case = access.get(Case, pk=pk)
    selection = get_object_or_404(PipSelection, pk=sel_pk, case=case)
    try:
        services.remove_selection(access, case, selection)
    except CaseRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "The activity was removed from the selection.")
    return redirect(_pip_url(case))


@provider_view(edit=True)
@require_POST
def evidence_upload(
    request: HttpRequest, access: ProviderAccess, pk: int, sel_pk: int
) -> HttpResponse:
    case = access.get(Case, pk=pk)
    selection = get_object_or_404(PipSelection, pk=sel_pk, case=case)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "Choose a file to upload.")
        return redirect(_pip_url(case))
    try:
        evidence = services.add_evidence(access, case, selection, form.cleaned_data["file"])
    except CaseRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, f"{evidence.original_name} uploaded.")
    return redirect(_pip_url(case))


@provider_view()
def evidence_download(
    request: HttpRequest, access: ProviderAccess, pk: int, sel_pk: int, ev_pk: int
) -> HttpResponseBase:
    case = access.get(Case, pk=pk)
    evidence = get_object_or_404(PipEvidence, pk=ev_pk, selection_id=sel_pk, selection__case=case)
    return _download(evidence)


@provider_view(edit=True)
def submit(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    case = access.get(Case, pk=pk)
    if request.method == "POST":
        try:
            submission = services.submit_case(access, case)
        except CaseRefused as refused:
            messages.error(request, refused.message)
        else:
            messages.success(
                request, f"Self-study submitted (version {submission.version}). It is now frozen."
            )
            return redirect(_case_url(case))
    context = {
        "access": access,
        "case": case,
        "missing": services.completeness(case),
        "can_submit": services.can_submit(access),
    }
    return render(request, "accreditation/submit.html", context)


@provider_view()
def submission(request: HttpRequest, access: ProviderAccess, pk: int, version: int) -> HttpResponse:
    case = access.get(Case, pk=pk)
    sent = get_object_or_404(Submission, case=case, version=version)
    context = {"access": access, "case": case, "submission": sent}
    return render(request, "accreditation/submission.html", context)


# ---------------------------------------------------------------------------
# The accreditor's staff


def _staff_cases(request: HttpRequest) -> QuerySet[Case]:
    return Case.objects.filter(provider__in=providers_visible_to(request.user))


def _staff_case(request: HttpRequest, pk: int) -> tuple[Case, ProviderAccess]:
    case = get_object_or_404(_staff_cases(request).select_related("provider", "template"), pk=pk)
    return case, get_provider_access(request.user, case.provider.provider_id)


@staff_view
def staff_cases(request: HttpRequest) -> HttpResponse:
    cases = _staff_cases(request).select_related("provider", "staff_owner", "decision")
    status = request.GET.get("status", "")
    case_type = request.GET.get("type", "")
    query = request.GET.get("q", "").strip()
    mine = request.GET.get("mine") == "1"
    if status == "open":
        cases = cases.exclude(status=CaseStatus.DECIDED)
    elif status in CaseStatus.values:
        cases = cases.filter(status=status)
    if case_type in CaseType.values:
        cases = cases.filter(case_type=case_type)
    if query:
        cases = cases.filter(
            Q(provider__name__icontains=query) | Q(provider__provider_id__icontains=query)
        )
    if mine:
        cases = cases.filter(staff_owner=request.user.pk)
    context = {
        "cases": cases.order_by("due_date", "-opened_at")[:500],
        "statuses": CaseStatus.choices,
        "types": CaseType.choices,
        "status": status,
        "case_type": case_type,
        "query": query,
        "mine": mine,
    }
    return render(request, "accreditation/staff_cases.html", context)


@staff_view
def staff_open(request: HttpRequest) -> HttpResponse:
    providers = providers_visible_to(request.user)
    initial = {"provider": request.GET.get("provider", ""), "staff_owner": request.user.pk}
    form = OpenCaseForm(request.POST or None, initial=initial, providers=providers)
    if request.method == "POST" and form.is_valid():
        access = get_provider_access(request.user, form.cleaned_data["provider"].provider_id)
        try:
            case = services.open_case(
                access,
                case_type=form.cleaned_data["case_type"],
                due_date=form.cleaned_data["due_date"],
                staff_owner=form.cleaned_data["staff_owner"],
            )
        except CaseRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, f"{case.get_case_type_display()} case opened.")
            return redirect("accreditation:staff_case", pk=case.pk)
    status = 400 if form.errors else 200
    return render(request, "accreditation/staff_open.html", {"form": form}, status=status)


@staff_view
def staff_applicant(request: HttpRequest) -> HttpResponse:
    form = ApplicantForm(request.POST or None, initial={"staff_owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        applicant = services.Applicant(
            name=data["name"],
            provider_id=data["provider_id"],
            accreditor_type=data["accreditor_type"],
            state=data["state"] or None,
            email=data["email"],
            first_name=data["first_name"],
            last_name=data["last_name"],
        )
        try:
            case = services.open_applicant_case(
                request.user,  # type: ignore[arg-type]
                applicant,
                due_date=data["due_date"],
                staff_owner=data["staff_owner"],
            )
        except ValidationError as invalid:
            for field, errors in invalid.message_dict.items():
                target = field if field in form.fields else None
                for error in errors:
                    form.add_error(target, error)
        except CaseRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(
                request,
                f"{case.provider.name} opened as an applicant; {data['email']} was sent "
                "the System Access Granted email.",
            )
            return redirect("accreditation:staff_case", pk=case.pk)
    status = 400 if form.errors else 200
    return render(request, "accreditation/staff_applicant.html", {"form": form}, status=status)


def _staff_case_page(
    request: HttpRequest, case: Case, status: int = 200, **forms: Any
) -> HttpResponse:
    submissions = list(case.submissions.select_related("submitted_by"))
    version = request.GET.get("version", "")
    shown = submissions[-1] if submissions else None
    for sent in submissions:
        if str(sent.version) == version:
            shown = sent
    context = {
        "case": case,
        "access": get_provider_access(request.user, case.provider.provider_id),
        "submissions": submissions,
        "submission": shown,
        "comments": case.comments.select_related("section", "author"),
        "info_requests": case.info_requests.prefetch_related("sections"),
        "missing": services.completeness(case),
        "reviewable": case.status in services.REVIEWABLE,
        "can_decide": case.status in services.REVIEWABLE | {CaseStatus.INFO_REQUESTED},
        "comment_form": forms.get("comment_form") or CommentForm(case=case),
        "info_form": forms.get("info_form") or InfoRequestForm(case=case),
        "decision_form": forms.get("decision_form") or DecisionForm(),
    }
    return render(request, "accreditation/staff_case.html", context, status=status)


@staff_view
def staff_case(request: HttpRequest, pk: int) -> HttpResponse:
    case, _ = _staff_case(request, pk)
    return _staff_case_page(request, case)


def _staff_url(case: Case) -> str:
    return reverse("accreditation:staff_case", kwargs={"pk": case.pk})


@staff_view
@require_POST
def staff_start_review(request: HttpRequest, pk: int) -> HttpResponse:
    case, access = _staff_case(request, pk)
    try:
        services.start_review(access, case)
    except CaseRefused as refused:
        messages.error(request, refused.message)
    else:
        messages.success(request, "Review started.")
    return redirect(_staff_url(case))


@staff_view
@require_POST
def staff_comment(request: HttpRequest, pk: int) -> HttpResponse:
    case, access = _staff_case(request, pk)
    form = CommentForm(request.POST, case=case)
    if form.is_valid():
        try:
            services.add_comment(
                access,
                case,
                form.cleaned_data["body"],
                section=form.cleaned_data["section"],
                visible_to_provider=form.cleaned_data["visible_to_provider"],
            )
        except CaseRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, "Comment added.")
            return redirect(_staff_url(case))
    return _staff_case_page(request, case, status=400, comment_form=form)


@staff_view
@require_POST
def staff_request_info(request: HttpRequest, pk: int) -> HttpResponse:
    case, access = _staff_case(request, pk)
    form = InfoRequestForm(request.POST, case=case)
    if form.is_valid():
        try:
            services.request_information(
                access,
                case,
                form.cleaned_data["message"],
                sections=list(form.cleaned_data["sections"]),
                reopen_pip=form.cleaned_data["reopen_pip"],
                due_date=form.cleaned_data["due_date"],
            )
        except CaseRefused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, "More information requested; the sections are reopened.")
            return redirect(_staff_url(case))
    return _staff_case_page(request, case, status=400, info_form=form)


@staff_view
@require_POST
def staff_decide(request: HttpRequest, pk: int) -> HttpResponse:
    case, access = _staff_case(request, pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            decision = services.decide(
                access,
                case,
                outcome=data["outcome"],
                decided_on=data["decided_on"],
                term_start=data["term_start"],
                term_end=data["term_end"],
                notes=data["notes"],
            )
        except CaseRefused as refused:
            form.add_error(None, refused.message)
        except ValidationError as invalid:
            for error in invalid.messages:
                form.add_error(None, error)
        else:
            messages.success(request, f"Decision recorded: {decision.get_outcome_display()}.")
            return redirect(_staff_url(case))
    return _staff_case_page(request, case, status=400, decision_form=form)
