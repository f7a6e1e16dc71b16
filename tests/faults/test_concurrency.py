"""Concurrent load at CI size (bench/load_test.py is the full-size run): 8 providers with
their own API keys upload activity and learner files and call the JSON API at once,
against a live server on loopback with a real task worker. No 5xx, no lost rows, no row
of one provider under another."""

from __future__ import annotations

import time

import pytest

from tests.faults.support import requires_postgresql, start_worker, stop

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def test_many_providers_at_once_lose_and_mix_up_nothing(live_server, env, tmp_path):
    from load_test import run_load, set_up, verify, wait_for_uploads

    plans = set_up(providers=8, activity_rows=400, learner_rows=300, json_count=24)
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        started = time.monotonic()
        stats = run_load(live_server.url, plans)
        wait_for_uploads(plans, 90)
        elapsed = time.monotonic() - started
    finally:
        stop(worker)
    problems = verify(plans, stats)
    assert problems == [], "\n".join(problems)
    assert all(status < 500 for status in stats.statuses), stats.statuses
    assert sum(stats.statuses.values()) >= 8 * (2 + 24 * 2)
    assert elapsed < 60, f"{elapsed:.0f} s"
