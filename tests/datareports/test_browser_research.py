"""The research data set in a real browser: staff ask for one, the task builds it, and
the download link appears."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from pytest_django.live_server_helper import LiveServer

from pars.testing import TEST_PASSWORD, make_activity, make_provider, make_user
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()

STAFF_EMAIL = "sam@accreditor.example"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_generate_and_download_a_research_data_set(
    browser: Browser, live_server: LiveServer, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    provider = make_provider(name="Riverside Health", provider_id="0001234")
    for n in range(12):
        make_activity(provider, title=f"Grand Rounds {n}", status="closed", state="ME")
    make_user(STAFF_EMAIL, is_staff=True)
    base_url = live_server.url
    context, page = new_page(browser)
    log_in(page, base_url, STAFF_EMAIL, TEST_PASSWORD)
    page.goto(f"{base_url}/staff/research/")
    expect(page.get_by_role("heading", name="Research data sets")).to_be_visible()
    page.get_by_label("From year").fill("2026")
    page.get_by_label("To year").fill("2026")
    page.get_by_role("button", name="Generate data set").click()
    expect(page.get_by_role("heading", name="Research data set 2026–2026")).to_be_visible()
    expect(page.locator("#research-status")).to_contain_text("Ready")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download the data set (zip)").click()
    body = Path(info.value.path()).read_bytes()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        activities = archive.read("activities.csv").decode("utf-8-sig")
    assert activities.count("\n") == 13  # header + 12 activities
    assert "Riverside" not in activities
    assert "Grand Rounds" not in activities
    context.close()
