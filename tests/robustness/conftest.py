"""A real gunicorn web process (the production server) on a free port, for socket- and memory-level tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gunicorn:
    def __init__(self, threads: int = 8, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_path = Path(os.environ["INSTANCE_PATH"]) / f"gunicorn-{self.port}.log"
        self.process = subprocess.Popen(
            # As scripts/run.sh starts it (--keep-alive 0: see there).
            [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", str(threads), "--keep-alive", "0"]
            + ["-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        wait_for(self._answers, timeout=60, what="gunicorn answering")

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def worker_pid(self) -> int:
        import psutil

        children = psutil.Process(self.process.pid).children()
        assert len(children) == 1, children
        return children[0].pid

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture(scope="module")
def gunicorn_server(app):
    server = Gunicorn()
    yield server
    server.stop()


@pytest.fixture()
def config_override(app):
    """Change app.config for one test; restored afterwards."""
    saved: dict = {}

    def override(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key))
            app.config[key] = value

    yield override
    app.config.update(saved)
