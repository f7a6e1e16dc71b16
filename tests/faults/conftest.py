from pathlib import Path

import pytest
from pytest_django import Settings

from tests.support.faults import child_env


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """Test process and its child processes share the database queue, the media
    directory and a file cache (upload progress and heartbeats)."""
    media, cache = tmp_path / "media", tmp_path / "cache"
    media.mkdir()
    cache.mkdir()
    settings.MEDIA_ROOT = str(media)
    settings.TASKS = {"default": {"BACKEND": "pars.jobs.wakeup.NotifyingDatabaseBackend"}}
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(cache),
        }
    }
    return child_env(media, cache)
