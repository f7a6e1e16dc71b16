from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from pars.accounts import ratelimit
from pars.accounts.models import Role, User
from pars.accounts.tasks import send_password_reset_to_address
from pars.lib import security_log


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an active account.",
    }


class PasswordResetRequestForm(PasswordResetForm):
    """Sends the reset mail through the task worker.

    Invited users who never set a password may use it too, as PARS users do. The
    answer to the person asking is the same whether or not the address exists.
    """

    def get_users(self, email: str) -> Any:
        return User.objects.filter(email__iexact=email.strip(), is_active=True)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # One task per request whatever the address: the lookup happens in the worker,
        # so neither the answer nor its timing tells whether the address has an account.
        email = self.cleaned_data["email"].strip()
        # At most PARS_PASSWORD_RESET_EMAIL_RATE mails per address, counted whether or not
        # it has an account; over it the page answers the same and nothing is sent.
        if ratelimit.hit(
            ratelimit.PASSWORD_RESET_EMAIL_GROUP,
            ratelimit.typed_email(email),
            ratelimit.password_reset_email_rate(),
        ):
            request = kwargs.get("request")
            if request is not None:
                security_log.rate_limited(request, "password_reset_email")
            return
        send_password_reset_to_address.enqueue(email)


class MfaCodeForm(forms.Form):
    code = forms.CharField(
        label="Authentication code",
        max_length=40,
        help_text="The 6-digit code from your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class InviteForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, required=False, help_text="What the key is for, e.g. 'CME tracker sync'."
    )
