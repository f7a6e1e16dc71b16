"""The connectors: the registry simulator, outbound files, a recipient's web service."""

import io
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_django import DjangoCaptureOnCommitCallbacks

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.learners.connectors import (
    IDENTITY_MISMATCH,
    MatchingUnavailable,
    PermanentDeliveryError,
    TransientDeliveryError,
    connector_for,
)
from pars.learners.connectors.file import FileConnector
from pars.learners.connectors.http import HttpConnector
from pars.learners.connectors.simulator import (
    RegistryFileError,
    SimulatorConnector,
    add_to_registry,
    load_registry,
)
from pars.learners.delivery import collect_due, collect_results
from pars.learners.models import (
    CompletionStatus,
    DeliveryBatch,
    LearnerCompletion,
    Recipient,
    RegistryLearner,
    SimulatedBatch,
)
from pars.learners.services import submit_completion
from pars.providers.models import Provider
from pars.testing import learner_row, make_activity, register
from tests.support.delivery import ADA, http_stub, later


def item(ref: str = "1.1.submit", action: str = "submit", **learner: Any) -> dict[str, Any]:
    return {
        "ref": ref,
        "action": action,
        "activity": {"provider_activity_id": "GR-1"},
        "learner": {**ADA, "npi": "", "license_state": "", **learner},
    }


@pytest.fixture
def abim(db: None) -> Recipient:
    return Recipient.objects.get(code="ABIM")


# ---------------------------------------------------------------------------
# The registry simulator


def test_a_registry_file_loads_from_tsv_or_csv_with_common_header_names(abim: Recipient) -> None:
    tsv = "Board ID\tGiven Name\tSurname\tDOB\n123456\tAda\tLovelace\t12-10\n"
    assert load_registry("ABIM", io.StringIO(tsv)) == 1
    csv = b"\xef\xbb\xbflearner_id,first_name,last_name,birth_month,birth_day\n2,Al,Tu,6,23\n"
    assert load_registry("abim", io.BytesIO(csv), replace=False) == 2 - 1
    assert RegistryLearner.objects.filter(recipient_code="ABIM").count() == 2
    assert load_registry("ABIM", io.StringIO(tsv)) == 1  # replaces by default
    learner = RegistryLearner.objects.get(recipient_code="ABIM")
    assert (learner.learner_id, learner.birth_month, learner.birth_day) == ("123456", 12, 10)


def test_a_bad_registry_file_names_rows_but_never_values(abim: Recipient) -> None:
    content = "learner_id\tfirst_name\tlast_name\tbirth_date\tnpi\n"
    content += "111111\tA\tB\t13-45\t\n222222\t\tB\t01-01\t\n333333\tC\tD\t01-01\t1234567890\n"
    with pytest.raises(RegistryFileError) as refused:
        load_registry("ABIM", io.StringIO(content))
    message = str(refused.value)
    assert "row 2" in message
    assert "row 3" in message
    assert "row 4" in message
    for value in ("13-45", "111111", "1234567890"):
        assert value not in message
    assert not RegistryLearner.objects.exists()
    with pytest.raises(RegistryFileError, match="Unknown recipient"):
        load_registry("NOPE", io.StringIO("first_name\tlast_name\tbirth_date\nA\tB\t01-01\n"))


def test_the_simulator_answers_a_resent_batch_from_memory(abim: Recipient) -> None:
    add_to_registry("ABIM", [ADA])
    connector = SimulatorConnector()
    items = [item("1.1.submit"), item("2.1.submit", learner_id="999999"), item("3.2.withdraw")]
    receipt = connector.send("key-1", abim, items)
    RegistryLearner.objects.all().delete()  # the registry changes; the answer does not
    assert connector.send("key-1", abim, items) == receipt
    batch = SimulatedBatch.objects.get()
    assert batch.times_received == 2
    fetched = connector.fetch_results("key-1", abim)
    assert fetched is not None
    results = {result.ref: result for result in fetched}
    assert results["1.1.submit"].outcome == "accepted"
    assert results["2.1.submit"].outcome == "rejected"
    assert results["2.1.submit"].reason_code == IDENTITY_MISMATCH
    assert "999999" not in results["2.1.submit"].reason
    assert results["3.2.withdraw"].outcome == "accepted"


