"""Route samples for the accreditation pages (see route_walker.py).

The case routes name the victim's first case and its first section, document, PIP
selection, evidence file and submission (without one, a row that does not exist).
tests/accreditation/test_tenancy_accreditation.py gives the victim a submitted case
(:func:`add_accreditation_rows`) and walks every route again.
"""

from typing import Any

from tests.support.route_walker import Kind, Sample, Victim


def add_accreditation_rows(victim: Victim) -> None:
    """A submitted reaccreditation case of the victim's, with a document and PIP evidence."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pars.accounts.access import get_provider_access
    from pars.accounts.models import User
    from pars.accreditation import services
    from pars.accreditation.models import Case

    if Case.objects.filter(provider=victim.provider).exists():
        return
    staff = User.objects.filter(email="victim-staff@accreditor.example").first()
    if staff is None:
        staff = User.objects.create_user("victim-staff@accreditor.example", is_staff=True)
    staff_access = get_provider_access(staff, victim.provider.provider_id)
    case = services.open_case(staff_access, case_type="progress_report")
    access = get_provider_access(victim.user, victim.provider.provider_id)
    section = case.template.sections.first()
    assert section is not None
    services.save_answers(access, case, section, {q.pk: "Yes" for q in section.questions.all()})
    for attachment in section.attachments.all():
        services.add_document(
            access,
            case,
            section,
            SimpleUploadedFile("victim.pdf", victim.secret_marker.encode()),
            attachment,
        )
    selection = services.select_activity(access, case, victim.activity)
    services.add_evidence(
        access, case, selection, SimpleUploadedFile("evidence.pdf", b"victim evidence")
    )
    services.submit_case(access, case)


def _first(victim: Victim, model_name: str, **lookup: Any) -> int:
    from django.apps import apps

    model = apps.get_model("accreditation", model_name)
    row = model._default_manager.filter(**lookup).order_by("pk").first()
    return row.pk if row is not None else 0


def _provider(v: Victim) -> dict[str, Any]:
    return {"provider_id": v.provider.provider_id}


def _case_pk(v: Victim) -> int:
    return _first(v, "Case", provider=v.provider)


def _case(v: Victim) -> dict[str, Any]:
    return {**_provider(v), "pk": _case_pk(v)}


def _section(v: Victim) -> dict[str, Any]:
    from pars.accreditation.models import Case

    case = Case.objects.filter(provider=v.provider).order_by("pk").first()
    template = case.template_id if case else 0
    return {**_case(v), "section_pk": _first(v, "SelfStudySection", template=template)}


def _document(v: Victim) -> dict[str, Any]:
    return {**_case(v), "doc_pk": _first(v, "CaseDocument", case__provider=v.provider)}


def _selection(v: Victim) -> dict[str, Any]:
    return {**_case(v), "sel_pk": _first(v, "PipSelection", case__provider=v.provider)}


def _evidence(v: Victim) -> dict[str, Any]:
    return {
        **_selection(v),
        "ev_pk": _first(v, "PipEvidence", selection__case__provider=v.provider),
    }


def _staff_case(v: Victim) -> dict[str, Any]:
    return {"pk": _case_pk(v)}


ACCREDITATION_SAMPLES: dict[str, Sample] = {
    "accreditation:cases": Sample(Kind.PROVIDER, _provider),
    "accreditation:case": Sample(Kind.PROVIDER, _case),
    "accreditation:section": Sample(Kind.PROVIDER, _section),
    "accreditation:document_upload": Sample(Kind.PROVIDER, _section),
    "accreditation:document": Sample(Kind.PROVIDER, _document),
    "accreditation:document_remove": Sample(Kind.PROVIDER, _document),
    "accreditation:pip": Sample(Kind.PROVIDER, _case),
    "accreditation:pip_remove": Sample(Kind.PROVIDER, _selection),
    "accreditation:evidence_upload": Sample(Kind.PROVIDER, _selection),
    "accreditation:evidence": Sample(Kind.PROVIDER, _evidence),
    "accreditation:submit": Sample(Kind.PROVIDER, _case),
    "accreditation:submission": Sample(Kind.PROVIDER, lambda v: {**_case(v), "version": 1}),
    "accreditation:staff_cases": Sample(Kind.STAFF),
    "accreditation:staff_open": Sample(Kind.STAFF),
    "accreditation:staff_applicant": Sample(Kind.STAFF),
    "accreditation:staff_case": Sample(Kind.STAFF, _staff_case),
    "accreditation:staff_review": Sample(Kind.STAFF, _staff_case),
    "accreditation:staff_comment": Sample(Kind.STAFF, _staff_case),
    "accreditation:staff_request_info": Sample(Kind.STAFF, _staff_case),
    "accreditation:staff_decide": Sample(Kind.STAFF, _staff_case),
}
