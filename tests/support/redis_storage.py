"""A file storage kept in Redis, for the scale-out tests: shared by every process on every
"machine", and, like S3, without a local path (``path()`` raises). Tests only.

``PARS_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/5``) names the Redis database;
files live under the key prefix ``pars-test-storage:``.
"""

from __future__ import annotations

import os
from typing import IO, Any

import redis
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

PREFIX = "pars-test-storage:"


def redis_url() -> str:
    return os.environ.get("PARS_TEST_REDIS_URL") or "redis://127.0.0.1:6379/5"


class RedisStorage(Storage):
    def __init__(self, url: str | None = None) -> None:
        self.redis_url = url or redis_url()
        self._client: redis.Redis | None = None

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            self._client = redis.Redis.from_url(self.redis_url)
        return self._client

    def _open(self, name: str, mode: str = "rb") -> File[Any]:
        data = self.client.get(PREFIX + name)
        if data is None:
            raise FileNotFoundError(name)
        return ContentFile(bytes(data), name=name)  # type: ignore[arg-type]

    def _save(self, name: str, content: File[Any] | IO[bytes]) -> str:
        chunks = content.chunks() if isinstance(content, File) else iter([content.read()])
        self.client.set(PREFIX + name, b"".join(chunks))
        return name

    def exists(self, name: str) -> bool:
        return bool(self.client.exists(PREFIX + name))

    def delete(self, name: str) -> None:
        self.client.delete(PREFIX + name)

    def size(self, name: str) -> int:
        return int(self.client.strlen(PREFIX + name))

    def path(self, name: str) -> str:
        raise NotImplementedError("This backend doesn't support absolute paths.")

    def url(self, name: str | None) -> str:
        raise NotImplementedError("Files in this storage are not served.")


def stored_names(client: redis.Redis) -> list[str]:
    return sorted(key.decode()[len(PREFIX) :] for key in client.scan_iter(f"{PREFIX}*"))
