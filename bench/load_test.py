"""Load test: many providers uploading files and calling the web service at once.

    .venv/bin/python bench/load_test.py                      # 8 providers, full size
    .venv/bin/python bench/load_test.py --providers 16 --activity-rows 5000

Against a live server on loopback only (gunicorn on 127.0.0.1, started here, with
task workers beside it) and the PostgreSQL database ``$BENCH_DATABASE_URL``
(default ``pars_load`` on the local server, created and migrated if missing). Each
provider has its own API key; per provider, threads at once:

* upload an activity file (rows whose IDs and titles carry the provider's ID),
* upload a learner file for its registered activities,
* POST activities one by one through the JSON API and GET them back.

Then it waits for every upload to finish and checks: no answer 5xx, every provider has
exactly its rows (none lost), and no row of one provider is stored under another
(none mixed up). ``tests/faults/test_concurrency.py`` runs the same at CI size.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from activities_upload import ROOT, ensure_database, raw_rows

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/pars_load"


# ---------------------------------------------------------------------------
# HTTP, with the standard library only


@dataclass
class Stats:
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, method: str, url: str, status: int, body: bytes) -> None:
        with self.lock:
            self.statuses[status] += 1
            if status >= 500:
                self.server_errors.append(f"{method} {url}: {status} {body[:300]!r}")


class Api:
    """One provider's API client (its key), counting every answer."""

    def __init__(self, base: str, secret: str, stats: Stats) -> None:
        self.base = base.rstrip("/")
        self.secret = secret
        self.stats = stats

    def call(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> tuple[int, Any]:
        url = f"{self.base}{path}"
        headers = {"Authorization": f"Bearer {self.secret}"}
        if content_type:
            headers["Content-Type"] = content_type
        for _ in range(20):
            request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    status, raw = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, raw = error.code, error.read()
                if status == 429:  # rate limited: wait as told, then again
                    self.stats.record(method, url, status, raw)
                    time.sleep(float(error.headers.get("Retry-After") or 1))
                    continue
            self.stats.record(method, url, status, raw)
            try:
                return status, json.loads(raw or b"null")
            except ValueError:
                return status, raw
        raise AssertionError(f"{method} {url}: still rate limited")

    def post_json(self, path: str, data: Any) -> tuple[int, Any]:
        return self.call("POST", path, json.dumps(data).encode(), "application/json")

    def upload(self, path: str, name: str, content: bytes) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        body += content + f"\r\n--{boundary}--\r\n".encode()
        return self.call("POST", path, body, f"multipart/form-data; boundary={boundary}")


# ---------------------------------------------------------------------------
# Each provider's data


def activity_tsv(tag: str, rows: int) -> tuple[bytes, dict[str, str]]:
    """An activity file whose IDs and titles name the provider; (file, {id: title})."""
    from pars.activities.parsers.layouts import CURRENT

    names = [column.target for column in CURRENT.columns]
    block = [column.target for column in CURRENT.supporter_block]
    out = io.StringIO()
    writer = csv.writer(out, dialect=csv.excel_tab)
    writer.writerow(CURRENT.headers(supporters=1))
    expected = {}
    for row in raw_rows(rows, seed=int(tag)):
        row["provider_activity_id"] = f"F{tag}-{row['provider_activity_id']}"
        row["title"] = f"P{tag} {row['title']}"
        expected[row["provider_activity_id"]] = row["title"]
        supporter = row["supporters"][0] if row["supporters"] else {}
        writer.writerow(
            [row.get(name, "") for name in names] + [supporter.get(name, "") for name in block]
        )
    return out.getvalue().encode(), expected


def json_activity(tag: str, number: int) -> dict[str, Any]:
    return {
        "provider_activity_id": f"J{tag}-{number:05d}",
        "title": f"P{tag} JSON activity {number}",
        "activity_format": "course",
        "delivery_methods": ["in_person"],
        "start_date": "2026-03-01",
        "end_date": "2026-03-02",
        "description": "Load test.",
        "city": "Chicago",
        "state": "IL",
        "country": "USA",
        "providership": "direct",
        "ama_credits": 1,
        "physician_learners": 10,
        "other_learners": 0,
        "commercial_support_received": False,
        "supporters": [],
        "outcome_measures": [{"outcome": "learner_competence", "measurement_types": ["objective"]}],
        "listed_on_passport": False,
    }


@dataclass
class Plan:
    provider_id: str
    secret: str
    tag: str
    activity_file: bytes
    file_activities: dict[str, str]
    learner_file: bytes
    learner_rows: int
    json_count: int
    uploads: list[int] = field(default_factory=list)


def set_up(providers: int, activity_rows: int, learner_rows: int, json_count: int) -> list[Plan]:
    """Providers with an API key, registered activities and their files (in this process)."""
    from learners_upload import raw_rows as learner_raw_rows
    from learners_upload import set_up_activities

    from pars.accounts.services import create_api_key
    from pars.testing import make_provider

    today = datetime.date.today()  # noqa: DTZ011
    plans = []
    for index in range(providers):
        provider_id = f"{8_100_000 + index:07d}"
        tag = f"{index + 1:02d}"
        provider = make_provider(name=f"Load Provider {tag}", provider_id=provider_id)
        _, secret = create_api_key(provider=provider, name="load test")
        content, expected = activity_tsv(tag, activity_rows)
        set_up_activities(provider, 20, today)
        out = io.StringIO()
        writer = csv.writer(out, dialect=csv.excel_tab)
        from learners_upload import HEADER

        writer.writerow(HEADER)
        writer.writerows(learner_raw_rows(learner_rows, 20, 5_000, today))
        plans.append(
            Plan(
                provider_id,
                secret,
                tag,
                content,
                expected,
                out.getvalue().encode(),
                learner_rows,
                json_count,
            )
        )
    return plans


# ---------------------------------------------------------------------------
# The load


def run_load(base: str, plans: list[Plan], threads_per_provider: int = 3) -> Stats:
    """Everything at once: per provider, its uploads and its JSON traffic in parallel."""
    stats = Stats()

    def upload_activities(plan: Plan) -> None:
        status, body = Api(base, plan.secret, stats).upload(
            "/api/v1/uploads", f"activities-{plan.tag}.txt", plan.activity_file
        )
        assert status == 202, (status, body)
        plan.uploads.append(body["id"])

    def upload_learners(plan: Plan) -> None:
        status, body = Api(base, plan.secret, stats).upload(
            "/api/v1/learner-completions/uploads", f"learners-{plan.tag}.txt", plan.learner_file
        )
        assert status == 202, (status, body)
        plan.uploads.append(body["id"])

    def json_traffic(plan: Plan, part: int, parts: int) -> None:
        api = Api(base, plan.secret, stats)
        for number in range(part, plan.json_count, parts):
            record = json_activity(plan.tag, number)
            status, body = api.post_json("/api/v1/activities", record)
            assert status in (200, 201), (status, body)
            status, body = api.call("GET", f"/api/v1/activities/{record['provider_activity_id']}")
            assert status == 200, (status, body)
            assert body["title"] == record["title"], body
            if number % 10 == 0:
                status, _ = api.call("GET", "/api/v1/activities?limit=50")
                assert status == 200

    jobs = []
    with ThreadPoolExecutor(max_workers=len(plans) * (2 + threads_per_provider)) as pool:
        for plan in plans:
            jobs.append(pool.submit(upload_activities, plan))
            jobs.append(pool.submit(upload_learners, plan))
            for part in range(threads_per_provider):
                jobs.append(pool.submit(json_traffic, plan, part, threads_per_provider))
        for job in jobs:
            job.result()
    return stats


def wait_for_uploads(plans: list[Plan], timeout: float) -> None:
    from pars.intake.models import Upload

    ids = [pk for plan in plans for pk in plan.uploads]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not Upload.objects.filter(pk__in=ids, status__in=["queued", "running"]).exists():
            return
        time.sleep(0.5)
    raise AssertionError("uploads still unfinished after the time allowed")


def verify(plans: list[Plan], stats: Stats) -> list[str]:
    """Problems found (an empty list: none): 5xx, lost rows, mixed-up rows."""
    from django.db.models import F

    from pars.activities.models import Activity
    from pars.intake.models import Upload
    from pars.learners.models import LearnerCompletion

    problems = list(stats.server_errors)
    for plan in plans:
        for upload in Upload.objects.filter(pk__in=plan.uploads):
            if upload.status != "succeeded":
                problems.append(
                    f"{plan.tag}: upload #{upload.pk} {upload.status}: {upload.message}"
                )
        stored = dict(
            Activity.objects.filter(provider__provider_id=plan.provider_id)
            .exclude(provider_activity_id__startswith="LRN-")
            .values_list("provider_activity_id", "title")
        )
        expected = dict(plan.file_activities)
        expected.update(
            (record["provider_activity_id"], record["title"])
            for record in (json_activity(plan.tag, n) for n in range(plan.json_count))
        )
        if stored != expected:
            lost = set(expected) - set(stored)
            extra = set(stored) - set(expected)
            changed = {k for k in set(stored) & set(expected) if stored[k] != expected[k]}
            problems.append(
                f"{plan.tag}: {len(lost)} lost, {len(extra)} foreign, {len(changed)} altered"
            )
        completions = LearnerCompletion.objects.filter(provider__provider_id=plan.provider_id)
        if completions.count() != plan.learner_rows:
            problems.append(
                f"{plan.tag}: {completions.count()} learner records, {plan.learner_rows} sent"
            )
    mixed = LearnerCompletion.objects.exclude(provider=F("activity__provider")).count()
    if mixed:
        problems.append(f"{mixed} learner records under another provider than their activity")
    for plan in plans:
        foreign = (
            Activity.objects.exclude(provider__provider_id=plan.provider_id)
            .filter(title__startswith=f"P{plan.tag} ")
            .count()
        )
        if foreign:
            problems.append(f"{plan.tag}: {foreign} of its activities under another provider")
    return problems


# ---------------------------------------------------------------------------
# The stand-alone run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=8)
    parser.add_argument("--activity-rows", type=int, default=3_000)
    parser.add_argument("--learner-rows", type=int, default=2_000)
    parser.add_argument("--json", type=int, default=200, help="JSON activities per provider")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2, help="task worker processes")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn processes")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(database_url)
    media = Path(ROOT / "var" / "load-media")
    media.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "PARS_DEBUG": "1",
        "PARS_MEDIA_ROOT": str(media),
        "DJANGO_SETTINGS_MODULE": "pars.settings",
    }
    os.environ.update(env)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v0"], env=env, check=True)  # noqa: S603
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:  # a fresh run: the load test's own providers only
        cursor.execute("SELECT id FROM providers_provider WHERE provider_id LIKE '81%%'")
        ids = [row[0] for row in cursor.fetchall()]
    from pars.learners.models import LearnerCompletion
    from pars.providers.models import Provider

    # Completions protect their activities (an activity with learner records cannot be
    # deleted): remove the earlier run's completions first.
    LearnerCompletion.objects.filter(provider_id__in=ids).delete()
    Provider.objects.filter(pk__in=ids).delete()
    plans = set_up(args.providers, args.activity_rows, args.learner_rows, args.json)
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "pars.wsgi:application",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            str(args.web_workers),
            "--threads",
            "4",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers = [
        subprocess.Popen(  # noqa: S603
            [*manage, "db_worker", "--no-startup-delay", "--no-reload", "--interval", "0.2"],
            env=env,
        )
        for _ in range(args.workers)
    ]
    try:
        base = f"http://127.0.0.1:{args.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api/v1/openapi.json", timeout=2)  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        started = time.monotonic()
        stats = run_load(base, plans)
        sent = time.monotonic() - started
        wait_for_uploads(plans, 1800)
        total = time.monotonic() - started
    finally:
        for process in [server, *workers]:
            process.terminate()
            process.wait(timeout=30)
    problems = verify(plans, stats)
    requests = sum(stats.statuses.values())
    print(
        f"{args.providers} providers: {requests} requests in {sent:.1f} s "
        f"({requests / sent:.0f}/s), all uploads applied after {total:.1f} s; "
        f"answers {dict(sorted(stats.statuses.items()))}"
    )
    if problems:
        print("PROBLEMS:\n" + "\n".join(problems))
        raise SystemExit(1)
    print("OK: no 5xx, no lost rows, no mixed-up rows")


if __name__ == "__main__":
    main()