def test_the_simulator_can_be_slow_or_down(abim: Recipient) -> None:
    abim.connector_config = {"results_delay_seconds": 60, "fail_next_sends": 1}
    abim.save()
    connector = SimulatorConnector()
    with pytest.raises(TransientDeliveryError, match="simulated outage"):
        connector.send("key-2", abim, [item()])
    abim.refresh_from_db()
    assert abim.connector_config["fail_next_sends"] == 0
    connector.send("key-2", abim, [item()])
    assert connector.fetch_results("key-2", abim) is None  # not ready for a minute
    with pytest.raises(PermanentDeliveryError):
        connector.fetch_results("never-sent", abim)


def test_the_simulator_matches_by_npi_or_by_name_where_the_board_allows(db: None) -> None:
    tn = Recipient.objects.get(code="TN")
    abs_ = Recipient.objects.get(code="ABS")
    add_to_registry(
        "TN", [{**ADA, "learner_id": "MD-1", "npi": "1234567893", "license_state": "TN"}]
    )
    add_to_registry("ABS", [{**ADA, "learner_id": ""}])
    simulator = SimulatorConnector()
    by_npi, unknown_npi = simulator.match_learners(
        tn,
        [
            {**ADA, "learner_id": "", "npi": "1234567893", "license_state": "TN"},
            {**ADA, "learner_id": "", "npi": "1234567802", "license_state": "TN"},
        ],
    )
    assert (by_npi.status, by_npi.by) == ("match", "npi")
    assert unknown_npi.status == "not_found"
    by_name, wrong_birth = simulator.match_learners(
        abs_,
        [{**ADA, "learner_id": ""}, {**ADA, "learner_id": "", "birth_day": 11}],
    )
    assert (by_name.status, by_name.by) == ("match", "name")
    assert (wrong_birth.status, wrong_birth.by) == ("not_found", "name")
    (mismatch,) = simulator.match_learners(tn, [{**ADA, "learner_id": "md-1", "last_name": "X"}])
    assert (mismatch.status, mismatch.fields) == ("mismatch", ["last_name"])


def test_an_unknown_connector_kind_is_refused(abim: Recipient) -> None:
    abim.connector = "carrier-pigeon"
    with pytest.raises(PermanentDeliveryError):
        connector_for(abim)


# ---------------------------------------------------------------------------
# Outbound files


@pytest.fixture
def maine(db: None, tmp_path: Path) -> Recipient:
    maine = Recipient.objects.get(code="ME")
    maine.connector = "file"
    maine.connector_config = {"outbox": str(tmp_path / "out"), "inbox": str(tmp_path / "in")}
    maine.save()
    return maine


