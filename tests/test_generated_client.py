"""A client generated from the served OpenAPI document drives an integrator's flow (issue 16,
item 5): a change that breaks generated clients fails here.

openapi-python-client (requirements/dev.txt) builds a Python package from
/api/v1/openapi.json as served by a live server, offline, in a temporary folder; the test
imports it and, through its functions and classes only, creates and lists activities,
reads one, uploads a file and polls it, registers an activity for a board, reports learner
completions and reads their statuses, then rehearses in the provider's sandbox with a test
key. docs/api-client.md shows the same flow.
"""

from __future__ import annotations

import enum
import importlib
import io
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import Role
from pars.accounts.services import create_api_key
from pars.activities.dictionary import FIELDS
from pars.activities.sandbox import create_sandbox
from pars.api_contract import ACTIVITY_EXAMPLE, COMPLETION_EXAMPLE
from pars.intake.fields import Kind
from pars.testing import make_member, make_provider

PACKAGE = "pars_client"
CODE_FIELDS = [spec for spec in FIELDS if spec.kind in (Kind.CHOICE, Kind.CHOICE_LIST)]
# Provider Activity IDs of the file uploaded (tab-delimited, the upload template's headers).
FILE = (
    b"Provider Activity ID\tActivity Title\tActivity Format\tStart Date\tEnd Date\r\n"
    b"FILE-1\tGrand Rounds: Sepsis\tCourse\t03/05/2026\t03/05/2026\r\n"
    b"FILE-2\tJournal Club\tCourse\t03/12/2026\t03/12/2026\r\n"
)


