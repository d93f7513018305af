"""Migration 0010_hall_admin carries existing data over: per-item slots become per-window slots (with
the bookings, held places, offers and held-back places that point at them), the rules' capacity moves
to the windows, closures become special days. Run with ``flask db upgrade`` in a subprocess on a
scratch database: a SQLite file, or a schema of its own on PostgreSQL when the suite runs there."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # three Flask processes run Alembic

START = datetime(2030, 1, 7, 1, 0, tzinfo=UTC)  # a Monday, 09:00 in the city
END = datetime(2030, 1, 7, 1, 30, tzinfo=UTC)


@pytest.fixture()
def scratch_url(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migration.sqlite'}", None
        return
    schema = f"migration_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}", schema
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


def _upgrade(url: str, revision: str, tmp_path) -> str:
    env = {**os.environ, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path), "LOAD_DEMO_DATA": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade", revision],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _insert(connection, table: str, **values) -> int | str:
    columns = ", ".join(f'"{name}"' for name in values)
    params = ", ".join(f":{name}" for name in values)
    key = "id"
    return connection.execute(sa.text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING {key}"), values).scalar_one()


def _old_data(connection, json_cast: str) -> dict:
    now = datetime(2029, 12, 30, tzinfo=UTC)
    accounts = []
    for number in range(4):
        accounts.append(_insert(connection, "accounts", id=uuid.uuid4().hex, phone=f"1390000000{number}", level=2, created_at=now))
    hall = _insert(connection, "halls", name="旧大厅", level="street", city="宁波市", address="某路1号", latitude=29.8, longitude=121.5)
    codes = '["330200-MZ-001", "330200-WJ-001"]'
    shared = connection.execute(
        sa.text(f"INSERT INTO hall_windows (hall_id, name, item_codes, active) VALUES (:hall, '1号窗口', {json_cast}, :yes) RETURNING id"),
        {"hall": hall, "codes": codes, "yes": True},
    ).scalar_one()
    for weekday in range(5):
        _insert(
            connection,
            "hall_opening_rules",
            hall_id=hall,
            weekday=weekday,
            opens="09:00:00",
            closes="17:00:00",
            slot_minutes=30,
            per_window=1,
        )
    _insert(connection, "hall_closures", hall_id=hall, day="2030-01-08", reason="系统升级")
    # The bug: one window serving two items, and one place booked per item at the same time.
    slot_a = _insert(
        connection, "appointment_slots", hall_id=hall, item_code="330200-MZ-001", day="2030-01-07",
        start=START, end=END, capacity=1, booked=1, held=0,
    )  # fmt: skip
    slot_b = _insert(
        connection, "appointment_slots", hall_id=hall, item_code="330200-WJ-001", day="2030-01-07",
        start=START, end=END, capacity=1, booked=0, held=1,
    )  # fmt: skip
    booking = dict(code="", item_code="330200-MZ-001", start=START, end=END, green_channel=False, created_at=now)
    active = _insert(
        connection, "appointments", **{**booking, "code": "AAAA2222", "id": uuid.uuid4().hex, "account_id": accounts[0], "hall_id": hall,
        "slot_id": slot_a, "status": "booked", "reminded_day_before": False, "reminded_hour_before": False},
    )  # fmt: skip
    cancelled = _insert(
        connection, "appointments", **{**booking, "code": "BBBB3333", "item_code": "330200-WJ-001", "id": uuid.uuid4().hex,
        "account_id": accounts[1], "hall_id": hall, "slot_id": slot_b, "status": "cancelled", "reminded_day_before": False,
        "reminded_hour_before": False},
    )  # fmt: skip
    offer = _insert(
        connection, "appointment_waitlist", id=uuid.uuid4().hex, account_id=accounts[2], hall_id=hall, item_code="330200-WJ-001",
        day="2030-01-07", status="offered", offered_slot_id=slot_b, offer_expires_at=now, created_at=now,
    )  # fmt: skip
    release = _insert(connection, "appointment_place_releases", slot_id=slot_b, release_at=now, done=True)
    _insert(
        connection, "queue_tickets", hall_id=hall, day="2030-01-07", ticket_no="A001", item_code="330200-MZ-001", rank=1,
        booking_id=active, account_id=accounts[0], status="waiting", recalls=0, issued_at=now,
    )  # fmt: skip
    return {"hall": hall, "window": shared, "active": active, "cancelled": cancelled, "offer": offer, "release": release}


def test_existing_halls_slots_and_bookings_are_carried_over(scratch_url, tmp_path):
    url, _schema = scratch_url
    for revision in ("0004_cases", "0005_appointments"):
        _upgrade(url, revision, tmp_path)
    engine = sa.create_engine(url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        old = _old_data(connection, "CAST(:codes AS JSON)" if postgres else ":codes")
    output = _upgrade(url, "0010_hall_admin", tmp_path)
    assert "1 window slot(s) keep more bookings than the window takes" in output

    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id, window_id, capacity, booked, held FROM appointment_window_slots")).mappings().all()
        # Both old rows land on the one window: 1 booked + 1 held, so its capacity is raised to the 2 promised.
        assert [(row["window_id"], row["capacity"], row["booked"], row["held"]) for row in rows] == [(old["window"], 2, 1, 1)]
        row_id = rows[0]["id"]
        slot_of = dict(connection.execute(sa.text("SELECT id, slot_id FROM appointments")).all())
        assert slot_of == {old["active"]: row_id, old["cancelled"]: row_id}
        offered = connection.execute(sa.text("SELECT offered_slot_id FROM appointment_waitlist")).scalar_one()
        released = connection.execute(sa.text("SELECT slot_id FROM appointment_place_releases")).scalar_one()
        assert offered == released == row_id
        assert connection.execute(sa.text("SELECT per_slot FROM hall_windows")).scalar_one() == 1
        special = connection.execute(sa.text("SELECT kind, reason FROM hall_special_days")).one()
        assert tuple(special) == ("closed", "系统升级")
        assert connection.execute(sa.text("SELECT booking_id FROM queue_tickets")).scalar_one() == old["active"]
        tables = set(sa.inspect(connection).get_table_names())
        assert "appointment_slots" not in tables and "hall_closures" not in tables and "queue_events" in tables
        if not postgres:
            assert connection.execute(sa.text("PRAGMA foreign_key_check")).all() == []
        # The partial unique index survived: the same citizen may book the item again once cancelled.
        indexes = {index["name"]: index for index in sa.inspect(connection).get_indexes("appointments")}
        assert indexes["uq_appointments_active_item"]["unique"]
    engine.dispose()