def test_the_outbox_file_holds_only_its_recipients_records(
    provider: Provider,
    editor: User,
    maine: Recipient,
    tmp_path: Path,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")
    register(activity, "ME")
    add_to_registry("ABIM", [ADA])
    state_row = learner_row(
        activity,
        recipient="ME",
        learner_id="MD4321",
        license_state="ME",
        moc_points="",
        moc_credit_types="",
    )
    with django_capture_on_commit_callbacks(execute=True):
        to_abim = submit_completion(access, learner_row(activity), channel="api")
        to_maine = submit_completion(access, state_row, channel="api")
    assert to_abim is not None
    assert to_maine is not None
    to_abim.refresh_from_db()
    to_maine.refresh_from_db()
    assert to_abim.status == CompletionStatus.ACCEPTED
    assert to_maine.status == CompletionStatus.SENT

    batch = DeliveryBatch.objects.get(recipient=maine)
    files = list((tmp_path / "out").iterdir())
    assert [path.name for path in files] == [f"{batch.key}.json"]  # no temporary file left
    assert files[0].stat().st_mode & 0o077 == 0  # readable by PARS only
    document = json.loads(files[0].read_text())
    assert document["recipient"] == "ME"
    assert document["batch_key"] == str(batch.key)
    assert [entry["record_id"] for entry in document["items"]] == [str(to_maine.pk)]
    assert document["items"][0]["learner"]["learner_id"] == "MD4321"
    assert "123456" not in files[0].read_text()  # the ABIM learner's ID

    # A resend of the same key leaves the file as it is.
    before = files[0].stat().st_mtime_ns
    FileConnector().send(str(batch.key), maine, [])
    assert files[0].stat().st_mtime_ns == before
    assert json.loads(files[0].read_text())["items"] == document["items"]

    assert collect_results(batch.pk) == 0  # no answer yet
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / f"{batch.key}.results.json").write_text("{not json")
    with later(hours=1):
        assert collect_results(batch.pk) == 0
    batch.refresh_from_db()
    assert "not readable" in batch.last_error
    assert batch.status == "sent"
    (inbox / f"{batch.key}.results.json").write_text(
        json.dumps(
            {
                "results": [
                    {
                        "ref": document["items"][0]["ref"],
                        "outcome": "rejected",
                        "reason": "License MD4321 has lapsed.",
                        "reason_code": "license_inactive",
                    }
                ]
            }
        )
    )
    with later(hours=2), django_capture_on_commit_callbacks(execute=True):
        assert collect_due("ME") == 1
    to_maine.refresh_from_db()
    assert to_maine.status == CompletionStatus.REJECTED
    assert to_maine.status_code == "license_inactive"
    # The recipient quoted the license number: PARS does not keep it.
    assert to_maine.status_reason == "License [identifier] has lapsed."


def test_the_file_connector_offers_no_matching(maine: Recipient) -> None:
    with pytest.raises(MatchingUnavailable):
        FileConnector().match_learners(maine, [ADA])


# ---------------------------------------------------------------------------
# A recipient's web service


@pytest.fixture
def web_abim(abim: Recipient, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Recipient]:
    monkeypatch.setenv("PARS_TEST_ABIM_TOKEN", "t0ken")

    def configure(url: str) -> Recipient:
        abim.connector = "http"
        abim.connector_config = {
            "url": url,
            "allow_http": True,
            "token_env": "PARS_TEST_ABIM_TOKEN",
            "timeout_seconds": 5,
        }
        abim.save()
        return abim

    return configure


def test_the_web_service_gets_the_batch_with_its_idempotency_key_and_token(
    web_abim: Callable[[str], Recipient],
) -> None:
    with http_stub((503, {}), (201, {"receipt": "R-77"}), (400, {"error": "bad"})) as stub:
        abim = web_abim(stub.url + "/pars/")
        connector = HttpConnector()
        with pytest.raises(TransientDeliveryError, match="HTTP 503"):
            connector.send("key-3", abim, [item()])
        assert connector.send("key-3", abim, [item()]) == "R-77"
        with pytest.raises(PermanentDeliveryError, match="HTTP 400"):
            connector.send("key-4", abim, [item()])
    first = stub.received[1]
    assert (first.method, first.path) == ("POST", "/pars/batches")
    assert first.header("Idempotency-Key") == "key-3"
    assert first.header("Authorization") == "Bearer t0ken"
    assert first.json()["items"][0]["ref"] == "1.1.submit"


def test_web_service_results_pending_then_ready(web_abim: Callable[[str], Recipient]) -> None:
    ready = {"results": [{"ref": "1.1.submit", "outcome": "accepted"}]}
    with http_stub((202, {"status": "pending"}), (200, ready), (500, {})) as stub:
        abim = web_abim(stub.url)
        connector = HttpConnector()
        assert connector.fetch_results("key-5", abim) is None
        fetched = connector.fetch_results("key-5", abim)
        assert fetched is not None
        (result,) = fetched
        assert (result.ref, result.outcome) == ("1.1.submit", "accepted")
        with pytest.raises(TransientDeliveryError):
            connector.fetch_results("key-5", abim)
    assert stub.received[0].path == "/batches/key-5/results"


