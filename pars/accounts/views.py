"""Sign-in, passwords, choosing a provider, and a provider's users and API keys."""

from urllib.parse import urlencode

from axes.utils import reset as axes_reset
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from pars.accounts import mfa, ratelimit, services
from pars.accounts.access import ProviderAccess, providers_visible_to, users_administered_by
from pars.accounts.decorators import CURRENT_PROVIDER_SESSION_KEY, provider_view
from pars.accounts.forms import (
    ApiKeyForm,
    InviteForm,
    LoginForm,
    PasswordResetRequestForm,
    RoleForm,
)
from pars.accounts.models import ApiKey, AuthenticatorDevice, Membership, Role
from pars.accounts.tokens import invitation_token_generator, password_reset_token_generator


class LoginView(auth_views.LoginView):
    """The password step. Django gives the session a new key here (``login()``);
    users with an authenticator then verify a code before anything else."""

    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        if mfa.has_confirmed_device(form.get_user()):
            verify = reverse("accounts:mfa_verify")
            return redirect(f"{verify}?{urlencode({'next': self.get_success_url()})}")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetRequestForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    token_generator = password_reset_token_generator
    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    extra_context = {"heading": "Choose a new password"}

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        # The new password ends every other session (Django's session auth hash) and
        # lifts a login lockout on this address and the email's sign-in limit: a reset
        # is the way out of both.
        response = super().form_valid(form)
        axes_reset(username=form.user.email)
        ratelimit.clear(
            ratelimit.LOGIN_EMAIL_GROUP,
            ratelimit.typed_email(form.user.email),
            ratelimit.login_email_rate(),
        )
        return response


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The Set Password link of the "System Access Granted" email."""

    token_generator = invitation_token_generator
    reset_url_token = "set-password"
    template_name = "accounts/password_set.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    extra_context = {"heading": "Create your password"}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Staff land on the provider list; provider users on their (last used) provider."""
    user = request.user
    if user.is_staff:
        return redirect("providers:staff_list")
    providers = providers_visible_to(user)
    current = request.session.get(CURRENT_PROVIDER_SESSION_KEY)
    if current and providers.filter(provider_id=current).exists():
        return redirect("reporting:dashboard", provider_id=current)
    if providers.count() == 1:
        return redirect("reporting:dashboard", provider_id=providers.get().provider_id)
    return redirect("accounts:choose_provider")


@login_required
def choose_provider(request: HttpRequest) -> HttpResponse:
    providers = providers_visible_to(request.user).order_by("name")
    return render(request, "accounts/choose_provider.html", {"providers": providers})


@provider_view()
def member_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    members = access.records(Membership).select_related("user").order_by("user__email")
    with_mfa = set(
        AuthenticatorDevice.objects.filter(
            user__memberships__provider=access.provider, confirmed=True
        ).values_list("user_id", flat=True)
    )
    # Staff see "Reset two-factor" only for users they may reset (all of whose providers
    # are theirs); provider administrators never reset it (it covers other providers too).
    resettable = (
        users_administered_by(access.user, with_mfa)
        if access.is_staff and access.user is not None
        else set()
    )
    return render(
        request,
        "accounts/member_list.html",
        {
            "access": access,
            "members": members,
            "roles": Role.choices,
            "with_mfa": with_mfa,
            "mfa_resettable": resettable,
            # "Active" only once the person signed in after being added, so that the
            # list does not tell an administrator whether an address already had an account.
            "joined": {
                m.pk for m in members if m.user.last_login and m.user.last_login > m.created_at
            },
        },
    )


@provider_view(manage_users=True)
def member_invite(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.invite_user(
                provider=access.provider, invited_by=access.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"Access granted to {membership.user.email}; the invitation email is sent."
            )
            return redirect("accounts:member_list", provider_id=access.provider.provider_id)
    return render(request, "accounts/member_invite.html", {"access": access, "form": form})


@provider_view(manage_users=True)
@require_POST
def member_role(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    membership = access.get(Membership, pk=pk)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_role(membership, form.cleaned_data["role"])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, f"{membership.user.email} is now {form.cleaned_data['role']}."
            )
    return redirect("accounts:member_list", provider_id=access.provider.provider_id)


@provider_view(manage_users=True)
@require_POST
def member_remove(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    membership = access.get(Membership, pk=pk)
    try:
        services.remove_member(membership)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user.email} no longer has access.")
    return redirect("accounts:member_list", provider_id=access.provider.provider_id)


@provider_view(manage_users=True)
@require_POST
def member_resend(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    membership = access.get(Membership, pk=pk)
    services.resend_invitation(membership)
    messages.success(request, f"The access email was sent again to {membership.user.email}.")
    return redirect("accounts:member_list", provider_id=access.provider.provider_id)


@provider_view(manage_users=True)
def api_key_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _, new_key = services.create_api_key(
            provider=access.provider, name=form.cleaned_data["name"], created_by=access.user
        )
        form = ApiKeyForm()
    keys = access.records(ApiKey).order_by("-created_at")
    return render(
        request,
        "accounts/api_keys.html",
        {"access": access, "keys": keys, "form": form, "new_key": new_key},
    )


@provider_view(manage_users=True)
@require_POST
def api_key_revoke(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    key = access.get(ApiKey, pk=pk)
    services.revoke_api_key(key)
    messages.success(request, f"Key {key.prefix}… is revoked; requests with it now fail.")
    return redirect(
        reverse("accounts:api_keys", kwargs={"provider_id": access.provider.provider_id})
    )
