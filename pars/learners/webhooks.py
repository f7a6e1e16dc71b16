"""Webhooks: telling a provider's systems that completion statuses changed.

A provider registers endpoints (:func:`create_endpoint`; https only). Whenever
records change status (sent, accepted, rejected, held, withdrawn, released, or a
correction queued), :func:`notify_status_changes` stores one
:class:`~pars.learners.models.WebhookDelivery` per active endpoint and queues
:func:`send_webhook` after the commit. The body::

    {"id": "<event uuid>", "type": "completions.status_changed",
     "occurred_at": "2026-11-27T10:00:00+00:00", "provider_id": "0001234",
     "data": {"completions": [{"id": 17, "provider_activity_id": "GR-1",
       "recipient": "ABIM", "status": "accepted", "status_reason": "",
       "status_code": "", "version": 2}, …]}}

No names, identifiers or birth dates: the integrator fetches a record through the web
service if it needs more. Each POST carries ``X-PARS-Event-Id`` and ``X-PARS-Signature:
t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the endpoint's secret>``
(check it with :func:`verify_signature`). A 2xx answer delivers it; anything else is
retried with exponential backoff, up to :data:`MAX_ATTEMPTS` attempts, then given up.
Deliveries are at least once: receivers deduplicate by event id.

:func:`send_test_event` queues, on request, a ``webhook.test`` event to one endpoint (same
envelope and signature, ``data`` without records), delivered and retried like the others.
Every attempt leaves its outcome on the endpoint (``last_attempt_at``, ``last_status_code``,
``last_outcome``: "200 OK", "500 Internal Server Error", "connection refused").
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import time
import urllib.error
import urllib.parse
import uuid
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.tasks import task
from django.utils import timezone

from pars.accounts.access import ProviderAccess, system_access
from pars.learners.connectors.http import describe_os_error, request
from pars.learners.delivery import backoff_seconds, enqueue_at
from pars.learners.models import (
    LearnerCompletion,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from pars.providers.models import Provider

logger = logging.getLogger(__name__)

EVENT_TYPE = "completions.status_changed"
TEST_EVENT_TYPE = "webhook.test"
TEST_MESSAGE = "A test event PARS sent on request: no record changed."
SIGNATURE_HEADER = "X-PARS-Signature"
EVENT_ID_HEADER = "X-PARS-Event-Id"
MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 30.0  # 30 s, 1 min, 2 min, … about an hour in all, then …
RETRY_CAP_SECONDS = 6 * 60 * 60.0
TIMEOUT_SECONDS = 10.0
RECORDS_PER_EVENT = 500
MAX_ENDPOINTS = 10  # active endpoints per provider
SIGNATURE_TOLERANCE_SECONDS = 300


def _allow_http() -> bool:
    return bool(getattr(settings, "PARS_WEBHOOK_ALLOW_HTTP", False))


# ---------------------------------------------------------------------------
# Endpoints


def url_problem(url: str) -> str | None:
    """Why PARS will not call this address (None: it will)."""
    allow_http = _allow_http()
    schemes = ["https", "http"] if allow_http else ["https"]
    if len(url) > 500:
        return "The address must be at most 500 characters."
    try:
        URLValidator(schemes=schemes)(url)
    except ValidationError:
        return (
            "Enter a full https:// address."
            if not allow_http
            else "Enter a full http:// or https:// address."
        )
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        return "The address may not contain a user name or password."
    if allow_http:
        return None
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "The address must be reachable on the internet."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if not address.is_global:
        return "The address must be reachable on the internet."
    return None


def _private_address(url: str) -> str | None:
    """A host name that resolves to a non-public address is refused at sending time too
    (the check at creation sees only IP literals)."""
    parts = urllib.parse.urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return "could not resolve the host name"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return "The address resolves to a private network address."
    return None


def create_endpoint(
    access: ProviderAccess, url: str, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register a webhook address for the provider; returns it and its signing secret.

    Raises ``ValidationError`` for an address PARS will not call (https only unless
    ``PARS_WEBHOOK_ALLOW_HTTP``), and ``PermissionDenied`` for a read-only user.
    """
    access.require_edit()
    url = (url or "").strip()
    description = (description or "").strip()
    problem = url_problem(url)
    if problem:
        raise ValidationError(problem, code="url")
    if len(description) > 200:
        raise ValidationError("The description must be at most 200 characters.", code="long")
    if access.records(WebhookEndpoint).filter(active=True).count() >= MAX_ENDPOINTS:
        raise ValidationError(
            f"A provider may have at most {MAX_ENDPOINTS} webhook addresses.", code="too_many"
        )
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    endpoint = WebhookEndpoint.objects.create(
        provider=access.provider,
        url=url,
        secret=secret,
        description=description,
        created_by=access.user,
    )
    logger.info("Webhook endpoint %s created for provider %s", endpoint.pk, access.provider.pk)
    return endpoint, secret


