"""Mail leaves through the database task queue and the worker that `make run` starts."""

import pytest
from django.core import mail
from django.core.management import call_command
from pytest_django import Settings

from pars.accounts.models import Role
from pars.accounts.services import invite_user
from pars.providers.models import Provider


@pytest.fixture
def database_tasks(settings: Settings) -> None:
    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}


# The worker manages its own database connections, so this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_invitation_is_queued_and_sent_by_the_worker(
    provider: Provider, database_tasks: None
) -> None:
    from django_tasks_db.models import DBTaskResult

    invite_user(provider=provider, email="queued@example.org", role=Role.EDITOR)
    assert mail.outbox == []
    assert DBTaskResult.objects.count() == 1
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    assert [message.to for message in mail.outbox] == [["queued@example.org"]]
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
