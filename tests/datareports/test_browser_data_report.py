"""The annual data report in a real browser: Debian's chromium driven by Playwright.

Staff follow "Data report" in the navigation to the current year, see the charts (inline
SVG) and the tables, filter by provider type, and download the CSV and the XLSX.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from playwright.sync_api import Browser, expect
from pytest_django.live_server_helper import LiveServer

from pars.activities.models import CommercialSupport
from pars.reporting.models import ReportingYear
from pars.testing import TEST_PASSWORD, make_activity, make_provider, make_user, register
from tests.support.browser import log_in, new_page, skip_without_chromium

skip_without_chromium()

STAFF_EMAIL = "sam@accreditor.example"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_open_filter_and_download_the_data_report(
    browser: Browser, live_server: LiveServer, tmp_path: Path
) -> None:
    base_url = live_server.url
    year = timezone.localdate().year
    ReportingYear.objects.create(year=year, deadline=date(year + 1, 12, 31))
    accme = make_provider(name="Atlantic Medical College", accreditor_type="accme")
    joint = make_provider(name="Joint Learning Partners", accreditor_type="joint")
    dates = {"start_date": date(year, 3, 1), "end_date": date(year, 3, 1), "reporting_year": year}
    for provider, count, physicians in ((accme, 3, 40), (joint, 2, 25)):
        for _ in range(count):
            activity = make_activity(provider, physician_learners=physicians, **dates)
    CommercialSupport.objects.create(
        provider=joint, activity=activity, position=1, source="=HYPERLINK(1)", monetary_amount=900
    )
    register(activity, "REMS", rems_rpc_id="EG-123456-001")
    make_user(STAFF_EMAIL, is_staff=True)

    context, page = new_page(browser)
    log_in(page, base_url, STAFF_EMAIL, TEST_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Data report").click()
    expect(page).to_have_url(f"{base_url}/staff/data-report/{year}/")
    expect(page.get_by_role("heading", name=f"Annual data report {year}")).to_be_visible()
    # Charts: inline SVG, drawn on the server.
    expect(page.locator("figure.chart svg").first).to_be_visible()
    assert page.locator("figure.chart svg").count() >= 5
    by_type = page.locator("#activities_by_provider_type-table")
    expect(by_type.locator("tfoot")).to_contain_text("Total")
    expect(by_type.get_by_role("row", name="ACCME-accredited")).to_contain_text("3")
    expect(by_type.locator("tfoot td").first).to_have_text("5")

    page.get_by_label("Provider type", exact=True).select_option(label="Jointly accredited")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(f"{base_url}/staff/data-report/{year}/?type=joint")
    expect(by_type.locator("tfoot td").first).to_have_text("2")
    expect(by_type.get_by_role("row", name="ACCME-accredited")).to_have_count(0)

    with page.expect_download() as info:
        page.locator("#downloads").get_by_role("link", name="CSV").click()
    target = tmp_path / "report.csv"
    info.value.save_as(target)
    rows = list(csv.reader(io.StringIO(target.read_text("utf-8-sig"))))
    assert ["Providers", "Jointly accredited"] in rows
    assert ["'=HYPERLINK(1)", "1", "900", "0"] in rows

    with page.expect_download() as info:
        page.locator("#downloads").get_by_role("link", name="Excel (XLSX)").click()
    target = tmp_path / "report.xlsx"
    info.value.save_as(target)
    workbook = load_workbook(target)
    sheet = workbook["Activities by provider type"]
    assert [cell.value for cell in sheet[2]][:2] == ["Jointly accredited", 2]
    assert workbook["Commercial supporters"]["A2"].value == "'=HYPERLINK(1)"

    # The REMS report of the year, from the same page.
    with page.expect_download() as info:
        page.locator("#rems-downloads").get_by_role("link", name="Excel (XLSX)").click()
    target = tmp_path / "rems.xlsx"
    info.value.save_as(target)
    rems = load_workbook(target)
    assert rems.sheetnames == ["Activities", "Learners"]
    header, *rows = list(rems["Activities"].values)
    assert len(rows) == 1
    assert dict(zip(header, rows[0], strict=True))["RPC ID"] == "EG-123456-001"
    context.close()
