"""One date format for people: 12/31/2026 on every provider page (month/day/year, as
US coordinators write it), never an ISO date or "Dec. 31, 2026" in visible text. The
walker follows the demo provider's links, so a new page is checked as soon as it is
linked; machine formats (the API's JSON, XML) keep ISO 8601."""

from __future__ import annotations

import datetime
import re
from collections import Counter, deque
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template
from django.test import Client

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.accreditation.models import CaseType
from pars.accreditation.services import add_comment, open_case
from pars.demo import load_demo
from pars.intake.store import store_upload
from pars.lib.dates import us_date, us_datetime
from pars.providers.models import Provider
from tests.words.test_spelling import ACCEPTED_INPUT, WORD

MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
OTHER_DATES = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b"  # 2026-12-31
    rf"|\b(?:{MONTHS})[a-z]*\.? \d{{1,2}}, \d{{4}}\b"  # Dec. 31, 2026 / December 31, 2026
    rf"|\b\d{{1,2}} (?:{MONTHS})[a-z]* \d{{4}}\b"  # 31 Dec 2026 / 31 December 2026
    r"|\b\d{1,2}\.\d{1,2}\.\d{4}\b"  # 31.12.2026
)
US_DATE = re.compile(r"\b\d{2}/\d{2}/\d{4}\b")
SKIP = re.compile(r"logout|/admin/|\.(csv|xlsx|txt|xml|pdf|zip|json)$|download|/api/")
MAX_PAGES = 120


