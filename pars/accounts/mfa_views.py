"""Two-factor pages: verify after the password, enroll, manage, and staff reset."""

from __future__ import annotations

from typing import TYPE_CHECKING

import django_otp
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from pars.accounts import mfa
from pars.accounts.access import ProviderAccess, may_administer_user
from pars.accounts.decorators import provider_view, staff_view
from pars.accounts.forms import MfaCodeForm
from pars.accounts.models import User

if TYPE_CHECKING:
    from django_otp.models import Device


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User) or hasattr(user, "_wrapped")
    return user  # type: ignore[return-value]


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("home")


def _mark_verified(request: HttpRequest, device: Device) -> None:
    django_otp.login(request, device)
    # A higher privilege level: a fresh session key, as at login.
    request.session.cycle_key()


def _recovery_codes_page(request: HttpRequest, codes: list[str], *, first: bool) -> HttpResponse:
    response = render(
        request,
        "accounts/mfa_recovery_codes.html",
        {"codes": codes, "first": first, "next": _next_url(request)},
    )
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
def mfa_verify(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if mfa.is_verified(user) or not mfa.has_confirmed_device(user):
        return redirect(_next_url(request))
    form = MfaCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = mfa.verify_code(user, form.cleaned_data["code"], request)
        if device is not None:
            _mark_verified(request, device)
            return redirect(_next_url(request))
        form.add_error("code", "That code is not valid. Codes change every 30 seconds.")
    return render(request, "accounts/mfa_verify.html", {"form": form, "next": _next_url(request)})


@never_cache
@login_required
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if mfa.is_enrolled(user):
        return redirect("accounts:mfa_settings")
    if mfa.has_confirmed_device(user) and not mfa.is_verified(user):
        # Only recovery codes left: verify with one first, then enroll a new app.
        return redirect(reverse("accounts:mfa_verify") + "?next=" + reverse("accounts:mfa_enrol"))
    device = mfa.start_enrolment(user)
    form = MfaCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = mfa.confirm_enrolment(device, form.cleaned_data["code"], request)
        if codes is not None:
            device.refresh_from_db()
            _mark_verified(request, device)
            return _recovery_codes_page(request, codes, first=True)
        form.add_error("code", "That code is not valid. Check the time on your phone and retry.")
    response = render(
        request,
        "accounts/mfa_enrol.html",
        {
            "form": form,
            "qr_svg": mfa.qr_code_svg(device),
            "secret": mfa.secret_text(device),
            "required": mfa.required_for(user),
            "next": _next_url(request),
        },
    )
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@login_required
def mfa_settings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "accounts/mfa_settings.html",
        {
            "enrolled": mfa.is_enrolled(user),
            "required": mfa.required_for(user),
            "codes_left": mfa.recovery_codes_left(user),
            "form": MfaCodeForm(),
        },
    )


@never_cache
@login_required
@require_POST
def mfa_recovery_codes(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = MfaCodeForm(request.POST)
    if form.is_valid() and mfa.verify_code(user, form.cleaned_data["code"], request) is not None:
        return _recovery_codes_page(request, mfa.new_recovery_codes(user, request), first=False)
    messages.error(request, "That code is not valid; your recovery codes are unchanged.")
    return redirect("accounts:mfa_settings")


@never_cache
@login_required
@require_POST
def mfa_disable(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = MfaCodeForm(request.POST)
    if not (
        form.is_valid() and mfa.verify_code(user, form.cleaned_data["code"], request) is not None
    ):
        messages.error(request, "That code is not valid; two-factor authentication is still on.")
        return redirect("accounts:mfa_settings")
    mfa.turn_off(user, request)
    if mfa.required_for(user):
        messages.success(request, "Your authenticator is removed. Set up a new one to continue.")
        return redirect("accounts:mfa_enrol")
    messages.success(request, "Two-factor authentication is off.")
    return redirect("accounts:mfa_settings")


@staff_view
@require_POST
def staff_mfa_reset(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff remove a user's devices (a lost phone); the user enrolls again at next login.

    Two-factor covers every provider the user belongs to, so state-accreditor staff may
    reset it only for users whose every membership is at a provider they accredit.
    """
    target = get_object_or_404(User, pk=pk)
    if not may_administer_user(_user(request), target):
        raise Http404("No such user.")
    if mfa.reset_by_staff(_user(request), target, request):
        messages.success(request, f"Two-factor authentication is reset for {target.email}.")
    else:
        messages.info(request, f"{target.email} had no two-factor authentication to reset.")
    return redirect(_next_url(request))


@provider_view(manage_users=True)
@require_POST
def member_mfa_policy(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    provider = access.provider
    provider.require_mfa = request.POST.get("require_mfa") == "on"
    provider.save(update_fields=["require_mfa"])
    if provider.require_mfa:
        messages.success(
            request, "Two-factor authentication is now required for every user of this provider."
        )
    else:
        messages.success(request, "Two-factor authentication is now optional for this provider.")
    return redirect("accounts:member_list", provider_id=provider.provider_id)
