"""Running a hall through the API: a hall manager changes hours and window items and availability
follows; scope; audit; bookings displaced by a change are moved or cancelled with a notice."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import select

from tests.appointments.conftest import ITEM, create_citizen, create_hall, first_free_slots
from tests.support import bearer, staff_token

OTHER_ITEM = "330200-WJ-001"  # bookable, served by the demo 综合 windows


def _manager(app, client, hall_ids):
    from auth.service import create_staff
    from mobile_api.roles import HALL_MANAGER

    username = f"mgr{uuid.uuid4().hex[:8]}"
    create_staff(username, app.config["DEMO_PASSWORD"], [HALL_MANAGER], "大厅管理员", [], hall_ids)
    return bearer(staff_token(client, username, app.config["DEMO_PASSWORD"])), username


def _days(client, hall_id, item=ITEM):
    response = client.get(f"/api/v1/halls/{hall_id}/availability", query_string={"item_code": item})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["days"]


def _audits(action, subject_id):
    from mobile_api.extensions import db
    from mobile_api.models import AuditEvent

    db.session.expire_all()
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.subject_id == str(subject_id))).all()


def test_hall_manager_changes_hours_and_window_items_and_availability_follows(app, client, app_context):
    from mobile_api.extensions import db
    from notifications.models import Notification

    hall = create_hall(windows=2, items=[ITEM, OTHER_ITEM])
    manager, username = _manager(app, client, [hall["id"]])
    base = f"/api/v1/staff/halls/{hall['id']}"
    open_day = next(day for day in _days(client, hall["id"]) if day["open"] and day["released"])
    assert [slot["start"][11:16] for slot in open_day["slots"]][:2] == ["09:00", "09:30"] and len(open_day["slots"]) == 13
    citizen = create_citizen()
    early = open_day["slots"][0]["start"]  # 09:00: gone once the hall opens at 10:00
    booked = client.post(
        "/api/v1/appointments",
        json={"hall_id": hall["id"], "item_code": ITEM, "start": early},
        headers={**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex},
    )
    assert booked.status_code == 201, booked.get_json()

    # New hours: Monday–Saturday 10:00–16:00, lunch 12:00–13:00, 60-minute slots.
    rules = [
        {"weekday": weekday, "opens": "10:00", "closes": "16:00", "break_start": "12:00", "break_end": "13:00", "slot_minutes": 60}
        for weekday in range(6)
    ]
    response = client.put(f"{base}/opening-rules", json={"rules": rules}, headers=manager)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["bookings"] == {"kept_same_time": 0, "moved": 1, "cancelled": 0}
    days = {day["date"]: day for day in _days(client, hall["id"])}
    first_open = days[open_day["date"]]
    assert [slot["start"][11:16] for slot in first_open["slots"]] == ["10:00", "11:00", "13:00", "14:00", "15:00"]
    assert all(slot["end"][11:16] == f"{int(slot['start'][11:13]) + 1:02d}:00" for slot in first_open["slots"])

    # The 09:00 booking moved to the nearest free time (10:00 that day), the citizen was told.
    mine = client.get(f"/api/v1/appointments/{booked.get_json()['id']}", headers=citizen["headers"]).get_json()
    assert mine["status"] == "booked" and mine["start"][11:16] == "10:00" and mine["start"][:10] == open_day["date"]
    notice = db.session.scalar(
        select(Notification).where(Notification.account_id == citizen["id"], Notification.template_code == "appointments.moved_by_hall")
    )
    assert notice is not None and "10:00" in notice.params
    assert _audits("hall.opening_rules", hall["id"])[0].actor == f"staff:{username}"
    remaining_10 = next(slot["remaining"] for slot in first_open["slots"] if slot["start"][11:16] == "10:00")
    assert remaining_10 == 1  # two windows, one place taken by the moved booking

    # Window 2 stops serving ITEM: ITEM's places halve, OTHER_ITEM's stay; window 1 opens two places a slot.
    first_window, second_window = hall["windows"]
    changed = client.patch(f"{base}/windows/{second_window}", json={"item_codes": [OTHER_ITEM]}, headers=manager)
    assert changed.status_code == 200 and changed.get_json()["item_codes"] == [OTHER_ITEM]
    day = open_day["date"]
    item_slots = {slot["start"][11:16]: slot["remaining"] for slot in {d["date"]: d for d in _days(client, hall["id"])}[day]["slots"]}
    other_slots = {
        slot["start"][11:16]: slot["remaining"] for slot in {d["date"]: d for d in _days(client, hall["id"], OTHER_ITEM)}[day]["slots"]
    }
    assert item_slots["11:00"] == 1 and other_slots["11:00"] == 2
    assert client.patch(f"{base}/windows/{first_window}", json={"per_slot": 2}, headers=manager).status_code == 200
    item_slots = {slot["start"][11:16]: slot["remaining"] for slot in {d["date"]: d for d in _days(client, hall["id"])}[day]["slots"]}
    assert item_slots["11:00"] == 2
    # A new window for ITEM adds its places; closing it takes them away again.
    added = client.post(
        f"{base}/windows",
        json={"name": "9号窗口", "item_codes": [ITEM], "per_slot": 1},
        headers={**manager, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert added.status_code == 201, added.get_json()
    assert {s["start"][11:16]: s["remaining"] for s in {d["date"]: d for d in _days(client, hall["id"])}[day]["slots"]}["11:00"] == 3
    closed = client.patch(f"{base}/windows/{added.get_json()['id']}", json={"active": False}, headers=manager)
    assert closed.status_code == 200
    assert {s["start"][11:16]: s["remaining"] for s in {d["date"]: d for d in _days(client, hall["id"])}[day]["slots"]}["11:00"] == 2
    assert len(_audits("hall.window_update", second_window)) == 1

    # The hall detail the citizens see follows as well.
    detail = client.get(f"/api/v1/halls/{hall['id']}").get_json()
    assert detail["opening_hours"][0]["opens"] == "10:00" and detail["opening_hours"][0]["slot_minutes"] == 60
    assert {w["id"]: w["per_slot"] for w in detail["windows"]} == {first_window: 2, second_window: 1}


def test_window_change_moves_bookings_to_another_window_or_cancels_with_alternatives(app, client, app_context):
    from appointments.models import Booking, Slot
    from mobile_api.extensions import db
    from notifications.models import Notification

    hall = create_hall(windows=2)
    manager, _ = _manager(app, client, [hall["id"]])
    slot = first_free_slots(client, hall["id"])[0]
    first, second = create_citizen(), create_citizen()
    ids = []
    for citizen in (first, second):
        response = client.post(
            "/api/v1/appointments",
            json={"hall_id": hall["id"], "item_code": ITEM, "start": slot["start"]},
            headers={**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201
        ids.append(response.get_json()["id"])
    windows_used = {db.session.get(Slot, db.session.get(Booking, booking_id).slot_id).window_id for booking_id in ids}
    assert windows_used == set(hall["windows"])  # one place per window: the second booking went to window 2

    # Window 1 takes two citizens a slot, window 2 closes: its booking moves to window 1, same time.
    base = f"/api/v1/staff/halls/{hall['id']}"
    assert client.patch(f"{base}/windows/{hall['windows'][0]}", json={"per_slot": 2}, headers=manager).status_code == 200
    response = client.patch(f"{base}/windows/{hall['windows'][1]}", json={"active": False}, headers=manager)
    assert response.status_code == 200 and response.get_json()["bookings"] == {"kept_same_time": 1, "moved": 0, "cancelled": 0}
    db.session.expire_all()
    rows = {db.session.get(Booking, booking_id).slot_id for booking_id in ids}
    assert len(rows) == 1 and db.session.get(Slot, rows.pop()).booked == 2
    # Window 1 back to one a slot: the later booking has to go — to the nearest free time, and is told.
    response = client.patch(f"{base}/windows/{hall['windows'][0]}", json={"per_slot": 1}, headers=manager)
    assert response.get_json()["bookings"] == {"kept_same_time": 0, "moved": 1, "cancelled": 0}
    db.session.expire_all()
    kept, moved = (db.session.get(Booking, booking_id) for booking_id in ids)
    assert kept.start == datetime.fromisoformat(slot["start"]) and moved.start > kept.start
    assert db.session.scalar(
        select(Notification).where(Notification.account_id == second["id"], Notification.template_code == "appointments.moved_by_hall")
    )
    # The hall goes out of service: both bookings are cancelled, each citizen told.
    response = client.patch(base, json={"active": False}, headers=manager)
    assert response.status_code == 200 and response.get_json()["bookings"]["cancelled"] == 2
    assert client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": ITEM}).status_code == 422
    for citizen in (first, second):
        assert db.session.scalar(
            select(Notification).where(
                Notification.account_id == citizen["id"], Notification.template_code == "appointments.cancelled_by_hall"
            )
        )


def test_closing_a_day_with_move_and_an_extra_opening(app, client, app_context):
    from mobile_api.extensions import db
    from mobile_api.timeutil import city_today
    from notifications.models import Notification

    hall = create_hall(windows=1)
    manager, _ = _manager(app, client, [hall["id"]])
    base = f"/api/v1/staff/halls/{hall['id']}"
    slot = first_free_slots(client, hall["id"])[0]
    citizen = create_citizen()
    booking = client.post(
        "/api/v1/appointments",
        json={"hall_id": hall["id"], "item_code": ITEM, "start": slot["start"]},
        headers={**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex},
    ).get_json()
    day = slot["start"][:10]
    closed = client.post(
        f"{base}/special-days", json={"date": day, "kind": "closed", "reason": "系统升级", "action": "move"}, headers=manager
    )
    assert closed.status_code == 201, closed.get_json()
    assert closed.get_json()["bookings"] == {"kept_same_time": 0, "moved": 1, "cancelled": 0}
    mine = client.get(f"/api/v1/appointments/{booking['id']}", headers=citizen["headers"]).get_json()
    assert mine["status"] == "booked" and mine["start"][:10] != day
    notice = db.session.scalar(
        select(Notification).where(Notification.account_id == citizen["id"], Notification.template_code == "appointments.moved_by_hall")
    )
    assert "系统升级" in notice.params
    again = client.post(f"{base}/special-days", json={"date": day, "kind": "closed", "reason": "系统升级"}, headers=manager)
    assert again.status_code == 409

    # An extra opening on the next Sunday that is no working day: 9:00–12:00, the Sunday gets slots.
    sunday = next(
        city_today() + timedelta(days=n)
        for n in range(1, 10)
        if (city_today() + timedelta(days=n)).weekday() == 6
        and (city_today() + timedelta(days=n)) <= date.fromisoformat(_days(client, hall["id"])[-1]["date"])
    )
    extra = {"date": sunday.isoformat(), "kind": "open", "reason": "周末延时服务", "opens": "09:00", "closes": "12:00"}
    added = client.post(f"{base}/special-days", json=extra, headers=manager)
    assert added.status_code == 201, added.get_json()
    sunday_view = {d["date"]: d for d in _days(client, hall["id"])}[sunday.isoformat()]
    assert sunday_view["open"] and [s["start"][11:16] for s in sunday_view["slots"]] == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]
    listed = client.get(f"{base}/special-days", headers=manager).get_json()["items"]
    assert {item["date"] for item in listed} == {day, sunday.isoformat()}
    assert client.delete(f"{base}/special-days/{sunday.isoformat()}", headers=manager).status_code == 200
    assert {d["date"]: d for d in _days(client, hall["id"])}[sunday.isoformat()]["open"] is False
    assert client.delete(f"{base}/special-days/not-a-date", headers=manager).status_code == 422


def test_scope_roles_and_bad_input(app, client, app_context):
    hall, other = create_hall(), create_hall()
    manager, _ = _manager(app, client, [hall["id"]])
    admin = bearer(staff_token(client, "admin", app.config["DEMO_PASSWORD"]))
    clerk = bearer(staff_token(client, "clerk", app.config["DEMO_PASSWORD"]))
    base = f"/api/v1/staff/halls/{hall['id']}"

    # A manager runs their own hall only; a clerk runs none; only admins open halls.
    assert client.patch(f"/api/v1/staff/halls/{other['id']}", json={"phone": "0574-1"}, headers=manager).status_code == 403
    assert client.patch(base, json={"phone": "0574-1"}, headers=clerk).status_code == 403
    new_hall = {"name": "新开大厅", "level": "street", "city": "宁波市", "address": "宁波市某路1号", "latitude": 29.8, "longitude": 121.5}
    assert client.post("/api/v1/staff/halls", json=new_hall, headers={**manager, "Idempotency-Key": uuid.uuid4().hex}).status_code == 403
    created = client.post("/api/v1/staff/halls", json=new_hall, headers={**admin, "Idempotency-Key": uuid.uuid4().hex})
    assert created.status_code == 201 and created.get_json()["windows"] == [] and created.get_json()["release"]["time"] == "08:00"
    assert _audits("hall.create", created.get_json()["id"])
    mine = client.get("/api/v1/staff/halls", headers=manager).get_json()["items"]
    assert [item["id"] for item in mine] == [hall["id"]]
    citizen = create_citizen()
    assert client.get("/api/v1/staff/halls", headers=citizen["headers"]).status_code == 403

    # Bad input: 422 with the field, never a 500.
    for body in (
        {"rules": [{"weekday": 0, "opens": "17:00", "closes": "09:00"}]},
        {"rules": [{"weekday": 7, "opens": "09:00", "closes": "17:00"}]},
        {"rules": [{"weekday": 0, "opens": "9h", "closes": "17:00"}]},
        {"rules": [{"weekday": 0, "opens": "09:00", "closes": "17:00", "break_start": "12:00"}]},
        {"rules": [{"weekday": 0, "opens": "09:00", "closes": "17:00"}, {"weekday": 0, "opens": "09:00", "closes": "12:00"}]},
        {"rules": [{"weekday": 0, "opens": "09:00", "closes": "17:00", "slot_minutes": 0}]},
    ):
        response = client.put(f"{base}/opening-rules", json=body, headers=manager)
        assert response.status_code == 422, body
    assert client.patch(base, json={"walk_in_percent": 60, "elderly_percent": 50}, headers=manager).get_json()["code"] == "shares_too_large"
    assert client.patch(base, json={"release_time": "25:00"}, headers=manager).status_code == 422
    assert client.patch(base, json={}, headers=manager).status_code == 422
    unknown = client.patch(f"{base}/windows/{hall['windows'][0]}", json={"item_codes": ["330200-NOPE-999"]}, headers=manager)
    assert unknown.status_code == 422 and unknown.get_json()["code"] == "item_not_found"
    foreign = client.patch(f"{base}/windows/{other['windows'][0]}", json={"per_slot": 3}, headers=manager)
    assert foreign.status_code == 404
    duplicate = client.post(f"{base}/windows", json={"name": "1号窗口"}, headers={**manager, "Idempotency-Key": uuid.uuid4().hex})
    assert duplicate.status_code == 409 and duplicate.get_json()["code"] == "window_name_taken"
    outsider = client.patch(f"{base}/windows/{hall['windows'][0]}", json={"staff_id": 999999}, headers=manager)
    assert outsider.status_code == 422 and outsider.get_json()["code"] == "staff_not_in_hall"
    past = client.post(f"{base}/special-days", json={"date": "2026-01-01", "kind": "closed", "reason": "测试"}, headers=manager)
    assert past.status_code == 422
    no_hours = client.post(f"{base}/special-days", json={"date": "2099-01-03", "kind": "open", "reason": "加开"}, headers=manager)
    assert no_hours.status_code == 422


def test_release_time_and_kept_shares(app, client, app_context):
    """Before release a day says when it opens; kept places are only for those they are kept for."""
    from appointments import release
    from appointments.models import Hall
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow

    hall = create_hall(windows=1)
    manager, _ = _manager(app, client, [hall["id"]])
    base = f"/api/v1/staff/halls/{hall['id']}"
    assert client.patch(base, json={"release_days_ahead": 3, "release_time": "08:00"}, headers=manager).status_code == 200
    days = [day for day in _days(client, hall["id"]) if day["open"]]
    assert len(days) == 4  # three working days released (from today's 08:00 at the latest), the fourth opens next
    last = days[-1]
    row = db.session.get(Hall, hall["id"])
    opens = release.opens_at(row, date.fromisoformat(last["date"]))
    if utcnow() < opens:
        assert last["released"] is False and last["opens_at"] == opens.isoformat() and all(s["remaining"] == 0 for s in last["slots"])
        refused = client.post(
            "/api/v1/appointments",
            json={"hall_id": hall["id"], "item_code": ITEM, "start": last["slots"][0]["start"]},
            headers={**create_citizen()["headers"], "Idempotency-Key": uuid.uuid4().hex},
        )
        assert refused.status_code == 409 and refused.get_json()["code"] == "not_released_yet"
    assert all(day["released"] for day in days[:-2])
    # The day before the last opens at 08:00 on a working day not after today.
    assert release.opens_at(row, date.fromisoformat(days[-2]["date"])).hour == 8

    # Half of the places kept for the elderly: a younger citizen finds the slot full sooner.
    assert client.patch(base, json={"elderly_percent": 50}, headers=manager).status_code == 200
    assert client.patch(f"{base}/windows/{hall['windows'][0]}", json={"per_slot": 2}, headers=manager).status_code == 200
    day = days[0]
    slot = {d["date"]: d for d in _days(client, hall["id"])}[day["date"]]["slots"][0]
    assert slot["remaining"] + slot["kept_for_elderly"] == 2 and slot["kept_for_elderly"] >= 1
    young, younger, elderly = create_citizen(born=1990), create_citizen(born=1991), create_citizen(born=1940)
    answers = []
    for citizen in (young, younger, elderly):
        response = client.post(
            "/api/v1/appointments",
            json={"hall_id": hall["id"], "item_code": ITEM, "start": slot["start"]},
            headers={**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex},
        )
        answers.append(response.status_code)
    assert answers == [201, 409, 201] if slot["kept_for_elderly"] == 1 else answers == [409, 409, 201]
