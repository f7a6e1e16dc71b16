"""Benchmark: the web service's latency next to bare Django views on the same server.

    make bench                                          # 2,000 requests per measurement
    .venv/bin/python bench/api_latency.py --requests 40   # a smoke run

One gunicorn server on 127.0.0.1 (started here, stopped at the end) serves PARS and two
bare views from this module's URLconf (PARS's own routes included unchanged):

* ``POST /bench/insert``: parse the JSON body, insert one activity with the ORM;
* ``GET /bench/list``: 100 activities as ``values()`` dicts, through ``JsonResponse``.

PARS is measured on ``POST /api/v1/activities`` (a new activity each time, with its API
key) and ``GET /api/v1/activities`` (100 activities with supporters). Each is timed with 1
and 8 concurrent clients (threads, one HTTP connection per request), in rounds: each
round sends a block of each kind in turn (PARS, then its bare view, one kind at a time),
so that the machine's speed, which wanders over a minute here, is shared by PARS and its
baseline rather than landing on whichever ran in a slow stretch. The report gives
p50/p95 in milliseconds and the ratios of PARS to its bare view: the targets are POST p95 at
most 1.5 times the bare insert, list p95 at most 2 times the bare list. Timings are
reported, never asserted. The server runs with DEBUG off and persistent database
connections, as a deployment would, for both, and with the API rate limits counting (under
a limit the clients never reach; ``--no-rate-limits`` leaves the counter out). The tables
are those of a running system: another provider's 20,000 activities (``--established-rows``;
one in 5 with two commercial supporters), then ``VACUUM (ANALYZE)`` after the bench's own
deletes, as autovacuum would (on tables of a few hundred rows the plans were seq scans whose
cost grew with every row the run wrote; with an earlier run's deletes left as dead tuples
the bare insert paid for them). The
database is ``$BENCH_DATABASE_URL`` (default: a ``pars_bench_api`` database on the local
PostgreSQL, created and migrated if missing). Results also go to ``bench/out/api_latency.json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/pars_bench_api"
LIST_SIZE = 100
LIST_PROVIDER = "0988801"  # the activities listed
WRITE_PROVIDER = "0988802"  # the activities written
CLIENTS = (1, 8)
# Activities of another provider in the tables (as the upload benches keep 20,000).
ESTABLISHED_ACTIVITIES = 20_000
SUPPORTED_EVERY = 5
TARGETS = {"post": 1.5, "list": 2.0}
# Per measurement: the POST's ratio with 8 clients sits near its target (1.36-1.59 over
# runs of 1,000 on the 2-core machine, whose speed wanders by the minute); twice as many
# requests, over twice the minutes, average more of that wander.
REQUESTS = 2000


# ---------------------------------------------------------------------------
# The server side: this module is gunicorn's application when BENCH_SERVER is set

urlpatterns: list[Any] = []


def _server_urls() -> list[Any]:
    """The bare views beside PARS's own routes."""
    from django.db import connection
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.urls import include, path
    from django.views.decorators.csrf import csrf_exempt

    from pars.activities.models import Activity
    from pars.providers.models import Provider

    ids = dict(Provider.objects.values_list("provider_id", "pk"))
    connection.close()  # opened before gunicorn forks its workers

    @csrf_exempt
    def bare_insert(request: HttpRequest) -> HttpResponse:
        data = json.loads(request.body)
        activity = Activity.objects.create(
            provider_id=ids[WRITE_PROVIDER],
            provider_activity_id=data["provider_activity_id"],
            title=data["title"],
            activity_format=data["activity_format"],
            start_date=data["start_date"],
            end_date=data["end_date"],
            reporting_year=int(data["start_date"][:4]),
        )
        return JsonResponse({"id": activity.pk}, status=201)

    def bare_list(request: HttpRequest) -> HttpResponse:
        rows = Activity.objects.filter(provider_id=ids[LIST_PROVIDER]).order_by(
            "provider_activity_id"
        )
        return JsonResponse(list(rows.values()[:LIST_SIZE]), safe=False)

    return [
        path("bench/insert", bare_insert),
        path("bench/list", bare_list),
        path("", include("pars.urls")),
    ]


if os.environ.get("BENCH_SERVER"):
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    django.setup()
    settings.ROOT_URLCONF = __name__
    # Rate limits count as in a deployment (one counter per request), under a limit the
    # clients never reach; --no-rate-limits leaves the counting out.
    settings.RATELIMIT_ENABLE = os.environ.get("BENCH_RATE_LIMITS") == "1"
    settings.PARS_API_RATE = "1000000/m"
    urlpatterns = _server_urls()
    application = get_wsgi_application()


# ---------------------------------------------------------------------------
# Set-up, in the bench process


