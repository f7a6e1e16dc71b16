"""The accreditation pages: the provider's workspace and the staff's review, through the
test client; the rules themselves are tested on the services."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.accreditation import services
from pars.accreditation.models import Case, CaseStatus
from pars.providers.models import AccreditationStatus, Provider
from pars.testing import make_accreditor, make_activity, make_provider, make_user
from tests.support.accreditation import fill_everything, open_case, pdf

pytestmark = pytest.mark.django_db

ClientAs = Callable[[User], Client]


def _url(name: str, case: Case, **kwargs: object) -> str:
    return reverse(
        f"accreditation:{name}",
        kwargs={"provider_id": case.provider.provider_id, "pk": case.pk, **kwargs},
    )


def test_the_provider_works_through_its_case_in_the_pages(
    provider: Provider, admin_user: User, staff: User, client_as: ClientAs
) -> None:
    case = open_case(staff, provider, "progress_report")
    client = client_as(admin_user)
    listing = client.get(reverse("accreditation:cases", args=[provider.provider_id]))
    assert "Progress report" in listing.content.decode()
    page = client.get(_url("case", case)).content.decode()
    assert "P1 Progress on noncompliance" in page
    assert "Before you can submit" in page
    section = case.template.sections.get()
    questions = list(section.questions.all())
    response = client.post(
        _url("section", case, section_pk=section.pk),
        {
            f"q{questions[0].pk}": "Criterion 5: new disclosure form.",
            f"q{questions[1].pk}": "Maybe",
        },
    )
    assert response.status_code == 400
    assert "Choose one of: Yes, No" in response.content.decode()
    response = client.post(
        _url("section", case, section_pk=section.pk),
        {f"q{questions[0].pk}": "Criterion 5: new disclosure form.", f"q{questions[1].pk}": "Yes"},
    )
    assert response.status_code == 302
    attachment = section.attachments.get()
    response = client.post(
        _url("document_upload", case, section_pk=section.pk),
        {"attachment": attachment.pk, "file": pdf("changes.pdf", b"our changes")},
    )
    assert response.status_code == 302
    document = case.documents.get()
    download = client.get(_url("document", case, doc_pk=document.pk))
    body = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    assert body == b"our changes"
    assert 'attachment; filename="changes.pdf"' in download["Content-Disposition"]
    assert "The self-study is complete" in client.get(_url("case", case)).content.decode()
    response = client.post(_url("submit", case))
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    frozen = client.get(_url("submission", case, version=1)).content.decode()
    assert "Criterion 5: new disclosure form." in frozen
    assert "changes.pdf" in frozen
    # After the submit the section refuses changes.
    response = client.post(
        _url("section", case, section_pk=section.pk), {f"q{questions[0].pk}": "Changed"}
    )
    assert response.status_code == 409
    assert case.answers.get(question=questions[0]).value == "Criterion 5: new disclosure form."


def test_pip_selection_and_evidence_in_the_pages(
    provider: Provider, admin_user: User, staff: User, client_as: ClientAs
) -> None:
    case = open_case(staff, provider)
    activity = make_activity(provider, title="Grand Rounds: Sepsis")
    other = make_activity(make_provider(), title="Not ours")
    client = client_as(admin_user)
    page = client.get(_url("pip", case)).content.decode()
    assert "Grand Rounds: Sepsis" in page
    assert "Not ours" not in page
    assert client.post(_url("pip", case), {"activity": other.pk}).status_code == 404
    assert client.post(_url("pip", case), {"activity": activity.pk}).status_code == 302
    selection = case.pip_selections.get()
    response = client.post(
        _url("evidence_upload", case, sel_pk=selection.pk), {"file": pdf("eval.pdf", b"eval")}
    )
    assert response.status_code == 302
    assert "eval.pdf" in client.get(_url("pip", case)).content.decode()


def test_a_read_only_member_reads_but_may_not_change(
    provider: Provider, reader: User, staff: User, client_as: ClientAs
) -> None:
    case = open_case(staff, provider, "progress_report")
    section = case.template.sections.get()
    client = client_as(reader)
    assert client.get(_url("case", case)).status_code == 200
    assert client.get(_url("section", case, section_pk=section.pk)).status_code == 200
    question = section.questions.all()[0]
    assert (
        client.post(_url("section", case, section_pk=section.pk), {f"q{question.pk}": "x"})
    ).status_code == 403
    assert client.post(_url("submit", case)).status_code == 403
    assert (
        client.post(
            _url("document_upload", case, section_pk=section.pk), {"file": pdf()}
        ).status_code
        == 403
    )
    assert not case.answers.exists()
    assert not case.documents.exists()


def test_another_providers_user_gets_404(
    provider: Provider, mallory: User, staff: User, client_as: ClientAs
) -> None:
    case = open_case(staff, provider)
    client = client_as(mallory)
    assert client.get(_url("case", case)).status_code == 404
    # Naming the case under mallory's own provider does not reach it either.
    other = mallory.memberships.get().provider
    url = reverse("accreditation:case", kwargs={"provider_id": other.provider_id, "pk": case.pk})
    assert client.get(url).status_code == 404
    assert client.get(reverse("accreditation:staff_case", args=[case.pk])).status_code == 404


def test_staff_review_comment_request_and_decide_in_the_pages(
    provider: Provider, admin_user: User, staff: User, client_as: ClientAs
) -> None:
    case = open_case(staff, provider)
    access = get_provider_access(admin_user, provider.provider_id)
    fill_everything(access, case)
    services.submit_case(access, case)
    client = client_as(staff)
    listing = client.get(reverse("accreditation:staff_cases"), {"status": "submitted"})
    assert provider.name in listing.content.decode()
    assert (
        provider.name
        not in client.get(
            reverse("accreditation:staff_cases"), {"status": "draft"}
        ).content.decode()
    )
    staff_url = reverse("accreditation:staff_case", args=[case.pk])
    assert "Our answer." in client.get(staff_url).content.decode()
    client.post(reverse("accreditation:staff_review", args=[case.pk]))
    client.post(
        reverse("accreditation:staff_comment", args=[case.pk]),
        {"body": "Visible note", "visible_to_provider": "on"},
    )
    client.post(reverse("accreditation:staff_comment", args=[case.pk]), {"body": "Internal note"})
    mission = case.template.sections.get(code="C1")
    response = client.post(
        reverse("accreditation:staff_request_info", args=[case.pk]),
        {"message": "Restate results", "sections": [mission.pk]},
    )
    assert response.status_code == 302
    provider_page = client_as(admin_user).get(_url("case", case)).content.decode()
    assert "Visible note" in provider_page
    assert "Internal note" not in provider_page
    assert "Restate results" in provider_page
    services.submit_case(access, case)
    response = client.post(
        reverse("accreditation:staff_decide", args=[case.pk]),
        {"outcome": "accreditation", "decided_on": "2026-07-15"},
    )
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.accreditation_status == AccreditationStatus.ACCREDITATION
    assert str(provider.term_end) == "2030-07-14"
    history = client_as(admin_user).get(reverse("providers:decisions", args=[provider.provider_id]))
    assert "Reaccreditation" in history.content.decode()


def test_staff_open_cases_and_applicants_in_the_pages(
    provider: Provider, staff: User, client_as: ClientAs
) -> None:
    client = client_as(staff)
    response = client.post(
        reverse("accreditation:staff_open"),
        {"provider": provider.provider_id, "case_type": "reaccreditation"},
    )
    assert response.status_code == 302
    assert Case.objects.get().provider == provider
    response = client.post(
        reverse("accreditation:staff_applicant"),
        {
            "name": "Harbor Valley CME",
            "provider_id": "0007777",
            "accreditor_type": "accme",
            "email": "director@harbor.example",
        },
    )
    assert response.status_code == 302
    applicant = Provider.objects.get(provider_id="0007777")
    assert applicant.accreditation_status == AccreditationStatus.APPLICANT
    response = client.post(
        reverse("accreditation:staff_applicant"),
        {
            "name": "Again",
            "provider_id": "0007777",
            "accreditor_type": "accme",
            "email": "x@y.example",
        },
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()


def test_state_accreditor_staff_see_only_their_providers_cases(
    provider: Provider, staff: User, client_as: ClientAs
) -> None:
    maine = make_accreditor("ME")
    ours = make_provider(
        name="Pine Coast CME", accreditor_type="state", recognized_accreditor=maine
    )
    open_case(staff, provider)
    theirs = open_case(staff, ours)
    state_staff = make_user("state@maine.example", is_staff=True, staff_accreditor=maine)
    client = client_as(state_staff)
    listing = client.get(reverse("accreditation:staff_cases")).content.decode()
    assert "Pine Coast CME" in listing
    assert provider.name not in listing
    mine = Case.objects.exclude(pk=theirs.pk).get()
    assert client.get(reverse("accreditation:staff_case", args=[mine.pk])).status_code == 404
    assert client.get(reverse("accreditation:staff_case", args=[theirs.pk])).status_code == 200
    response = client.post(
        reverse("accreditation:staff_open"),
        {"provider": provider.provider_id, "case_type": "progress_report"},
    )
    assert response.status_code == 400  # not a choice for them
