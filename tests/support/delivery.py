"""Helpers of the delivery, connector, webhook and pre-validation tests."""

from __future__ import annotations

import datetime
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import time_machine
from django.utils import timezone

# The learner of pars.testing.LEARNER_ROW, as the ABIM registry knows her.
ADA = {
    "learner_id": "123456",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "birth_month": 12,
    "birth_day": 10,
}


@contextmanager
def later(**delta: float) -> Iterator[None]:
    """Run the block that much later than now (the clock keeps ticking)."""
    with time_machine.travel(timezone.now() + datetime.timedelta(**delta), tick=True):
        yield


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A request header, by its name in any case (HTTP headers ignore case)."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpStub:
    """A tiny HTTP server on 127.0.0.1: answers from a script, records every request.

    ``answers`` is consumed in order: (status, body) or a function of the request that
    returns one; when it is empty every request gets ``default``.
    """

    answers: list[Any] = field(default_factory=list)
    default: Any = (200, {})
    received: list[Received] = field(default_factory=list)
    server: http.server.HTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        self.received.append(
            Received(
                handler.command,
                handler.path,
                {name.lower(): value for name, value in handler.headers.items()},
                body,
            )
        )
        received = self.received[-1]
        answer = self.answers.pop(0) if self.answers else self.default
        status, content = answer(received) if callable(answer) else answer
        data = json.dumps(content).encode() if content is not None else b""
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


@contextmanager
def http_stub(*answers: Any, default: Any = (200, {})) -> Iterator[HttpStub]:
    stub = HttpStub(list(answers), default)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stub._answer(self)

        def do_POST(self) -> None:
            stub._answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    stub.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
