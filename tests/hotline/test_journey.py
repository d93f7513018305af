"""The hotline journey over real HTTP: a caller phones about their case; the operator looks them up
(status only), verifies them (a wrong answer, then an SMS code to the phone on record) and sees the
timeline; records a complaint about the case routed to the department; the department answers; the
return call finds the caller unsatisfied and the ticket is reopened once; a second ticket goes past
its deadline and is escalated (督办); the case's bad rating and its rectification show in the ticket;
every look-up left an audit row that a supervisor can read."""

from __future__ import annotations

from datetime import date, timedelta

import requests

from tests.appointments.conftest import ITEM as BOOKABLE_ITEM
from tests.appointments.conftest import create_hall, first_free_slots
from tests.cases.conftest import accepted_case, act
from tests.cases.helpers import city_date
from tests.hotline.conftest import audit_actions, wait_for_sms
from tests.support import bearer, sign_in_level2, staff_token


class Http:
    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def __call__(self, method: str, path: str, headers: dict | None = None, **kwargs) -> requests.Response:
        return self.session.request(method, self.base + path, headers=headers or {}, timeout=20, **kwargs)


BRIEF_CASE = {"case_no", "item_name", "status", "status_name", "next_step"}


def _demo_staff(app, client) -> dict:
    password = app.config["DEMO_PASSWORD"]
    return {name: staff_token(client, name, password) for name in ("prereviewer", "clerk", "officer")}


