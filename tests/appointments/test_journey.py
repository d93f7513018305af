"""A citizen's whole visit over real HTTP: SMS sign-in, real name, nearest hall, book, remind, check in, be called."""

from __future__ import annotations

import uuid
from datetime import timedelta

import requests

from tests.appointments.conftest import ITEM
from tests.support import bearer, sign_in_level2, staff_token


def test_book_check_in_and_be_called(app, client, live_server, celery_worker):
    from appointments.models import Booking
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow

    citizen = sign_in_level2(app, client)  # SMS code delivered by the worker, ID checked by the registry
    auth = bearer(citizen["access_token"])
    http = requests.Session()

    halls = http.get(f"{live_server}/api/v1/halls", params={"item_code": ITEM, "lat": 29.859, "lng": 121.603}, timeout=10).json()
    hall = halls["items"][0]
    assert hall["name"] == "宁波市民服务中心" and hall["distance_km"] < 0.1
    days = http.get(f"{live_server}/api/v1/halls/{hall['id']}/availability", params={"item_code": ITEM}, timeout=10).json()["days"]
    start = next(slot["start"] for day in days for slot in day["slots"] if slot["remaining"] > 0)
    booked = http.post(
        f"{live_server}/api/v1/appointments",
        json={"hall_id": hall["id"], "item_code": ITEM, "start": start},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
        timeout=10,
    )
    assert booked.status_code == 201, booked.text
    booking = booked.json()
    assert set(booking) >= {"id", "status", "code", "start", "hall"} and booking["status"] == "booked"

    # The day arrives: the visit is due in 10 minutes (test data moved; the clock is not).
    with app.app_context():
        row = db.session.get(Booking, booking["id"])
        row.start, row.end = utcnow() + timedelta(minutes=10), utcnow() + timedelta(minutes=40)
        db.session.commit()
    ticket = http.post(f"{live_server}/api/v1/appointments/{booking['id']}/check-in", headers=auth, timeout=10).json()
    assert ticket["ticket_no"].startswith("A") and ticket["status"] == "waiting"

    clerk = bearer(staff_token(client, "clerk", app.config["DEMO_PASSWORD"]))
    windows = http.get(f"{live_server}/api/v1/halls/{hall['id']}", timeout=10).json()["windows"]
    window = next(w for w in windows if ITEM in w["item_codes"])
    called = None
    for _ in range(50):  # earlier tests may have left tickets in this demo hall's queue today
        response = http.post(
            f"{live_server}/api/v1/staff/halls/{hall['id']}/queue/next", json={"window_id": window["id"]}, headers=clerk, timeout=10
        )
        assert response.status_code == 200, response.text
        if response.json()["ticket_no"] == ticket["ticket_no"]:
            called = response.json()
            break
    assert called is not None and called["window"] == window["name"]
    display = http.get(f"{live_server}/api/v1/halls/{hall['id']}/queue", timeout=10).json()
    assert {"id": window["id"], "name": window["name"], "calling": ticket["ticket_no"]} in display["windows"]
    mine = http.get(f"{live_server}/api/v1/appointments/{booking['id']}", headers=auth, timeout=10).json()
    assert mine["status"] == "checked_in" and mine["ticket"]["status"] == "called"
