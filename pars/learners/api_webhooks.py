"""Webhook endpoints in the web service: the key's provider is told of status changes.

PARS POSTs a signed notification to each active endpoint of the provider when one of its
completions changes status (``pars.learners.webhooks``). The signing secret is answered once,
when the endpoint is created, and never again. ``POST /webhooks/{id}/test`` queues a signed
``webhook.test`` event to one endpoint; each endpoint answers its latest delivery attempt's
outcome (``last_attempt_at``, ``last_status_code``, ``last_outcome``).
"""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from pydantic import ConfigDict

from pars.accounts.access import ProviderAccess
from pars.accounts.api_auth import api_access
from pars.activities.api_schemas import TEXT_PATTERN
from pars.activities.upload_api import ApiErrors
from pars.intake.rules import FieldError
from pars.learners import webhooks
from pars.learners.api_common import (
    RULE_BODY,
    contract_errors,
    error_body,
    json_response,
    parse_json,
    refusal,
    request_body,
    timestamp,
    unknown_fields,
)
from pars.learners.forms import WebhookForm
from pars.learners.models import WebhookEndpoint
from pars.lib import json_contract
from pars.lib.text import CONTROL_CHARACTER_RULE, control_character, control_character_message
from pars.lib.versions import (
    IfMatchHeader,
    etag,
    etag_headers,
    precondition_failed,
    with_etag,
)

router = Router(tags=["webhooks"])

RULE_URL = "webhook.url.invalid"
RULE_INACTIVE = "webhook.endpoint.inactive"
# create_endpoint's refusals by their code: (field, rule).
_REFUSALS = {
    "url": ("url", RULE_URL),
    "long": ("description", "webhook.description.invalid"),
    "too_many": ("url", "webhook.endpoints.too_many"),
}


class WebhookOut(Schema):
    id: int
    url: str
    description: str
    active: bool
    created_at: datetime.datetime
    last_success_at: datetime.datetime | None
    last_failure_at: datetime.datetime | None
    last_error: str
    last_attempt_at: datetime.datetime | None = Field(
        description="When PARS last tried to deliver an event to it, whatever the outcome "
        "(null: never)"
    )
    last_status_code: int | None = Field(
        description="The HTTP status the endpoint answered that attempt (2xx: delivered); "
        "null when it did not answer (see `last_outcome`) or before the first attempt"
    )
    last_outcome: str = Field(
        description='That attempt in a few words: "200 OK", "500 Internal Server Error", '
        '"connection refused", "timed out"; empty before the first attempt'
    )


class WebhookTestOut(Schema):
    endpoint_id: int
    event_id: str = Field(description="The test event's ID (its `X-PARS-Event-Id` header)")
    type: str = Field(description='Always "webhook.test"')
    event: dict[str, Any] = Field(
        description="The JSON body PARS POSTs, signed in `X-PARS-Signature` like every event"
    )


class NewWebhookOut(WebhookOut):
    secret: str = Field(
        description="The signing secret: shown this once; keep it to check the signatures"
    )


class WebhookIn(Schema):
    model_config = ConfigDict(extra="forbid")  # other names: rule api.field.unknown

    url: str = Field(
        description="The address PARS POSTs notifications to: https, on a public host",
        max_length=500,
        json_schema_extra={"format": "uri", "pattern": "^https://[^\\s/?#]+[^\\s]*$"},
    )
    description: str = Field(
        "",
        description="What the endpoint is for",
        max_length=200,
        json_schema_extra={"pattern": TEXT_PATTERN},
    )


# The request schema the OpenAPI description publishes (its types are the contract).
_WEBHOOK_SCHEMA = WebhookIn.model_json_schema()


def webhook_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "active": endpoint.active,
        "created_at": timestamp(endpoint.created_at),
        "last_success_at": timestamp(endpoint.last_success_at),
        "last_failure_at": timestamp(endpoint.last_failure_at),
        "last_error": endpoint.last_error,
        "last_attempt_at": timestamp(endpoint.last_attempt_at),
        "last_status_code": endpoint.last_status_code,
        "last_outcome": endpoint.last_outcome,
    }


@router.get(
    "/webhooks",
    response=list[WebhookOut],
    url_name="webhooks",
    summary="The provider's webhook endpoints",
    description="Without their secrets.",
)
def list_webhooks(request: HttpRequest) -> HttpResponse:
    access = api_access(request)
    rows = access.records(WebhookEndpoint).order_by("created_at", "pk")
    return json_response(200, [webhook_json(row) for row in rows])


# The outcome of the latest delivery changes without a write: not in the version.
_DELIVERY_FIELDS = (
    "last_success_at",
    "last_failure_at",
    "last_error",
    "last_attempt_at",
    "last_status_code",
    "last_outcome",
)


def webhook_version(endpoint: WebhookEndpoint) -> str:
    """The endpoint's ETag: its address, description and whether it is active."""
    return etag(webhook_json(endpoint), leave_out=(*_DELIVERY_FIELDS, "secret"))


