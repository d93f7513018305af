"""Benchmark: messages/s end-to-end through ``notify()`` → broker → worker → local HTTP SMS gateway,
against a no-op task through the same broker and the same worker, measured in the same run.

    python bench/bench_notifications.py [--messages 300] [--concurrency 2] [--per-transaction 50] [--writers 1] [--drain]

Embedded default (fresh SQLite database + SQLite broker in a temporary folder) unless DATABASE_URL /
CELERY_BROKER_URL / REDIS_URL are set (then PostgreSQL / Redis; use your own database and Redis DBs:
the schema is recreated). Everything runs on 127.0.0.1. The baseline is one no-op task per message,
counted by the worker's "succeeded" log lines; the pipeline is done when the database has every
message ``sent`` by the gateway (the worker sends them in batches: ``notifications/batch.py``).
``--per-transaction`` is how many messages one committed transaction writes (50: a bulk notice;
1: every message its own request — then give it ``--writers 8``, as eight requests at once, or the one
writing thread is what is measured). ``--drain`` stops the worker while both queues fill and times the
drain from its resumption: the worker side alone, for either. Prints both rates and their ratio.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-notifications-"))
os.environ.setdefault("INSTANCE_PATH", str(TMP))
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["APP_ENV"] = "development"

from tests.notifications.fakes import FakeSmsGateway  # noqa: E402  (a local server speaking the gateway protocol)

GATEWAY_KEY = "bench-key"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--prefetch", type=int, default=8, help="worker prefetch multiplier (scripts/run.sh runs the notify worker with 8)")
    parser.add_argument("--pool", default="prefork", choices=("prefork", "threads"), help="worker pool")
    parser.add_argument("--timeout", type=float, default=100.0, help="give up after this many seconds per workload")
    parser.add_argument("--per-transaction", type=int, default=50, help="messages written by one committed transaction")
    parser.add_argument("--writers", type=int, default=1, help="threads writing messages at once (as concurrent web requests)")
    parser.add_argument("--drain", action="store_true", help="stop the worker while publishing; measure the drain (the worker side alone)")
    args = parser.parse_args()

    gateway = FakeSmsGateway("bench", GATEWAY_KEY)
    os.environ.update(
        {
            "SMS_PROVIDER": "http",
            "SMS_GATEWAYS": f"bench={gateway.url}",
            "SMS_GATEWAY_KEYS": f"bench={GATEWAY_KEY}",
            "NOTIFY_QUIET_HOURS": "00:00-00:00",
            "NOTIFY_SMS_PER_RECIPIENT": "1000000",
        }
    )
    app = _fresh_app()
    web, worker_side = _statements_per_message(app)  # before the worker starts: nobody else sends it
    batched = _statements_per_message_in_a_batch(app, 50)
    log_path = TMP / "worker.log"
    worker = _start_worker(log_path, args.concurrency, args.prefetch, args.pool)
    try:
        _warm_up(app, log_path, gateway)
        paused = worker.pid if args.drain else None
        noops = _succeeded_counter(log_path, "notifications.noop")
        baseline = _run("no-op task", args.messages, args.timeout, noops, _publish_noops, paused)
        writes = _notify_batch(app, args.per_transaction, args.writers)
        pipeline = _run("notify() → SMS gateway", args.messages, args.timeout, _sent_counter(app), writes, paused)
        received = sum(1 for count in gateway.posts.values() if count)
        twice = len(gateway.sent_twice())
    finally:
        os.killpg(worker.pid, 9)
        worker.wait()
        gateway.close()
    print(
        f"broker: {app.config['CELERY_BROKER_URL'].split('://')[0]}, database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, "
        f"worker pool {args.pool}, concurrency {args.concurrency}, prefetch {args.prefetch}, {args.messages} messages each, "
        f"{args.per_transaction} per transaction, {args.writers} writer thread(s){', drain' if args.drain else ''}"
    )
    print(f"baseline  no-op task          : {baseline:8.1f} tasks/s")
    print(f"pipeline  notify()→worker→SMS : {pipeline:8.1f} messages/s  (gateway received {received}, sent twice {twice})")
    print(f"ratio pipeline/baseline       : {pipeline / baseline:8.2f}  (aim ≥ 0.5)")
    print(f"SQL statements per message    : {web} notify() + publish, {worker_side} in the worker (alone; in a batch of 50: {batched:.2f})")


def _statements_per_message(app) -> tuple[int, int]:
    """One message counted in-process: notify() and its publish after commit, then the worker's send()
    (run here, before any worker exists, against the same local gateway; the task it published finds
    the message delivered and does nothing)."""
    from sqlalchemy import event

    from mobile_api.extensions import db
    from notifications.service import notify, send

    counts: list[list[str]] = [[], []]
    with app.app_context():
        engine = db.engine
        for index, step in enumerate(("notify", "send")):

            def count(_conn, _cursor, statement, *_args, into=counts[index]) -> None:
                into.append(statement)

            event.listen(engine, "before_cursor_execute", count)
            try:
                if step == "notify":
                    notification_id = notify("13900000000", "notifications.sms_notice", {"content": "统计"}, dedupe_key=uuid.uuid4().hex)
                    db.session.commit()
                else:
                    send(notification_id)
            finally:
                event.remove(engine, "before_cursor_execute", count)
        db.session.remove()
    return len(counts[0]), len(counts[1])


def _fresh_app():
    from flask_migrate import upgrade
    from sqlalchemy import text

    from mobile_api import create_app
    from mobile_api.extensions import db

    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name, "")
        if url.startswith("redis"):
            import redis

            redis.Redis.from_url(url).flushdb()
    app = create_app()
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade(directory=str(ROOT / "migrations"), revision="heads")
    return app


def _start_worker(log_path: Path, concurrency: int, prefetch: int, pool: str) -> subprocess.Popen:
    from mobile_api.queues import QueueNames

    log = log_path.open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "mobile_api.worker",
            "worker",
            "-Q",
            f"{QueueNames.NOTIFY},{QueueNames.URGENT}",
            "-c",
            str(concurrency),
            "-n",
            f"bench{uuid.uuid4().hex[:6]}@%h",
            "--loglevel=INFO",
            f"--prefetch-multiplier={prefetch}",
            f"--pool={pool}",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while b" ready." not in log_path.read_bytes():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"worker did not start, see {log_path}")
        time.sleep(0.2)
    return process


def _succeeded_counter(log_path: Path, task_name: str):
    marker = f"Task {task_name}[".encode()

    def count() -> int:
        return sum(1 for line in log_path.read_bytes().splitlines() if marker in line and b"succeeded" in line)

    return count


def _sent_counter(app):
    """Messages a gateway has accepted (sent or delivered), as the database says."""
    from sqlalchemy import func, select

    from mobile_api.extensions import db
    from notifications.models import Notification

    def count() -> int:
        with app.app_context():
            try:
                return db.session.scalar(select(func.count()).where(Notification.status.in_(("sent", "delivered"))))
            finally:
                db.session.remove()

    return count


def _statements_per_message_in_a_batch(app, size: int) -> float:
    """The worker's statements per message when ``size`` messages arrive as one batch."""
    from sqlalchemy import event

    from mobile_api.extensions import db
    from notifications.service import notify, send_batch

    statements: list[str] = []
    with app.app_context():
        ids = [notify(f"138{n:08d}", "notifications.sms_notice", {"content": "统计"}, dedupe_key=uuid.uuid4().hex) for n in range(size)]
        db.session.commit()

        def count(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            send_batch(ids)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        db.session.remove()
    return len(statements) / size


def _publish_noops(count: int) -> None:
    from mobile_api.queues import QueueNames
    from notifications.tasks import noop

    for n in range(count):
        noop.apply_async((n,), queue=QueueNames.NOTIFY)


def _notify_batch(app, batch: int, threads: int = 1):
    """Write ``count`` messages, ``batch`` per committed transaction, from ``threads`` threads at once (as
    many web requests would)."""

    def write(numbers: range) -> None:
        from mobile_api.extensions import db
        from notifications.service import notify

        with app.app_context():
            for start in range(numbers.start, numbers.stop, batch):
                for n in range(start, min(numbers.stop, start + batch)):
                    notify(
                        f"139{n:08d}", "notifications.sms_notice", {"content": f"您的证照已寄出{n}"}, dedupe_key=f"bench:{uuid.uuid4().hex}"
                    )
                db.session.commit()  # one domain transaction per batch; published after commit
            db.session.remove()

    def publish(count: int) -> None:
        share = -(-count // threads)
        parts = [range(at, min(count, at + share)) for at in range(0, count, share)]
        with ThreadPoolExecutor(len(parts)) as pool:
            list(pool.map(write, parts))

    return publish


def _run(label: str, count: int, timeout: float, done, publish, paused_worker: int | None = None) -> float:
    """Publish ``count`` and wait until ``done()`` has grown by ``count``; the rate from the start. With
    ``paused_worker`` (a process group), the worker is stopped while the queue fills and the rate is the
    drain from when it resumes: the worker side alone."""
    before = done()
    if paused_worker:
        os.killpg(paused_worker, signal.SIGSTOP)
    started = time.monotonic()
    publish(count)
    published = time.monotonic() - started
    if paused_worker:
        started = time.monotonic()
        os.killpg(paused_worker, signal.SIGCONT)
    while done() - before < count:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"{label}: only {done() - before}/{count} done after {timeout} s")
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    print(f"{label}: {count} in {elapsed:.2f} s (publishing took {published:.2f} s)", flush=True)
    return count / elapsed


def _warm_up(app, log_path: Path, gateway: FakeSmsGateway) -> None:
    """One round of each so that imports, connection pools and caches are not measured."""
    _run("warm-up no-op", 10, 60, _succeeded_counter(log_path, "notifications.noop"), _publish_noops)
    _run("warm-up notify", 10, 60, _sent_counter(app), _notify_batch(app, 10))
    gateway.reset()


if __name__ == "__main__":
    main()
