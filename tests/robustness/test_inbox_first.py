"""Every citizen-facing message is in the inbox at once; only reminders and notices are held or optional.

The inbox copy is written with the outbox row in the transaction of the event itself, so it is there in
the very response that caused it — no worker involved. Quiet hours on (always quiet, in these tests) hold
a reminder's SMS but never a booking confirmation or a case result; an SMS opt-out silences the SMS of a
reminder (visible in the sandbox) while its inbox copy stays, and does not touch a result.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from tests.appointments.conftest import ITEM, create_citizen, create_hall, first_free_slots
from tests.cases.conftest import SIMPLE_MATERIALS, new_case, upload
from tests.cases.helpers import pdf_bytes
from tests.support import bearer, wait_for


def _inbox(client, headers) -> list[dict]:
    response = client.get("/api/v1/me/messages?per_page=100", headers=headers)
    assert response.status_code == 200
    return response.get_json()["items"]


def _book(client, citizen: dict, hall_id: int) -> dict:
    start = first_free_slots(client, hall_id)[0]["start"]
    headers = {**citizen["headers"], "Idempotency-Key": uuid.uuid4().hex}
    response = client.post("/api/v1/appointments", json={"hall_id": hall_id, "item_code": ITEM, "start": start}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_inbox_is_filled_by_each_citizen_facing_event_at_once(app, app_context, client, config_override):
    config_override(NOTIFY_QUIET_HOURS="00:00-23:59")  # always quiet: nothing that matters may wait
    hall = create_hall()
    citizen = create_citizen()
    assert _inbox(client, citizen["headers"]) == []

    booking = _book(client, citizen, hall["id"])
    messages = _inbox(client, citizen["headers"])
    assert len(messages) == 1 and booking["code"] in messages[0]["body"] and messages[0]["title"] == "预约成功"

    case_no = new_case(client, citizen["token"])
    for code in SIMPLE_MATERIALS:
        assert upload(client, citizen["token"], case_no, code, pdf_bytes(1)).status_code == 201
    assert client.post(f"/api/v1/cases/{case_no}/submit", headers=bearer(citizen["token"])).status_code == 200
    messages = _inbox(client, citizen["headers"])
    assert len(messages) == 2 and case_no in messages[0]["body"] and messages[0]["title"] == "办件进度"

    from mobile_api.extensions import db
    from notifications.models import Notification

    rows = db.session.scalars(select(Notification).where(Notification.account_id == citizen["id"])).all()
    assert {row.template_code for row in rows} == {"appointments.booked", "cases.submitted"}
    assert all(row.deliver_after is None for row in rows)  # quiet hours hold neither a booking nor a case result


def test_reminders_wait_for_quiet_hours_and_obey_opt_outs_results_do_not(app, app_context, client, config_override, celery_worker):
    from appointments.jobs import send_reminders
    from mobile_api.extensions import db
    from mobile_api.timeutil import utcnow
    from notifications import service
    from notifications.models import Notification

    hall = create_hall()
    citizen = create_citizen()
    booking = _book(client, citizen, hall["id"])
    assert client.put("/api/v1/me/notification-preferences", json={"sms": False}, headers=citizen["headers"]).get_json()["sms"] is False

    config_override(NOTIFY_QUIET_HOURS="00:00-23:59")
    from datetime import datetime

    start = datetime.fromisoformat(booking["start"])
    assert send_reminders(now=start - timedelta(hours=23)) >= 1  # the day-before reminder is due
    reminder = db.session.scalar(
        select(Notification).where(
            Notification.account_id == citizen["id"], Notification.template_code == "appointments.reminder_day_before"
        )
    )
    assert reminder.deliver_after is not None and reminder.deliver_after > utcnow()  # held until the morning...
    assert any("提醒" in message["body"] for message in _inbox(client, citizen["headers"]))  # ...but already in the inbox

    # Quiet hours over: the reminder goes out — to the inbox only, because the citizen opted out of SMS.
    config_override(NOTIFY_QUIET_HOURS="00:00-00:00")
    db.session.execute(Notification.__table__.update().where(Notification.id == reminder.id).values(deliver_after=utcnow()))
    db.session.commit()
    assert service.send(reminder.id) == "delivered"
    db.session.expire_all()
    assert db.session.get(Notification, reminder.id).channel == "inbox"
    sandbox = client.get("/api/v1/sandbox/messages", query_string={"phone": _phone(citizen["id"])}).get_json()["items"]
    assert not any("提醒" in item["content"] for item in sandbox)  # no reminder SMS: the opt-out is visible
    # The booking confirmation (a result) went by SMS although the citizen opted out of optional SMS.
    wait_for(
        lambda: any(
            "预约码" in item["content"]
            for item in client.get("/api/v1/sandbox/messages", query_string={"phone": _phone(citizen["id"])}).get_json()["items"]
        ),
        what="the booking confirmation SMS",
    )


def _phone(account_id: str) -> str:
    from auth.models import Account
    from mobile_api.extensions import db

    return db.session.get(Account, account_id).phone