def test_lookup_verification_and_ticket_journey(app, client, live_server, celery_worker, operator, supervisor, ga_officer, ga_head):
    http = Http(live_server)
    demo = _demo_staff(app, client)
    citizen = sign_in_level2(app, client)
    token, phone = citizen["access_token"], citizen["phone"]
    case_no = accepted_case(app, client, token, demo, date(2026, 11, 2))  # GA: 居住证申领
    with app.app_context():
        hall = create_hall(item_code=BOOKABLE_ITEM)
    slot = first_free_slots(client, hall["id"])[0]
    booked = http(
        "POST", "/api/v1/appointments", bearer(token), json={"hall_id": hall["id"], "item_code": BOOKABLE_ITEM, "start": slot["start"]}
    )
    assert booked.status_code == 201, booked.text
    booking_code = booked.json()["code"]
    op = operator["headers"]

    # --- look-up by phone: status and next step only, personal data masked
    found = http("GET", "/api/v1/hotline/lookup", op, params={"phone": phone, "reason": "来电查询办件进度"})
    assert found.status_code == 200, found.text
    lookup = found.json()
    assert lookup["found"] is True and lookup["verified"] is False
    assert lookup["caller"]["phone_masked"] == phone[:3] + "****" + phone[-4:]
    assert lookup["caller"]["name_masked"].startswith(citizen["name"][0]) and citizen["name"] not in found.text
    assert citizen["id_number"] not in found.text and "id_number_masked" not in lookup["caller"]
    assert lookup["verification"] == {"methods": ["id_last4", "sms_code"], "method_used": None, "attempts_left": 3, "locked": False}
    [case] = [c for c in lookup["cases"] if c["case_no"] == case_no]
    assert set(case) == BRIEF_CASE and case["status"] == "accepted" and "承诺" in case["next_step"]
    assert [b["code"] for b in lookup["bookings"]] == [booking_code] and "start" not in lookup["bookings"][0]
    assert lookup["deliveries"] == [] and lookup["tickets"] == []

    # --- verification: a wrong last four is counted and audited; then a code to the phone on record
    wrong = "0000" if citizen["id_number"][-4:] != "0000" else "1111"
    refused = http(
        "POST", "/api/v1/hotline/verifications", op, json={"lookup_id": lookup["lookup_id"], "method": "id_last4", "answer": wrong}
    )
    assert refused.status_code == 422 and refused.json()["code"] == "verification_failed" and refused.json()["attempts_left"] == 2
    sent = http("POST", "/api/v1/hotline/verifications", op, json={"lookup_id": lookup["lookup_id"], "method": "sms_code"})
    assert sent.status_code == 202, sent.text
    assert sent.json()["phone_masked"] == lookup["caller"]["phone_masked"]
    code = wait_for_sms(client, phone, r"核验码(\d{6})").group(1)
    verified = http(
        "POST", "/api/v1/hotline/verifications", op, json={"lookup_id": lookup["lookup_id"], "method": "sms_code", "answer": code}
    )
    assert verified.status_code == 200, verified.text
    detail = verified.json()
    assert detail["verified"] is True and detail["verification"]["method_used"] == "sms_code"
    [case] = [c for c in detail["cases"] if c["case_no"] == case_no]
    assert case["due_on"] and case["department_code"] == "GA" and [e["action"] for e in case["timeline"]][:2] == ["create", "submit"]
    assert detail["bookings"][0]["hall_name"] and detail["caller"]["id_number_masked"].endswith(citizen["id_number"][-4:])
    assert citizen["id_number"] not in verified.text
    again = http("GET", f"/api/v1/hotline/lookups/{lookup['lookup_id']}", op)
    assert again.status_code == 200 and again.json()["verified"] is True

    # --- a complaint about the case, recorded from the verified look-up and routed to GA at once
    created = http(
        "POST",
        "/api/v1/hotline/tickets",
        op,
        json={
            "ticket_type": "complaint",
            "content": "办件迟迟没有进展，窗口说材料不全但没有一次告知。请回电13800138000。",
            "caller_phone": phone,
            "case_no": case_no,
            "booking_code": booking_code,
            "lookup_id": lookup["lookup_id"],
            "department_code": "GA",
            "note": "居住证申领，公安窗口",
        },
    )
    assert created.status_code == 201, created.text
    ticket = created.json()
    ticket_no = ticket["ticket_no"]
    assert ticket["status"] == "assigned" and ticket["department_code"] == "GA" and ticket["case"]["case_no"] == case_no
    with app.app_context():
        from cases.clock import today
        from mobile_api.workdays import add_working_days

        assert ticket["due_on"] == add_working_days(today(), 13).date.isoformat()
    assert [h["action"] for h in ticket["history"]] == ["create", "assign"]
    assert ticket["item_code"] == "330200-GA-004" and ticket["caller_phone_masked"] == lookup["caller"]["phone_masked"]

    # --- the department answers; the caller is told by SMS and sees it in the app
    listed = http("GET", "/api/v1/staff/tickets", ga_officer["headers"], params={"status": "assigned", "per_page": 100})
    assert ticket_no in [t["ticket_no"] for t in listed.json()["items"]]
    answered = http(
        "POST",
        f"/api/v1/staff/tickets/{ticket_no}/answer",
        ga_officer["headers"],
        json={"answer": "已核实，材料已补齐，三个工作日内办结。"},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "answered" and answered.json()["answered_on_time"] is True
    wait_for_sms(client, phone, rf"工单号{ticket_no}")
    mine = http("GET", f"/api/v1/me/tickets/{ticket_no}", bearer(token)).json()
    assert mine["status"] == "answered" and mine["can_rate"] is True and mine["answer"].startswith("已核实")
    assert "caller_phone_masked" not in mine and all(h["actor"] in ("您", "工作人员", "系统") for h in mine["history"])

    # --- return call: unsatisfied, reopened once (same department, a new deadline); not twice
    reopened = http(
        "POST",
        f"/api/v1/hotline/tickets/{ticket_no}/transitions",
        op,
        json={"action": "callback", "satisfaction": "unsatisfied", "comment": "还是没有办结", "reopen": True},
    )
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "assigned" and reopened.json()["reopen_count"] == 1 and reopened.json()["answer"] is None
    assert reopened.json()["history"][-1]["action"] == "reopen" and reopened.json()["history"][-1]["data"]["previous_answer"].startswith(
        "已核实"
    )
    assert (
        http(
            "POST", f"/api/v1/staff/tickets/{ticket_no}/answer", ga_officer["headers"], json={"answer": "已于今日办结，证件已寄出。"}
        ).status_code
        == 200
    )
    twice = http(
        "POST",
        f"/api/v1/hotline/tickets/{ticket_no}/transitions",
        op,
        json={"action": "callback", "satisfaction": "unsatisfied", "reopen": True},
    )
    assert twice.status_code == 409 and twice.json()["code"] == "reopen_used"
    closed = http("POST", f"/api/v1/me/tickets/{ticket_no}/satisfaction", bearer(token), json={"satisfaction": "basically_satisfied"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed" and closed.json()["satisfaction"] == "basically_satisfied"

    # --- the case is finished and rated 差评: its rectification shows in the ticket view
    with city_date(app, date(2026, 11, 4)):
        assert act(client, demo["officer"], case_no, "start").status_code == 200
        assert act(client, demo["officer"], case_no, "approve").status_code == 200
        rated = client.post(f"/api/v1/cases/{case_no}/rating", json={"level": 1, "comment": "跑了三趟"}, headers=bearer(token))
        assert rated.status_code == 201, rated.get_json()
    story = http("GET", f"/api/v1/hotline/tickets/{ticket_no}", op, params={"reason": "回访前查看"}).json()["case"]
    assert story["status"] == "approved" and story["rating"]["level"] == 1 and story["rating"]["level_name"] == "非常不满意"
    assert story["rating"]["rectification"]["done"] is False and story["rating"]["rectification"]["due_on"]

    # --- a help request past its deadline: yellow warns the officers, red escalates (督办) to the head and supervisors
    help_ticket = http(
        "POST",
        "/api/v1/hotline/tickets",
        op,
        json={"ticket_type": "help", "content": "老人办证行动不便，希望上门服务", "caller_phone": phone, "department_code": "GA"},
    ).json()
    due = date.fromisoformat(help_ticket["due_on"])
    with app.app_context():
        from hotline.escalation import scan_deadlines

        yellow = scan_deadlines(on=due - timedelta(days=1))
        red = scan_deadlines(on=due + timedelta(days=3))
        again = scan_deadlines(on=due + timedelta(days=3))
    assert yellow["changed"] >= 1 and red["escalated"] >= 1 and again["escalated"] == 0
    escalated = http("GET", f"/api/v1/hotline/tickets/{help_ticket['ticket_no']}", op).json()
    assert escalated["colour"] == "red" and escalated["escalations"] == 1 and escalated["history"][-1]["action"] == "escalate"
    with city_date(app, due + timedelta(days=3)):
        overdue = http("GET", "/api/v1/hotline/tickets", op, params={"overdue": "true", "per_page": 100}).json()
    assert help_ticket["ticket_no"] in [t["ticket_no"] for t in overdue["items"]]
    head_warnings = http("GET", "/api/v1/staff/tickets/warnings", ga_head["headers"], params={"per_page": 100}).json()["items"]
    assert {(w["colour"], w["role"]) for w in head_warnings if w["ticket_no"] == help_ticket["ticket_no"]} == {("red", "department_head")}
    officer_warnings = http("GET", "/api/v1/staff/tickets/warnings", ga_officer["headers"], params={"per_page": 100}).json()["items"]
    assert {w["colour"] for w in officer_warnings if w["ticket_no"] == help_ticket["ticket_no"]} == {"yellow", "red"}
    sup_warnings = http("GET", "/api/v1/staff/tickets/warnings", supervisor["headers"], params={"colour": "red", "per_page": 100}).json()[
        "items"
    ]
    assert [w["role"] for w in sup_warnings if w["ticket_no"] == help_ticket["ticket_no"]] == ["supervisor"]

    # --- every look-up left an audit row; a supervisor reads them
    lookups = audit_actions(app, operator["actor"], "hotline.lookup")
    assert lookups == ["hotline.lookup.phone", "hotline.lookup.verified", "hotline.lookup.read"]
    trail = http("GET", "/api/v1/staff/audit", supervisor["headers"], params={"actor": operator["actor"], "kind": "hotline.lookup"}).json()
    assert trail["total"] == 3
    first = trail["items"][-1]
    assert first["action"] == "hotline.lookup.phone" and first["reason"] == "来电查询办件进度"
    assert first["details"]["shown"]["cases"] == [case_no] and first["details"]["shown"]["bookings"] == [booking_code]
    assert first["details"]["query_kind"] == "phone" and first["details"]["verified"] is False and phone not in str(first)
    assert "hotline.verify.failed" in audit_actions(app, operator["actor"], "hotline.verify")
