"""Staff monitor real deliveries: a sandbox's batches (to the registry simulator) are not
in the delivery pages staff watch, nor in the delivery run's retrying/failed counts."""

from typing import Any

from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks

from pars.accounts.access import get_api_access
from pars.accounts.models import User
from pars.activities.sandbox import create_sandbox
from pars.learners.delivery import run_delivery
from pars.learners.models import (
    BatchStatus,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    WebhookEndpoint,
)
from pars.learners.services import submit_completion
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register


def _submit(provider: Provider, capture: DjangoCaptureOnCommitCallbacks) -> LearnerCompletion:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    with capture(execute=True):
        completion = submit_completion(
            get_api_access(provider), learner_row(activity), channel="api"
        )
    assert completion is not None
    return completion


def test_staff_delivery_pages_and_the_run_leave_sandbox_batches_out(
    provider: Provider,
    staff: User,
    client_as: Any,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    sandbox = create_sandbox(provider)
    rehearsed = _submit(sandbox, django_capture_on_commit_callbacks)
    real = _submit(provider, django_capture_on_commit_callbacks)
    sandbox_batch = DeliveryItem.objects.get(completion=rehearsed).batch
    live_batch = DeliveryItem.objects.get(completion=real).batch
    assert sandbox_batch != live_batch
    for model, provider_of in ((WebhookEndpoint, sandbox), (WebhookEndpoint, provider)):
        model.objects.create(provider=provider_of, url=f"https://{provider_of.pk}.example.org/")

    client = client_as(staff)
    batches = client.get(reverse("admin:learners_deliverybatch_changelist"))
    assert batches.status_code == 200
    assert list(batches.context["cl"].result_list) == [live_batch]
    # A sandbox batch is not reachable from the monitoring pages either.
    change = reverse("admin:learners_deliverybatch_change", args=[sandbox_batch.pk])
    assert client.get(change).status_code in (302, 404)
    hooks = client.get(reverse("admin:learners_webhookendpoint_changelist"))
    assert [hook.provider for hook in hooks.context["cl"].result_list] == [provider]

    # A failed rehearsal is not an operator's alarm: the run counts real failures only.
    DeliveryBatch.objects.update(status=BatchStatus.FAILED)
    assert run_delivery("ABIM").batches_failed == 1
