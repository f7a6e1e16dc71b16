"""The embedded default under load, in a real browser: on SQLite (a file database, a
gunicorn web process with two threads and a task worker, each a process of its own)
an editor uploads a 20,000-row activity file while a second tab loads the dashboard and
the activity list again and again.

The progress bar moves (two different percentages between 0 and 100 show), every
request answers (no 4xx or 5xx), the file is applied, and neither process logged
"database is locked" nor a wait for SQLite's write lock (``pars.db``): the job reads and
checks the file without holding the lock, and page views and polls write nothing. It
runs on SQLite whatever DATABASE_URL says: SQLite's single writer is what is tested.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect, sync_playwright

from pars.testing import TEST_PASSWORD
from tests.support.browser import TIMEOUT_MS, launch_chromium, skip_without_chromium
from tests.support.faults import ROOT, activity_file, manage, stop, wait_for

skip_without_chromium()

ROWS = 20_000
PROVIDER_ID = "0007300"
EDITOR = "load@sqlite.example"
SET_UP = f"""
from pars.accounts.models import Role
from pars.testing import make_member, make_provider
provider = make_provider(name="Load Health", provider_id="{PROVIDER_ID}")
make_member(provider, Role.EDITOR, email="{EDITOR}")
"""


LOGS = ["--access-logfile", "-", "--error-logfile", "-"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A migrated SQLite file database, a gunicorn web process and a task worker on it;
    (base URL, the directory of their logs)."""
    for name in ("media", "cache"):
        (tmp_path / name).mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PARS_DEBUG": "0",
        "PARS_SECRET_KEY": "a-secret-key-for-the-sqlite-load-test-only",
        "PARS_MEDIA_ROOT": str(tmp_path / "media"),
        "PARS_CACHE_LOCATION": str(tmp_path / "cache"),
        "PARS_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
        # Each step of the file's reading lasts long enough for a poll to see it.
        "PARS_FAULT_PROGRESS_DELAY": "0.4",
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--no-input", timeout=120)
    manage(env, "shell", "-c", SET_UP)
    port = _free_port()
    web_log, worker_log = (tmp_path / "web.log").open("wb"), (tmp_path / "worker.log").open("wb")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    web = subprocess.Popen(  # noqa: S603 (our own programs)
        [str(gunicorn), "pars.wsgi", "-b", f"127.0.0.1:{port}", "--threads", "2", *LOGS],
        env=env,
        cwd=ROOT,
        stdout=web_log,
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, str(ROOT / "tests" / "support" / "fault_worker.py")],
        env=env,
        cwd=ROOT,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: _answers(port), 30, "the web server to start")
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        stop(web)
        stop(worker)
        web_log.close()
        worker_log.close()


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def _log_in(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(EDITOR)
    page.get_by_label("Password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def _percent(page: Page) -> int | None:
    """The percentage the progress bar shows now, if it shows one."""
    # Read in one step: htmx may swap the bar out (the upload finished) between two reads.
    found = page.evaluate(
        "() => { const bar = document.querySelector('progress[value]');"
        " return bar ? [bar.getAttribute('value'), bar.getAttribute('max')] : null; }"
    )
    if not found:
        return None
    value, most = found
    if not value or not most or not float(most):
        return None
    return int(float(value) * 100 / float(most))


def test_an_upload_on_sqlite_moves_its_progress_bar_and_blocks_no_page(
    server: tuple[str, Path], tmp_path: Path
) -> None:
    base_url, logs = server
    activity_file(tmp_path / "activities.txt", ROWS)
    content = (tmp_path / "activities.txt").read_bytes()
    failed: list[str] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)

        def check(response: Response) -> None:
            if response.status >= 400:
                failed.append(f"{response.status} {response.url}")

        context.on("response", check)
        upload_tab = context.new_page()
        _log_in(upload_tab, base_url)
        pages_tab = context.new_page()  # the same person, in another tab
        workspace = f"{base_url}/p/{PROVIDER_ID}/"
        upload_tab.goto(f"{workspace}uploads/")
        upload_tab.get_by_label("Activity file").set_input_files(
            {"name": "activities.txt", "mimeType": "text/plain", "buffer": content}
        )
        upload_tab.get_by_role("button", name="Upload").click()
        expect(upload_tab).to_have_url(re.compile(r"/uploads/\d+/$"))

        seen: set[int] = set()
        loads = 0
        result = upload_tab.locator("#upload-result .badge")
        deadline = time.monotonic() + 60
        while result.inner_text() in ("Queued", "Processing"):
            assert time.monotonic() < deadline, f"the upload did not finish; seen {seen}"
            for path in ("", "activities/"):
                response = pages_tab.goto(workspace + path)
                assert response is not None
                assert response.ok, response.status
                loads += 1
                percent = _percent(upload_tab)
                if percent is not None and 0 < percent < 100:
                    seen.add(percent)
        expect(result).to_have_text("Applied", timeout=TIMEOUT_MS)
        pages_tab.goto(f"{workspace}activities/")
        browser.close()

    assert len(seen) >= 2, f"the progress bar showed {sorted(seen)}"
    assert loads >= 4
    assert failed == []
    for name in ("web.log", "worker.log"):
        log = (logs / name).read_text()
        assert "database is locked" not in log, log[-3000:]
        assert "for the SQLite write lock" not in log, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
    assert '" 5' not in (logs / "web.log").read_text()  # no 5xx in the access log