def ensure_database(database_url: str, env: dict[str, str]) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    manage = [sys.executable, str(ROOT / "manage.py"), "migrate", "--no-input", "-v0"]
    subprocess.run(manage, env=env, check=True)  # noqa: S603


def course(activity_id: str) -> dict[str, Any]:
    """A complete live course as a JSON client sends it (the tests' sample)."""
    from pars.testing import course_json

    return course_json(provider_activity_id=activity_id)


def set_up(established: int = ESTABLISHED_ACTIVITIES) -> tuple[str, str]:
    """The two providers (the listed one with its activities, the written one emptied);
    an API key of each."""
    import django

    django.setup()
    from pars.accounts.access import get_api_access
    from pars.accounts.models import ApiKey
    from pars.accounts.services import create_api_key
    from pars.activities.models import Activity
    from pars.activities.services import apply_activities
    from pars.activities.validation import validate_activity
    from pars.providers.models import Provider

    keys = []
    for number in (LIST_PROVIDER, WRITE_PROVIDER):
        provider, _ = Provider.objects.get_or_create(
            provider_id=number, defaults={"name": f"Latency bench {number}"}
        )
        ApiKey.objects.filter(provider=provider, name="latency bench").delete()  # earlier runs'
        key, secret = create_api_key(provider=provider, name="latency bench")
        keys.append(secret)
        if number == WRITE_PROVIDER:
            Activity.objects.filter(provider=provider).delete()
        elif Activity.objects.filter(provider=provider).count() < LIST_SIZE:
            records = []
            for n in range(LIST_SIZE):
                record, errors = validate_activity(course(f"LIST-{n:04d}"))
                assert not errors, errors
                assert record is not None
                records.append((n, record))
            apply_activities(get_api_access(provider, key), records, channel="api")
    established_activities(established)
    # As autovacuum would after the deletes (it is off on the development machine: an
    # earlier run's activities stayed as dead tuples in every index both writers insert into).
    from upload_path import vacuum  # bench/, beside this module

    vacuum(_WRITTEN_TABLES)
    return keys[0], keys[1]


def established_activities(count: int) -> None:
    """Another provider's `count` activities, one in SUPPORTED_EVERY with two commercial
    supporters (kept across runs): tables of a production size when ANALYZE runs. On the
    few hundred rows the bench writes, the statistics made seq scans the cheaper plan of
    the writes' lookups, whose cost then grew with every row written during the run."""
    from activities_upload import ESTABLISHED_ID, established_provider  # bench/

    from pars.activities.models import Activity, CommercialSupport

    established_provider(count)
    activities = Activity.objects.filter(provider__provider_id=ESTABLISHED_ID)
    if CommercialSupport.objects.filter(activity__in=activities).exists():
        return
    CommercialSupport.objects.bulk_create(
        (
            CommercialSupport(
                provider_id=provider_pk,
                activity_id=pk,
                position=position,
                source=f"Supporter {position}",
                monetary_amount=1000 * position,
            )
            for pk, provider_pk in activities.values_list("pk", "provider_id")[::SUPPORTED_EVERY]
            for position in (1, 2)
        ),
        batch_size=5_000,
    )


# The tables a write of PARS or of the bare view adds rows to (or the rate limit updates).
_WRITTEN_TABLES = (
    "activities_activity",
    "activities_commercialsupport",
    "audit_auditevent",
    "accounts_apikey",
    "pars_ratelimitcounter",
)


