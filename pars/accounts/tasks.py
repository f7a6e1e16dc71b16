"""Background entry points; mail leaves through the task worker, not the request."""

from django.tasks import task

from pars.accounts import emails
from pars.accounts.models import User
from pars.providers.models import Provider


@task()
def send_access_granted_email(user_id: int, provider_pk: int) -> None:
    user = User.objects.get(pk=user_id)
    emails.send_access_granted(user, Provider.objects.get(pk=provider_pk))


@task()
def send_password_reset_email(user_id: int) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        emails.send_password_reset(user)
