"""Webhooks of a provider (its administrators): add, send a test event, deactivate, delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from pars.accounts.access import ProviderAccess
from pars.accounts.decorators import provider_view
from pars.learners import webhooks
from pars.learners.forms import WebhookForm
from pars.learners.models import WebhookEndpoint
from pars.learners.views.common import provider_url


@provider_view(manage_users=True)
def webhook_list(request: HttpRequest, access: ProviderAccess) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    created: tuple[WebhookEndpoint, str] | None = None
    if request.method == "POST" and form.is_valid():
        try:
            created = webhooks.create_endpoint(
                access, form.cleaned_data["url"], form.cleaned_data["description"]
            )
        except (ValidationError, ValueError) as refused:
            message = "; ".join(getattr(refused, "messages", None) or [str(refused)])
            form.add_error("url", message or "This address cannot receive webhooks.")
        else:
            form = WebhookForm()
    endpoints = access.records(WebhookEndpoint).order_by("-active", "created_at")
    response = render(
        request,
        "learners/webhooks.html",
        {
            "access": access,
            "form": form,
            "endpoints": endpoints,
            "created": created[0] if created else None,
            "secret": created[1] if created else None,
        },
        status=400 if form.errors else 200,
    )
    if created:
        add_never_cache_headers(response)  # the secret is shown this once
    return response


@provider_view(manage_users=True)
@require_POST
def webhook_deactivate(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    endpoint = access.get(WebhookEndpoint, pk=pk)
    webhooks.deactivate_endpoint(access, endpoint)
    messages.success(request, f"{endpoint.url} is deactivated: PARS no longer notifies it.")
    return redirect(provider_url("learners:webhooks", access))


@provider_view(manage_users=True)
@require_POST
def webhook_delete(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    endpoint = access.get(WebhookEndpoint, pk=pk)
    url = endpoint.url
    webhooks.delete_endpoint(access, endpoint)
    messages.success(request, f"{url} is deleted.")
    return redirect(provider_url("learners:webhooks", access))


@provider_view(manage_users=True)
@require_POST
def webhook_test(request: HttpRequest, access: ProviderAccess, pk: int) -> HttpResponse:
    endpoint = access.get(WebhookEndpoint, pk=pk)
    try:
        webhooks.send_test_event(access, endpoint)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
    else:
        messages.success(
            request,
            f"A test event is queued for {endpoint.url}: its outcome shows under Last delivery "
            "(reload the page in a moment).",
        )
    return redirect(provider_url("learners:webhooks", access))
