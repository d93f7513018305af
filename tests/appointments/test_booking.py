"""Halls, availability, booking rules, cancel, reschedule, waitlist — through the HTTP API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from tests.appointments.conftest import ITEM, create_citizen, create_hall, first_free_slots


def _book(client, citizen, hall_id, start, item=ITEM, key=None, **extra):
    headers = {**citizen["headers"], "Idempotency-Key": key or uuid.uuid4().hex}
    return client.post("/api/v1/appointments", json={"hall_id": hall_id, "item_code": item, "start": start, **extra}, headers=headers)


def _remaining(client, hall_id, start, item=ITEM):
    days = client.get(f"/api/v1/halls/{hall_id}/availability", query_string={"item_code": item}).get_json()["days"]
    return next(slot["remaining"] for day in days for slot in day["slots"] if slot["start"] == start)


def test_halls_nearest_first_filtered_by_item(client, hall):
    # Next to the demo street hall (鼓楼街道, 29.8740, 121.5460): it comes before the city centre.
    response = client.get("/api/v1/halls", query_string={"lat": 29.8741, "lng": 121.5461, "per_page": 100})
    assert response.status_code == 200
    items = response.get_json()["items"]
    distances = [item["distance_km"] for item in items]
    assert distances == sorted(distances)
    names = [item["name"] for item in items]
    assert names.index("鼓楼街道便民服务中心") < names.index("宁波市民服务中心")

    only = client.get("/api/v1/halls", query_string={"item_code": "330200-GA-004", "per_page": 100}).get_json()
    assert only["total"] == 0  # 居住证申领 is not bookable anywhere
    bookable = client.get("/api/v1/halls", query_string={"item_code": ITEM, "per_page": 100}).get_json()
    assert hall["id"] in [item["id"] for item in bookable["items"]]
    assert client.get("/api/v1/halls", query_string={"lat": 29.8}).status_code == 422


def test_hall_detail_and_unknown_hall(client, hall):
    body = client.get(f"/api/v1/halls/{hall['id']}").get_json()
    assert [rule["weekday"] for rule in body["opening_hours"]] == [0, 1, 2, 3, 4]
    assert body["opening_hours"][0] == {"weekday": 0, "opens": "09:00", "closes": "17:00", "break": "12:00-13:30", "slot_minutes": 30}
    assert len(body["windows"]) == 2
    missing = client.get("/api/v1/halls/999999")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_availability_from_tomorrow_skips_weekends_and_lunch(client, hall):
    from mobile_api.timeutil import city_today

    body = client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": ITEM}).get_json()
    days = body["days"]
    assert days[0]["date"] == (city_today() + timedelta(days=1)).isoformat()
    for day in days:
        weekday = datetime.fromisoformat(day["date"]).weekday()
        if weekday >= 5:
            assert day["open"] is False and day["slots"] == []
    open_day = next(day for day in days if day["open"])
    starts = [slot["start"][11:16] for slot in open_day["slots"]]
    assert starts[0] == "09:00" and starts[-1] == "16:30"
    assert "12:00" not in starts and "13:00" not in starts and "13:30" in starts
    assert all(slot["remaining"] == 2 for slot in open_day["slots"])  # 2 windows serve the item
    assert open_day["slots"][0]["start"].endswith("+08:00")

    assert client.get(f"/api/v1/halls/{hall['id']}/availability").status_code == 422  # item_code missing
    bad_date = client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": ITEM, "from": "2026-13-45"})
    assert bad_date.status_code == 422 and "from" in bad_date.get_json()["errors"]
    assert client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": "330200-GA-004"}).status_code == 422
    assert client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": "nope"}).status_code == 404
    assert client.get("/api/v1/halls/999999/availability", query_string={"item_code": ITEM}).status_code == 404


def test_book_replay_list_and_confirmation(app, client, hall, citizen):
    slot = first_free_slots(client, hall["id"])[0]
    key = uuid.uuid4().hex
    response = _book(client, citizen, hall["id"], slot["start"], key=key)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "booked" and len(body["code"]) == 8
    assert body["start"] == slot["start"] and body["hall"]["id"] == hall["id"]
    assert _remaining(client, hall["id"], slot["start"]) == 1

    replay = _book(client, citizen, hall["id"], slot["start"], key=key)
    assert replay.status_code == 201 and replay.get_json()["id"] == body["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _remaining(client, hall["id"], slot["start"]) == 1

    listing = client.get("/api/v1/appointments", headers=citizen["headers"]).get_json()
    assert [item["id"] for item in listing["items"]] == [body["id"]]
    assert client.get(f"/api/v1/appointments/{body['id']}", headers=citizen["headers"]).get_json()["code"] == body["code"]

    from mobile_api.extensions import db
    from notifications.models import Notification

    row = db.session.scalar(select(Notification).where(Notification.dedupe_key == f"appointments:{body['id']}:booked"))
    assert row is not None and row.account_id == citizen["id"]


def test_level_one_cannot_book(client, hall, app_context):
    level1 = create_citizen(level=1)
    slot = first_free_slots(client, hall["id"])[0]
    response = _book(client, level1, hall["id"], slot["start"])
    assert response.status_code == 403 and response.get_json()["code"] == "realname_level_required"
    assert client.post("/api/v1/appointments", json={"hall_id": hall["id"], "item_code": ITEM, "start": slot["start"]}).status_code == 401


def test_full_slot_is_409_with_alternatives(client, app_context):
    small = create_hall(windows=1)
    first, second = create_citizen(), create_citizen()
    slot = first_free_slots(client, small["id"])[0]
    assert _book(client, first, small["id"], slot["start"]).status_code == 201
    full = _book(client, second, small["id"], slot["start"])
    assert full.status_code == 409
    body = full.get_json()
    assert body["code"] == "slot_full" and len(body["alternatives"]) == 3
    assert slot["start"] not in [alt["start"] for alt in body["alternatives"]]
    assert all(alt["remaining"] > 0 for alt in body["alternatives"])


def test_rules_one_per_item_three_active_in_total(client, app_context):
    citizen = create_citizen()
    halls = [create_hall(item_code=code) for code in ("330200-MZ-001", "330200-WJ-001", "330200-RS-001", "330200-RS-003")]
    slot = first_free_slots(client, halls[0]["id"])[0]
    assert _book(client, citizen, halls[0]["id"], slot["start"]).status_code == 201
    again = _book(client, citizen, halls[0]["id"], first_free_slots(client, halls[0]["id"], count=2)[1]["start"])
    assert again.status_code == 409 and again.get_json()["code"] == "already_booked_item"
    for other in halls[1:3]:
        start = first_free_slots(client, other["id"], other["item"])[0]["start"]
        assert _book(client, citizen, other["id"], start, item=other["item"]).status_code == 201
    fourth = _book(
        client, citizen, halls[3]["id"], first_free_slots(client, halls[3]["id"], halls[3]["item"])[0]["start"], item=halls[3]["item"]
    )
    assert fourth.status_code == 409 and fourth.get_json()["code"] == "too_many_active_bookings"


def test_bad_starts_are_422(client, hall, citizen):
    slot = first_free_slots(client, hall["id"])[0]
    off_grid = slot["start"].replace(":00+08:00", ":10+08:00")
    response = _book(client, citizen, hall["id"], off_grid)
    assert response.status_code == 422 and response.get_json()["code"] == "no_such_slot"
    past = _book(client, citizen, hall["id"], "2026-01-05T09:00:00+08:00")
    assert past.status_code == 422 and past.get_json()["code"] == "outside_booking_range"
    far = _book(client, citizen, hall["id"], "2027-06-01T09:00:00+08:00")
    assert far.status_code == 422
    for junk in ("tomorrow", "", 12345, None, "9" * 5000):
        response = _book(client, citizen, hall["id"], junk)
        assert response.status_code == 422, junk
        assert "start" in response.get_json()["errors"]
    assert _book(client, citizen, hall["id"], slot["start"], item="x" * 500).status_code == 422
    assert _book(client, citizen, -1, slot["start"]).status_code == 422
    wrong_item = _book(client, citizen, hall["id"], slot["start"], item="330200-GA-001")
    assert wrong_item.status_code == 422 and wrong_item.get_json()["code"] == "item_not_bookable_here"
    naive = _book(client, citizen, hall["id"], slot["start"][:19])  # no offset: city time
    assert naive.status_code == 201 and naive.get_json()["start"] == slot["start"]


def test_a_booking_links_only_the_citizens_own_case(client, hall, citizen, app_context):
    created = client.post(
        "/api/v1/cases", json={"item_code": "330200-GA-004", "form": {"contact_phone": "13800138000"}}, headers=citizen["headers"]
    )
    assert created.status_code == 201, created.get_json()
    case_no = created.get_json()["case_no"]
    slot = first_free_slots(client, hall["id"])[0]

    unknown = _book(client, citizen, hall["id"], slot["start"], case_no="NB2026000123")
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "case_not_found"
    stranger = create_citizen()
    theirs = _book(client, stranger, hall["id"], slot["start"], case_no=case_no)  # the same answer as for no case at all
    assert theirs.status_code == 404 and theirs.get_json()["code"] == "case_not_found"
    assert _remaining(client, hall["id"], slot["start"]) == 2  # refused before any place was taken

    linked = _book(client, citizen, hall["id"], slot["start"], case_no=case_no)
    assert linked.status_code == 201 and linked.get_json()["case_no"] == case_no
    mine = client.get(f"/api/v1/appointments/{linked.get_json()['id']}", headers=citizen["headers"]).get_json()
    assert mine["case_no"] == case_no


def test_another_citizens_booking_is_404(client, hall, citizen, app_context):
    slot = first_free_slots(client, hall["id"])[0]
    booking = _book(client, citizen, hall["id"], slot["start"]).get_json()
    stranger = create_citizen()
    for method, path, body in (
        ("get", f"/api/v1/appointments/{booking['id']}", None),
        ("post", f"/api/v1/appointments/{booking['id']}/cancel", None),
        ("post", f"/api/v1/appointments/{booking['id']}/reschedule", {"start": slot["start"]}),
        ("post", f"/api/v1/appointments/{booking['id']}/check-in", None),
    ):
        response = getattr(client, method)(path, json=body, headers=stranger["headers"])
        assert response.status_code == 404, path
        assert response.get_json()["code"] == "appointment_not_found"
    assert client.get("/api/v1/appointments", headers=stranger["headers"]).get_json()["total"] == 0


def test_cancel_frees_the_place_and_not_twice(client, hall, citizen):
    from appointments import service
    from mobile_api.timeutil import utcnow

    slot = first_free_slots(client, hall["id"])[0]
    booking = _book(client, citizen, hall["id"], slot["start"]).get_json()
    assert _remaining(client, hall["id"], slot["start"]) == 1
    cancelled = client.post(f"/api/v1/appointments/{booking['id']}/cancel", headers=citizen["headers"])
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    # Held back for 30 minutes against slot trading, then free for everybody at once.
    assert _remaining(client, hall["id"], slot["start"]) == 1
    again = client.post(f"/api/v1/appointments/{booking['id']}/cancel", headers=citizen["headers"])
    assert again.status_code == 409 and again.get_json()["code"] == "appointment_not_active"
    service.expire_offers(now=utcnow() + timedelta(minutes=29))
    assert _remaining(client, hall["id"], slot["start"]) == 1
    service.expire_offers(now=utcnow() + timedelta(minutes=31))
    service.expire_offers(now=utcnow() + timedelta(minutes=32))  # a second run changes nothing
    assert _remaining(client, hall["id"], slot["start"]) == 2
    # The item may be booked again once the first booking is cancelled.
    assert _book(client, citizen, hall["id"], slot["start"]).status_code == 201


def test_cancel_closes_two_hours_before(client, hall, citizen):
    from appointments import service
    from auth.models import Account
    from mobile_api.errors import Problem
    from mobile_api.extensions import db

    slot = first_free_slots(client, hall["id"])[0]
    booking = _book(client, citizen, hall["id"], slot["start"]).get_json()
    account = db.session.get(Account, citizen["id"])
    start = datetime.fromisoformat(slot["start"])
    try:
        service.cancel(account, booking["id"], now=start - timedelta(minutes=119))
        raise AssertionError("cancelled inside the 2-hour limit")
    except Problem as problem:
        assert problem.code == "too_late_to_change"
    assert service.cancel(account, booking["id"], now=start - timedelta(minutes=121))["status"] == "cancelled"


def test_reschedule_is_atomic(client, app_context):
    from appointments import service
    from mobile_api.timeutil import utcnow

    small = create_hall(windows=1)
    mover, blocker = create_citizen(), create_citizen()
    first, taken, free = first_free_slots(client, small["id"], count=3)
    booking = _book(client, mover, small["id"], first["start"]).get_json()
    assert _book(client, blocker, small["id"], taken["start"]).status_code == 201

    refused = client.post(f"/api/v1/appointments/{booking['id']}/reschedule", json={"start": taken["start"]}, headers=mover["headers"])
    assert refused.status_code == 409 and refused.get_json()["code"] == "slot_full"
    still = client.get(f"/api/v1/appointments/{booking['id']}", headers=mover["headers"]).get_json()
    assert still["start"] == first["start"] and still["status"] == "booked"
    assert _remaining(client, small["id"], first["start"]) == 0

    moved = client.post(f"/api/v1/appointments/{booking['id']}/reschedule", json={"start": free["start"]}, headers=mover["headers"])
    assert moved.status_code == 200 and moved.get_json()["start"] == free["start"]
    assert _remaining(client, small["id"], first["start"]) == 0  # held back against slot trading
    service.expire_offers(now=utcnow() + timedelta(minutes=31))
    assert _remaining(client, small["id"], first["start"]) == 1
    assert _remaining(client, small["id"], free["start"]) == 0


def test_waitlist_offer_hold_accept_and_expiry(client, app_context):
    from appointments import service
    from appointments.models import Slot
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow
    from notifications.models import Notification

    small = create_hall(windows=1)
    holder, first_in_line, second_in_line, outsider = (create_citizen() for _ in range(4))
    slot = first_free_slots(client, small["id"])[0]
    day = slot["start"][:10]
    booking = _book(client, holder, small["id"], slot["start"]).get_json()

    entries = []
    for person in (first_in_line, second_in_line):
        response = client.post(
            "/api/v1/waitlist",
            json={"hall_id": small["id"], "item_code": ITEM, "date": day},
            headers={**person["headers"], "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201 and response.get_json()["status"] == "waiting"
        entries.append(response.get_json()["id"])
    duplicate = client.post(
        "/api/v1/waitlist", json={"hall_id": small["id"], "item_code": ITEM, "date": day}, headers=first_in_line["headers"]
    )
    assert duplicate.status_code == 409

    assert client.post(f"/api/v1/appointments/{booking['id']}/cancel", headers=holder["headers"]).status_code == 200
    offers = client.get("/api/v1/waitlist", headers=first_in_line["headers"]).get_json()["items"]
    assert offers[0]["status"] == "offered" and offers[0]["offer"]["start"] == slot["start"]
    assert db.session.scalar(select(Notification).where(Notification.dedupe_key.like(f"appointments:offer:{entries[0]}:%"))) is not None
    # While the offer runs nobody else can take the place.
    assert _remaining(client, small["id"], slot["start"]) == 0
    assert _book(client, outsider, small["id"], slot["start"]).status_code == 409
    # Someone else's waitlist entry is invisible.
    assert client.post(f"/api/v1/waitlist/{entries[0]}/accept", headers=outsider["headers"]).status_code == 404

    # The first in line lets the offer lapse: it passes to the second, the place stays held.
    service.expire_offers(now=utcnow() + timedelta(minutes=16))
    db.session.expire_all()
    late = client.post(f"/api/v1/waitlist/{entries[0]}/accept", headers=first_in_line["headers"])
    assert late.status_code == 409
    second = client.get("/api/v1/waitlist", headers=second_in_line["headers"]).get_json()["items"][0]
    assert second["status"] == "offered"
    accepted = client.post(f"/api/v1/waitlist/{entries[1]}/accept", headers=second_in_line["headers"])
    assert accepted.status_code == 201 and accepted.get_json()["start"] == slot["start"]
    row = db.session.scalar(select(Slot).where(Slot.hall_id == small["id"], Slot.start == datetime.fromisoformat(slot["start"])))
    db.session.refresh(row)
    assert (row.booked, row.held, row.capacity) == (1, 0, 1)


def test_offer_nobody_takes_frees_the_place(client, app_context):
    from appointments import service
    from mobile_api.timeutil import utcnow

    small = create_hall(windows=1)
    holder, waiting = create_citizen(), create_citizen()
    slot = first_free_slots(client, small["id"])[0]
    booking = _book(client, holder, small["id"], slot["start"]).get_json()
    entry = client.post(
        "/api/v1/waitlist", json={"hall_id": small["id"], "item_code": ITEM, "date": slot["start"][:10]}, headers=waiting["headers"]
    ).get_json()
    client.post(f"/api/v1/appointments/{booking['id']}/cancel", headers=holder["headers"])
    assert _remaining(client, small["id"], slot["start"]) == 0
    left = client.post(f"/api/v1/waitlist/{entry['id']}/leave", headers=waiting["headers"])
    assert left.status_code == 200 and left.get_json()["status"] == "left"
    assert _remaining(client, small["id"], slot["start"]) == 1
    service.expire_offers(now=utcnow() + timedelta(hours=1))
    assert _remaining(client, small["id"], slot["start"]) == 1


def test_rate_limits_per_citizen_and_per_address(app, client, hall):
    slots = first_free_slots(client, hall["id"], count=3)
    saved = app.config["APPOINTMENTS_BOOKING_LIMIT"], app.config["APPOINTMENTS_BOOKING_IP_LIMIT"]
    app.config["APPOINTMENTS_BOOKING_LIMIT"], app.config["APPOINTMENTS_BOOKING_IP_LIMIT"] = "2 per minute", "4 per minute"
    try:
        eager = create_citizen()
        answers = [_book(client, eager, hall["id"], slot["start"]).status_code for slot in slots]
        assert answers == [201, 409, 429]  # the second is refused by the rules, the third by the limit
        limited = _book(client, eager, hall["id"], slots[0]["start"])
        assert limited.get_json()["code"] == "too_many_requests" and "Retry-After" in limited.headers
        other = create_citizen()  # same address: its budget (4) is nearly spent
        assert _book(client, other, hall["id"], slots[1]["start"]).status_code == 429
    finally:
        app.config["APPOINTMENTS_BOOKING_LIMIT"], app.config["APPOINTMENTS_BOOKING_IP_LIMIT"] = saved


def test_same_citizen_many_keys_at_once_books_once(app, hall, citizen):
    """A phone retrying with fresh keys on a flaky network: threads racing, one booking survives."""
    import threading

    from appointments.models import Booking
    from mobile_api.extensions import db

    starts = [slot["start"] for slot in first_free_slots(app.test_client(), hall["id"], count=8)]
    results = []
    barrier = threading.Barrier(len(starts))

    def attempt(start):
        test_client = app.test_client()
        test_client.environ_base["REMOTE_ADDR"] = "10.9.9.9"
        barrier.wait()
        results.append(_book(test_client, citizen, hall["id"], start).status_code)

    threads = [threading.Thread(target=attempt, args=(start,)) for start in starts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] + [409] * (len(starts) - 1)
    db.session.expire_all()
    assert len(db.session.scalars(select(Booking).where(Booking.account_id == citizen["id"], Booking.status == "booked")).all()) == 1


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in (
        "/api/v1/halls",
        "/api/v1/halls/{hall_id}/availability",
        "/api/v1/appointments",
        "/api/v1/appointments/{booking_id}/reschedule",
        "/api/v1/waitlist/{entry_id}/accept",
        "/api/v1/staff/halls/{hall_id}/queue/next",
        "/api/v1/halls/{hall_id}/queue",
    ):
        assert path in spec["paths"], path
    assert spec["paths"]["/api/v1/appointments"]["post"]["security"] == [{"bearerAuth": []}]


def test_crossing_reschedules_do_not_deadlock(app, app_context):
    """Pairs of citizens swap slots at the same instant (A: s1→s2, B: s2→s1): all succeed, no 5xx."""
    import threading

    client = app.test_client()
    pairs = []
    for _ in range(6):
        hall = create_hall(windows=2)
        s1, s2 = (slot["start"] for slot in first_free_slots(client, hall["id"], count=2))
        a, b = create_citizen(), create_citizen()
        pairs.append((a, _book(client, a, hall["id"], s1).get_json()["id"], s2))
        pairs.append((b, _book(client, b, hall["id"], s2).get_json()["id"], s1))
    results = []
    barrier = threading.Barrier(len(pairs))

    def move(citizen, booking_id, start):
        test_client = app.test_client()
        barrier.wait()
        response = test_client.post(f"/api/v1/appointments/{booking_id}/reschedule", json={"start": start}, headers=citizen["headers"])
        results.append(response.status_code)

    threads = [threading.Thread(target=move, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [200] * len(pairs)


def test_replayed_key_other_body_huge_body_and_odd_ids(client, hall, citizen):
    first, second = first_free_slots(client, hall["id"], count=2)
    key = uuid.uuid4().hex
    assert _book(client, citizen, hall["id"], first["start"], key=key).status_code == 201
    reused = _book(client, citizen, hall["id"], second["start"], key=key)
    assert reused.status_code == 422 and reused.get_json()["code"] == "idempotency_key_reused"
    huge = client.post(
        "/api/v1/appointments",
        data='{"hall_id": 1, "item_code": "' + "x" * 100_000 + '"}',
        content_type="application/json",
        headers=citizen["headers"],
    )
    assert huge.status_code == 413
    broken = client.post("/api/v1/appointments", data="{not json", content_type="application/json", headers=citizen["headers"])
    assert broken.status_code == 400 and broken.mimetype == "application/problem+json"
    for odd in ("x" * 5000, "' OR 1=1 --"):
        assert client.get(f"/api/v1/appointments/{odd}", headers=citizen["headers"]).status_code == 404
    # NUL never reaches the database: the platform refuses it at the door.
    assert client.get("/api/v1/appointments/%00", headers=citizen["headers"]).status_code == 422
    assert client.post("/api/v1/waitlist/nope/accept", headers=citizen["headers"]).status_code == 404
    nul_item = client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": "330200\x00MZ"})
    assert nul_item.status_code == 422
    assert _book(client, citizen, hall["id"], second["start"], case_no="NB\x00123").status_code == 422
