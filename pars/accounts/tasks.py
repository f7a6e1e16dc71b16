"""Background entry points; mail leaves through the task worker, not the request."""

from django.tasks import task

from pars.accounts import emails
from pars.accounts.models import User
from pars.providers.models import Provider


@task()
def send_access_granted_email(user_id: int, provider_pk: int) -> None:
    user = User.objects.get(pk=user_id)
    if not user.is_active:
        return  # a deactivated account gets no mail (and the inviter is not told why)
    emails.send_access_granted(user, Provider.objects.get(pk=provider_pk))


@task()
def send_password_reset_email(user_id: int) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        emails.send_password_reset(user)


@task()
def send_password_reset_to_address(email: str) -> None:
    """The reset link for every active account with this address (usually one, or none)."""
    for user in User.objects.filter(email__iexact=email.strip(), is_active=True):
        emails.send_password_reset(user)


@task()
def send_two_factor_email(user_id: int, change: str) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        emails.send_two_factor_changed(user, change)