@router.get(
    "/webhooks/{int:endpoint_id}",
    response={200: WebhookOut},
    url_name="webhook",
    summary="One webhook endpoint",
    description="Without its secret. The `ETag` is the endpoint's version (its address, "
    "description and whether it is active; not the outcome of its deliveries): send it as "
    "`If-Match` on DELETE to remove only the endpoint you read.",
    openapi_extra=etag_headers(200),
)
def webhook_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    access = api_access(request)
    endpoint = access.get(WebhookEndpoint, pk=endpoint_id)
    return with_etag(json_response(200, webhook_json(endpoint)), webhook_version(endpoint))


def _create(access: ProviderAccess, body: bytes) -> tuple[int, dict[str, Any]]:
    data, problem = parse_json(body)
    if problem:
        return problem
    if not isinstance(data, dict):
        return refusal("body", RULE_BODY, "The request body must be a JSON object with `url`.")
    # A value of the wrong JSON type is a malformed request (422), as on every endpoint.
    typed = json_contract.type_violations(json_contract.violations(_WEBHOOK_SCHEMA, data))
    if typed:
        return 422, error_body(contract_errors(typed))
    errors = unknown_fields(data, WebhookIn.model_fields)
    errors += [
        FieldError(
            None,
            name,
            CONTROL_CHARACTER_RULE,
            control_character_message(name.capitalize(), character),
        )
        for name in WebhookIn.model_fields
        if isinstance(data.get(name), str)
        and (character := control_character(data[name])) is not None
    ]
    if errors:
        return 400, error_body(errors)
    # The web page's form: one set of rules for an endpoint's address and description.
    form = WebhookForm({name: data.get(name) or "" for name in WebhookIn.model_fields})
    if not form.is_valid():
        return 400, error_body(
            [
                FieldError(None, name, f"webhook.{name}.invalid", str(message))
                for name, messages in form.errors.items()
                for message in messages
            ]
        )
    try:
        endpoint, secret = webhooks.create_endpoint(
            access, form.cleaned_data["url"], form.cleaned_data["description"]
        )
    except ValidationError as refused:
        field, rule = _REFUSALS.get(refused.code or "", ("url", RULE_URL))
        return refusal(field, rule, " ".join(refused.messages))
    return 201, {**webhook_json(endpoint), "secret": secret, "etag": webhook_version(endpoint)}


@router.post(
    "/webhooks",
    response={201: NewWebhookOut, 400: ApiErrors},
    url_name="webhooks_create",
    summary="Add a webhook endpoint",
    description="Answers **201** with the endpoint and its signing `secret`, shown this once "
    "(GET never shows it). Not idempotent: a retry after a lost answer adds a second "
    "endpoint; list them and delete the one without a known secret. The `ETag` is the "
    "endpoint's version, for `If-Match` on DELETE.",
    openapi_extra={**request_body(WebhookIn.model_json_schema()), **etag_headers(201)},
)
def create_webhook(request: HttpRequest) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    status, body = _create(access, request.body)
    headers = {"Cache-Control": "no-store", "ETag": body.pop("etag")} if status == 201 else None
    return json_response(status, body, headers)


@router.delete(
    "/webhooks/{int:endpoint_id}",
    response={204: None, 412: ApiErrors},
    url_name="webhook_delete",
    summary="Remove a webhook endpoint",
    description="Answers 204; its notifications not yet delivered are dropped. With "
    "`If-Match`, only while the endpoint is at that version (its `ETag`); otherwise **412** "
    "(rule `api.precondition_failed`).",
)
def delete_webhook(
    request: HttpRequest, endpoint_id: int, if_match: IfMatchHeader = None
) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    endpoint = access.get(WebhookEndpoint, pk=endpoint_id)
    with transaction.atomic():
        if if_match is not None:
            held = access.records(WebhookEndpoint).select_for_update().get(pk=endpoint.pk)
            stale = precondition_failed(if_match, webhook_version(held), "webhook endpoint")
            if stale is not None:
                return stale
        webhooks.delete_endpoint(access, endpoint)
    return HttpResponse(status=204)


@router.post(
    "/webhooks/{int:endpoint_id}/test",
    response={202: WebhookTestOut, 400: ApiErrors},
    url_name="webhook_test",
    summary="Send a test event to a webhook endpoint",
    description="Queues a `webhook.test` event (no records, no personal data) to the endpoint, "
    "signed and retried like every notification, and answers **202** with it. The outcome of "
    "each attempt shows in the endpoint's `last_attempt_at`, `last_status_code` and "
    "`last_outcome` (`GET /webhooks`). An earlier test event still waiting for a retry is "
    "given up. 400 `webhook.endpoint.inactive` for a deactivated endpoint.",
)
def send_webhook_test(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    access = api_access(request)
    access.require_edit()
    endpoint = access.get(WebhookEndpoint, pk=endpoint_id)
    try:
        delivery = webhooks.send_test_event(access, endpoint)
    except ValidationError as refused:
        return json_response(*refusal("endpoint_id", RULE_INACTIVE, " ".join(refused.messages)))
    body = {
        "endpoint_id": endpoint.pk,
        "event_id": str(delivery.event_id),
        "type": webhooks.TEST_EVENT_TYPE,
        "event": delivery.payload,
    }
    return json_response(202, body)
