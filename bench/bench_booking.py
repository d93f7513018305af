"""The booking rush: 200 concurrent clients look at availability and book scarce places.

Measured in the same run against the bare endpoint (``GET /healthz``: routing + JSON, no database)
under the same 200 concurrent clients, so the printed ratios mean something on any machine:

    python bench/bench_booking.py              # embedded default: a fresh SQLite in a temp folder
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_appointments \\
      REDIS_URL=redis://127.0.0.1:6379/10 python bench/bench_booking.py   # PostgreSQL (schema is reset!)

Servers: gunicorn, 3 worker processes × 8 threads on 127.0.0.1. Clients: 4 processes × 50 threads.
Prints requests/s and p50/p99 per phase, the ratios, and the overbooking count (must be 0).
Bounded: a few hundred requests per phase, well under 2 minutes.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLIENTS = 200
CLIENT_PROCESSES = 4
BARE_ROUNDS = 3  # requests per client against /healthz
WINDOWS = 10  # places per slot
SLOTS_OFFERED = 5  # 50 places for 200 clients: scarce
ITEM = "330200-MZ-001"


# --- client side (runs in spawned processes) --------------------------------------------------------


def _client_batch(job: tuple) -> list[tuple[str, int, float]]:
    """Threads released together; each runs its plan of requests; returns (phase, status, seconds)."""
    import requests

    plans = job
    records: list[tuple[str, int, float]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(plans))

    def run(plan: list[tuple[str, str, str, dict, dict | None]]) -> None:
        session = requests.Session()
        barrier.wait()
        for phase, method, url, headers, body in plan:
            if phase == "booking":
                continue  # sent below, with a slot picked from the availability answer
            began = time.perf_counter()
            try:
                response = session.request(method, url, headers=headers, json=body, timeout=120)
                status = response.status_code
                payload = response.json() if response.headers.get("content-type", "").endswith("json") else {}
            except requests.RequestException:
                status, payload = 0, {}
            elapsed = time.perf_counter() - began
            with lock:
                records.append((phase, status, elapsed))
            if phase == "availability" and status == 200:
                # Book a random offered slot that still shows free places (what an app would do).
                free = [slot["start"] for day in payload["days"] for slot in day["slots"] if slot["remaining"] > 0]
                offered = [slot["start"] for day in payload["days"] for slot in day["slots"]][:SLOTS_OFFERED]
                choice = random.choice([start for start in free if start in offered] or offered)
                book_url, book_headers, book_body = plan[-1][2], plan[-1][3], {**plan[-1][4], "start": choice}
                began = time.perf_counter()
                try:
                    status = session.post(book_url, headers=book_headers, json=book_body, timeout=120).status_code
                except requests.RequestException:
                    status = 0
                with lock:
                    records.append(("booking", status, time.perf_counter() - began))

    threads = [threading.Thread(target=run, args=(plan,)) for plan in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return records


def _rush(plans: list) -> tuple[list[tuple[str, int, float]], float]:
    chunks = [plans[index::CLIENT_PROCESSES] for index in range(CLIENT_PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(CLIENT_PROCESSES) as pool:
        began = time.perf_counter()
        results = pool.map(_client_batch, chunks)
        wall = time.perf_counter() - began
    return [record for chunk in results for record in chunk], wall


# --- server side -----------------------------------------------------------------------------------


def _prepare(app) -> tuple[int, list[dict]]:
    """Fresh schema, calendar, catalog, one hall with WINDOWS windows, CLIENTS level-2 citizens."""
    from datetime import time as clock

    from flask_migrate import upgrade
    from sqlalchemy import select, text

    from appointments.demo_data import seed_halls
    from appointments.models import Hall, OpeningRule, Window
    from auth.models import Account
    from auth.tokens import issue_tokens
    from cases.demo_data import seed_catalog
    from cases.models import ServiceItem
    from mobile_api.access import CITIZEN
    from mobile_api.extensions import db
    from mobile_api.workdays import seed_from_chinesecalendar

    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(directory=str(ROOT / "migrations"), revision="heads")
    seed_from_chinesecalendar()
    seed_catalog(seed_halls())
    hall = Hall(
        name="压测大厅",
        level="district",
        city="宁波市",
        district="海曙区",
        street=None,
        address="压测路1号",
        phone=None,
        latitude=29.88,
        longitude=121.50,
    )
    db.session.add(hall)
    db.session.flush()
    for number in range(WINDOWS):
        db.session.add(Window(hall_id=hall.id, name=f"{number + 1}号窗口", item_codes=[ITEM], per_slot=1))
    for weekday in range(5):
        db.session.add(
            OpeningRule(
                hall_id=hall.id,
                weekday=weekday,
                opens=clock(9),
                closes=clock(17),
                break_start=clock(12),
                break_end=clock(13, 30),
                slot_minutes=30,
            )
        )
    for item in db.session.scalars(select(ServiceItem).where(ServiceItem.code == ITEM)):
        item.hall_ids = [*item.hall_ids, hall.id]
    citizens = []
    for index in range(CLIENTS):
        account = Account(phone=f"137{index:08d}", level=2)
        db.session.add(account)
        db.session.flush()
        citizens.append({"Authorization": f"Bearer {issue_tokens(CITIZEN, account.id).access_token}"})
    db.session.commit()
    return hall.id, citizens


def _start_gunicorn(env: dict) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "3", "--threads", "8", "-b", f"127.0.0.1:{port}", "--timeout", "120", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return process, base
        except requests.RequestException:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("gunicorn did not start")


def _stats(records: list[tuple[str, int, float]], phase: str, wall: float) -> dict:
    latencies = sorted(seconds for name, _, seconds in records if name == phase)
    count = len(latencies)
    return {
        "count": count,
        "rps": count / wall if wall else 0.0,
        "p50": latencies[count // 2] * 1000 if count else 0.0,
        "p99": latencies[min(count - 1, int(count * 0.99))] * 1000 if count else 0.0,
        "statuses": sorted({status for name, status, _ in records if name == phase}),
        "5xx": sum(1 for name, status, _ in records if name == phase and (status >= 500 or status == 0)),
    }


def _overbooked() -> tuple[int, int]:
    """(places booked beyond capacity, active bookings) from the database, counted two ways."""
    from sqlalchemy import func, select

    from appointments.models import Booking, BookingStatus, Slot
    from mobile_api.extensions import db

    db.session.expire_all()
    per_slot = db.session.execute(
        select(Slot.id, Slot.capacity, Slot.booked, func.count(Booking.id))
        .join(Booking, (Booking.slot_id == Slot.id) & (Booking.status == BookingStatus.BOOKED), isouter=True)
        .group_by(Slot.id, Slot.capacity, Slot.booked)
    ).all()
    over = sum(max(0, count - capacity) + max(0, booked - capacity) for _, capacity, booked, count in per_slot)
    return over, sum(count for *_, count in per_slot)


def main() -> None:
    if not os.environ.get("DATABASE_URL"):
        os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-booking-")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["APPOINTMENTS_BOOKING_IP_LIMIT"] = "1000000 per minute"  # one client address for everybody here
    os.environ["APPOINTMENTS_AVAILABILITY_LIMIT"] = "1000000 per minute"
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    from mobile_api import create_app

    app = create_app()
    with app.app_context():
        hall_id, citizens = _prepare(app)
    process, base = _start_gunicorn({**os.environ})
    try:
        bare_plans = [[("bare", "GET", f"{base}/healthz", {}, None)] * BARE_ROUNDS for _ in range(CLIENTS)]
        bare_records, bare_wall = _rush(bare_plans)
        rush_plans = [
            [
                ("availability", "GET", f"{base}/api/v1/halls/{hall_id}/availability?item_code={ITEM}", headers, None),
                (
                    "booking",
                    "POST",
                    f"{base}/api/v1/appointments",
                    {**headers, "Idempotency-Key": uuid.uuid4().hex},
                    {"hall_id": hall_id, "item_code": ITEM},
                ),
            ]
            for headers in citizens
        ]
        rush_records, rush_wall = _rush(rush_plans)
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)

    with app.app_context():
        overbooked, active = _overbooked()
    bare = _stats(bare_records, "bare", bare_wall)
    availability = _stats(rush_records, "availability", rush_wall)
    booking = _stats(rush_records, "booking", rush_wall)
    rush_rps = (availability["count"] + booking["count"]) / rush_wall
    backend = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"
    print(f"booking rush on {backend}: {CLIENTS} concurrent clients (4 processes), gunicorn 3 workers x 8 threads")
    print(f"  places offered: {SLOTS_OFFERED} slots x {WINDOWS} = {SLOTS_OFFERED * WINDOWS}")
    for name, stats in (("bare /healthz", bare), ("availability", availability), ("booking", booking)):
        print(
            f"  {name:14s} n={stats['count']:4d}  p50={stats['p50']:7.1f} ms  p99={stats['p99']:7.1f} ms  "
            f"statuses={stats['statuses']}  5xx/errors={stats['5xx']}"
        )
    print(f"  requests/s: bare {bare['rps']:.0f}, rush (availability+booking) {rush_rps:.0f}")
    print(f"  ratio rush/bare requests/s: {rush_rps / bare['rps']:.2f}")
    print(f"  ratio p99 availability/bare: {availability['p99'] / bare['p99']:.1f}x")
    print(f"  ratio p99 booking/bare:      {booking['p99'] / bare['p99']:.1f}x")
    booked_ok = sum(1 for name, status, _ in rush_records if name == "booking" and status == 201)
    print(f"  bookings 201: {booked_ok}, active bookings in the database: {active}, places: {SLOTS_OFFERED * WINDOWS}")
    print(f"  overbooking count: {overbooked}")
    if overbooked or booking["5xx"] or availability["5xx"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
