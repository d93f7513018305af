"""Test fixtures: a real database, a real broker, real Celery worker processes, a live HTTP server.

With no environment the suite runs on the embedded default (a fresh SQLite database and a SQLite
broker in a temporary folder). With ``DATABASE_URL`` / ``REDIS_URL`` / ``CELERY_BROKER_URL`` set it
runs on PostgreSQL and Redis; under ``CI=true`` an unreachable service fails the run.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_TMP = Path(tempfile.mkdtemp(prefix="mobile-api-tests-"))
os.environ.setdefault("INSTANCE_PATH", str(_TMP))
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["APP_ENV"] = "development"
# Tests must not depend on the hour they run at (CI may run inside 22:00–08:00) nor on how many
# messages one test citizen gets: quiet hours off and a generous per-recipient SMS limit by default;
# the notification tests that exercise both set them explicitly.
os.environ.setdefault("NOTIFY_QUIET_HOURS", "00:00-00:00")
os.environ.setdefault("NOTIFY_SMS_PER_RECIPIENT", "1000")

from tests.support import wait_for  # noqa: E402


def _reset_database(app) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import text

    from mobile_api.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"), revision="heads")


def _reset_redis() -> None:
    import redis

    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name, "")
        if url.startswith("redis"):
            redis.Redis.from_url(url).flushdb()


@pytest.fixture(scope="session")
def app():
    from mobile_api import create_app

    _reset_redis()
    application = create_app({"TESTING": True})
    _reset_database(application)
    with application.app_context():
        from mobile_api.demo import seed_demo_data
        from mobile_api.workdays import seed_from_chinesecalendar

        seed_from_chinesecalendar()
        seed_demo_data(application)
    yield application


@pytest.fixture()
def app_context(app):
    with app.app_context():
        yield app
        from mobile_api.extensions import db

        db.session.remove()


class CeleryWorker:
    """A real ``celery worker`` process on every queue, restartable (for kill -9 tests)."""

    def __init__(self, queues: str = "urgent,notify,face,express,default", concurrency: int = 2) -> None:
        self.queues, self.concurrency = queues, concurrency
        self.process: subprocess.Popen | None = None
        self.log_path = _TMP / f"worker-{random.randrange(10**9)}.log"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mobile_api.worker",
                "worker",
                "-Q",
                self.queues,
                "-c",
                str(self.concurrency),
                "-n",
                f"test{random.randrange(10**6)}@%h",
                "--loglevel=INFO",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
            start_new_session=True,
        )
        wait_for(lambda: b" ready." in self.log_path.read_bytes(), timeout=60, what="celery worker ready")

    def stop(self, sig: int = signal.SIGQUIT, grace: float = 5.0) -> None:
        """Stop the worker and wait until every process of it has exited.

        ``SIGQUIT`` (the default) goes to the main process only: a cold shutdown, which abandons
        running tasks and hands prefetched messages back to the broker without waiting for them.
        Whatever is still alive after ``grace`` seconds — or at once with ``sig=SIGKILL`` — is
        killed with its whole process group. (A SIGTERM to the whole group, as this used to send,
        kills the pool children under a *warm* shutdown, which then waits for them until its timeout:
        30 s at the end of every session.)
        """
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None and sig != signal.SIGKILL:
            process.send_signal(sig)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        # Also reaps pool children that outlived their parent; the group is empty when all are gone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def celery_worker(app):
    worker = CeleryWorker()
    worker.start()
    yield worker
    # The session is over: nothing the worker still holds matters, so no shutdown is waited for.
    worker.stop(sig=signal.SIGKILL)


@pytest.fixture()
def client(app):
    """A test client with its own made-up client address, so per-IP limits don't leak across tests."""
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    test_client = app.test_client()
    test_client.environ_base["REMOTE_ADDR"] = address
    return test_client


@pytest.fixture(scope="session")
def live_server(app):
    """The app served over real HTTP on a free loopback port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    # A short poll interval: shutdown() waits for the serving loop to notice, up to one interval.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture()
def redis_client():
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not reachable and CI=true: failing instead of skipping")
        pytest.skip("Redis not reachable")
    return client
