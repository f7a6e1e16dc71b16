"""The operator commands that scripts depend on."""

import datetime
import io
from typing import Any

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from pars.accounts.models import Membership, Role, User
from pars.providers.models import AccreditorType, Provider
from pars.testing import make_accreditor


def _run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


@pytest.mark.django_db
def test_create_provider_of_each_type() -> None:
    make_accreditor("TN", "Tennessee Medical Association")
    assert (
        _run("create_provider", "--name", "A", "--provider-id", "0000001", "--type", "accme")[-1]
        == "0000001"
    )
    _run("create_provider", "--name", "B", "--provider-id", "0000002", "--type", "joint")
    _run(
        "create_provider",
        *("--name", "C", "--provider-id", "0000003", "--type", "state", "--state", "tn"),
    )
    state = Provider.objects.get(provider_id="0000003")
    assert state.accreditor_type == AccreditorType.STATE
    assert state.recognized_accreditor is not None
    assert state.recognized_accreditor.state == "TN"
    assert Provider.objects.get(provider_id="0000002").accreditor_type == AccreditorType.JOINT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider-id", "12345", "--type", "accme"], "exactly 7 digits"),
        (["--provider-id", "0000009", "--type", "state"], "needs --state"),
        (["--provider-id", "0000009", "--type", "state", "--state", "ZZ"], "No recognized"),
    ],
)
def test_create_provider_refuses_bad_input(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("create_provider", "--name", "X", *args)
    assert not Provider.objects.exists()


@pytest.mark.django_db
def test_create_provider_refuses_a_duplicate_id(provider: Provider) -> None:
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "create_provider", "--name", "X", "--provider-id", "0001234", "--type", "accme"
        )


@pytest.mark.django_db
def test_invite_user_sends_the_access_email(provider: Provider) -> None:
    _run("invite_user", "--provider-id", "0001234", "--email", "ops@example.org", "--role", "admin")
    membership = Membership.objects.get(user__email="ops@example.org")
    assert membership.role == Role.ADMIN
    assert mail.outbox[0].subject.endswith("System Access Granted")


@pytest.mark.django_db
def test_invite_user_for_unknown_provider_fails(db: None) -> None:
    with pytest.raises(CommandError, match="No provider with ID 7654321"):
        call_command(
            "invite_user", "--provider-id", "7654321", "--email", "a@b.org", "--role", "admin"
        )


@pytest.mark.django_db
def test_create_api_key_prints_a_working_key_last(provider: Provider) -> None:
    secret = _run("create_api_key", "--provider-id", "0001234")[-1]
    response = Client().get("/api/v1/provider", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.json()["provider_id"] == "0001234"


@pytest.mark.django_db
def test_load_demo_is_repeatable_and_prints_logins() -> None:
    first = _run("load_demo")
    _run("load_demo")
    assert any("staff@pars.example" in line for line in first)
    assert Provider.objects.count() == 2
    from pars.activities.models import Activity

    years = set(Activity.objects.values_list("reporting_year", flat=True))
    assert len(years) == 2
    per_provider = {p.provider_id: p.activities.count() for p in Provider.objects.all()}
    assert all(count > 0 for count in per_provider.values())


@pytest.mark.django_db
def test_the_demo_coordinator_finds_news_in_the_inbox_once(client: Client) -> None:
    _run("load_demo")
    _run("load_demo")  # a second run tells no one twice
    from pars.notifications.models import Kind, Notification

    coordinator = User.objects.get(email="admin@riverside.example")
    told = Notification.objects.filter(user=coordinator)
    riverside = sorted(told.filter(provider__provider_id="0001234").values_list("kind", flat=True))
    assert riverside == sorted([Kind.DECISION_RECORDED, Kind.YEAR_CLOSED])
    assert told.exclude(provider__provider_id="0001234").count() == 1  # Pine Coast's decision
    client.force_login(coordinator)
    inbox = client.get(reverse("notifications:inbox")).content.decode()
    assert "annual report is attested and closed" in inbox
    assert "Accreditation decision: Accreditation with Commendation" in inbox


@pytest.mark.django_db
def test_the_demo_loads_again_in_january_when_last_years_courses_are_closed() -> None:
    # In January the latest finished courses belong to last year, which the demo attests:
    # the second run sends that closed year's learners again, unchanged, and must not fail.
    import time_machine

    from pars.learners.models import LearnerCompletion

    with time_machine.travel(datetime.datetime(2027, 1, 20, 15, tzinfo=datetime.UTC)):
        _run("load_demo")
        first = LearnerCompletion.objects.count()
        _run("load_demo")
        assert LearnerCompletion.objects.count() == first > 0


@pytest.mark.django_db
def test_demo_learners_are_delivered_and_two_are_held(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from pars.learners.models import CompletionStatus, LearnerCompletion

    with django_capture_on_commit_callbacks(execute=True):
        _run("load_demo")
    _run("load_demo")  # repeatable: the same completions, not new ones
    statuses = list(LearnerCompletion.objects.values_list("recipient__code", "status"))
    # 18 learners on two activities registered for ABIM; REMS and NC records on one.
    assert len(statuses) == 36 + 6 + 6
    # The tests run tasks at once: the simulator has answered every record. Held: the
    # two learners ABIM does not know (on both activities) and the one mistyped NC
    # license the demo documents; REMS records are reported, never held.
    assert statuses.count(("ABIM", CompletionStatus.HELD)) == 4
    assert statuses.count(("ABIM", CompletionStatus.ACCEPTED)) == 32
    assert statuses.count(("REMS", CompletionStatus.REPORTED)) == 6
    assert statuses.count(("NC", CompletionStatus.ACCEPTED)) == 5
    assert statuses.count(("NC", CompletionStatus.HELD)) == 1
