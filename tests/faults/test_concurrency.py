"""Concurrent load at CI size (bench/load_test.py is the full-size run): 8 providers with
their own API keys upload activity and learner files and call the JSON API at once,
against two gunicorn web processes and two real task workers on loopback, as production
runs them. No 5xx, no lost rows, no row of one provider under another."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.faults import ROOT, requires_postgresql, start_worker, stop, wait_for

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
            return True
    except OSError:
        return False


@pytest.fixture
def web(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Two gunicorn processes on the test database (Django's live server is one
    process with a short listen queue: it resets connections under this load)."""
    port = _free_port()
    with (tmp_path / "web.log").open("ab") as log:
        server = subprocess.Popen(  # noqa: S603 (our own interpreter)
            [
                sys.executable,
                "-m",
                "gunicorn",
                "pars.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                "--workers=2",
                "--threads=4",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{base}/api/v1/openapi.json"), 60, "gunicorn to answer")
        yield base
    finally:
        stop(server)


def test_many_providers_at_once_lose_and_mix_up_nothing(
    web: str, env: dict[str, str], tmp_path: Path
) -> None:
    from load_test import run_load, set_up, verify, wait_for_uploads

    plans = set_up(providers=8, activity_rows=400, learner_rows=300, json_count=24)
    workers = [start_worker(env, tmp_path / f"worker{n}.log") for n in (1, 2)]
    try:
        stats = run_load(web, plans)
        wait_for_uploads(plans, 180)
    finally:
        for worker in workers:
            stop(worker)
    problems = verify(plans, stats)
    assert problems == [], "\n".join(problems)
    assert all(status < 500 for status in stats.statuses), stats.statuses
    assert sum(stats.statuses.values()) >= 8 * (2 + 24 * 2)
