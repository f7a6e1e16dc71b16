"""Where a web service request's time goes, in process (issue 14): the POST of one activity
and a list page of 100, next to bench/api_latency.py's bare views, through Django's test
client with the whole middleware stack and the real URLconf, on PostgreSQL.

    BENCH_DATABASE_URL=postgres://…/db .venv/bin/python bench/api_profile.py --requests 500
    … --profile post      # cProfile of the POSTs (or list), the top functions by own time
    BENCH_SHOW_SQL=1 …    # also each statement (BENCH_SHOW_SQL_WIDTH characters, 110)

Prints per-request milliseconds (mean and median) of each, and the SQL statements and the
database round trips (BEGIN, COMMIT and savepoints included, from libpq's trace) of one
request of each. Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import pstats
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--profile", choices=["post", "list", "bare-insert", "bare-list"])
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--save", help="also write the profile's stats to this file (pstats)")
    args = parser.parse_args()

    import api_latency

    database_url = os.environ.get("BENCH_DATABASE_URL", api_latency.DEFAULT_URL)
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "pars.settings",
        "PARS_SECRET_KEY": secrets.token_urlsafe(50),
        "PARS_DB_CONN_MAX_AGE": "60",
    }
    os.environ.pop("PARS_DEBUG", None)
    api_latency.ensure_database(database_url, {**os.environ, **env})
    os.environ.update(env)
    list_key, write_key = api_latency.set_up()

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from pars.testing import round_trips

    settings.RATELIMIT_ENABLE = True
    settings.PARS_API_RATE = "1000000/m"
    settings.ALLOWED_HOSTS = ["*"]
    api_latency.urlpatterns = api_latency._server_urls()
    settings.ROOT_URLCONF = "api_latency"

    client = Client()
    scenarios = api_latency.plans(list_key, write_key)

    def one(plan: dict[str, Any]) -> Any:
        headers = {k: v for k, v in plan["headers"].items() if k != "Content-Type"}
        if plan["method"] == "POST":
            response = client.post(
                plan["path"], plan["body"](), content_type="application/json", headers=headers
            )
        else:
            response = client.get(plan["path"], headers=headers)
        assert response.status_code == plan["status"], (response.status_code, response.content)
        return response

    names = {
        "post": "PARS POST",
        "bare-insert": "bare insert",
        "list": "PARS list",
        "bare-list": "bare list",
    }
    for plan in scenarios.values():
        for _ in range(20):
            one(plan)

    heads = ("mean ms", "median ms", "p10 ms", "CPU ms", "statements", "round trips")
    print(f"{'':<12}" + "".join(f"{head:>12}" for head in heads))
    for name, plan in scenarios.items():
        timings = []
        cpu = time.process_time()
        for _ in range(args.requests):
            started = time.perf_counter()
            one(plan)
            timings.append((time.perf_counter() - started) * 1000)
        cpu = (time.process_time() - cpu) * 1000 / args.requests
        with CaptureQueriesContext(connection) as queries:
            trips = round_trips(connection, functools.partial(one, plan))
        p10 = statistics.quantiles(timings, n=10)[0]
        cells = (statistics.mean(timings), statistics.median(timings), p10, cpu)
        print(
            f"{name:<12}"
            + "".join(f"{cell:>12.2f}" for cell in cells)
            + f"{len(queries.captured_queries):>12}{trips:>12}"
        )
        if os.environ.get("BENCH_SHOW_SQL"):
            for query in queries.captured_queries:
                print("    ", query["sql"][: int(os.environ.get("BENCH_SHOW_SQL_WIDTH", "110"))])

    if args.profile:
        plan = scenarios[names[args.profile]]
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(args.requests):
            one(plan)
        profile.disable()
        stats = pstats.Stats(profile)
        if args.save:
            stats.dump_stats(args.save)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top * 2)


if __name__ == "__main__":
    main()
