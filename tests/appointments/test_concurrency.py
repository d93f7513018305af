"""200 concurrent clients from several processes against several server processes (gunicorn).

Runs on whatever the suite runs on: the embedded default (SQLite) or PostgreSQL + Redis. Exactly
as many bookings as places, every other answer a clean 409, never a 5xx; the same for "next".
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import uuid

import pytest
import requests
from sqlalchemy import func, select

from tests.appointments.conftest import ITEM, create_citizen, create_hall
from tests.appointments.rush import fire
from tests.conftest import ROOT
from tests.support import bearer, wait_for

pytestmark = pytest.mark.slow  # a rush: gunicorn servers and 200 clients in 4 processes

CLIENTS = 200
CLIENT_PROCESSES = 4
PLACES = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def servers(app, tmp_path_factory):
    """Three gunicorn worker processes (8 threads each) on the test database, limits opened for the rush."""
    port = _free_port()
    log = (tmp_path_factory.mktemp("gunicorn") / "gunicorn.log").open("ab")
    env = {
        **os.environ,
        "APPOINTMENTS_BOOKING_IP_LIMIT": "100000 per minute",
        "APPOINTMENTS_AVAILABILITY_LIMIT": "100000 per minute",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "3", "--threads", "8", "-b", f"127.0.0.1:{port}", "--timeout", "120", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def ready():
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(ready, timeout=90, what="gunicorn ready")
        yield base
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def _rush(requests_to_send):
    """Split the requests over CLIENT_PROCESSES processes; each fires its share from threads at once."""
    chunks = [requests_to_send[index::CLIENT_PROCESSES] for index in range(CLIENT_PROCESSES)]
    with multiprocessing.get_context("spawn").Pool(CLIENT_PROCESSES) as pool:
        results = pool.map(fire, [(f"p{index}", chunk) for index, chunk in enumerate(chunks)])
    return [result for chunk in results for result in chunk]


def test_200_clients_book_10_places(app_context, servers):
    from appointments.models import Booking, Slot
    from mobile_api.extensions import db

    hall = create_hall(windows=PLACES)
    citizens = [create_citizen() for _ in range(CLIENTS)]
    days = requests.get(f"{servers}/api/v1/halls/{hall['id']}/availability", params={"item_code": ITEM}, timeout=10).json()["days"]
    start = next(slot["start"] for day in days for slot in day["slots"])
    body = {"hall_id": hall["id"], "item_code": ITEM, "start": start}
    results = _rush(
        [
            ("POST", f"{servers}/api/v1/appointments", {**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex}, body)
            for citizen in citizens
        ]
    )

    statuses = sorted(status for status, _, _ in results)
    assert all(0 < status < 500 for status in statuses), statuses
    assert statuses.count(201) == PLACES
    assert statuses.count(409) == CLIENTS - PLACES
    assert {code for status, code, _ in results if status == 409} == {"slot_full"}
    db.session.expire_all()
    # Capacity belongs to windows: ten one-place windows, each full.
    rows = db.session.scalars(select(Slot).where(Slot.hall_id == hall["id"])).all()
    assert len(rows) == PLACES and all((row.booked, row.capacity) == (1, 1) for row in rows)
    assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.slot_id.in_([row.id for row in rows]))) == PLACES


SHARED_ITEMS = ("330200-MZ-001", "330200-WJ-001", "330200-RS-001")  # all bookable, all served by the same windows


def test_200_clients_over_items_sharing_windows_never_overbook(app_context, servers):
    """Three items served by the same 4 windows (2 citizens a slot each): 8 places at one time,
    shared. 200 clients book the three items at that time at once: 8 bookings in all, whatever the
    item, no window past its capacity — the hall is never promised more than its windows take."""
    from appointments.models import Booking, Slot
    from mobile_api.extensions import db

    hall = create_hall(windows=4, per_window=2, items=list(SHARED_ITEMS))
    citizens = [create_citizen() for _ in range(CLIENTS)]
    days = requests.get(f"{servers}/api/v1/halls/{hall['id']}/availability", params={"item_code": ITEM}, timeout=10).json()["days"]
    start = next(slot["start"] for day in days for slot in day["slots"] if slot["remaining"] > 0)
    for item in SHARED_ITEMS:  # each item alone is offered all 8 places
        item_days = requests.get(f"{servers}/api/v1/halls/{hall['id']}/availability", params={"item_code": item}, timeout=10).json()
        assert next(slot["remaining"] for day in item_days["days"] for slot in day["slots"] if slot["start"] == start) == 8
    results = _rush(
        [
            (
                "POST",
                f"{servers}/api/v1/appointments",
                {**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex},
                {"hall_id": hall["id"], "item_code": SHARED_ITEMS[index % len(SHARED_ITEMS)], "start": start},
            )
            for index, citizen in enumerate(citizens)
        ]
    )

    statuses = sorted(status for status, _, _ in results)
    assert all(0 < status < 500 for status in statuses), statuses
    assert statuses.count(201) == 8 and statuses.count(409) == CLIENTS - 8
    assert {code for status, code, _ in results if status == 409} == {"slot_full"}
    db.session.expire_all()
    rows = db.session.scalars(select(Slot).where(Slot.hall_id == hall["id"])).all()
    assert sorted((row.window_id, row.booked, row.capacity) for row in rows) == [(window, 2, 2) for window in hall["windows"]]
    bookings = db.session.scalars(select(Booking).where(Booking.hall_id == hall["id"], Booking.status == "booked")).all()
    assert len(bookings) == 8  # overbooked across items: 0
    for item in SHARED_ITEMS:  # and now every item sees the time as full
        item_days = requests.get(f"{servers}/api/v1/halls/{hall['id']}/availability", params={"item_code": item}, timeout=10).json()
        assert next(slot["remaining"] for day in item_days["days"] for slot in day["slots"] if slot["start"] == start) == 0
    print(f"\nshared-window rush: {statuses.count(201)} booked over {len(SHARED_ITEMS)} items, 8 places, overbooked 0")


def test_200_next_presses_call_each_ticket_once(app, client, app_context, servers):
    from appointments import queue
    from appointments.models import Ticket
    from auth.models import StaffUser
    from auth.service import create_staff
    from mobile_api.extensions import db
    from mobile_api.roles import WINDOW_CLERK
    from tests.support import staff_token

    hall = create_hall(windows=PLACES)
    username = f"rush{uuid.uuid4().hex[:8]}"
    create_staff(username, app.config["DEMO_PASSWORD"], [WINDOW_CLERK], "叫号压力测试", ["MZ"], [hall["id"]])
    staff = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    issued = {queue.issue_walk_in(staff, hall["id"], ITEM, None)["ticket_no"] for _ in range(PLACES)}
    headers = bearer(staff_token(client, username, app.config["DEMO_PASSWORD"]))
    results = _rush(
        [
            ("POST", f"{servers}/api/v1/staff/halls/{hall['id']}/queue/next", headers, {"window_id": hall["windows"][index % PLACES]})
            for index in range(CLIENTS)
        ]
    )

    statuses = [status for status, _, _ in results]
    assert all(0 < status < 500 for status in statuses), sorted(statuses)
    called = [body["ticket_no"] for status, _, body in results if status == 200]
    assert sorted(called) == sorted(issued)  # every ticket called, none twice
    assert {code for status, code, _ in results if status != 200} == {"queue_empty"}
    db.session.expire_all()
    tickets = db.session.scalars(select(Ticket).where(Ticket.hall_id == hall["id"])).all()
    assert len(tickets) == PLACES and all(ticket.window_id is not None for ticket in tickets)
    # A press marks the window's previous ticket served; presses on an empty queue change nothing, so
    # the last ticket each window claimed is still called. (Two presses of one window at the same
    # instant on PostgreSQL may each leave a ticket called: the display shows the later one.)
    assert {ticket.status for ticket in tickets} <= {"called", "served"}
    assert all((ticket.finished_at is None) == (ticket.status == "called") for ticket in tickets)
    windows_used = {ticket.window_id for ticket in tickets}
    assert windows_used == {ticket.window_id for ticket in tickets if ticket.status == "called"}
