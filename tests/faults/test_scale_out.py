"""Scale-out is a setting: two web processes and two task workers, each as if on its own
machine (its own empty MEDIA_ROOT, which must stay empty), sharing only PostgreSQL, Redis
(the cache: upload progress) and a file storage without a local path. Eight providers
upload files (delimited text and Excel) at once through both web processes with their API
keys; one worker is killed (SIGKILL) in the middle of a file. Every file is applied exactly
once, no request fails, and progress is read through Redis from both web processes."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import redis
from pytest_django import Settings

from pars.audit.models import AuditEvent
from pars.intake.models import Upload, UploadStatus
from pars.intake.progress import get_progress, progress_key
from tests.support.faults import (
    child_env,
    kill,
    requires_postgresql,
    start_worker,
    stop,
    wait_for,
)
from tests.support.redis_storage import redis_url, stored_names
from tests.support.web import start_gunicorn, wait_web

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

PROVIDERS = 8
ACTIVITY_ROWS = 300
LEARNER_ROWS = 200
STORAGE = "tests.support.redis_storage.RedisStorage"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


@pytest.fixture
def shared_redis(settings: Settings, tmp_path: Path) -> Iterator[redis.Redis]:
    """Redis database 5 (PARS_TEST_REDIS_URL), emptied: this process's cache and storage."""
    client = redis.Redis.from_url(redis_url(), socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {redis_url()} ({error}); CI starts it")
    client.flushdb()
    settings.MEDIA_ROOT = str(tmp_path / "machine-test")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": STORAGE}}
    settings.CACHES = {"default": {"BACKEND": REDIS_CACHE, "LOCATION": redis_url()}}
    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}
    yield client
    client.flushdb()
    client.close()


def _machine(tmp_path: Path, name: str, **extra: str) -> dict[str, str]:
    """One machine's environment: only the database, Redis and the storage are shared."""
    env = child_env(tmp_path / name / "media", tmp_path / name / "cache")
    env.update(
        PARS_CACHE_BACKEND=REDIS_CACHE,
        PARS_CACHE_LOCATION=redis_url(),
        PARS_STORAGE_BACKEND=STORAGE,
        PARS_TEST_REDIS_URL=redis_url(),
        **extra,
    )
    return env