def deactivate_endpoint(access: ProviderAccess, endpoint: WebhookEndpoint) -> None:
    """Stop calling an endpoint (its pending deliveries are given up)."""
    access.require_edit()
    assert endpoint.provider_id == access.provider.pk
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)
        endpoint.active = False
        WebhookDelivery.objects.filter(
            endpoint=endpoint, status=WebhookDeliveryStatus.PENDING
        ).update(status=WebhookDeliveryStatus.FAILED, last_error="The endpoint was deactivated.")


def delete_endpoint(access: ProviderAccess, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint and its notifications (those not yet delivered are dropped)."""
    access.require_edit()
    assert endpoint.provider_id == access.provider.pk
    access.records(WebhookEndpoint).filter(pk=endpoint.pk).delete()
    logger.info("Webhook endpoint %s deleted for provider %s", endpoint.pk, access.provider.pk)


# ---------------------------------------------------------------------------
# Signing


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether ``X-PARS-Signature`` fits the raw body, and is no older than ``tolerance``
    seconds (0: any age). For integrators' receivers and tests."""
    timestamp: int | None = None
    signatures = []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        return False
    current = time.time() if now is None else now
    if tolerance and abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


# ---------------------------------------------------------------------------
# Notifying


def _records(provider: Provider, ids: Sequence[int]) -> list[dict[str, Any]]:
    rows = (
        system_access(provider)
        .records(LearnerCompletion)
        .filter(pk__in=ids)
        .order_by("pk")
        .values(
            "pk",
            "activity__provider_activity_id",
            "recipient__code",
            "status",
            "status_reason",
            "status_code",
            "version",
        )
    )
    return [
        {
            "id": row["pk"],
            "provider_activity_id": row["activity__provider_activity_id"],
            "recipient": row["recipient__code"],
            "status": row["status"],
            "status_reason": row["status_reason"],
            "status_code": row["status_code"],
            "version": row["version"],
        }
        for row in rows
    ]


def notify_status_changes(provider: Provider, completion_ids: Sequence[int]) -> None:
    """Queue one notification per active endpoint of the provider (sent after commit)."""
    ids = sorted(set(completion_ids))
    if not ids:
        return
    endpoints = list(system_access(provider).records(WebhookEndpoint).filter(active=True))
    if not endpoints:
        return
    created: list[int] = []
    occurred_at = timezone.now().isoformat()
    for start in range(0, len(ids), RECORDS_PER_EVENT):
        records = _records(provider, ids[start : start + RECORDS_PER_EVENT])
        if not records:
            continue
        for endpoint in endpoints:
            event_id = uuid.uuid4()
            payload = {
                "id": str(event_id),
                "type": EVENT_TYPE,
                "occurred_at": occurred_at,
                "provider_id": provider.provider_id,
                "data": {"completions": records},
            }
            delivery = WebhookDelivery.objects.create(
                provider=provider, endpoint=endpoint, event_id=event_id, payload=payload
            )
            created.append(delivery.pk)
    if created:
        transaction.on_commit(lambda: _enqueue(created))


def _enqueue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        send_webhook_task.enqueue(delivery_id)


def send_test_event(access: ProviderAccess, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a ``webhook.test`` event to one active endpoint (sent after commit, retried like
    any other); returns its delivery. No record or person is named in it.

    An earlier test event to the endpoint still waiting for a retry is given up: a receiver
    just fixed hears the new one at once, and repeated clicks pile up no retries. Raises
    ``ValidationError`` (code "inactive") for a deactivated endpoint, ``PermissionDenied``
    for a read-only user.
    """
    access.require_edit()
    assert endpoint.provider_id == access.provider.pk
    if not endpoint.active:
        raise ValidationError(
            "This endpoint is deactivated: PARS does not call it.", code="inactive"
        )
    event_id = uuid.uuid4()
    payload = {
        "id": str(event_id),
        "type": TEST_EVENT_TYPE,
        "occurred_at": timezone.now().isoformat(),
        "provider_id": access.provider.provider_id,
        "data": {"test": True, "endpoint_id": endpoint.pk, "message": TEST_MESSAGE},
    }
    with transaction.atomic():
        WebhookDelivery.objects.filter(
            endpoint=endpoint,
            status=WebhookDeliveryStatus.PENDING,
            payload__type=TEST_EVENT_TYPE,
        ).update(
            status=WebhookDeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error="A newer test event replaced it.",
        )
        delivery = WebhookDelivery.objects.create(
            provider=access.provider, endpoint=endpoint, event_id=event_id, payload=payload
        )
    transaction.on_commit(lambda: _enqueue([delivery.pk]))
    logger.info("Webhook test event %s queued for endpoint %s", event_id, endpoint.pk)
    return delivery


def send_webhook(delivery_id: int) -> bool:
    """POST one notification; True when the endpoint took it (2xx)."""
    now = timezone.now()
    # Claim it (next_attempt_at doubles as a short lease), so two workers never both send.
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(next_attempt_at=now + datetime.timedelta(seconds=TIMEOUT_SECONDS * 6))
    )
    if not claimed:
        return False
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if not endpoint.active:
        WebhookDelivery.objects.filter(pk=delivery_id).update(
            status=WebhookDeliveryStatus.FAILED,
            next_attempt_at=None,
            last_error="The endpoint was deactivated.",
        )
        return False
    problem = url_problem(endpoint.url)
    if problem:
        return _record(delivery, endpoint, problem, permanent=True)
    if not _allow_http():
        error = _private_address(endpoint.url)
        if error:
            return _record(delivery, endpoint, error, permanent=error.startswith("The address"))
    body = json.dumps(
        delivery.payload, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True
    ).encode()
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(delivery.event_id),
        SIGNATURE_HEADER: sign(endpoint.secret, int(time.time()), body),
    }
    try:
        status, _ = request(
            "POST", endpoint.url, body=body, headers=headers, timeout=TIMEOUT_SECONDS
        )
    except OSError as failure:
        return _record(
            delivery, endpoint, describe_os_error(failure), outcome=short_failure(failure)
        )
    error = "" if 200 <= status < 300 else f"HTTP {status}"
    return _record(delivery, endpoint, error, status_code=status)


def status_outcome(code: int) -> str:
    """An HTTP status with its standard phrase: "200 OK", "503 Service Unavailable"."""
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:  # a code outside the standard's list
        return f"HTTP {code}"


def short_failure(error: OSError) -> str:
    """A request that got no answer, in a few words ("connection refused")."""
    reason: object = error.reason if isinstance(error, urllib.error.URLError) else error
    for kind, words in (
        (ConnectionRefusedError, "connection refused"),
        (ConnectionResetError, "connection reset"),
        (TimeoutError, "timed out"),
        (socket.gaierror, "host name not found"),
        (ssl.SSLCertVerificationError, "TLS certificate not trusted"),
        (ssl.SSLError, "TLS handshake failed"),
    ):
        if isinstance(reason, kind):
            return words
    return describe_os_error(error)


def _record(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    error: str,
    *,
    permanent: bool = False,
    status_code: int | None = None,
    outcome: str = "",
) -> bool:
    """Keep an attempt's outcome on the delivery and the endpoint; retry it later if due."""
    now = timezone.now()
    delivery.attempts += 1
    endpoint.last_attempt_at = now
    endpoint.last_status_code = status_code
    endpoint.last_outcome = (
        status_outcome(status_code) if status_code is not None else outcome or error
    )[:200]
    fields = ["last_attempt_at", "last_status_code", "last_outcome"]
    if not error:
        delivery.status = WebhookDeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.last_error = ""
        endpoint.last_success_at = now
        fields.append("last_success_at")
    else:
        delivery.last_error = error[:500]
        endpoint.last_failure_at = now
        endpoint.last_error = f"{error} (event {delivery.event_id})"[:500]
        fields += ["last_failure_at", "last_error"]
        if permanent or delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = WebhookDeliveryStatus.FAILED
            delivery.next_attempt_at = None
        else:
            delay = backoff_seconds(delivery.attempts, RETRY_BASE_SECONDS, RETRY_CAP_SECONDS)
            delivery.next_attempt_at = now + datetime.timedelta(seconds=delay)
    with transaction.atomic():
        delivery.save(
            update_fields=["attempts", "status", "delivered_at", "next_attempt_at", "last_error"]
        )
        endpoint.save(update_fields=fields)
    if not error:
        logger.info("Webhook %s delivered to endpoint %s", delivery.event_id, endpoint.pk)
        return True
    logger.warning(
        "Webhook %s to endpoint %s failed (attempt %d): %s",
        delivery.event_id,
        endpoint.pk,
        delivery.attempts,
        error,
    )
    if delivery.status == WebhookDeliveryStatus.PENDING:
        enqueue_at(send_webhook_task, delivery.next_attempt_at, delivery.pk)
    return False


def send_due_webhooks() -> int:
    """Send every pending notification whose time has come; returns how many succeeded."""
    now = timezone.now()
    due = (
        WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return sum(send_webhook(pk) for pk in list(due))


@task()
def send_webhook_task(delivery_id: int) -> bool:
    """POST one webhook notification (retried with backoff by itself)."""
    return send_webhook(delivery_id)
