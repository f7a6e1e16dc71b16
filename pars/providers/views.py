"""A provider's profile, contacts and decision history; the staff provider pages."""

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from pars.accounts.access import ProviderAccess, get_provider_access, providers_visible_to
from pars.accounts.decorators import provider_view, staff_view
from pars.accounts.models import Membership
from pars.providers.forms import ContactForm, DecisionForm, ProviderAddressForm
from pars.providers.models import AccreditationDecision, AccreditorType, Contact
from pars.providers.services import record_decision


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


@staff_view
def staff_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    accreditor_type = request.GET.get("type", "")
    providers = providers_visible_to(request.user).select_related("recognized_accreditor")
    if query:
        providers = providers.filter(
            Q(name__icontains=query) | Q(provider_id__startswith=query) | Q(city__icontains=query)
        )
    if accreditor_type in AccreditorType.values:
        providers = providers.filter(accreditor_type=accreditor_type)
    providers = providers.annotate(user_count=Count("memberships")).order_by("name")
    template = (
        "providers/_staff_rows.html" if request.htmx else "providers/staff_list.html"  # type: ignore[attr-defined]
    )
    return render(
        request,
        template,
        {
            "providers": providers[:500],
            "query": query,
            "accreditor_type": accreditor_type,
            "types": AccreditorType.choices,
        },
    )


@staff_view
def staff_detail(request: HttpRequest, provider_id: str) -> HttpResponse:
    access = get_provider_access(request.user, provider_id)
    return render(
        request,
        "providers/staff_detail.html",
        {
            "access": access,
            "provider": access.provider,
            "contacts": access.records(Contact),
            "decisions": access.records(AccreditationDecision),
            "members": access.records(Membership).select_related("user"),
            "decision_form": DecisionForm(provider=access.provider),
        },
    )


@staff_view
def staff_decision_add(request: HttpRequest, provider_id: str) -> HttpResponse:
    access = get_provider_access(request.user, provider_id)  # 404 before anything else
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = DecisionForm(request.POST, provider=access.provider)
    if form.is_valid():
        record_decision(form.instance)
        messages.success(request, "Decision recorded; the provider's status is updated.")
        return redirect("providers:staff_detail", provider_id=provider_id)
    return render(
        request,
        "providers/staff_detail.html",
        {
            "access": access,
            "provider": access.provider,
            "contacts": access.records(Contact),
            "decisions": access.records(AccreditationDecision),
            "members": access.records(Membership).select_related("user"),
            "decision_form": form,
        },
        status=400,
    )
