"""Webhooks: endpoints registered with validation, notifications signed, retried on
failure until delivered or given up, and free of personal data."""

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.models import User
from pars.learners import webhooks
from pars.learners.connectors.simulator import add_to_registry
from pars.learners.models import LearnerCompletion, WebhookDelivery, WebhookEndpoint
from pars.learners.services import submit_completion
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register
from tests.support.delivery import ADA, http_stub, later


@pytest.fixture
def access(provider: Provider, editor: User) -> ProviderAccess:
    return get_provider_access(editor, provider.provider_id)


@pytest.fixture
def allow_http(settings: Settings) -> None:
    settings.PARS_WEBHOOK_ALLOW_HTTP = True


@pytest.fixture
def report(
    access: ProviderAccess,
    provider: Provider,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[[], LearnerCompletion]:
    """Report one ABIM completion (accepted by the simulator), running what commits trigger."""
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    add_to_registry("ABIM", [ADA])

    def report() -> LearnerCompletion:
        with django_capture_on_commit_callbacks(execute=True):
            completion = submit_completion(access, learner_row(activity), channel="api")
        assert completion is not None
        return completion

    return report


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.org/pars", "https"),
        ("https://localhost/hook", "internet"),
        ("https://127.0.0.1/hook", "internet"),
        ("https://10.1.2.3/hook", "internet"),
        ("https://user:pw@hooks.example.org/", "user name"),
        ("not a url", "https"),
    ],
)
def test_endpoints_must_be_public_https_addresses(
    access: ProviderAccess, url: str, problem: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        webhooks.create_endpoint(access, url, "CME tracker")
    assert problem in " ".join(refused.value.messages)
    assert not WebhookEndpoint.objects.exists()


def test_creating_an_endpoint_returns_its_secret_once(
    access: ProviderAccess, reader: User, provider: Provider
) -> None:
    endpoint, secret = webhooks.create_endpoint(access, " https://hooks.example.org/pars ", "CRM")
    assert endpoint.url == "https://hooks.example.org/pars"
    assert endpoint.provider == provider
    assert secret.startswith("whsec_")
    assert endpoint.secret == secret
    read_only = get_provider_access(reader, provider.provider_id)
    with pytest.raises(PermissionDenied):
        webhooks.create_endpoint(read_only, "https://hooks.example.org/other", "")


def test_a_notification_is_signed_retried_after_a_500_and_then_delivered(
    access: ProviderAccess, allow_http: None, report: Callable[[], LearnerCompletion]
) -> None:
    with http_stub((500, {}), default=(204, None)) as stub:
        endpoint, secret = webhooks.create_endpoint(access, stub.url + "/hook", "tracker")
        completion = report()  # sent, then accepted: two notifications
        assert len(stub.received) == 2
        first, second = WebhookDelivery.objects.order_by("pk")
        first.refresh_from_db()
        assert (first.status, first.attempts, first.last_error) == ("pending", 1, "HTTP 500")
        assert second.status == "delivered"
        endpoint.refresh_from_db()
        assert endpoint.last_failure_at is not None
        assert endpoint.last_success_at is not None

        assert webhooks.send_due_webhooks() == 0  # its retry is not due yet
        with later(minutes=2):
            assert webhooks.send_due_webhooks() == 1
    first.refresh_from_db()
    assert (first.status, first.attempts) == ("delivered", 2)
    assert len(stub.received) == 3

    statuses = []
    for request in stub.received:
        assert request.path == "/hook"
        signature = request.header("X-PARS-Signature")
        assert signature is not None
        assert webhooks.verify_signature(secret, signature, request.body)
        assert not webhooks.verify_signature("whsec_wrong", signature, request.body)
        body = request.json()
        assert request.header("X-PARS-Event-Id") == body["id"]
        assert body["type"] == "completions.status_changed"
        (record,) = body["data"]["completions"]
        assert set(record) == {
            "id",
            "provider_activity_id",
            "recipient",
            "status",
            "status_reason",
            "status_code",
            "version",
        }
        assert (record["id"], record["recipient"]) == (completion.pk, "ABIM")
        statuses.append(record["status"])
        for personal in ("Ada", "Lovelace", "123456", "12-10", "birth", "learner_id"):
            assert personal not in request.body.decode()
    assert statuses == ["sent", "accepted", "sent"]  # the retry repeats the first event


def test_a_notification_is_given_up_after_eight_attempts(
    access: ProviderAccess, allow_http: None, report: Callable[[], LearnerCompletion]
) -> None:
    with http_stub(default=(503, {})) as stub:
        webhooks.create_endpoint(access, stub.url, "")
        report()
        for hours in range(1, 12):
            with later(hours=hours * 7):
                webhooks.send_due_webhooks()
    deliveries = list(WebhookDelivery.objects.all())
    assert [(delivery.status, delivery.attempts) for delivery in deliveries] == [("failed", 8)] * 2
    assert len(stub.received) == 16
    endpoint = WebhookEndpoint.objects.get()
    assert "HTTP 503" in endpoint.last_error
    assert endpoint.last_success_at is None


def test_an_unreachable_endpoint_is_retried(
    access: ProviderAccess, allow_http: None, report: Callable[[], LearnerCompletion]
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    webhooks.create_endpoint(access, f"http://127.0.0.1:{port}/hook", "")
    report()
    delivery = WebhookDelivery.objects.order_by("pk").first()
    assert delivery is not None
    assert delivery.status == "pending"
    assert "connection failed" in delivery.last_error
    assert delivery.next_attempt_at is not None


def test_deactivated_and_deleted_endpoints_are_not_called(
    access: ProviderAccess, allow_http: None, report: Callable[[], LearnerCompletion]
) -> None:
    with http_stub() as stub:
        endpoint, _ = webhooks.create_endpoint(access, stub.url, "")
        webhooks.deactivate_endpoint(access, endpoint)
        gone, _ = webhooks.create_endpoint(access, stub.url + "/gone", "")
        webhooks.delete_endpoint(access, gone)
        report()
    assert stub.received == []
    assert not WebhookDelivery.objects.exists()
    assert WebhookEndpoint.objects.get().active is False


def test_verify_signature_refuses_old_or_tampered_messages() -> None:
    body = json.dumps({"id": "x"}).encode()
    now = int(time.time())
    header = webhooks.sign("whsec_s", now, body)
    assert webhooks.verify_signature("whsec_s", header, body)
    assert not webhooks.verify_signature("whsec_s", header, body + b" ")
    assert not webhooks.verify_signature("whsec_s", header, body, now=now + 3600)
    assert webhooks.verify_signature("whsec_s", header, body, now=now + 3600, tolerance=0)
    assert not webhooks.verify_signature("whsec_s", "v1=abc", body)
    assert not webhooks.verify_signature("whsec_s", "", body)


def test_a_host_name_resolving_to_a_private_address_is_never_called(
    access: ProviderAccess,
    report: Callable[[], LearnerCompletion],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    endpoint, _ = webhooks.create_endpoint(access, "https://hooks.example.org/pars", "")
    answers = {"hooks.example.org": "10.0.0.5"}

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        if host not in answers:
            raise socket.gaierror("no such host")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", resolve)
    report()
    deliveries = list(WebhookDelivery.objects.all())
    assert len(deliveries) == 2
    for delivery in deliveries:
        assert (delivery.status, delivery.attempts) == ("failed", 1)
        assert "private network" in delivery.last_error
    endpoint.refresh_from_db()
    assert "private network" in endpoint.last_error

    answers.clear()  # now the name does not resolve: a transient failure, retried later
    retry = WebhookDelivery.objects.create(
        provider=endpoint.provider, endpoint=endpoint, payload={"id": "x"}
    )
    assert webhooks.send_webhook(retry.pk) is False
    retry.refresh_from_db()
    assert (retry.status, retry.attempts) == ("pending", 1)
    assert retry.last_error == "could not resolve the host name"
    assert retry.next_attempt_at is not None