# ---------------------------------------------------------------------------
# Measuring


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def request(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def blocks(count: int, rounds: int) -> list[int]:
    """`count` requests in `rounds` blocks (as even as they divide)."""
    rounds = max(1, min(rounds, count))
    return [count // rounds + (1 if n < count % rounds else 0) for n in range(rounds)]


def measure(
    port: int,
    plan: dict[str, Any],
    clients: int,
    count: int,
    timings: list[float],
    failures: list[int],
) -> None:
    """`count` requests of `plan` from `clients` threads: their milliseconds added to
    `timings`, unexpected statuses to `failures`."""
    lock = threading.Lock()

    def client(share: int) -> None:
        for _ in range(share):
            body = plan["body"]() if plan["body"] else None
            started = time.perf_counter()
            status = request(port, plan["method"], plan["path"], body, plan["headers"])
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                timings.append(elapsed)
                if status != plan["status"]:
                    failures.append(status)

    shares = [count // clients + (1 if n < count % clients else 0) for n in range(clients)]
    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def summary(timings: list[float], failures: list[int]) -> dict[str, Any]:
    cuts = statistics.quantiles(timings, n=20, method="inclusive")
    return {
        "p50": statistics.median(timings),
        "p95": cuts[18],
        "requests": len(timings),
        "failures": len(failures),
        "statuses": sorted(set(failures)),
    }


def plans(list_key: str, write_key: str) -> dict[str, dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    numbers = iter(range(10**9))

    def new_course(prefix: str) -> Any:
        return lambda: json.dumps(course(f"{prefix}-{run}-{next(numbers)}")).encode()

    as_json = {"Content-Type": "application/json"}
    return {
        "PARS POST": {
            "method": "POST",
            "path": "/api/v1/activities",
            "body": new_course("PARS"),
            "headers": {**as_json, "Authorization": f"Bearer {write_key}"},
            "status": 201,
        },
        "bare insert": {
            "method": "POST",
            "path": "/bench/insert",
            "body": new_course("BARE"),
            "headers": as_json,
            "status": 201,
        },
        "PARS list": {
            "method": "GET",
            "path": f"/api/v1/activities?limit={LIST_SIZE}",
            "body": None,
            "headers": {"Authorization": f"Bearer {list_key}"},
            "status": 200,
        },
        "bare list": {
            "method": "GET",
            "path": "/bench/list",
            "body": None,
            "headers": {},
            "status": 200,
        },
    }


def wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(150):
        if server.poll() is not None:
            raise SystemExit("gunicorn stopped before it answered")
        try:
            if request(port, "GET", "/bench/list", None, {}) == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in 30 s")


def report(results: dict[str, dict[int, dict[str, Any]]], clients: list[int]) -> dict[str, Any]:
    print(f"{'':<12}" + "".join(f"{f'{c} client(s) p50/p95 ms':>26}" for c in clients))
    for name, by_clients in results.items():
        cells = "".join(
            f"{by_clients[c]['p50']:>14.1f}{by_clients[c]['p95']:>12.1f}" for c in clients
        )
        print(f"{name:<12}{cells}")
    ratios: dict[str, Any] = {}
    for kind, pars, bare in (
        ("post", "PARS POST", "bare insert"),
        ("list", "PARS list", "bare list"),
    ):
        for c in clients:
            ratio = results[pars][c]["p95"] / results[bare][c]["p95"]
            ratios[f"{kind} p95, {c} client(s)"] = round(ratio, 2)
            verdict = "meets" if ratio <= TARGETS[kind] else "misses"
            print(
                f"{pars} p95 / {bare} p95 with {c} client(s): {ratio:.2f} "
                f"({verdict} the target {TARGETS[kind]})"
            )
    failures = {
        name: {c: r["statuses"] for c, r in v.items() if r["failures"]}
        for name, v in results.items()
    }
    failures = {name: v for name, v in failures.items() if v}
    if failures:
        print(f"Unexpected statuses: {failures}")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=REQUESTS, help="per measurement")
    parser.add_argument(
        "--rounds", type=int, default=10, help="blocks each measurement is sent in, in turn"
    )
    parser.add_argument("--clients", default=",".join(map(str, CLIENTS)))
    parser.add_argument(
        "--established-rows",
        type=int,
        default=ESTABLISHED_ACTIVITIES,
        help="another provider's activities, in the tables when ANALYZE runs",
    )
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn processes")
    parser.add_argument(
        "--no-rate-limits", action="store_true", help="leave out the API rate-limit counter"
    )
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "pars.settings",
        "PARS_SECRET_KEY": secrets.token_urlsafe(50),  # DEBUG off wants a real one
        "PARS_DB_CONN_MAX_AGE": "60",
    }
    env.pop("PARS_DEBUG", None)
    ensure_database(database_url, env)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    list_key, write_key = set_up(args.established_rows)

    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            *(sys.executable, "-m", "gunicorn", "api_latency:application"),
            *("--chdir", str(Path(__file__).parent), "--pythonpath", str(ROOT)),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(args.web_workers)),
        ],
        cwd=ROOT,
        env={**env, "BENCH_SERVER": "1", "BENCH_RATE_LIMITS": "0" if args.no_rate_limits else "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, dict[int, dict[str, Any]]] = {}
    try:
        wait_for(port, server)
        scenarios = plans(list_key, write_key)
        for plan in scenarios.values():  # warm every worker
            measure(port, plan, 2, max(10, args.requests // 10), [], [])
        for c in clients:
            timings: dict[str, list[float]] = {name: [] for name in scenarios}
            failures: dict[str, list[int]] = {name: [] for name in scenarios}
            for block in blocks(args.requests, args.rounds):
                for name, plan in scenarios.items():
                    measure(port, plan, c, block, timings[name], failures[name])
            for name in scenarios:
                results.setdefault(name, {})[c] = summary(timings[name], failures[name])
    finally:
        server.terminate()
        server.wait(timeout=30)
    ratios = report(results, clients)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "api_latency.json").write_text(
        json.dumps({"requests": args.requests, "results": results, "ratios": ratios}, indent=2)
    )


if __name__ == "__main__":
    main()
