"""A provider's profile, contacts and decision history; the staff provider pages."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from pars.accounts.access import ProviderAccess, get_provider_access, providers_visible_to
from pars.accounts.decorators import provider_view, staff_view
from pars.accounts.models import Membership
from pars.accreditation.provider_services import (
    record_decision_as,
    set_accreditation_status,
    update_provider_contact_data,
)
from pars.providers.forms import (
    ContactForm,
    DecisionForm,
    ProviderAddressForm,
    ProviderSearchForm,
    StatusTermForm,
)
from pars.providers.models import AccreditationDecision, AccreditorType, Contact, Provider

STAFF_LIST_LIMIT = 500


@provider_view()
def profile(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    return render(
        request,
        "providers/profile.html",
        {"access": access, "provider": access.provider, "contacts": access.records(Contact)},
    )


@provider_view(edit=True)
def profile_edit(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    form = ProviderAddressForm(request.POST or None, instance=access.provider)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Contact information saved.")
        return redirect("providers:profile", provider_id=access.provider.provider_id)
    return render(request, "providers/profile_edit.html", {"access": access, "form": form})


@provider_view(edit=True)
def contact_edit(
    request: HttpRequest, access: ProviderAccess, pk: int | None = None
) -> HttpResponse:
    contact = access.get(Contact, pk=pk) if pk is not None else None
    form = ContactForm(request.POST or None, instance=contact, provider=access.provider)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Contact {form.instance.name} saved.")
        return redirect("providers:profile", provider_id=access.provider.provider_id)
    return render(
        request, "providers/contact_edit.html", {"access": access, "form": form, "contact": contact}
    )


@provider_view(edit=True)
@require_POST
def contact_delete(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    contact = access.get(Contact, pk=pk)
    contact.delete()
    messages.success(request, f"Contact {contact.name} removed.")
    return redirect("providers:profile", provider_id=access.provider.provider_id)


@provider_view()
def decision_history(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    return render(
        request,
        "providers/decisions.html",
        {"access": access, "decisions": access.records(AccreditationDecision)},
    )


def _search(request: HttpRequest) -> tuple[ProviderSearchForm, QuerySet[Provider]]:
    """The providers this staff member may see, narrowed by the search form."""
    form = ProviderSearchForm(request.GET)
    providers = providers_visible_to(request.user).select_related("recognized_accreditor")
    if not form.is_valid():
        return form, providers.none()
    data = form.cleaned_data
    if query := data["q"].strip():
        providers = providers.filter(
            Q(name__icontains=query) | Q(provider_id__startswith=query) | Q(city__icontains=query)
        )
    if state := data["state"].strip():
        # The provider's own state, or the state of the society that accredits it.
        providers = providers.filter(
            Q(state__iexact=state) | Q(recognized_accreditor__state__iexact=state)
        )
    if data["status"]:
        providers = providers.filter(accreditation_status=data["status"])
    if data["type"]:
        providers = providers.filter(accreditor_type=data["type"])
    if data["term_ends_before"]:
        providers = providers.filter(term_end__lt=data["term_ends_before"])
    return form, providers


@staff_view
def staff_list(request: HttpRequest) -> HttpResponse:
    form, providers = _search(request)
    providers = providers.annotate(user_count=Count("memberships")).order_by("name")
    template = (
        "providers/_staff_rows.html" if request.htmx else "providers/staff_list.html"  # type: ignore[attr-defined]
    )
    return render(
        request,
        template,
        {
            "providers": providers[:STAFF_LIST_LIMIT],
            "form": form,
            "query": form.data.get("q", ""),
            "accreditor_type": form.data.get("type", ""),
            "types": AccreditorType.choices,
            "limit": STAFF_LIST_LIMIT,
        },
    )


def _detail_context(access: ProviderAccess, **forms: object) -> dict[str, object]:
    return {
        "access": access,
        "provider": access.provider,
        "contacts": access.records(Contact),
        "decisions": access.records(AccreditationDecision),
        "members": access.records(Membership).select_related("user"),
        "decision_form": forms.get("decision_form") or DecisionForm(provider=access.provider),
    }


@staff_view
def staff_detail(request: HttpRequest, provider_id: str) -> HttpResponse:
    access = get_provider_access(request.user, provider_id)
    return render(request, "providers/staff_detail.html", _detail_context(access))


@staff_view
def staff_decision_add(request: HttpRequest, provider_id: str) -> HttpResponse:
    access = get_provider_access(request.user, provider_id)  # 404 before anything else
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = DecisionForm(request.POST, provider=access.provider)
    if form.is_valid():
        record_decision_as(access, form.instance)
        messages.success(request, "Decision recorded; the provider's status is updated.")
        return redirect("providers:staff_detail", provider_id=provider_id)
    return render(
        request,
        "providers/staff_detail.html",
        _detail_context(access, decision_form=form),
        status=400,
    )


def _status_initial(provider: Provider) -> dict[str, object]:
    return {
        "accreditation_status": provider.accreditation_status,
        "term_start": provider.term_start,
        "term_end": provider.term_end,
    }


def _edit_page(
    request: HttpRequest,
    access: ProviderAccess,
    contact_form: ProviderAddressForm | None = None,
    status_form: StatusTermForm | None = None,
    status: int = 200,
) -> HttpResponse:
    provider = access.provider
    return render(
        request,
        "providers/staff_edit.html",
        {
            "access": access,
            "provider": provider,
            "contact_form": contact_form
            or ProviderAddressForm(instance=Provider.objects.get(pk=provider.pk)),
            "status_form": status_form or StatusTermForm(initial=_status_initial(provider)),
        },
        status=status,
    )


@staff_view
def staff_edit(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Staff edit a provider's contact data and address (GET: the page with both forms)."""
    access = get_provider_access(request.user, provider_id)
    if request.method != "POST":
        return _edit_page(request, access)
    form = ProviderAddressForm(request.POST, instance=Provider.objects.get(pk=access.provider.pk))
    if not form.is_valid():
        return _edit_page(request, access, contact_form=form, status=400)
    changes = update_provider_contact_data(access, form.cleaned_data)
    messages.success(
        request, "Contact data saved." if changes else "Nothing changed in the contact data."
    )
    return redirect("providers:staff_detail", provider_id=provider_id)


@staff_view
def staff_status(request: HttpRequest, provider_id: str) -> HttpResponse:
    """Staff set a provider's accreditation status and term, with a reason (POST only)."""
    access = get_provider_access(request.user, provider_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = StatusTermForm(request.POST)
    if form.is_valid():
        try:
            changes = set_accreditation_status(access, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                "Status and term saved." if changes else "Status and term were already so.",
            )
            return redirect("providers:staff_detail", provider_id=provider_id)
    return _edit_page(request, access, status_form=form, status=400)
