"""Delivery of completions through the registry simulator: queued → sent → accepted,
rejected or held; retries with backoff; a worker dying mid-batch; held records released;
withdrawals and corrections; no personal data in the logs."""

import io
import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from pars.accounts.access import ProviderAccess, get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.store import store_upload
from pars.learners import delivery
from pars.learners.connectors.simulator import add_to_registry
from pars.learners.delivery import sending
from pars.learners.models import (
    BatchStatus,
    CompletionStatus,
    DeliveryBatch,
    DeliveryItem,
    LearnerCompletion,
    Recipient,
    SimulatedBatch,
)
from pars.learners.services import (
    CompletionResult,
    apply_completions,
    correct_completion,
    fix_learner_identity,
    submit_completion,
    withdraw_completion,
)
from pars.learners.validation import load_recipients
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register
from tests.support.delivery import ADA, later
from tests.support.learners import clean_completion


@pytest.fixture
def access(provider: Provider, editor: User) -> ProviderAccess:
    return get_provider_access(editor, provider.provider_id)


@pytest.fixture
def activity(provider: Provider) -> Activity:
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    return activity


@pytest.fixture
def registry(db: None) -> None:
    add_to_registry("ABIM", [ADA])


def configure(code: str = "ABIM", **config: Any) -> None:
    Recipient.objects.filter(code=code).update(connector_config=config)