def _as_workbook(tsv: bytes) -> bytes:
    """The same rows as an Excel workbook (text cells), which the worker reads from the
    storage's file object: zipfile seeks in it."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in csv.reader(io.StringIO(tsv.decode("utf-8")), dialect=csv.excel_tab):
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _upload_all(bases: list[str], plans: list[Any], stats: Any) -> list[tuple[int, str]]:
    """Every provider's activity and learner file at once, spread over both web processes
    (half the activity files as Excel workbooks); returns (upload id, the base it went to)."""
    from load_test import Api

    def send(index: int, kind: str) -> tuple[int, str]:
        plan = plans[index]
        base = bases[(index + (kind == "learners")) % len(bases)]
        api = Api(base, plan.secret, stats)
        if kind == "activities" and index % 2:
            content = _as_workbook(plan.activity_file)
            status, body = api.upload("/api/v1/uploads", f"a-{plan.tag}.xlsx", content)
        elif kind == "activities":
            status, body = api.upload("/api/v1/uploads", f"a-{plan.tag}.txt", plan.activity_file)
        else:
            path = "/api/v1/learner-completions/uploads"
            status, body = api.upload(path, f"l-{plan.tag}.txt", plan.learner_file)
        assert status == 202, (status, body)
        plan.uploads.append(body["id"])
        return int(body["id"]), base

    with ThreadPoolExecutor(max_workers=2 * len(plans)) as pool:
        jobs = [
            pool.submit(send, index, kind)
            for index in range(len(plans))
            for kind in ("activities", "learners")
        ]
        return [job.result() for job in jobs]


def _half_way() -> int | None:
    """A running upload whose worker published progress (read here through Redis)."""
    for pk in Upload.objects.filter(status=UploadStatus.RUNNING).values_list("pk", flat=True):
        if get_progress(pk)["done"] > 0:
            return int(pk)
    return None


def _progress_seen_by(base: str, secret: str, upload_id: int, stats: Any) -> dict[str, Any]:
    from load_test import Api

    status, body = Api(base, secret, stats).call("GET", f"/api/v1/uploads/{upload_id}")
    assert status == 200, body
    return dict(body["progress"] or {})


def test_two_web_processes_and_two_workers_apply_every_file_exactly_once(
    shared_redis: redis.Redis, tmp_path: Path
) -> None:
    from load_test import Stats, set_up, verify

    plans = set_up(PROVIDERS, ACTIVITY_ROWS, LEARNER_ROWS, json_count=0)
    stats = Stats()
    logs = tmp_path / "logs"
    logs.mkdir()
    webs = [start_gunicorn(_machine(tmp_path, f"web{n}"), logs / f"web{n}.log") for n in (1, 2)]
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for (server, base), n in zip(webs, (1, 2), strict=True):
            wait_web(server, base, logs / f"web{n}.log")
        bases = [base for _, base in webs]
        # The first worker pauses inside the first file it takes, so the kill lands mid-job.
        doomed = start_worker(
            _machine(tmp_path, "worker1"), logs / "worker1.log", pause_mid_upload="60"
        )
        workers.append(doomed)
        sent = _upload_all(bases, plans, stats)
        victim = wait_for(_half_way, 60, "a worker half-way through a file")
        secret = next(plan.secret for plan in plans if victim in plan.uploads)
        # Both web processes, on their own "machines", see the worker's progress in Redis.
        seen = [_progress_seen_by(base, secret, victim, stats) for base in bases]
        assert all(progress.get("done", 0) > 0 for progress in seen), seen

        # A short lease, so the survivors notice the lost file in seconds.
        lease = {"PARS_UPLOAD_LEASE_SECONDS": "5", "PARS_RECOVERY_INTERVAL_SECONDS": "1"}
        workers.append(start_worker(_machine(tmp_path, "worker2", **lease), logs / "worker2.log"))
        kill(doomed)
        workers.append(start_worker(_machine(tmp_path, "worker3", **lease), logs / "worker3.log"))
        ids = [pk for pk, _ in sent]
        wait_for(
            lambda: not Upload.objects.filter(pk__in=ids, finished_at__isnull=True).exists(),
            90,
            "every upload to finish",
            interval=0.5,
        )
    finally:
        for worker in workers:
            stop(worker)
        for server, _ in webs:
            stop(server)

    worker_logs = "".join(log.read_text()[-1500:] for log in logs.glob("worker*.log"))
    problems = verify(plans, stats)  # each provider's rows exactly, none lost or mixed up
    assert problems == [], "\n".join(problems) + worker_logs
    assert set(stats.statuses) <= {200, 202}, stats.statuses  # no request failed
    uploads = {upload.pk: upload for upload in Upload.objects.filter(pk__in=ids)}
    assert len(uploads) == 2 * PROVIDERS
    assert {upload.status for upload in uploads.values()} == {UploadStatus.SUCCEEDED}
    assert {upload.file_format for upload in uploads.values()} == {"tsv", "xlsx"}
    assert uploads[victim].attempts == 2, worker_logs
    assert all(upload.attempts == 1 for pk, upload in uploads.items() if pk != victim)
    for pk in ids:  # one audit event per file: the killed run left none behind
        assert AuditEvent.objects.filter(details__upload=pk).count() == 1, pk

    # The files are in the shared storage, and no machine wrote any to its own disk.
    stored = stored_names(shared_redis)
    assert sorted(str(upload.file.name) for upload in uploads.values()) == stored
    assert not any((tmp_path / name / "media").exists() for name in ("web1", "web2"))
    assert not any((tmp_path / f"worker{n}" / "media").exists() for n in (1, 2, 3))
    # Progress lives in Redis, not in any machine's file cache.
    assert shared_redis.keys(f"*{progress_key(victim)}")
    assert not any((tmp_path / name / "cache").exists() for name in ("web1", "web2", "worker2"))
