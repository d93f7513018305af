"""At the hall: check-in, walk-ins, calling, recall, served, no-show, the call display; calendar; beat jobs."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.appointments.conftest import ITEM, create_citizen, create_hall, first_free_slots
from tests.support import bearer, staff_token, wait_for


def _book(client, citizen, hall_id, start):
    response = client.post(
        "/api/v1/appointments",
        json={"hall_id": hall_id, "item_code": ITEM, "start": start},
        headers={**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _account(citizen):
    from auth.models import Account
    from mobile_api.extensions import db

    return db.session.get(Account, citizen["id"])


def _check_in_at(citizen, booking, now):
    from appointments import service

    return service.check_in(_account(citizen), booking["id"], now=now)


def test_check_in_window_and_ticket(client, hall, citizen):
    from mobile_api.errors import Problem

    slot = first_free_slots(client, hall["id"])[0]
    booking = _book(client, citizen, hall["id"], slot["start"])
    early = client.post(f"/api/v1/appointments/{booking['id']}/check-in", headers=citizen["headers"])
    assert early.status_code == 409 and early.get_json()["code"] == "outside_check_in_window"
    start = datetime.fromisoformat(slot["start"])
    with pytest.raises(Problem):
        _check_in_at(citizen, booking, start + timedelta(minutes=16))
    ticket = _check_in_at(citizen, booking, start - timedelta(minutes=10))
    assert ticket["ticket_no"].startswith("A") and ticket["position"] == 1 and ticket["estimated_wait_minutes"] == 0
    assert _check_in_at(citizen, booking, start - timedelta(minutes=9))["ticket_no"] == ticket["ticket_no"]  # once
    mine = client.get(f"/api/v1/appointments/{booking['id']}", headers=citizen["headers"]).get_json()
    assert mine["status"] == "checked_in" and mine["ticket"]["ticket_no"] == ticket["ticket_no"]
    cancel = client.post(f"/api/v1/appointments/{booking['id']}/cancel", headers=citizen["headers"])
    assert cancel.status_code == 409


def test_queue_order_calling_and_display(app, client, hall, clerk):
    from appointments import service
    from appointments.models import Ticket
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow
    from notifications.models import Notification

    base = f"/api/v1/staff/halls/{hall['id']}"
    walk_in = client.post(f"{base}/tickets", json={"item_code": ITEM}, headers=clerk)
    assert walk_in.status_code == 201 and walk_in.get_json()["ticket_no"].startswith("B")
    # Appointments on time, the elderly first of all (born 1940 → over 70).
    now = utcnow()
    booked = []
    for born in (None, None, None, None, 1940):
        citizen = create_citizen(born=born)
        slot = first_free_slots(client, hall["id"])[0]
        booking = _book(client, citizen, hall["id"], slot["start"])
        # Pretend the booking is for now (check-in window), by moving it in the test data.
        from appointments.models import Booking

        row = db.session.get(Booking, booking["id"])
        row.start, row.end = now + timedelta(minutes=5), now + timedelta(minutes=35)
        db.session.commit()
        booked.append((citizen, booking, service.check_in(_account(citizen), booking["id"], now=now)))
    green = client.post(f"{base}/tickets", json={"item_code": ITEM, "priority": "green_channel"}, headers=clerk).get_json()

    display = client.get(f"/api/v1/halls/{hall['id']}/queue").get_json()
    assert display["waiting_total"] == 7 and all(window["calling"] is None for window in display["windows"])

    window = hall["windows"][0]
    called = [client.post(f"{base}/queue/next", json={"window_id": window}, headers=clerk).get_json()["ticket_no"] for _ in range(7)]
    elderly_ticket = booked[4][2]["ticket_no"]
    assert set(called[:2]) == {elderly_ticket, green["ticket_no"]}  # priority first, in arrival order
    assert called[2:6] == [ticket["ticket_no"] for _, _, ticket in booked[:4]]  # then appointments on time
    assert called[6] == walk_in.get_json()["ticket_no"]  # walk-ins last
    empty = client.post(f"{base}/queue/next", json={"window_id": window}, headers=clerk)
    assert empty.status_code == 409 and empty.get_json()["code"] == "queue_empty"

    # Three people ahead: when the elderly ticket was called the 4th in line (booked[2]) had 3 ahead.
    third_booking_ticket = db.session.scalar(select(Ticket).where(Ticket.booking_id == booked[2][1]["id"]))
    assert (
        db.session.scalar(
            select(Notification).where(Notification.dedupe_key == f"appointments:ticket:{third_booking_ticket.id}:three_ahead")
        )
        is not None
    )

    # The last call is still open at the window: recall, then no-show; served twice is refused.
    last = db.session.scalar(select(Ticket).where(Ticket.hall_id == hall["id"], Ticket.status == "called"))
    assert client.post(f"{base}/tickets/{last.id}/recall", headers=clerk).status_code == 200
    assert client.get(f"/api/v1/halls/{hall['id']}/queue").get_json()["windows"][0]["calling"] == last.ticket_no
    assert client.post(f"{base}/tickets/{last.id}/no-show", headers=clerk).get_json()["status"] == "no_show"
    assert client.post(f"{base}/tickets/{last.id}/served", headers=clerk).status_code == 409
    display = client.get(f"/api/v1/halls/{hall['id']}/queue").get_json()
    assert display["waiting_total"] == 0 and all(window["calling"] is None for window in display["windows"])


def test_staff_scope_and_bad_input(app, client, hall, clerk):
    other = create_hall()
    base = f"/api/v1/staff/halls/{other['id']}"
    refused = client.post(f"{base}/tickets", json={"item_code": ITEM}, headers=clerk)
    assert refused.status_code == 403 and refused.get_json()["code"] == "hall_out_of_scope"
    assert client.post(f"{base}/queue/next", json={"window_id": other["windows"][0]}, headers=clerk).status_code == 403
    own = f"/api/v1/staff/halls/{hall['id']}"
    wrong_window = client.post(f"{own}/queue/next", json={"window_id": other["windows"][0]}, headers=clerk)
    assert wrong_window.status_code == 404 and wrong_window.get_json()["code"] == "window_not_found"
    assert client.post(f"{own}/queue/next", json={"window_id": "one"}, headers=clerk).status_code == 422
    assert client.post(f"{own}/tickets", json={"item_code": ITEM, "priority": "vip"}, headers=clerk).status_code == 422
    assert client.post(f"{own}/tickets", json={"item_code": "330200-GA-001"}, headers=clerk).status_code == 422
    citizen = create_citizen()
    assert client.post(f"{own}/tickets", json={"item_code": ITEM}, headers=citizen["headers"]).status_code == 403
    from auth.service import create_staff
    from mobile_api.roles import WINDOW_CLERK

    create_staff("clerk_ga_only", app.config["DEMO_PASSWORD"], [WINDOW_CLERK], "公安窗口", ["GA"], [hall["id"]])
    ga_only = bearer(staff_token(client, "clerk_ga_only", app.config["DEMO_PASSWORD"]))
    other_department = client.post(f"{own}/tickets", json={"item_code": ITEM}, headers=ga_only)
    assert other_department.status_code == 403 and other_department.get_json()["code"] == "department_out_of_scope"
    officer = bearer(staff_token(client, "officer", app.config["DEMO_PASSWORD"]))
    assert client.post(f"{own}/tickets", json={"item_code": ITEM}, headers=officer).status_code == 403


def test_calendar_no_slots_on_national_day_slots_on_tiaoxiu_saturday(app_context):
    from appointments import schedule

    hall = create_hall()
    national_day = schedule.plan(hall["id"], ITEM, date(2026, 10, 1), date(2026, 10, 7))
    assert all(national_day[date(2026, 10, day)] == [] for day in range(1, 8))  # 国庆节 holiday week (1–7 Oct)
    for weekend_day, weekday in ((date(2026, 9, 20), 6), (date(2026, 10, 10), 5)):  # 调休 working days: a Sunday, a Saturday
        slots = schedule.plan(hall["id"], ITEM, weekend_day, weekend_day)[weekend_day]
        assert weekend_day.weekday() == weekday and len(slots) == 13, weekend_day
        assert slots[0].start.hour == 9 and slots[0].capacity == 2
    ordinary_saturday = date(2026, 10, 17)
    assert schedule.plan(hall["id"], ITEM, ordinary_saturday, ordinary_saturday)[ordinary_saturday] == []


def test_calendar_and_closures_through_the_api(client, app_context):
    from appointments.models import SpecialDay
    from mobile_api import workdays
    from mobile_api.extensions import db
    from mobile_api.timeutil import city_today

    hall = create_hall()
    days = client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": ITEM}).get_json()["days"]
    open_days = [day["date"] for day in days if day["open"]]
    closed_day = date.fromisoformat(open_days[1])
    db.session.add(SpecialDay(hall_id=hall["id"], day=closed_day, kind="closed", reason="系统升级"))
    db.session.commit()
    saturday = next(
        city_today() + timedelta(days=offset) for offset in range(1, 8) if (city_today() + timedelta(days=offset)).weekday() == 5
    )
    workdays.set_day(saturday, True, "测试调休上班", "test")
    try:
        days = {
            day["date"]: day
            for day in client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": ITEM}).get_json()["days"]
        }
        assert days[closed_day.isoformat()]["open"] is False
        assert days[saturday.isoformat()]["open"] is True and len(days[saturday.isoformat()]["slots"]) == 13
    finally:
        workdays.delete_day(saturday)


def test_reminders_once_and_never_for_cancelled(client, hall):
    from appointments import service
    from mobile_api.extensions import db
    from notifications.models import Notification

    kept, dropped = create_citizen(), create_citizen()
    slots = first_free_slots(client, hall["id"], count=1)
    booking = _book(client, kept, hall["id"], slots[0]["start"])
    cancelled = _book(client, dropped, hall["id"], slots[0]["start"])
    client.post(f"/api/v1/appointments/{cancelled['id']}/cancel", headers=dropped["headers"])
    start = datetime.fromisoformat(slots[0]["start"])

    def reminders(account_id):
        return db.session.scalars(
            select(Notification.template_code).where(
                Notification.account_id == account_id, Notification.template_code.like("appointments.reminder%")
            )
        ).all()

    service.send_reminders(now=start - timedelta(hours=20))
    service.send_reminders(now=start - timedelta(hours=19))
    assert reminders(kept["id"]) == ["appointments.reminder_day_before"]
    service.send_reminders(now=start - timedelta(minutes=50))
    service.send_reminders(now=start - timedelta(minutes=40))
    assert sorted(reminders(kept["id"])) == ["appointments.reminder_day_before", "appointments.reminder_hour_before"]
    assert reminders(dropped["id"]) == []
    assert booking["status"] == "booked"


def test_no_shows_suspend_booking_for_30_days(client, app_context):
    from appointments import service
    from appointments.models import Booking
    from mobile_api.extensions import db
    from mobile_api.timeutil import CITY_TZ
    from notifications.models import Notification

    citizen = create_citizen()
    halls = [create_hall(item_code=code) for code in ("330200-MZ-001", "330200-WJ-001", "330200-RS-001")]
    bookings = []
    for hall in halls:
        start = first_free_slots(client, hall["id"], hall["item"])[0]["start"]
        response = client.post(
            "/api/v1/appointments", json={"hall_id": hall["id"], "item_code": hall["item"], "start": start}, headers=citizen["headers"]
        )
        assert response.status_code == 201
        bookings.append(response.get_json())
    latest = max(datetime.fromisoformat(b["start"]) for b in bookings)
    next_day = (latest + timedelta(days=1)).replace(hour=0, minute=30)
    assert service.mark_no_shows(now=next_day) >= 3
    assert service.mark_no_shows(now=next_day) == 0  # idempotent
    assert {db.session.get(Booking, b["id"]).status for b in bookings} == {"no_show"}
    notice = db.session.scalar(
        select(Notification).where(Notification.account_id == citizen["id"], Notification.template_code == "appointments.booking_suspended")
    )
    assert notice is not None
    until = next_day.astimezone(CITY_TZ).date() + timedelta(days=30)
    assert json.loads(notice.params) == {"count": 3, "until": f"{until:%Y年%m月%d日}"}
    ban = service.active_ban(citizen["id"], today=next_day.astimezone(CITY_TZ).date())
    assert ban is not None and ban.until == until
    # Today the ban already runs (it starts the day after the third missed visit at the latest).
    ban.starts, ban.until = ban.starts - timedelta(days=10), ban.until - timedelta(days=10)
    db.session.commit()
    hall = halls[0]
    refused = client.post(
        "/api/v1/appointments",
        json={"hall_id": hall["id"], "item_code": hall["item"], "start": first_free_slots(client, hall["id"], hall["item"])[0]["start"]},
        headers=citizen["headers"],
    )
    assert refused.status_code == 403 and refused.get_json()["code"] == "booking_suspended"
    assert refused.get_json()["until"] == ban.until.isoformat()
    waitlist = client.post(
        "/api/v1/waitlist",
        json={
            "hall_id": hall["id"],
            "item_code": hall["item"],
            "date": first_free_slots(client, hall["id"], hall["item"])[0]["start"][:10],
        },
        headers=citizen["headers"],
    )
    assert waitlist.status_code == 403


def test_check_in_over_http_gives_position_and_wait(client, hall, clerk):
    """Two walk-ins are ahead; the citizen checks in through the API at the booked time."""
    from appointments.models import Booking
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow

    for _ in range(2):
        assert client.post(f"/api/v1/staff/halls/{hall['id']}/tickets", json={"item_code": ITEM}, headers=clerk).status_code == 201
    citizen = create_citizen()
    booking = _book(client, citizen, hall["id"], first_free_slots(client, hall["id"])[0]["start"])
    row = db.session.get(Booking, booking["id"])
    row.start, row.end = utcnow() + timedelta(minutes=10), utcnow() + timedelta(minutes=40)  # the visit is now due
    db.session.commit()
    response = client.post(f"/api/v1/appointments/{booking['id']}/check-in", headers=citizen["headers"])
    assert response.status_code == 200, response.get_json()
    ticket = response.get_json()
    # Appointments on time go before walk-ins: nobody ahead.
    assert ticket["people_ahead"] == 0 and ticket["position"] == 1 and ticket["estimated_wait_minutes"] == 0
    stranger = create_citizen()
    assert client.post(f"/api/v1/appointments/{booking['id']}/check-in", headers=stranger["headers"]).status_code == 404
    walk_in = client.post(f"/api/v1/staff/halls/{hall['id']}/tickets", json={"item_code": ITEM}, headers=clerk).get_json()
    assert walk_in["people_ahead"] == 3 and walk_in["estimated_wait_minutes"] == 15  # 3 ahead × 10 min / 2 windows


def test_beat_jobs_run_on_a_real_worker(app, client, hall, celery_worker):
    from appointments.models import Booking
    from appointments.tasks import send_reminders
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow
    from notifications.models import Notification

    schedule = app.extensions["beat_schedule"]
    assert {job["task"] for job in schedule.values()} >= {
        "appointments.send_reminders",
        "appointments.expire_offers",
        "appointments.mark_no_shows",
    }
    citizen = create_citizen()
    booking = _book(client, citizen, hall["id"], first_free_slots(client, hall["id"])[0]["start"])
    row = db.session.get(Booking, booking["id"])
    row.start, row.end = utcnow() + timedelta(minutes=45), utcnow() + timedelta(minutes=75)
    db.session.commit()
    send_reminders.delay()

    def reminded():
        db.session.rollback()
        return db.session.scalar(
            select(Notification).where(
                Notification.account_id == citizen["id"], Notification.template_code == "appointments.reminder_hour_before"
            )
        )

    wait_for(reminded, timeout=60, what="hour-before reminder written by the worker")


def test_closing_a_day_cancels_its_bookings_and_tells_the_citizens(app, client, hall, clerk):
    from mobile_api.extensions import db
    from mobile_api.models import AuditEvent
    from notifications.models import Notification

    citizen = create_citizen()
    slot = first_free_slots(client, hall["id"])[0]
    booking = _book(client, citizen, hall["id"], slot["start"])
    day = slot["start"][:10]
    url = f"/api/v1/staff/halls/{hall['id']}/closures"
    assert client.post(url, json={"date": day, "reason": "系统升级"}, headers=clerk).status_code == 403  # clerks may not
    supervisor = bearer(staff_token(client, "supervisor", app.config["DEMO_PASSWORD"]))
    out_of_scope = client.post(url, json={"date": day, "reason": "系统升级"}, headers=supervisor)
    assert out_of_scope.status_code == 403 and out_of_scope.get_json()["code"] == "hall_out_of_scope"
    supervisor = bearer(staff_token(client, "admin", app.config["DEMO_PASSWORD"]))
    assert client.post(url, json={"date": "2026-01-01", "reason": "系统升级"}, headers=supervisor).status_code == 422
    assert client.post(url, json={"date": day}, headers=supervisor).status_code == 422
    response = client.post(url, json={"date": day, "reason": "系统升级"}, headers=supervisor)
    assert response.status_code == 201 and response.get_json()["cancelled_appointments"] == 1
    assert client.post(url, json={"date": day, "reason": "系统升级"}, headers=supervisor).status_code == 409
    mine = client.get(f"/api/v1/appointments/{booking['id']}", headers=citizen["headers"]).get_json()
    assert mine["status"] == "cancelled"
    days = {
        d["date"]: d for d in client.get(f"/api/v1/halls/{hall['id']}/availability", query_string={"item_code": ITEM}).get_json()["days"]
    }
    assert days[day]["open"] is False
    assert db.session.scalar(select(Notification).where(Notification.dedupe_key == f"appointments:{booking['id']}:hall_closed"))
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.subject_id == booking["id"], AuditEvent.actor == "staff:admin"))
