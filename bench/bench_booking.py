"""The 08:00 booking rush: 200 citizens at once, half reading availability and half booking scarce places.

Load: wrk (a compiled generator), one thread and one connection per citizen, each with its own token.
Two wrk processes run together: 100 connections read ``GET /api/v1/halls/<id>/availability`` and 100
book ``POST /api/v1/appointments`` (a fresh ``Idempotency-Key`` each time, a slot among the offered
ones) — so availability and booking latencies are measured apart. Baseline in the same run: bare
``GET /healthz`` with 200 connections. 50 places for 200 citizens: the rush sells out, and the rest of
the run is what a rush mostly is — refusals (409 slot_full / already_booked_item).

    .venv/bin/python bench/bench_booking.py [--seconds 10]
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_appointments \\
      REDIS_URL=redis://127.0.0.1:6379/10 CELERY_BROKER_URL=redis://127.0.0.1:6379/11 \\
      .venv/bin/python bench/bench_booking.py   # PostgreSQL (its schema is reset!)

Server: gunicorn as ``scripts/run.sh`` runs it. Rate limits are raised: a closed-loop client repeats
requests back to back, which a phone does not. Prints requests/s and p50/p99 per phase, the ratios, the
statements per availability and per booking, the generator's CPU share, and the overbooking count from
the database (must be 0; the script exits 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Phone, Server, run_wrk, statements_per_request  # noqa: E402

CLIENTS = 200
WINDOWS = 10  # places per slot
SLOTS_OFFERED = 5  # 50 places for 200 clients: scarce
ITEM = "330200-MZ-001"


def _prepare() -> tuple[int, list[str]]:
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
        citizens.append(issue_tokens(CITIZEN, account.id).access_token)
    db.session.commit()
    return hall.id, citizens


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


def _offered_slots(app, hall_id: int, token: str) -> list[str]:
    """The first released slots (what the bookers aim at), read once before the rush."""
    answer = app.test_client().get(
        f"/api/v1/halls/{hall_id}/availability", query_string={"item_code": ITEM}, headers={"Authorization": f"Bearer {token}"}
    )
    starts = [slot["start"] for day in answer.get_json()["days"] if day["released"] for slot in day["slots"] if slot["remaining"] > 0]
    return starts[:SLOTS_OFFERED]


def _stats(result: dict) -> str:
    return (
        f"{result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms  "
        f"statuses {dict(sorted(result['statuses'].items()))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-booking-")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["APPOINTMENTS_BOOKING_LIMIT"] = "1000000 per minute"
    os.environ["APPOINTMENTS_BOOKING_IP_LIMIT"] = "1000000 per minute"  # one client address for everybody here
    os.environ["APPOINTMENTS_AVAILABILITY_LIMIT"] = "1000000 per minute"
    if os.environ.get("REDIS_URL"):
        import redis

        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    from mobile_api import create_app

    app = create_app()
    with app.app_context():
        hall_id, tokens = _prepare()
        offered = _offered_slots(app, hall_id, tokens[0])
    if len(offered) < SLOTS_OFFERED:
        raise SystemExit(f"only {len(offered)} released slots to book")
    availability = f"/api/v1/halls/{hall_id}/availability?item_code={ITEM}"
    readers, bookers = tokens[: CLIENTS // 2], tokens[CLIENTS // 2 :]
    # Statements, in-process, before the rush: availability twice (warm), one booking by a spare citizen.
    spare = tokens[-1]
    counts = statements_per_request(
        dict(os.environ),
        [
            Phone("GET", availability, spare),
            Phone("GET", availability, spare),
            Phone("POST", "/api/v1/appointments", spare, {"hall_id": hall_id, "item_code": ITEM, "start": offered[-1]}),
        ],
    )
    bookers = bookers[:-1]
    server = Server(dict(os.environ))
    try:
        bare, bare_share = run_wrk({"bare": [Phone("GET", "/healthz") for _ in range(CLIENTS)]}, server.url, args.seconds / 2)
        rush, rush_share = run_wrk(
            {
                "availability": [Phone("GET", availability, token) for token in readers],
                "booking": [
                    Phone("POST", "/api/v1/appointments", token, {"hall_id": hall_id, "item_code": ITEM, "start": start})
                    for token, start in zip(bookers, offered * len(bookers), strict=False)
                ],
            },
            server.url,
            args.seconds,
        )
    finally:
        server.stop()

    with app.app_context():
        overbooked, active = _overbooked()
    bare = bare["bare"]
    rush_rps = rush["availability"]["rps"] + rush["booking"]["rps"]
    backend = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgresql") else "sqlite"
    print(f"booking rush on {backend}: {CLIENTS} citizens, one wrk connection each; {server.description}")
    print(f"  places offered: {SLOTS_OFFERED} slots x {WINDOWS} windows = {SLOTS_OFFERED * WINDOWS} (one taken by the statement count)")
    print(f"  bare /healthz  {_stats(bare)}")
    print(f"  availability   {_stats(rush['availability'])}")
    print(f"  booking        {_stats(rush['booking'])}")
    print(f"  ratio (availability + booking) / bare req/s: {rush_rps:.0f} / {bare['rps']:.0f} = {rush_rps / bare['rps']:.2f}")
    print(f"  ratio p99 availability / bare p99: {rush['availability']['p99_ms'] / bare['p99_ms']:.1f}x")
    print(f"  ratio p99 booking / bare p99:      {rush['booking']['p99_ms'] / bare['p99_ms']:.1f}x")
    print(f"  SQL statements: availability {counts[0]} cold, {counts[1]} warm; booking {counts[2]}")
    print(f"  wrk CPU share: bare {bare_share:.2f}, rush {rush_share:.2f} (of {os.cpu_count()} cores)")
    print(f"  active bookings in the database: {active}, places: {SLOTS_OFFERED * WINDOWS}")
    print(f"  overbooking count: {overbooked}")
    errors = bare["errors"] + rush["availability"]["errors"] + rush["booking"]["errors"]
    if overbooked or errors:
        raise SystemExit(f"overbooked {overbooked}, 5xx/socket errors {errors}")


if __name__ == "__main__":
    main()
