"""The task queue in Redis is a setting: with ``PARS_TASKS_BACKEND=django_tasks_rq.RQBackend``
uploads are queued in Redis and a real RQ worker process (``manage.py rqworker --burst``)
applies them; ``manage.py recover_jobs`` (the timer that takes the place of db_worker's own
recovery) runs against it. Storage and cache are shared through Redis too."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from pytest_django import Settings

from pars.accounts.access import get_provider_access
from pars.accounts.models import User
from pars.activities.models import Activity
from pars.intake.models import Upload, UploadStatus
from pars.intake.store import store_upload
from pars.learners.models import LearnerCompletion
from pars.providers.models import Provider
from pars.testing import make_activity, register
from tests.learners import make_golden
from tests.support.faults import ROOT, child_env, manage, requires_postgresql
from tests.support.redis_storage import redis_url

pytest.importorskip("django_tasks_rq", reason="django-tasks-rq is in requirements/scale.txt")

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]

STORAGE = "tests.support.redis_storage.RedisStorage"
RQ_BACKEND = "django_tasks_rq.RQBackend"


@pytest.fixture
def rq_env(settings: Settings, tmp_path: Path) -> Iterator[dict[str, str]]:
    """This process enqueues into Redis database 5; the worker's environment says the same."""
    client = redis.Redis.from_url(redis_url(), socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {redis_url()} ({error}); CI starts it")
    client.flushdb()
    cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url()}
    settings.CACHES = {"default": cache}
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": STORAGE}}
    settings.RQ_QUEUES = {"default": {"URL": redis_url(), "DEFAULT_TIMEOUT": 600}}
    settings.TASKS = {"default": {"BACKEND": RQ_BACKEND, "QUEUES": ["default"]}}
    env = child_env(tmp_path / "worker-media", tmp_path / "worker-cache")
    env.update(
        PARS_TASKS_BACKEND=RQ_BACKEND,
        PARS_RQ_URL=redis_url(),
        PARS_CACHE_BACKEND=cache["BACKEND"],
        PARS_CACHE_LOCATION=redis_url(),
        PARS_STORAGE_BACKEND=STORAGE,
        PARS_TEST_REDIS_URL=redis_url(),
    )
    yield env
    client.flushdb()
    client.close()


def _store(editor: User, provider: Provider, path: Path, kind: str) -> Upload:
    access = get_provider_access(editor, provider.provider_id)
    return store_upload(access, SimpleUploadedFile(path.name, path.read_bytes()), kind=kind)


def test_an_rq_worker_applies_uploads_queued_in_redis(
    rq_env: dict[str, str], provider: Provider, editor: User
) -> None:
    make_activity(provider, provider_activity_id="CHI-2024-OLD")  # the golden file deletes it
    activity = make_activity(
        provider,
        provider_activity_id=make_golden.ACTIVITY_ID,
        accme_activity_id=make_golden.ACCME_ID,
    )
    for code in ("ABIM", "REMS", "TN"):
        register(activity, code)
    register(activity, "ABS", credit_types=["Accredited CME", "Self-Assessment"])
    activities = _store(
        editor, provider, ROOT / "tests/activities/data/golden_current.xlsx", "activities"
    )
    learners = _store(
        editor, provider, ROOT / "tests/learners/data/golden_learners.xml", "learners"
    )
    for upload in (activities, learners):  # in the queue, not run in this process
        upload.refresh_from_db()
        assert upload.status == UploadStatus.QUEUED

    done = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "rqworker",
            "--burst",
            "--job-class",
            "django_tasks_rq.Job",
            "default",
        ],
        env=rq_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    activities.refresh_from_db()
    learners.refresh_from_db()
    assert activities.status == UploadStatus.SUCCEEDED, activities.message + done.stderr[-3000:]
    assert (activities.added, activities.deleted) == (4, 1)
    assert (learners.status, learners.added, learners.rejected) == ("partial", 4, 1)
    assert Activity.objects.filter(provider=provider).count() == 5  # 4 added, 1 of 2 left
    assert LearnerCompletion.objects.filter(provider=provider).count() == 4

    # The recovery timer works against this queue too (nothing to recover: a no-op).
    out = manage(rq_env, "recover_jobs")
    assert "Uploads queued again: 0" in out
