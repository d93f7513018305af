"""Shared bench plumbing: a real gunicorn server on loopback and a bounded closed-loop load generator."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def bench_environment() -> dict[str, str]:
    """Embedded default in a fresh temp folder unless DATABASE_URL etc. are already set."""
    env = dict(os.environ)
    env.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="mobile-api-bench-"))
    env.setdefault("LOG_LEVEL", "WARNING")
    env["RATELIMIT_ENABLED"] = "0"  # measure the endpoint, not the limiter refusing us
    return env


def prepare_database(env: dict[str, str]) -> None:
    flask = [sys.executable, "-m", "flask", "--app", "wsgi.py"]
    for command in (["db", "upgrade", "heads"], ["calendar", "sync"], ["seed-demo"]):
        subprocess.run(flask + command, cwd=ROOT, env=env, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving wsgi:app on 127.0.0.1, as in production (workers × threads)."""

    def __init__(self, env: dict[str, str], workers: int = 2, threads: int = 4) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def run_load(request: Callable[[requests.Session], requests.Response], clients: int, seconds: float) -> dict:
    """``clients`` threads, each a keep-alive session, issuing requests back to back for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        nonlocal errors
        session = requests.Session()
        mine, bad = [], 0
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            response = request(session)
            mine.append(time.perf_counter() - started)
            bad += response.status_code >= 400
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0,
        "errors": errors,
    }