def generate(document: bytes, folder: Path) -> ModuleType:
    """The client package generated from `document`, imported."""
    (folder / "openapi.json").write_bytes(document)
    config = {"package_name_override": PACKAGE, "post_hooks": []}
    (folder / "config.json").write_text(json.dumps(config))
    command = [
        sys.executable,
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        str(folder / "openapi.json"),
        "--config",
        str(folder / "config.json"),
        "--meta",
        "none",
        "--output-path",
        str(folder / PACKAGE),
    ]
    done = subprocess.run(  # noqa: S603 (our own interpreter and the installed generator)
        command, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The only warning allowed: the XML export's body is not parsed (it is a download).
    warnings = done.stdout.split("Warning(s) encountered while generating")[-1]
    assert "Unable to" not in warnings, warnings
    assert "Cannot parse" not in warnings.replace("Cannot parse response for status code", "")
    sys.path.insert(0, str(folder))
    return importlib.import_module(PACKAGE)


@pytest.fixture
def client_package(live_server: LiveServer, tmp_path: Path) -> Iterator[ModuleType]:
    url = f"{live_server.url}/api/v1/openapi.json"
    with urllib.request.urlopen(url) as answer:  # noqa: S310 (the loopback live server)
        document = answer.read()
    try:
        yield generate(document, tmp_path)
    finally:
        if str(tmp_path) in sys.path:
            sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


def _module(package: ModuleType, name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


class Operations:
    """The generated operations of one tag: ``Operations(package, "activities").create_activity``
    is the module ``pars_client.api.activities.create_activity`` (sync, sync_detailed…)."""

    def __init__(self, package: ModuleType, tag: str) -> None:
        self.prefix = f"{package.__name__}.api.{tag}"

    def __getattr__(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.prefix}.{name}")


@pytest.mark.django_db(transaction=True)
def test_the_generated_client_has_the_contracts_names_and_enums(
    client_package: ModuleType,
) -> None:
    models = _module(client_package, "models")
    activities = Operations(client_package, "activities")
    for name in ("create_activity", "list_activities", "get_activity", "put_activity"):
        assert callable(getattr(activities, name).sync_detailed), name
    assert Operations(client_package, "uploads").upload_activity_file.sync
    assert Operations(client_package, "learner_completions").post_learner_completions.sync
    for name in ("ActivityIn", "Activity", "Upload", "LearnerCompletionIn", "ApiError"):
        assert hasattr(models, name), name
    # One enum per code list, named after its field, whatever schema uses it.
    for name in ("ActivityFormat", "DeliveryMethod", "State", "Country", "Profession"):
        assert issubclass(getattr(models, name), enum.Enum), name
    assert models.ActivityFormat("course") is models.ActivityFormat.COURSE
    assert models.ActivityFormat("RSS") is models.ActivityFormat.LEGACY_RSS
    read = models.ActivityIn.from_dict(ACTIVITY_EXAMPLE)
    assert read.activity_format is models.ActivityFormat.COURSE
    assert read.delivery_methods == [models.DeliveryMethod.IN_PERSON]
    # Every code list of the activity is an enum: a code that is none of them is refused
    # by the client itself, and a code reads as a member of the enum.
    for spec in CODE_FIELDS:
        code = next(iter(spec.choices))
        good = code if spec.kind is Kind.CHOICE else [code]
        read = models.ActivityIn.from_dict({**ACTIVITY_EXAMPLE, spec.name: good})
        value = getattr(read, spec.name)
        member = value if spec.kind is Kind.CHOICE else value[0]
        assert isinstance(member, enum.Enum), spec.name
        assert member.value == code


def _wait_for(get: Any, upload_id: int) -> Any:
    for _ in range(50):
        upload = get.sync(client=CLIENT[0], upload_id=upload_id)
        if upload.finished:
            return upload
        time.sleep(0.1)
    raise AssertionError("the upload did not finish")


CLIENT: list[Any] = []


@pytest.mark.django_db(transaction=True)
def test_an_integrators_flow_through_the_generated_client(
    client_package: ModuleType, live_server: LiveServer
) -> None:
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    _, secret = create_api_key(provider=provider)
    client = client_package.AuthenticatedClient(
        base_url=live_server.url, token=secret, raise_on_unexpected_status=True
    )
    CLIENT[:] = [client]
    models = _module(client_package, "models")
    activities = Operations(client_package, "activities")
    uploads = Operations(client_package, "uploads")
    registrations = Operations(client_package, "recipients_and_registrations")
    completions = Operations(client_package, "learner_completions")

    # Check an activity without writing it (dry_run): the real run's answer, nothing saved.
    rehearsed = activities.create_activity.sync_detailed(
        client=client, body=models.ActivityIn.from_dict(ACTIVITY_EXAMPLE), dry_run=True
    )
    assert rehearsed.status_code == 201
    assert rehearsed.headers["X-PARS-Environment"] == "live"
    assert rehearsed.parsed.provider_activity_id == "CARD-2026-01"
    assert activities.list_activities.sync(client=client) == []

    # Create one activity (POST) and another by its ID (PUT).
    created = activities.create_activity.sync_detailed(
        client=client, body=models.ActivityIn.from_dict(ACTIVITY_EXAMPLE)
    )
    assert created.status_code == 201
    assert isinstance(created.parsed, models.Activity)
    assert created.parsed.activity_format.value == "course"
    # An answer with a code that is none of the list's does not parse: enums, not text.
    answer = created.parsed.to_dict()
    for spec in CODE_FIELDS:
        bad = "no-such-code" if spec.kind is Kind.CHOICE else ["no-such-code"]
        with pytest.raises(ValueError, match="no-such-code"):
            models.Activity.from_dict({**answer, spec.name: bad})
    second = {**ACTIVITY_EXAMPLE, "provider_activity_id": "CARD-2026-02", "title": "Follow-up"}
    put = activities.put_activity.sync_detailed(
        client=client, provider_activity_id="CARD-2026-02", body=models.ActivityIn.from_dict(second)
    )
    assert put.status_code == 201

    # Upload a file, then poll it until it is finished.
    file_body = models.ActivityFileIn(
        file=_module(client_package, "types").File(
            payload=io.BytesIO(FILE), file_name="activities.tsv"
        )
    )
    accepted = uploads.upload_activity_file.sync_detailed(client=client, body=file_body)
    assert accepted.status_code == 202, accepted.content
    upload = _wait_for(uploads.get_upload, accepted.parsed.id)
    assert (upload.status, upload.added, upload.errors) == ("succeeded", 2, [])

    listed = activities.list_activities.sync(client=client)
    assert [a.provider_activity_id for a in listed] == [
        "CARD-2026-01",
        "CARD-2026-02",
        "FILE-1",
        "FILE-2",
    ]
    one = activities.get_activity.sync(client=client, provider_activity_id="FILE-2")
    assert one.title == "Journal Club"

    # Register the first activity for ABIM, report a learner and read the status.
    registration = models.RegistrationIn.from_dict(
        {"moc_points": 6.5, "credit_types": ["Medical Knowledge"], "attest": True}
    )
    registered = registrations.put_registration.sync_detailed(
        client=client, provider_activity_id="CARD-2026-01", recipient="ABIM", body=registration
    )
    assert registered.status_code == 201, registered.content
    batch = completions.post_learner_completions.sync(
        client=client, body=[models.LearnerCompletionIn.from_dict(COMPLETION_EXAMPLE)]
    )
    assert isinstance(batch, models.LearnerBatch)
    assert [(r.outcome, r.errors) for r in batch.results] == [("added", [])]
    page = completions.list_learner_completions.sync(client=client)
    assert [(c.provider_activity_id, c.recipient) for c in page.results] == [
        ("CARD-2026-01", "ABIM")
    ]
    assert page.results[0].status
    assert page.results[0].status_label

    # A refusal parses as the one error shape (an activity that ends before it starts).
    backwards = {**ACTIVITY_EXAMPLE, "provider_activity_id": "X", "end_date": "2026-02-01"}
    refused = activities.create_activity.sync_detailed(
        client=client, body=models.ActivityIn.from_dict(backwards)
    )
    assert refused.status_code == 400
    assert isinstance(refused.parsed, models.ApiError)
    assert refused.parsed.errors[0].rule

    # Rehearse in the sandbox: the provider's administrator creates it and a test key; the
    # same generated client with the test key writes there, and the live key never sees it.
    admin = make_member(provider, Role.ADMIN)
    sandbox = create_sandbox(provider)
    _, test_secret = create_api_key(provider=sandbox, name="LMS rehearsal", created_by=admin)
    assert test_secret.startswith("pars_test_")
    rehearsal = client_package.AuthenticatedClient(
        base_url=live_server.url, token=test_secret, raise_on_unexpected_status=True
    )
    trial = {**ACTIVITY_EXAMPLE, "provider_activity_id": "SBX-2026-01", "title": "Rehearsal"}
    in_sandbox = activities.create_activity.sync_detailed(
        client=rehearsal, body=models.ActivityIn.from_dict(trial)
    )
    assert in_sandbox.status_code == 201
    assert in_sandbox.headers["X-PARS-Environment"] == "sandbox"
    sandbox_list = activities.list_activities.sync_detailed(client=rehearsal)
    assert sandbox_list.headers["X-PARS-Environment"] == "sandbox"
    assert [a.provider_activity_id for a in sandbox_list.parsed] == ["SBX-2026-01"]
    live_list = activities.list_activities.sync_detailed(client=client)
    assert live_list.headers["X-PARS-Environment"] == "live"
    assert "SBX-2026-01" not in [a.provider_activity_id for a in live_list.parsed]
    missing = activities.get_activity.sync_detailed(
        client=client, provider_activity_id="SBX-2026-01"
    )
    assert missing.status_code == 404