def test_web_service_unreachable_or_misconfigured(
    web_abim: Callable[[str], Recipient], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    abim = web_abim(f"http://127.0.0.1:{port}")  # nobody listens there
    with pytest.raises(TransientDeliveryError, match="connection failed"):
        HttpConnector().send("key-6", abim, [item()])
    abim.connector_config = {"url": f"http://127.0.0.1:{port}"}  # http not allowed
    with pytest.raises(PermanentDeliveryError, match="https"):
        HttpConnector().send("key-6", abim, [item()])
    abim.connector_config = {"url": "https://board.example", "token_env": "PARS_NO_SUCH_TOKEN"}
    monkeypatch.delenv("PARS_NO_SUCH_TOKEN", raising=False)
    with pytest.raises(PermanentDeliveryError, match="PARS_NO_SUCH_TOKEN"):
        HttpConnector().send("key-6", abim, [item()])


def test_a_whole_delivery_through_a_web_service(
    provider: Provider,
    editor: User,
    web_abim: Callable[[str], Recipient],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    access = get_provider_access(editor, provider.provider_id)
    activity = make_activity(provider, provider_activity_id="GR-1")
    register(activity, "ABIM")

    with http_stub((201, {"receipt": "R-1"})) as stub:
        web_abim(stub.url)
        with django_capture_on_commit_callbacks(execute=True):
            completion = submit_completion(access, learner_row(activity), channel="api")
        assert completion is not None
        completion.refresh_from_db()
        assert completion.status == CompletionStatus.SENT
        batch = DeliveryBatch.objects.get()
        assert batch.receipt == "R-1"
        refs = [entry.payload["ref"] for entry in batch.items.all()]
        stub.answers.append(
            (200, {"results": [{"ref": ref, "outcome": "accepted"} for ref in refs]})
        )
        with later(minutes=6), django_capture_on_commit_callbacks(execute=True):
            assert collect_due() == 1
    assert stub.received[-1].path == f"/batches/{batch.key}/results"
    completion.refresh_from_db()
    assert completion.status == CompletionStatus.ACCEPTED
    assert LearnerCompletion.objects.get().version == 1


def test_web_service_matching(web_abim: Callable[[str], Recipient]) -> None:
    answer = {"results": [{"status": "mismatch", "fields": ["birth_date"], "by": "learner_id"}]}
    with http_stub((200, answer), (503, {})) as stub:
        abim = web_abim(stub.url)
        (outcome,) = HttpConnector().match_learners(abim, [ADA])
        assert (outcome.status, outcome.fields) == ("mismatch", ["birth_date"])
        with pytest.raises(MatchingUnavailable):
            HttpConnector().match_learners(abim, [ADA])
    assert stub.received[0].path == "/matches"


def test_demo_registries_match_the_demo_learners(
    provider: Provider, editor: User, tmp_path: Path
) -> None:
    from pars.learners.demo import (
        SAMPLE_REGISTRY,
        demo_learners,
        seed_registry,
        write_registry_file,
    )
    from pars.learners.prevalidation import PrevalidationUnavailable, prevalidate

    access = get_provider_access(editor, provider.provider_id)
    for code in ("ABIM", "ABS", "ME", "NC"):
        learners = demo_learners(code, 6)
        assert demo_learners(code, 6) == learners  # the same every time
        seed_registry(code, learners[:-1])
        results = prevalidate(access, code, learners)
        assert [result.status for result in results] == ["match"] * 5 + ["not_found"]
    # REMS records are reported, not matched: there is nothing to pre-validate.
    with pytest.raises(PrevalidationUnavailable, match="reported, not matched"):
        prevalidate(access, "REMS", demo_learners("REMS", 2))
    path = tmp_path / "abim.tsv"
    write_registry_file(path, demo_learners("ABIM", 3))
    assert load_registry("ABIM", path) == 3
    assert load_registry("ABIM", SAMPLE_REGISTRY) == 3
