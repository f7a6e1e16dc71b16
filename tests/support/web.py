"""Web processes for the fault tests: gunicorn on loopback, as production runs PARS."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.faults import ROOT, stop, wait_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
            return True
    except OSError:
        return False


def start_gunicorn(
    env: dict[str, str], log: Path, workers: int = 1, threads: int = 4
) -> tuple[subprocess.Popen[bytes], str]:
    """A gunicorn server on a free port; (process, base URL). Wait with :func:`wait_web`."""
    port = free_port()
    with log.open("ab") as output:
        server = subprocess.Popen(  # noqa: S603 (our own interpreter)
            [
                sys.executable,
                "-m",
                "gunicorn",
                "pars.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={workers}",
                f"--threads={threads}",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return server, f"http://127.0.0.1:{port}"


def wait_web(server: subprocess.Popen[bytes], base: str, log: Path) -> None:
    try:
        wait_for(lambda: answers(f"{base}/api/v1/openapi.json"), 60, f"gunicorn at {base}")
    except AssertionError:
        stop(server)
        raise AssertionError(log.read_text()[-3000:]) from None
