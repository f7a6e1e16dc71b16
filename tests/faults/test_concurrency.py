"""Concurrent load at CI size (bench/load_test.py is the full-size run): 8 providers with
their own API keys upload activity and learner files and call the JSON API at once,
against two gunicorn web processes and two real task workers on loopback, as production
runs them. No 5xx, no lost rows, no row of one provider under another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.faults import requires_postgresql, start_worker, stop
from tests.support.web import start_gunicorn, wait_web

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Two gunicorn processes on the test database (Django's live server is one
    process with a short listen queue: it resets connections under this load)."""
    log = tmp_path / "web.log"
    server, base = start_gunicorn(env, log, workers=2, threads=4)
    try:
        wait_web(server, base, log)
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
