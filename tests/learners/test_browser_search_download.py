"""Learner search and download in a real browser (issue 15, point 7): a coordinator finds
one learner's completions by name and board on the Learners tab, downloads the matching
records as CSV and finds in the file exactly what the page listed, dates month/day/year."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from pytest_django.live_server_helper import LiveServer

from pars.accounts.models import Role
from pars.activities.models import Activity
from pars.learners.exports import HEADER
from pars.learners.models import CompletionStatus, LearnerCompletion, Recipient
from pars.testing import TEST_PASSWORD, make_activity, make_member, make_provider, register
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()

EDITOR = "eddie@riverside.example"
DAY = datetime.date(2026, 3, 1)


@pytest.fixture
def _fixed_today() -> None:
    """Real time (the live server's cookies are judged by the browser's clock)."""


def _add(activity: Activity, code: str, first: str, last: str, learner_id: str) -> None:
    LearnerCompletion.objects.create(
        provider=activity.provider,
        activity=activity,
        recipient=Recipient.objects.get(code=code),
        learner_key=f"{last}-{code}",
        first_name=first,
        last_name=last,
        birth_month=12,
        birth_day=10,
        learner_id=learner_id,
        completion_date=DAY,
        status=CompletionStatus.ACCEPTED,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_coordinator_searches_by_name_and_board_and_downloads_the_matches(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    make_member(provider, Role.EDITOR, email=EDITOR)
    rounds = make_activity(provider, provider_activity_id="GR-1", title="Grand Rounds")
    for code in ("ABIM", "ABP"):
        register(rounds, code)
    _add(rounds, "ABIM", "Ada", "Lovelace", "123456")
    _add(rounds, "ABP", "Ada", "Lovelace", "765432")  # the same learner, another board
    _add(rounds, "ABIM", "Grace", "Hopper", "222222")
    # Another provider's learner of the same name is never found here.
    elsewhere = make_provider(name="Elsewhere Medical", provider_id="0009999")
    theirs = make_activity(elsewhere, provider_activity_id="EL-1", title="Elsewhere")
    register(theirs, "ABIM")
    _add(theirs, "ABIM", "Ada", "Lovelace", "999999")

    context, page = new_page(browser)
    try:
        log_in(page, live_server.url, EDITOR, TEST_PASSWORD)
        page.goto(f"{live_server.url}/p/{provider.provider_id}/learners/")
        expect(page.get_by_role("heading", name="Learner completions")).to_be_visible()
        page.get_by_label("Search by learner name").fill("lovelace")
        page.get_by_label("Recipient").select_option("ABIM")
        page.get_by_role("button", name="Filter").click()

        rows = page.locator("table tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("Lovelace")
        expect(rows.first).to_contain_text("ABIM")
        expect(page.get_by_label("Search by learner name")).to_have_value("lovelace")

        with page.expect_download() as info:
            page.get_by_role("link", name="Download CSV").click()
        download = info.value
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert saved.suffix == ".csv"
        records = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    finally:
        context.close()

    assert records[0] == HEADER
    found: list[dict[str, Any]] = [dict(zip(HEADER, row, strict=True)) for row in records[1:]]
    assert [(r["Provider Activity ID"], r["Recipient"], r["Last Name"]) for r in found] == [
        ("GR-1", "ABIM", "Lovelace")
    ]
    assert found[0]["First Name"] == "Ada"
    assert found[0]["Completion Date"] == "03/01/2026"
    assert "999999" not in str(records)  # not the other provider's Ada Lovelace
