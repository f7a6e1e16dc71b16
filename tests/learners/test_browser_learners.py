"""Learner completions end to end in a real browser (Debian's chromium, Playwright).

An editor registers an activity with ABIM's MOC program through the activity page,
uploads a tab-delimited learner file with good and bad rows from the Learners tab and
reads the per-row errors; the good rows become completions that go queued → sent →
accepted or held against the registry simulator (loaded here with only some of the
learners). The editor then corrects a held learner's board ID, and resubmits another
held learner once the registry knows them; both are accepted.

Background work is held back: the tasks backend below keeps every task until the test
runs it, as a worker would, so each step of delivery is seen on the page in turn.
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.tasks.backends.dummy import DummyBackend
from django.utils import timezone
from playwright.sync_api import Browser, Locator, Page, expect
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import Role
from pars.intake.models import Upload
from pars.learners.connectors.simulator import load_registry
from pars.learners.models import ActivityRegistration, CompletionStatus, LearnerCompletion
from pars.testing import TEST_PASSWORD, make_activity, make_member, make_provider
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()

EDITOR = "eddie@riverside.example"

# Tasks enqueued by the live server's thread or this one, waiting to be run.
QUEUE: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []


class HeldTasksBackend(DummyBackend):
    """Keeps every task (across threads) until :func:`run_tasks` runs it."""

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        result: Any = super().enqueue(task, args, kwargs)
        QUEUE.append((task, tuple(args), dict(kwargs)))
        return result


def run_tasks(name: str) -> int:
    """Run the waiting tasks of this name (and any of it they queue); how many ran."""
    ran = 0
    while due := [item for item in QUEUE if item[0].name == name]:
        for item in due:
            QUEUE.remove(item)
            task, args, kwargs = item
            task.call(*args, **kwargs)
            ran += 1
    return ran


@pytest.fixture(autouse=True)
def _held_tasks(settings: Settings, tmp_path: Any) -> Iterator[None]:
    settings.TASKS = {"default": {"BACKEND": f"{__name__}.HeldTasksBackend"}}
    settings.MEDIA_ROOT = tmp_path / "media"
    QUEUE.clear()
    yield
    QUEUE.clear()


@pytest.fixture
def _fixed_today() -> None:
    """Real time here, not tests/learners/conftest.py's fixed day: the live server dates
    the cookies it sets (CSRF: one year) and the browser judges them by its own clock."""


REGISTRY = (
    "Board ID\tFirst Name\tLast Name\tBirth Date\n"
    "123456\tAda\tLovelace\t12-10\n"
    "222222\tGrace\tHopper\t12-09\n"
)


def learner_file(completed: datetime.date) -> bytes:
    """Three good rows, then two with errors (rows 5 and 6 of the file)."""
    header = [
        "Provider Activity ID",
        "Recipient",
        "First Name",
        "Last Name",
        "Birth Month and Day",
        "Board ID",
        "Completion Date",
        "CME Credits",
        "MOC Points",
        "MOC Credit Types",
    ]
    day = completed.strftime("%m/%d/%Y")
    rows = [
        ["GR-7", "ABIM", "Ada", "Lovelace", "12-10", "123456", day, "8", "8", "Medical Knowledge"],
        # Grace's board ID has a typo: the registry does not know it.
        ["GR-7", "ABIM", "Grace", "Hopper", "12-09", "222223", day, "8", "8", "Medical Knowledge"],
        # Alan is not in the registry yet.
        ["GR-7", "ABIM", "Alan", "Turing", "06-23", "333333", day, "4", "4", "Medical Knowledge"],
        ["GR-7", "ABIM", "Bad", "Birthday", "13-40", "444444", day, "8", "8", "Medical Knowledge"],
        ["GR-7", "ABIM", "Bad", "Board", "01-02", "12AB", day, "8", "8", "Medical Knowledge"],
    ]
    return "".join("\t".join(cells) + "\r\n" for cells in [header, *rows]).encode()


def _tab(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Provider").get_by_role("link", name=name).click()


def _status(page: Page, learner: str) -> Locator:
    return page.get_by_role("row").filter(has_text=learner).locator(".learner-status")


def _open_learners(page: Page) -> None:
    _tab(page, "Learners")
    expect(page.get_by_role("heading", name="Learner completions")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_register_upload_deliver_fix_and_resubmit_learners(
    browser: Browser, live_server: LiveServer
) -> None:
    base_url = live_server.url
    # Transactional tests flush the tables, data migrations' rows included: seed the
    # recipients again the way their migration does.
    import_module("pars.learners.migrations.0002_seed_recipients").seed(django_apps, None)
    today = timezone.localdate()
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    make_member(provider, Role.EDITOR, email=EDITOR)
    activity = make_activity(
        provider,
        provider_activity_id="GR-7",
        title="Grand Rounds: Heart Failure",
        start_date=today - datetime.timedelta(days=20),
        end_date=today - datetime.timedelta(days=1),
        reporting_year=today.year,
        ama_credits=10,
    )
    load_registry("ABIM", io.StringIO(REGISTRY))
    context, page = new_page(browser)
    log_in(page, base_url, EDITOR, TEST_PASSWORD)
    expect(page.get_by_role("heading", level=1, name=provider.name)).to_be_visible()

    # 1. Register the activity with ABIM from its page.
    _tab(page, "Activities")
    page.get_by_role("link", name=activity.title).click()
    registrations = page.locator("#registrations")
    expect(registrations).to_contain_text("Not registered with any recipient yet.")
    registrations.get_by_role("button", name="Register with a recipient").click()
    page.get_by_label("Recipient").select_option("ABIM")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Register GR-7 with ABIM")).to_be_visible()
    page.get_by_label(re.compile(r"^MOC Points")).fill("10")
    page.get_by_label("Medical Knowledge").check()
    page.get_by_role("button", name="Register with ABIM").click()
    # Without the attestation the registration is refused, on the field.
    expect(page.get_by_role("alert").first).to_contain_text("problem")
    expect(page.locator("#form-errors")).to_contain_text("registration.attestation.required")
    expect(page.locator("#attestation-text")).to_contain_text(
        "American Board of Internal Medicine requirements"
    )
    page.get_by_label("I attest").check()
    page.get_by_role("button", name="Register with ABIM").click()
    expect(page.get_by_text("Activity GR-7 is registered with ABIM.")).to_be_visible()
    row = page.locator("#registrations").get_by_role("row").filter(has_text="ABIM")
    expect(row).to_contain_text("MOC Points: 10")
    expect(row).to_contain_text("MOC Credit Types: Medical Knowledge")
    expect(row).to_contain_text("0 completions")
    registration = ActivityRegistration.objects.get()
    assert registration.recipient.code == "ABIM"
    assert registration.attested_at is not None

    # 2. Upload the learner file from the Learners tab; the good rows are applied.
    _open_learners(page)
    page.get_by_role("navigation", name="Learner data").get_by_role(
        "link", name="Learner files"
    ).click()
    expect(page.get_by_role("heading", name="Upload learners from a file")).to_be_visible()
    expect(page.locator("#partial-policy")).to_contain_text(
        "Valid rows are applied, rows with errors are not."
    )
    page.get_by_label("Learner file").set_input_files(
        {
            "name": "learners.txt",
            "mimeType": "text/plain",
            "buffer": learner_file(today - datetime.timedelta(days=2)),
        }
    )
    page.get_by_role("button", name="Upload").click()
    expect(page).to_have_url(re.compile(r"/uploads/\d+/$"))
    result = page.locator("#upload-result")
    expect(result).to_contain_text("Waiting to be processed")
    assert run_tasks("process_upload_task") == 1  # the worker takes the file
    expect(result.locator(".badge")).to_have_text("Applied, except the rows with errors")
    expect(result.get_by_role("alert")).to_contain_text("Applied 3 of 5 rows")
    errors = result.get_by_role("table").locator("tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0)).to_contain_text("learner.birth_date.invalid")
    expect(errors.nth(0).get_by_role("cell").first).to_have_text("5")
    expect(errors.nth(1)).to_contain_text("learner.learner_id.invalid")
    expect(errors.nth(1).get_by_role("cell").first).to_have_text("6")
    assert "12AB" not in result.inner_text()  # error messages never quote identifiers
    upload = Upload.objects.get()
    assert (upload.kind, upload.added, upload.rejected) == ("learners", 3, 2)

    # 3. Queued, then sent, then the registry's answers.
    page.get_by_role("link", name="See the learner completions").click()
    for learner in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        expect(_status(page, learner)).to_have_text("Queued")
    expect(page.locator(".learner-counts")).to_contain_text("3 Queued")
    assert run_tasks("deliver_task") == 1
    page.reload()
    for learner in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        expect(_status(page, learner)).to_have_text("Sent")
    assert run_tasks("collect_results_task") == 1
    page.reload()
    expect(_status(page, "Ada Lovelace")).to_have_text("Accepted")
    held = re.compile(r"^(Held \(learner not matched\)|Rejected)$")
    expect(_status(page, "Grace Hopper")).to_have_text(held)
    expect(_status(page, "Alan Turing")).to_have_text(held)

    # 4. Grace: the board ID was wrong. Correct it through the form; it is sent again.
    page.get_by_role("link", name="Grace Hopper").click()
    expect(page.locator("#status-reason")).to_contain_text("ABIM")
    # The recipient's reason (also in webhooks) quotes no ID; what to do names it.
    assert "222223" not in page.locator("#reason-text").inner_text()
    expect(page.locator("#what-to-do")).to_contain_text(
        "No ABIM learner with ABIM ID 222223 found for Grace Hopper: check the ABIM ID"
    )
    page.get_by_role("button", name="Correct").click()
    board_id = page.get_by_label(re.compile(r"^ABIM ID"))
    expect(board_id).to_have_value("222223")
    board_id.fill("222222")
    page.get_by_role("button", name="Save correction").click()
    expect(page.get_by_text(re.compile(r"^Corrected: version 2 is Queued\."))).to_be_visible()
    expect(page.locator("#completion-status .learner-status")).to_have_text("Queued")

    # 5. Alan: the registry now knows him. Resubmit the record as it is.
    load_registry("ABIM", io.StringIO(REGISTRY + "333333\tAlan\tTuring\t06-23\n"))
    _open_learners(page)
    page.get_by_role("link", name="Alan Turing").click()
    page.get_by_role("button", name="Resubmit").click()
    expect(page.get_by_text("Resubmitted: version 2 is queued.")).to_be_visible()
    expect(page.locator("#completion-status .learner-status")).to_have_text("Queued")

    # 6. Delivered again: all three accepted.
    assert run_tasks("deliver_task") >= 1
    assert run_tasks("collect_results_task") >= 1
    _open_learners(page)
    for learner in ("Ada Lovelace", "Grace Hopper", "Alan Turing"):
        expect(_status(page, learner)).to_have_text("Accepted")
    page.get_by_role("link", name="Grace Hopper").click()
    history = page.locator("#history")
    for step in (
        "Sent to recipient",
        "Held: learner not matched",
        "Corrected",
        "Accepted by recipient",
    ):
        expect(history).to_contain_text(step)
    assert set(LearnerCompletion.objects.values_list("status", flat=True)) == {
        CompletionStatus.ACCEPTED
    }
    context.close()
