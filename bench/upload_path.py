"""The path a user pays for, shared by the upload benchmarks.

A file is timed from the multipart POST to the web service (through Django's test
client, so every middleware and the real view run, though no socket), through the queue
(a real ``manage.py db_worker`` picks the job up as deployed, woken by the queue's
notification), the job and its commit, to the upload's ``finished_at`` (set once the
file's transaction has committed). The tables have statistics, as autovacuum leaves
them: ``ANALYZE`` runs before the POST and again when the job has read half the file
(from another connection, which sees none of the file's uncommitted rows, as autovacuum
would not).

A rejected file's time includes its error report: every page of
``GET /api/v1/uploads/{id}/errors``, as a client fetching it would.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/pars_bench"
DEFAULT_SIZES = [10_000, 100_000, 500_000]


def setup_django(database_url: str, media_root: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["PARS_MEDIA_ROOT"] = media_root
    # A cache of the run's own: the worker's progress, read here, and nobody else's.
    os.environ.setdefault("PARS_CACHE_LOCATION", str(Path(media_root) / "cache"))
    os.environ.setdefault("PARS_SECRET_KEY", "bench-only-" + "x" * 40)
    os.environ["DJANGO_SETTINGS_MODULE"] = "pars.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host ("testserver") is allowed


def ensure_database(database_url: str) -> None:
    import psycopg

    base, _, name = database_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def sizes(text: str) -> list[int]:
    """``--rows 10000,100000`` (or one size)."""
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def analyze(tables: Iterable[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


def api_auth(provider: Any) -> dict[str, Any]:
    from pars.accounts.services import create_api_key

    secret = create_api_key(provider=provider, name="bench")[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def peak_memory_mb(pid: int) -> float:
    """A live process's peak resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def worker() -> Iterator[subprocess.Popen[bytes]]:
    """A real task worker, started (and idle) before the timing, stopped after."""
    log = Path(os.environ["PARS_MEDIA_ROOT"]) / "worker.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "db_worker",
                "--no-reload",
                "--no-startup-delay",
            ],
            env=os.environ.copy(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        # Started and polling the queue, as a deployed worker is, before the timing.
        deadline = time.monotonic() + 60
        while b"Starting worker" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the task worker did not start: see {log}")
            time.sleep(0.1)
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _fetch_error_report(client: Any, upload_id: int, auth: dict[str, Any]) -> int:
    url: str | None = f"/api/v1/uploads/{upload_id}/errors"
    fetched = 0
    while url:
        response = client.get(url, **auth)
        assert response.status_code == 200, response.content[:500]
        data = response.json()
        fetched += len(data["errors"])
        url = data["next"]
    return fetched


def _warm_up(client: Any, url: str, path: Path, auth: dict[str, Any]) -> None:
    """The file's header alone, through the same path and worker first (it changes
    nothing): a deployed worker has run jobs before and imported what they need."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pars.intake.models import Upload

    with path.open("rb") as stream:
        header = stream.readline()
    warm_up = SimpleUploadedFile("warm-up.txt", header)
    response = client.post(url, {"file": warm_up}, **auth)
    assert response.status_code == 202, response.content[:500]
    deadline = time.monotonic() + 60
    while Upload.objects.filter(pk=response.json()["id"], finished_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit("the task worker did not run the warm-up file")
        time.sleep(0.05)


def time_upload(
    url: str,
    path: Path,
    auth: dict[str, Any],
    tables: Iterable[str],
    rows: int,
    *,
    error_report: bool = False,
) -> dict[str, Any]:
    """POST the file, let the worker process it, wait for the commit; times in seconds."""
    from django.test import Client
    from django.utils import timezone

    from pars.intake.models import Upload
    from pars.intake.progress import get_progress

    tables = list(tables)
    with worker() as process:
        client = Client()
        _warm_up(client, url, path, auth)
        analyze(tables)
        started = timezone.now()
        with path.open("rb") as stream:
            response = client.post(url, {"file": stream}, **auth)
        assert response.status_code == 202, response.content[:500]
        posted = timezone.now()
        upload_id = response.json()["id"]
        analyzed_again = False
        while not (
            Upload.objects.filter(pk=upload_id, finished_at__isnull=False)
            .exclude(status="running")
            .exists()
        ):
            if not analyzed_again and get_progress(upload_id)["done"] >= rows // 2:
                analyze(tables)  # autovacuum's second look, half-way through the job
                analyzed_again = True
            time.sleep(0.05)
        time.sleep(0.2)  # the finish time, written once the commit is done, is in
        upload = Upload.objects.get(pk=upload_id)
        peak = peak_memory_mb(process.pid)
        assert upload.finished_at is not None
        assert upload.started_at is not None
        seconds = (upload.finished_at - started).total_seconds()
        report = None
        if error_report:
            report_started = time.perf_counter()
            fetched = _fetch_error_report(client, upload_id, auth)
            report = {"seconds": time.perf_counter() - report_started, "errors": fetched}
            seconds += report["seconds"]
    return {
        "rows": rows,
        "seconds": seconds,
        "post_seconds": (posted - started).total_seconds(),
        "pickup_seconds": (upload.started_at - posted).total_seconds(),
        "job_seconds": (upload.finished_at - upload.started_at).total_seconds(),
        "status": upload.status,
        "added": upload.added,
        "errors": upload.error_count,
        "message": upload.message,
        "worker_peak_mb": round(peak, 1),
        "analyzed_half_way": analyzed_again,
        "error_report": report,
    }


def linearity(results: list[dict[str, Any]], key: str) -> float | None:
    """Per-row cost at the largest size over that at the smallest (linear: about 1.0)."""
    timed = sorted((r for r in results if r["rows"]), key=lambda r: r["rows"])
    if len(timed) < 2:
        return None
    small, large = timed[0], timed[-1]
    return (large[key] / large["rows"]) / (small[key] / small["rows"])


def print_table(title: str, results: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    print(f"{'rows':>9} {'path s':>8} {'µs/row':>8} {'POST s':>7} {'pickup s':>8} {'job s':>8}"
          f" {'COPY s':>8} {'÷ COPY':>7} {'worker MB':>9}")  # fmt: skip
    for r in results:
        copy = r.get("copy_seconds")
        ratio = f"{r['seconds'] / copy:7.1f}" if copy else f"{'-':>7}"
        copy_text = f"{copy:8.2f}" if copy else f"{'-':>8}"
        per_row = r["seconds"] / r["rows"] * 1e6
        print(f"{r['rows']:>9,} {r['seconds']:8.2f} {per_row:8.1f} {r['post_seconds']:7.2f}"
              f" {r['pickup_seconds']:8.2f} {r['job_seconds']:8.2f}"
              f" {copy_text} {ratio} {r['worker_peak_mb']:9.0f}")  # fmt: skip
    for key, name in (("seconds", "whole path"), ("job_seconds", "job alone")):
        growth = linearity(results, key)
        if growth is not None:
            print(f"per-row cost, largest ÷ smallest size ({name}): {growth:.2f} (linear ≈ 1.0)")


def stamp() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
