"""Builders for the accreditation tests: open a case, fill in its whole self-study."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.models import User
from pars.accreditation import services
from pars.accreditation.models import Case, QuestionKind
from pars.providers.models import Provider
from pars.testing import make_activity


def open_case(staff: User, provider: Provider, case_type: str = "reaccreditation") -> Case:
    return services.open_case(get_provider_access(staff, provider.provider_id), case_type=case_type)


def pdf(name: str = "document.pdf", body: bytes = b"%PDF-1.4 test document") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def answer_for(kind: str, options: list[str]) -> str:
    if kind == QuestionKind.TEXT:
        return "Our answer."
    return options[0]


def fill_section(access: ProviderAccess, case: Case, section_code: str) -> None:
    section = case.template.sections.get(code=section_code)
    services.save_answers(
        access,
        case,
        section,
        {q.pk: answer_for(q.kind, q.options) for q in section.questions.all()},
    )
    for attachment in section.attachments.all():
        services.add_document(access, case, section, pdf(f"{attachment.name}.pdf"), attachment)


def fill_everything(access: ProviderAccess, case: Case) -> None:
    for section in case.template.sections.all():
        fill_section(access, case, section.code)
    for _ in range(case.template.pip_activities):
        selection = services.select_activity(access, case, make_activity(access.provider))
        services.add_evidence(access, case, selection, pdf("evidence.pdf", b"evidence"))