@pytest.fixture
def submit(
    access: ProviderAccess,
    activity: Activity,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[..., LearnerCompletion]:
    """Submit one record as the web service does, running what the commit triggers."""

    def submit(**overrides: Any) -> LearnerCompletion:
        with django_capture_on_commit_callbacks(execute=True):
            completion = submit_completion(
                access, learner_row(activity, **overrides), channel="api"
            )
        assert completion is not None
        completion.refresh_from_db()
        return completion

    return submit


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[..., Any]:
    """Run a call and what its commit triggers (webhooks, scheduled deliveries)."""

    def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


def apply_rows(access: ProviderAccess, rows: list[dict[str, Any]]) -> CompletionResult:
    """Write several records in one go (as one file batch is written)."""
    recipients = load_recipients()
    records = [(n, clean_completion(row, recipients=recipients)) for n, row in enumerate(rows)]
    return apply_completions(access, records, channel="tsv")


def kinds(completion: LearnerCompletion) -> list[str]:
    return [event.kind for event in completion.events.order_by("at", "id")]


def test_a_known_learner_is_sent_and_accepted(
    registry: None, submit: Callable[..., LearnerCompletion]
) -> None:
    completion = submit()
    assert completion.status == CompletionStatus.ACCEPTED
    assert completion.ever_sent
    assert completion.batch is None
    assert kinds(completion) == ["sent", "accepted"]
    item = DeliveryItem.objects.get(completion=completion)
    assert (item.version, item.action, item.outcome) == (1, "submit", "accepted")
    assert item.payload["learner"]["learner_id"] == "123456"
    assert item.payload["activity"]["provider_activity_id"] == "GR-1"
    assert item.payload["credits"] == {
        "cme_credits": "10.00",
        "moc_points": "10.00",
        "moc_credit_types": ["Medical Knowledge"],
    }
    batch = item.batch
    assert batch.status == BatchStatus.DONE
    assert batch.receipt
    assert SimulatedBatch.objects.get().key == str(batch.key)


def test_an_unknown_learner_is_held_and_the_reason_quotes_nothing_personal(
    registry: None, submit: Callable[..., LearnerCompletion]
) -> None:
    completion = submit(learner_id="654321")
    assert completion.status == CompletionStatus.HELD
    assert completion.status_code == "identity_mismatch"
    assert "ABIM" in completion.status_reason
    assert "654321" not in completion.status_reason
    assert kinds(completion) == ["sent", "held"]


def test_a_learner_whose_birth_date_differs_is_held_naming_the_field(
    registry: None, submit: Callable[..., LearnerCompletion]
) -> None:
    completion = submit(birth_date="01-02")
    assert completion.status == CompletionStatus.HELD
    assert "birth date" in completion.status_reason
    assert "01-02" not in completion.status_reason
    assert "12-10" not in completion.status_reason


def test_a_recipient_rejection_that_is_not_about_identity_is_rejected(
    registry: None, submit: Callable[..., LearnerCompletion]
) -> None:
    configure(reject_activity_ids=["GR-1"])
    completion = submit()
    assert completion.status == CompletionStatus.REJECTED
    assert completion.status_code == "activity_not_registered"
    assert completion.status_reason == "ABIM has no registration of this activity."


def test_results_not_ready_are_collected_later_by_the_command(
    registry: None, submit: Callable[..., LearnerCompletion]
) -> None:
    configure(results_delay_seconds=3600)
    completion = submit()
    assert completion.status == CompletionStatus.SENT
    call_command("deliver_completions", stdout=io.StringIO())
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.SENT
    with later(hours=2):
        call_command("deliver_completions", "--recipient", "abim", stdout=io.StringIO())
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.ACCEPTED


def test_a_recipient_that_is_down_is_retried_with_backoff(
    registry: None, submit: Callable[..., LearnerCompletion]
) -> None:
    configure(fail_next_sends=2)
    start = timezone.now()
    completion = submit()
    assert completion.status == CompletionStatus.QUEUED
    assert completion.status_code == "delivery_retrying"
    assert "attempt 1 of 10" in completion.status_reason
    batch = DeliveryBatch.objects.get()
    assert (batch.status, batch.attempts) == (BatchStatus.SENDING, 1)
    assert batch.next_attempt_at is not None
    first_wait = (batch.next_attempt_at - start).total_seconds()
    assert 60 <= first_wait <= 60 * 1.25 + 5
    assert "simulated outage" in batch.last_error

    delivery.deliver("ABIM")  # not due yet: nothing happens
    batch.refresh_from_db()
    assert batch.attempts == 1

    with later(seconds=80):
        retried_at = timezone.now()
        delivery.deliver("ABIM")
        batch.refresh_from_db()
        assert batch.attempts == 2
        assert batch.next_attempt_at is not None
        second_wait = (batch.next_attempt_at - retried_at).total_seconds()
        assert 120 <= second_wait <= 120 * 1.25 + 5
    with later(minutes=5):
        assert delivery.deliver("ABIM") == 1
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.ACCEPTED
    assert completion.status_reason == ""
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    # One batch, one key, received once by the recipient.
    assert DeliveryBatch.objects.count() == 1
    assert SimulatedBatch.objects.get().times_received == 1


def test_after_the_last_attempt_the_records_stay_queued_until_staff_resend(
    registry: None, submit: Callable[..., LearnerCompletion]
) -> None:
    configure(fail_next_sends=5, max_attempts=2)
    completion = submit()
    with later(minutes=3):
        delivery.deliver("ABIM")
    batch = DeliveryBatch.objects.get()
    assert (batch.status, batch.attempts) == (BatchStatus.FAILED, 2)
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.QUEUED
    assert completion.status_code == "delivery_failed"
    assert "Nothing is lost" in completion.status_reason

    configure(max_attempts=2)  # the recipient is back
    out = io.StringIO()
    call_command("deliver_completions", "--retry-failed", stdout=out)
    assert "Records sent: 1" in out.getvalue()
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.ACCEPTED
    batch.refresh_from_db()
    assert batch.status == BatchStatus.DONE
    assert SimulatedBatch.objects.get().key == str(batch.key)


def test_a_permanent_refusal_gives_up_at_once(
    registry: None, submit: Callable[..., LearnerCompletion]
) -> None:
    configure(fail_sends_permanently=True)
    completion = submit()
    batch = DeliveryBatch.objects.get()
    assert (batch.status, batch.attempts) == (BatchStatus.FAILED, 1)
    assert completion.status == CompletionStatus.QUEUED
    assert completion.status_code == "delivery_failed"


def test_a_worker_dying_after_the_recipient_got_the_batch_loses_and_repeats_nothing(
    access: ProviderAccess,
    activity: Activity,
    registry: None,
    committed: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_to_registry("ABIM", [{**ADA, "learner_id": "234567", "first_name": "Grace"}])
    real_mark_sent = sending._mark_sent
    deaths: list[int] = []

    def dies_once(batch_id: int, receipt: str) -> int:
        if not deaths:
            deaths.append(batch_id)
            raise RuntimeError("worker killed")
        return real_mark_sent(batch_id, receipt)

    monkeypatch.setattr(sending, "_mark_sent", dies_once)
    rows = [learner_row(activity), learner_row(activity, learner_id="234567", first_name="Grace")]
    committed(apply_rows, access, rows)

    # The recipient has the batch; PARS did not record that it was sent.
    assert SimulatedBatch.objects.count() == 1
    batch = DeliveryBatch.objects.get()
    assert batch.status == BatchStatus.SENDING
    assert set(LearnerCompletion.objects.values_list("status", flat=True)) == {"queued"}

    delivery.deliver("ABIM")  # another worker while the lease holds: leaves it alone
    assert SimulatedBatch.objects.get().times_received == 1

    with later(minutes=11):
        assert delivery.deliver("ABIM") == 2
    simulated = SimulatedBatch.objects.get()
    assert simulated.key == str(batch.key)
    assert simulated.times_received == 2  # resent once, recorded once
    assert len(simulated.results) == 2
    assert DeliveryBatch.objects.count() == 1
    assert DeliveryItem.objects.count() == 2
    for completion in LearnerCompletion.objects.all():
        assert completion.status == CompletionStatus.ACCEPTED
        assert kinds(completion) == ["sent", "accepted"]


def test_records_are_split_into_batches(
    access: ProviderAccess,
    activity: Activity,
    registry: None,
    committed: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sending, "BATCH_SIZE", 2)  # claims the batches
    configure(results_delay_seconds=60)
    rows = [learner_row(activity, learner_id=f"{100000 + n}", last_name=f"L{n}") for n in range(5)]
    committed(apply_rows, access, rows)
    assert sorted(DeliveryBatch.objects.values_list("items_count", flat=True)) == [1, 2, 2]
    assert set(LearnerCompletion.objects.values_list("status", flat=True)) == {"sent"}


def test_withdrawing_an_accepted_record_sends_the_withdrawal(
    access: ProviderAccess,
    registry: None,
    submit: Callable[..., LearnerCompletion],
    committed: Callable[..., Any],
) -> None:
    completion = submit()
    assert completion.status == CompletionStatus.ACCEPTED
    committed(withdraw_completion, access, completion, channel="web")
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.WITHDRAWN
    assert completion.version == 2
    withdrawal = DeliveryItem.objects.get(completion=completion, action="withdraw")
    assert (withdrawal.version, withdrawal.outcome) == (2, "accepted")
    assert withdrawal.payload["action"] == "withdraw"
    assert SimulatedBatch.objects.count() == 2
    assert kinds(completion) == [
        "sent",
        "accepted",
        "withdrawal_requested",
        "sent",
        "withdrawn",
    ]


def test_a_correction_is_resent_and_an_old_versions_answer_does_not_overwrite_it(
    access: ProviderAccess,
    registry: None,
    submit: Callable[..., LearnerCompletion],
    committed: Callable[..., Any],
) -> None:
    configure(results_delay_seconds=3600)
    completion = submit(learner_id="654321")  # wrong ID: the registry will not match
    assert completion.status == CompletionStatus.SENT
    first = DeliveryItem.objects.get(completion=completion).batch

    committed(correct_completion, access, completion, {"learner_id": "123456"}, channel="web")
    completion.refresh_from_db()
    assert (completion.version, completion.status) == (2, CompletionStatus.SENT)
    second = DeliveryItem.objects.get(completion=completion, version=2).batch
    assert second.pk != first.pk

    with later(hours=2):
        assert delivery.collect_results(second.pk) == 1
        completion.refresh_from_db()
        assert completion.status == CompletionStatus.ACCEPTED
        # The answer to version 1 (not matched) arrives late: history only.
        assert delivery.collect_results(first.pk) == 0
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.ACCEPTED
    assert completion.status_reason == ""
    old = DeliveryItem.objects.get(completion=completion, version=1)
    assert (old.outcome, old.reason_code) == ("rejected", "identity_mismatch")
    assert "held" not in kinds(completion)


def test_a_held_record_is_released_when_the_registry_learns_the_learner(
    registry: None,
    submit: Callable[..., LearnerCompletion],
    committed: Callable[..., Any],
    tmp_path: Path,
) -> None:
    completion = submit(learner_id="654321", first_name="Grace", last_name="Hopper")
    assert completion.status == CompletionStatus.HELD
    registry_file = tmp_path / "abim.tsv"
    registry_file.write_text(
        "Board ID\tFirst Name\tLast Name\tBirth Date\n"
        "123456\tAda\tLovelace\t12-10\n"
        "654321\tGrace\tHopper\t12-10\n"
    )
    out = io.StringIO()
    committed(call_command, "load_registry", "ABIM", str(registry_file), stdout=out)
    assert "2 learners loaded" in out.getvalue()
    assert "1 held records released" in out.getvalue()
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.ACCEPTED
    assert completion.version == 2
    assert kinds(completion) == ["sent", "held", "released", "sent", "accepted"]


def test_a_held_record_is_resent_when_the_provider_fixes_the_identity(
    access: ProviderAccess,
    provider: Provider,
    activity: Activity,
    registry: None,
    submit: Callable[..., LearnerCompletion],
    committed: Callable[..., Any],
) -> None:
    other = make_activity(provider, provider_activity_id="GR-2")
    register(other, "ABIM")
    completion = submit(birth_date="01-02")
    with_other = committed(
        submit_completion, access, learner_row(other, birth_date="01-02"), channel="api"
    )
    with_other.refresh_from_db()
    assert {completion.status, with_other.status} == {CompletionStatus.HELD}

    fixed = committed(
        fix_learner_identity, access, completion, {"birth_date": "12-10"}, channel="web"
    )
    assert len(fixed) == 2
    for record in (completion, with_other):
        record.refresh_from_db()
        assert record.status == CompletionStatus.ACCEPTED
        assert (record.birth_month, record.birth_day) == (12, 10)


def test_release_leaves_records_whose_learner_still_does_not_match(
    registry: None, submit: Callable[..., LearnerCompletion], committed: Callable[..., Any]
) -> None:
    completion = submit(learner_id="654321")
    assert committed(delivery.release_held, "ABIM") == 0
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.HELD
    assert completion.version == 1


def test_no_learner_identifier_npi_name_or_birth_date_reaches_the_logs(
    access: ProviderAccess,
    activity: Activity,
    caplog: pytest.LogCaptureFixture,
    committed: Callable[..., Any],
) -> None:
    register(activity, "TN")
    add_to_registry("ABIM", [ADA])
    rows = [
        learner_row(activity),  # accepted
        learner_row(activity, learner_id="987654", last_name="Byron", birth_date="11-30"),  # held
        learner_row(
            activity,
            recipient="TN",
            learner_id="",
            npi="1234567893",
            license_state="TN",
            moc_points="",
            moc_credit_types="",
        ),  # held: the TN registry is empty
    ]
    header = [*rows[0], "npi", "license_state"]
    lines = ["\t".join(header)] + [
        "\t".join(str(row.get(name, "")) for name in header) for row in rows
    ]
    content = ("\n".join(lines) + "\n").encode()
    with caplog.at_level(logging.DEBUG):
        committed(
            store_upload, access, SimpleUploadedFile("learners.txt", content), kind="learners"
        )
        with later(hours=1):
            committed(call_command, "deliver_completions", stdout=io.StringIO())
    statuses = sorted(LearnerCompletion.objects.values_list("status", flat=True))
    assert statuses == ["accepted", "held", "held"]
    assert any("batch" in record.getMessage() for record in caplog.records)
    text = "\n".join(
        [record.getMessage() for record in caplog.records]
        + [repr(record.args) for record in caplog.records]
    )
    for secret in ("123456", "987654", "1234567893", "12-10", "11-30", "Lovelace", "Byron"):
        assert secret not in text


def test_the_payload_carries_rems_fields_only_for_rems(
    access: ProviderAccess,
    provider: Provider,
    registry: None,
    submit: Callable[..., LearnerCompletion],
) -> None:
    completion = submit()
    item = DeliveryItem.objects.get(completion=completion)
    assert "rems" not in item.payload
    assert item.payload["record_id"] == str(completion.pk)
    assert item.payload["provider"]["provider_id"] == provider.provider_id
    assert Decimal(item.payload["credits"]["cme_credits"]) == Decimal(10)


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    for attempt, raw in ((1, 60), (2, 120), (3, 240)):
        delay = delivery.backoff_seconds(attempt, 60, 3600)
        assert raw <= delay <= raw * 1.25
    assert delivery.backoff_seconds(20, 60, 3600) == 3600


def test_deliver_of_an_unknown_recipient_does_nothing(db: None) -> None:
    assert delivery.deliver("NOPE") == 0
    assert not DeliveryBatch.objects.exists()


def test_retries_and_result_collection_are_deferred_on_the_database_queue(
    registry: None, submit: Callable[..., LearnerCompletion], settings: Settings
) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}
    configure(fail_next_sends=1, results_delay_seconds=120)
    completion = submit()
    assert completion.status == CompletionStatus.QUEUED  # the worker has not run yet
    assert list(DBTaskResult.objects.values_list("task_path", flat=True)) == [
        "pars.learners.delivery.deliver_task"
    ]
    DBTaskResult.objects.all().delete()

    delivery.deliver("ABIM")  # as the worker would: the recipient is down
    batch = DeliveryBatch.objects.get()
    retry = DBTaskResult.objects.get()
    assert retry.task_path == "pars.learners.delivery.deliver_task"
    assert retry.run_after == batch.next_attempt_at
    DBTaskResult.objects.all().delete()

    with later(minutes=3):
        delivery.deliver("ABIM")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SENT
    collect = DBTaskResult.objects.get()
    assert collect.task_path == "pars.learners.delivery.collect_results_task"
    assert collect.run_after == batch.next_attempt_at
    assert batch.next_attempt_at is not None
    assert batch.sent_at is not None
    assert (batch.next_attempt_at - batch.sent_at).total_seconds() == 120


@pytest.mark.django_db(transaction=True)
def test_records_locked_by_another_worker_are_skipped_not_waited_for(
    provider: Provider, editor: User
) -> None:
    """PostgreSQL: a second worker claims the records the first has not locked."""
    import threading

    from django.db import connection, transaction

    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SELECT … FOR UPDATE SKIP LOCKED needs PostgreSQL")
    access = get_provider_access(editor, provider.provider_id)
    activity = make_activity(provider, provider_activity_id="GR-9")
    register(activity, "ABIM")
    configure(results_delay_seconds=600)
    rows = [learner_row(activity, learner_id=f"{200000 + n}", last_name=f"L{n}") for n in range(3)]
    apply_completions(
        access,
        [(n, clean_completion(row, recipients=load_recipients())) for n, row in enumerate(rows)],
        channel="tsv",
        schedule=False,
    )
    first = LearnerCompletion.objects.order_by("pk").first()
    assert first is not None
    locked = threading.Event()
    release = threading.Event()

    def other_worker() -> None:
        with transaction.atomic():
            list(LearnerCompletion.objects.select_for_update().filter(pk=first.pk))
            locked.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert locked.wait(10)
        assert delivery.deliver("ABIM") == 2
    finally:
        release.set()
        thread.join()
    first.refresh_from_db()
    assert (first.status, first.batch_id) == (CompletionStatus.QUEUED, None)
    assert LearnerCompletion.objects.filter(status=CompletionStatus.SENT).count() == 2
    assert delivery.deliver("ABIM") == 1
