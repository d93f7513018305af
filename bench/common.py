"""Shared bench plumbing: a real gunicorn server on loopback and a bounded closed-loop load generator."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
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
    """gunicorn serving wsgi:app on 127.0.0.1 as ``scripts/run.sh`` runs it: ``WEB_WORKERS`` processes
    (default 4 with Redis, 1 without — the embedded default keeps rate limits in process memory) × 8
    threads, ``--keep-alive 0`` (every answer closes its connection, as behind the HTTPS proxy)."""

    def __init__(self, env: dict[str, str], workers: int | None = None, threads: int = 8, app_module: str = "wsgi:app") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers or int(env.get("WEB_WORKERS") or (4 if env.get("REDIS_URL") else 1))
        self.threads = threads
        command = [sys.executable, "-m", "gunicorn", "-c", "scripts/gunicorn.conf.py", "-w", str(self.workers)]
        command += ["--threads", str(threads), "--keep-alive", "0", "--timeout", "120", "-b", f"127.0.0.1:{self.port}", app_module]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    @property
    def description(self) -> str:
        return f"gunicorn {self.workers} worker(s) x {self.threads} threads, keep-alive 0 (as scripts/run.sh)"

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


# --- wrk: the compiled load generator ----------------------------------------------------------------
# A Python client on 2 cores held /healthz to a fifth of its real rate and flattered every ratio; wrk
# (C, epoll) uses a small share of a CPU. One wrk thread per connection, and each connection is one
# phone: its own token (and body) from a line of a requests file.

WRK_LUA = r"""
local file, count, run = "%(requests)s", %(count)d, "%(run)s"
local next_id = 0
local threads = {}
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end
local method, path, token, body, id
local counter = 0
statuses = {}
function init(args)
  id = tonumber(wrk.thread:get("id"))
  local index = 0
  for line in io.lines(file) do
    if index == id %% count then
      method, path, token, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    end
    index = index + 1
  end
end
function request()
  counter = counter + 1
  local headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  if body ~= "" then
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = run .. "-" .. id .. "-" .. counter
    return wrk.format(method, path, headers, body)
  end
  return wrk.format(method, path, headers)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do parts[#parts + 1] = string.format('"%%d": %%d', status, n) end
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "seconds": %%.3f, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "socket_errors": %%d, "statuses": {%%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    table.concat(parts, ", ")))
end
"""


@dataclass
class Phone:
    """One connection of a wrk run: a request line (token and body optional)."""

    method: str
    path: str
    token: str = ""
    body: dict | None = None


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("wrk is needed: apt-get install wrk (Debian/Ubuntu) or brew install wrk")


def start_wrk(base_url: str, phones: list[Phone], seconds: float, timeout_s: int = 30) -> subprocess.Popen:
    """wrk with one thread and one connection per phone (each its own token/body), started now."""
    folder = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    lines = [f"{p.method}\t{p.path}\t{p.token}\t{json.dumps(p.body, ensure_ascii=False) if p.body is not None else ''}" for p in phones]
    (folder / "requests.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    script = folder / "phones.lua"
    script.write_text(WRK_LUA % {"requests": folder / "requests.tsv", "count": len(phones), "run": uuid.uuid4().hex[:8]}, encoding="utf-8")
    n = len(phones)
    command = [ensure_wrk(), f"-t{n}", f"-c{n}", f"-d{max(1, round(seconds))}s", f"--timeout={timeout_s}s", "-s", str(script), base_url]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish_wrk(process: subprocess.Popen) -> dict:
    """Wait for a wrk started by ``start_wrk``; its requests/s, latency percentiles (ms) and statuses."""
    out, err = process.communicate()
    match = re.search(r"WRK_JSON (\{.*\})", out)
    if process.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed: {err or out}")
    data = json.loads(match.group(1))
    statuses = {int(status): count for status, count in data["statuses"].items()}
    return {
        "requests": data["requests"],
        "rps": data["requests"] / data["seconds"] if data["seconds"] else 0.0,
        "p50_ms": data["p50_us"] / 1000,
        "p90_ms": data["p90_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "statuses": statuses,
        "errors": sum(count for status, count in statuses.items() if status >= 500) + data["socket_errors"],
    }


def run_wrk(groups: dict[str, list[Phone]], base_url: str, seconds: float) -> tuple[dict[str, dict], float]:
    """Run one wrk per group at the same time; each group's results, and the generators' CPU share
    (CPU seconds of all wrk processes ÷ wall seconds: 1.0 = one whole core)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.monotonic()
    processes = {name: start_wrk(base_url, phones, seconds) for name, phones in groups.items()}
    results = {name: finish_wrk(process) for name, process in processes.items()}
    wall = time.monotonic() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return results, cpu / wall


def statements_per_request(env: dict[str, str], requests: list[Phone], app=None) -> list[int]:
    """SQL statements each request runs, in order, counted in-process (send a request twice to count
    it with warm caches, as under load)."""
    from sqlalchemy import event

    os.environ.update(env)
    from mobile_api import create_app
    from mobile_api.extensions import db

    app = app or create_app()
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    counts = []
    for phone in requests:
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args, into=statements) -> None:
            into.append(statement)

        headers = {"Authorization": f"Bearer {phone.token}"} if phone.token else {}
        if phone.body is not None:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.open(phone.path, method=phone.method, headers=headers, json=phone.body)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        if response.status_code >= 400 and phone.method == "GET":
            raise RuntimeError(f"{phone.method} {phone.path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        if response.status_code >= 500:
            raise RuntimeError(f"{phone.method} {phone.path}: {response.status_code}")
        counts.append(len(statements))
    return counts
