"""A sandbox's learner records go to the registry simulator, never to the board."""

from pathlib import Path

from pytest_django import DjangoCaptureOnCommitCallbacks

from pars.accounts.access import get_api_access
from pars.activities.sandbox import create_sandbox
from pars.learners.connectors.simulator import add_to_registry
from pars.learners.delivery.results import collect_results
from pars.learners.models import (
    CompletionStatus,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
    SimulatedBatch,
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
    completion.refresh_from_db()
    return completion


def test_sandbox_records_reach_the_simulator_and_live_records_the_board(
    provider: Provider,
    tmp_path: Path,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # The board takes files from an outbox; its registry simulator knows the learner.
    Recipient.objects.filter(code="ABIM").update(
        connector="file", connector_config={"outbox": str(tmp_path)}
    )
    add_to_registry(
        "ABIM",
        [
            {
                "learner_id": "123456",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "birth_month": 12,
                "birth_day": 10,
            }
        ],
    )
    sandbox = create_sandbox(provider)

    rehearsed = _submit(sandbox, django_capture_on_commit_callbacks)
    assert rehearsed.status == CompletionStatus.SENT
    # Its results come from the simulator too (the board would have none for it).
    collect_results(DeliveryItem.objects.get(completion=rehearsed).batch_id)
    rehearsed.refresh_from_db()
    assert rehearsed.status == CompletionStatus.ACCEPTED
    assert SimulatedBatch.objects.count() == 1
    assert not any(tmp_path.rglob("*"))  # nothing reached the board's outbox

    real = _submit(provider, django_capture_on_commit_callbacks)
    assert real.status == CompletionStatus.SENT  # with the board, awaiting its answer
    assert any(tmp_path.rglob("*"))
    assert SimulatedBatch.objects.count() == 1
    live_batch = DeliveryItem.objects.get(completion=real).batch
    assert set(live_batch.items.values_list("provider_id", flat=True)) == {provider.pk}
