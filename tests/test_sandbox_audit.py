"""What an administrator does to the sandbox is on the live provider's audit trail: who
created, seeded or reset it and who created or revoked a test key, and when."""

from typing import Any

from django.urls import reverse

from pars.accounts.models import ApiKey, Role, User
from pars.audit.models import AuditAction, AuditEvent
from pars.providers.models import Provider
from pars.testing import make_activity, make_member, make_provider


def test_sandbox_changes_and_test_keys_are_audited_on_the_live_provider(
    client_as: Any, staff: User
) -> None:
    live = make_provider(name="Live Clinic", provider_id="0000123")
    make_activity(live, provider_activity_id="COPY-ME")
    admin = make_member(live, Role.ADMIN)
    client = client_as(admin)
    url = reverse("activities:sandbox", kwargs={"provider_id": live.provider_id})
    client.post(url, {"action": "create"})
    client.post(url, {"action": "seed"})
    client.post(url, {"action": "key", "name": "LMS rehearsal"})
    key = ApiKey.objects.get(name="LMS rehearsal")
    client.post(url, {"action": "revoke", "key": key.pk})
    client.post(url, {"action": "revoke", "key": key.pk})  # already revoked: no new event
    client.post(url, {"action": "reset"})

    sandbox = Provider.objects.get(sandbox_of=live)
    events = AuditEvent.objects.order_by("at", "pk")
    assert not events.filter(provider=sandbox).exists()
    trail = [(e.action, e.details.get("change"), e.user) for e in events.filter(provider=live)]
    assert trail == [
        (AuditAction.SANDBOX_CHANGED, "created", admin),
        (AuditAction.SANDBOX_CHANGED, "seeded again", admin),
        (AuditAction.TEST_KEY_CHANGED, "created", admin),
        (AuditAction.TEST_KEY_CHANGED, "revoked", admin),
        (AuditAction.SANDBOX_CHANGED, "reset", admin),
    ]
    assert (
        events.get(details__change="created", action=AuditAction.TEST_KEY_CHANGED).details["key"]
        == key.prefix
    )
    # Staff read it on the provider's audit trail.
    page = client_as(staff).get(reverse("audit:provider", kwargs={"provider_id": live.provider_id}))
    assert page.status_code == 200
    assert f"Test key {key.prefix}… “LMS rehearsal” revoked." in page.text
    assert "Sandbox created, seeded or reset" in page.text or "reset (all its data" in page.text


def test_a_sandbox_created_seeded_is_audited_as_seeded(db: None, client_as: Any) -> None:
    live = make_provider(name="Live Clinic", provider_id="0000123")
    client = client_as(make_member(live, Role.ADMIN))
    url = reverse("activities:sandbox", kwargs={"provider_id": live.provider_id})
    client.post(url, {"action": "seed"})
    event = AuditEvent.objects.get(provider=live)
    assert (event.action, event.details["change"]) == (AuditAction.SANDBOX_CHANGED, "seeded")