class _Visible(HTMLParser):
    """A page's visible text (no script, style, attribute values or form values) and links."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "textarea", "template"):
            self._hidden += 1
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "textarea", "template"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


def _shape(link: str) -> str:
    """Pages of one kind (activity 12 and activity 13) have one shape: two of each are read."""
    path, _, query = link.partition("?")
    return re.sub(r"\d+", "N", path) + ("?" if query else "")


def _british(pages: dict[str, str]) -> dict[str, list[str]]:
    """British spellings in the pages' text, but for the header names PARS reads (the
    learner upload page lists "Licence Number" among the names a column may have)."""
    found = {}
    for path, text in pages.items():
        for alias in ACCEPTED_INPUT:
            text = text.replace(alias, "")
        if words := sorted({match.group() for match in WORD.finditer(text)}):
            found[path] = words
    return found


def _walk(client: Client, start: str, inside: str) -> dict[str, str]:
    """The pages reachable from `start` whose path begins with `inside` (two of each
    shape): their visible text."""
    seen, queue = {start}, deque([start])
    pages: dict[str, str] = {}
    shapes: Counter[str] = Counter()
    while queue and len(pages) < MAX_PAGES:
        path = queue.popleft()
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        parser = _Visible()
        parser.feed(response.content.decode())
        # One line per text node: a count beside a chart's "Jun 2026" is not a date.
        pages[path] = "\n".join(" ".join(chunk.split()) for chunk in parser.text)
        for link in parser.links:
            link = link.split("#", 1)[0]
            if link.startswith(inside) and link not in seen and not SKIP.search(link):
                seen.add(link)
                shapes[_shape(link)] += 1
                if shapes[_shape(link)] <= 2:
                    queue.append(link)
    return pages


@pytest.mark.django_db
def test_provider_pages_show_dates_month_day_year_only(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    load_demo()
    riverside = Provider.objects.get(name__startswith="Riverside")
    admin = riverside.memberships.get(user__email="admin@riverside.example").user
    access = get_provider_access(admin, riverside.provider_id)
    # One upload of each kind, so their lists and results are walked too.
    activities = "Provider Activity ID\tActivity Title\tActivity Format\tStart Date\tEnd Date\r\n"
    activities += "W-1\tDated\tCourse\t03/01/2026\t03/02/2026\r\n"
    store_upload(access, SimpleUploadedFile("a.txt", activities.encode()))
    learners = "Provider Activity ID,Recipient\r\nW-1,ABIM\r\n"
    store_upload(access, SimpleUploadedFile("l.csv", learners.encode()), kind="learners")
    client = Client()
    client.force_login(admin)
    base = f"/p/{riverside.provider_id}/"
    pages = _walk(client, base, base)
    assert len(pages) >= 40, sorted(pages)  # the walk reached the provider's pages
    wrong = {
        path: sorted(set(OTHER_DATES.findall(text)))
        for path, text in pages.items()
        if OTHER_DATES.search(text)
    }
    assert wrong == {}
    british = _british(pages)
    assert british == {}  # US spelling in what people read, stored demo text included
    with_dates = {path for path, text in pages.items() if US_DATE.search(text)}
    assert len(with_dates) >= 20, with_dates  # dates are shown, as 12/31/2026
    assert {base + "uploads/", base + "learners/uploads/", base + "activities/"} <= with_dates


# The staff pages' entry points (the staff menu); the walk follows their links under /staff/.
STAFF_STARTS = (
    "/staff/providers/",
    "/staff/accreditation/",
    "/staff/accreditation/open/",
    "/staff/data-report/",
    "/staff/reporting/",
    "/staff/research/",
)


@pytest.mark.django_db
def test_staff_pages_show_dates_month_day_year_only(settings: Any, tmp_path: Path) -> None:
    """Accreditation cases, provider records and review packages, the data report, the
    reporting year and the learner records staff monitor: the same one date format."""
    from tests.conftest import log_in_verified

    settings.MEDIA_ROOT = tmp_path / "media"
    load_demo()
    staff = User.objects.get(email="staff@pars.example")
    # An open case with a due date and a comment, so a case's page is walked too.
    riverside = Provider.objects.get(name__startswith="Riverside")
    access = get_provider_access(staff, riverside.provider_id)
    case = open_case(
        access,
        case_type=CaseType.REACCREDITATION,
        due_date=datetime.date(2027, 3, 31),
        staff_owner=staff,
    )
    add_comment(access, case, "Please attach the signed mission statement.")
    client = Client()
    log_in_verified(client, staff)
    pages: dict[str, str] = {}
    for start in STAFF_STARTS:
        response = client.get(start, follow=True)  # /staff/data-report/ -> this year's
        assert response.status_code == 200, start
        pages.update(_walk(client, response.request["PATH_INFO"], "/staff/"))
    reached = {_shape(path) for path in pages}
    expected = {
        "/staff/accreditation/N/",
        "/staff/providers/N/review-package/",
        "/staff/providers/N/learners/",
        "/staff/data-report/N/",
        "/staff/reporting/N/",
    }
    assert expected <= reached, sorted(reached)
    wrong = {
        path: sorted(set(OTHER_DATES.findall(text)))
        for path, text in pages.items()
        if OTHER_DATES.search(text)
    }
    assert wrong == {}
    british = _british(pages)
    assert british == {}  # US spelling in what staff read, stored text included
    with_dates = {_shape(path) for path, text in pages.items() if US_DATE.search(text)}
    assert {"/staff/accreditation/N/", "/staff/providers/N/review-package/"} <= with_dates


def test_templates_and_code_format_dates_alike() -> None:
    """A bare {{ day }}, |date and the helpers all give the one format."""
    day = datetime.date(2026, 12, 31)
    at = datetime.datetime(2026, 12, 31, 20, 5, tzinfo=datetime.UTC)
    source = '{{ day }}|{{ day|date }}|{{ day|date:"SHORT_DATE_FORMAT" }}'
    source += '|{{ at|date:"DATETIME_FORMAT" }}'
    rendered = Template(source).render(Context({"day": day, "at": at}))
    assert rendered == "12/31/2026|12/31/2026|12/31/2026|12/31/2026 14:05"  # Chicago time
    assert us_date(day) == "12/31/2026"
    assert us_datetime(at) == "12/31/2026 14:05"
