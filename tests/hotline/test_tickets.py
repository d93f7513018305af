"""Tickets: the state machine's refusals, send-back and re-routing, citizens' own tickets, idempotent
creation, two departments answering at once, linked-case updates, notices and the weekly figures."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import requests

from tests.appointments.conftest import create_citizen
from tests.cases.conftest import accepted_case, act
from tests.hotline.conftest import audit_actions, new_staff, wait_for_sms
from tests.support import bearer, sign_in_level2, staff_token, unique_phone, wait_for


def _create(client, operator, **body):
    payload = {"ticket_type": "consultation", "content": "咨询", "caller_phone": "13800138000", **body}
    return client.post("/api/v1/hotline/tickets", json=payload, headers=operator["headers"])


def _move(client, operator, ticket_no, **body):
    return client.post(f"/api/v1/hotline/tickets/{ticket_no}/transitions", json=body, headers=operator["headers"])


def test_the_state_machine_refuses_what_the_loop_does_not_allow(client, operator, ga_officer, sw_officer):
    consultation = _create(client, operator, content="居住证怎么办？").get_json()
    assert consultation["status"] == "created" and consultation["allowed_actions"] == ["assign", "resolve", "close", "note"]
    assert _move(client, operator, consultation["ticket_no"], action="resolve").status_code == 422
    resolved = _move(client, operator, consultation["ticket_no"], action="resolve", answer="已告知所需材料和办理地点")
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "closed"
    assert [h["action"] for h in resolved.get_json()["history"]] == ["create", "resolve"]
    late = _move(client, operator, consultation["ticket_no"], action="assign", department_code="GA")
    assert late.status_code == 409 and late.get_json()["code"] == "transition_not_allowed" and late.get_json()["allowed_actions"] == []

    complaint = _create(client, operator, ticket_type="complaint", content="窗口态度差").get_json()
    no = complaint["ticket_no"]
    assert _move(client, operator, no, action="resolve", answer="已安抚").get_json()["code"] == "department_answer_required"
    assert _move(client, operator, no, action="close", note="无").get_json()["code"] == "department_answer_required"
    assert _move(client, operator, no, action="assign").get_json()["code"] == "department_required"
    assert _move(client, operator, no, action="assign", department_code="XX").get_json()["code"] == "department_unknown"
    assert _move(client, operator, no, action="callback", satisfaction="satisfied").status_code == 409
    assert _move(client, operator, no, action="dance").status_code == 422
    assert _move(client, operator, no, action="note", note="来电人情绪激动，注意沟通").status_code == 200
    assert _move(client, operator, no, action="assign", department_code="GA").get_json()["status"] == "assigned"

    # 退回: the reason is required; the hotline re-routes to the right department, with a fresh deadline.
    assert client.post(f"/api/v1/staff/tickets/{no}/send-back", json={}, headers=ga_officer["headers"]).status_code == 422
    back = client.post(f"/api/v1/staff/tickets/{no}/send-back", json={"reason": "涉税事项，应转税务"}, headers=ga_officer["headers"])
    assert back.status_code == 200 and back.get_json()["status"] == "sent_back" and back.get_json()["department_code"] is None
    rerouted = _move(client, operator, no, action="assign", department_code="SW", note="改派税务")
    assert rerouted.status_code == 200 and rerouted.get_json()["department_code"] == "SW" and rerouted.get_json()["sent_back_count"] == 1
    history = rerouted.get_json()["history"]
    assert [h["action"] for h in history] == ["create", "note", "assign", "send_back", "assign"]
    assert (
        history[3]["note"] == "涉税事项，应转税务"
        and history[3]["data"]["department_code"] == "GA"
        and history[3]["actor"] == ga_officer["actor"]
    )
    assert client.get(f"/api/v1/staff/tickets/{no}", headers=sw_officer["headers"]).status_code == 200

    duplicate = _create(client, operator, ticket_type="complaint", content="同一件事又打来").get_json()["ticket_no"]
    closed = _move(client, operator, duplicate, action="close", note="重复来电", duplicate_of=no)
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    assert _move(client, operator, duplicate, action="note", note="x").status_code == 409


def test_citizens_open_and_follow_their_own_tickets(app, client, celery_worker, operator):
    password = app.config["DEMO_PASSWORD"]
    demo = {name: staff_token(client, name, password) for name in ("prereviewer", "clerk", "officer")}
    citizen = sign_in_level2(app, client)
    mine = bearer(citizen["access_token"])
    case_no = accepted_case(app, client, citizen["access_token"], demo, date(2026, 11, 10))
    with app.app_context():
        stranger = create_citizen(level=2)

    opened = client.post("/api/v1/me/tickets", json={"ticket_type": "complaint", "content": "办件太慢", "case_no": case_no}, headers=mine)
    assert opened.status_code == 201, opened.get_json()
    ticket = opened.get_json()
    assert ticket["status"] == "created" and ticket["case"]["case_no"] == case_no and ticket["item_code"] == "330200-GA-004"
    assert ticket["can_rate"] is False and "caller_phone_masked" not in ticket
    # Not someone else's case or booking; not someone else's ticket.
    theirs = client.post(
        "/api/v1/me/tickets", json={"ticket_type": "complaint", "content": "x", "case_no": case_no}, headers=stranger["headers"]
    )
    assert theirs.status_code == 404
    bad_booking = client.post("/api/v1/me/tickets", json={"ticket_type": "help", "content": "x", "booking_code": "ZZZZZZZZ"}, headers=mine)
    assert bad_booking.status_code == 422
    assert client.get(f"/api/v1/me/tickets/{ticket['ticket_no']}", headers=stranger["headers"]).status_code == 404
    # A ticket the operator recorded from the citizen's phone shows in the app too; internal notes do not.
    recorded = _create(
        client, operator, ticket_type="suggestion", content="建议延长周末开放时间", caller_phone=citizen["phone"]
    ).get_json()["ticket_no"]
    _move(client, operator, recorded, action="note", note="内部备注：已汇总")
    listed = client.get("/api/v1/me/tickets", headers=mine).get_json()
    assert {ticket["ticket_no"], recorded} <= {t["ticket_no"] for t in listed["items"]}
    assert "colour" not in listed["items"][0] and "caller_phone_masked" not in listed["items"][0]
    assert [h["action"] for h in client.get(f"/api/v1/me/tickets/{recorded}", headers=mine).get_json()["history"]] == ["create"]
    early = client.post(f"/api/v1/me/tickets/{ticket['ticket_no']}/satisfaction", json={"satisfaction": "satisfied"}, headers=mine)
    assert early.status_code == 409
    # The linked case moves: the open ticket's history says so.
    assert act(client, demo["officer"], case_no, "start").status_code == 200
    staff_view = client.get(f"/api/v1/hotline/tickets/{ticket['ticket_no']}", headers=operator["headers"]).get_json()
    assert staff_view["history"][-1]["action"] == "case_update" and staff_view["history"][-1]["data"]["to_status"] == "in_progress"
    # Answered: the citizen rates; "satisfied" with reopen is refused.
    _move(client, operator, ticket["ticket_no"], action="assign", department_code="GA")
    officer = staff_token(client, "officer", password)
    assert (
        client.post(
            f"/api/v1/staff/tickets/{ticket['ticket_no']}/answer", json={"answer": "已督促加快办理"}, headers=bearer(officer)
        ).status_code
        == 200
    )
    wait_for_sms(client, citizen["phone"], ticket["ticket_no"])
    odd = client.post(
        f"/api/v1/me/tickets/{ticket['ticket_no']}/satisfaction", json={"satisfaction": "satisfied", "reopen": True}, headers=mine
    )
    assert odd.status_code == 422 and odd.get_json()["code"] == "reopen_needs_unsatisfied"
    rated = client.post(
        f"/api/v1/me/tickets/{ticket['ticket_no']}/satisfaction", json={"satisfaction": "satisfied", "comment": "谢谢"}, headers=mine
    )
    assert rated.status_code == 200 and rated.get_json()["status"] == "closed"
    assert rated.get_json()["history"][-1]["actor"] == "您"


def test_creation_is_idempotent_and_related_records_are_checked(client, operator):
    headers = {**operator["headers"], "Idempotency-Key": f"ticket-{unique_phone()}"}
    body = {"ticket_type": "praise", "content": "表扬3号窗口", "caller_phone": "0574-87654321"}
    first = client.post("/api/v1/hotline/tickets", json=body, headers=headers)
    second = client.post("/api/v1/hotline/tickets", json=body, headers=headers)
    assert first.status_code == 201 and second.status_code == 201 and second.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json()["ticket_no"] == second.get_json()["ticket_no"]
    assert _create(client, operator, case_no="NB2611-22222").get_json()["code"] == "case_not_found"
    assert _create(client, operator, item_code="NO-SUCH-ITEM").status_code == 404
    assert _create(client, operator, caller_phone="12345").status_code == 422
    assert _create(client, operator, ticket_type="rumour").status_code == 422
    assert _create(client, operator, content="x" * 4001).status_code == 422
    assert _create(client, operator, lookup_id="f" * 32).get_json()["code"] == "lookup_unknown"


def test_two_officers_answering_at_once_one_wins(app, client, live_server, operator, ga_officer):
    other = new_staff(app, client, ["officer"], ["GA"], prefix="ga")
    ticket_no = _create(client, operator, ticket_type="help", department_code="GA").get_json()["ticket_no"]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def answer(headers):
        barrier.wait()
        response = requests.post(
            f"{live_server}/api/v1/staff/tickets/{ticket_no}/answer", json={"answer": "已处理完毕"}, headers=headers, timeout=30
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=answer, args=(who["headers"],)) for who in (ga_officer, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409], results
    history = client.get(f"/api/v1/hotline/tickets/{ticket_no}", headers=operator["headers"]).get_json()["history"]
    assert [h["action"] for h in history].count("answer") == 1


def test_the_callers_number_is_revealed_only_with_a_reason_and_audited(app, client, operator):
    ticket_no = _create(client, operator, caller_phone="13812345678").get_json()["ticket_no"]
    assert client.get(f"/api/v1/hotline/tickets/{ticket_no}/caller-phone", headers=operator["headers"]).status_code == 422
    revealed = client.get(f"/api/v1/hotline/tickets/{ticket_no}/caller-phone", query_string={"reason": "回访"}, headers=operator["headers"])
    assert revealed.status_code == 200 and revealed.get_json()["caller_phone"] == "13812345678"
    assert "hotline.ticket.caller_phone" in audit_actions(app, operator["actor"], "hotline.ticket")


def test_one_time_notice_by_sms_limited_per_phone(app, client, celery_worker, operator):
    found = client.get("/api/v1/hotline/catalog", query_string={"q": "居住证"}, headers=operator["headers"]).get_json()
    [item] = [i for i in found["items"] if i["code"] == "330200-GA-004"]
    assert "一次性告知" in item["notice_preview"] and "所需材料" in item["notice_preview"]
    phone = unique_phone()
    for n in range(1, 4):
        sent = client.post("/api/v1/hotline/notices", json={"item_code": "330200-GA-004", "phone": phone}, headers=operator["headers"])
        assert sent.status_code == 201 and sent.get_json()["sent_today"] == n
    refused = client.post("/api/v1/hotline/notices", json={"item_code": "330200-GA-004", "phone": phone}, headers=operator["headers"])
    assert refused.status_code == 429 and refused.get_json()["code"] == "notice_limit"
    assert (
        client.post("/api/v1/hotline/notices", json={"item_code": "NOPE", "phone": unique_phone()}, headers=operator["headers"]).status_code
        == 404
    )
    assert (
        client.post("/api/v1/hotline/notices", json={"item_code": "330200-GA-004", "phone": "138"}, headers=operator["headers"]).status_code
        == 422
    )
    text = wait_for_sms(client, phone, r"一次性告知：所需材料：(.+)").string
    assert item["notice_preview"] == text
    assert "hotline.notice.sent" in audit_actions(app, operator["actor"], "hotline.notice") and phone not in str(
        audit_actions(app, operator["actor"])
    )


def test_weekly_figures_for_supervisors(app, client, operator):
    jt = new_staff(app, client, ["officer"], ["JT"], prefix="jt")
    jt_supervisor = new_staff(app, client, ["supervisor"], ["JT"], prefix="sup")
    numbers = []
    for content in ("网约车投诉一", "网约车投诉二", "公交投诉"):
        numbers.append(
            _create(client, operator, ticket_type="complaint", content=content, item_code="330200-JT-001", department_code="JT").get_json()[
                "ticket_no"
            ]
        )
    numbers.append(_create(client, operator, ticket_type="help", content="求助", department_code="JT").get_json()["ticket_no"])
    for no in numbers[:2]:
        assert client.post(f"/api/v1/staff/tickets/{no}/answer", json={"answer": "已处理"}, headers=jt["headers"]).status_code == 200
    _move(client, operator, numbers[0], action="callback", satisfaction="satisfied")
    _move(client, operator, numbers[1], action="callback", satisfaction="unsatisfied")
    today = date.today()
    stats = client.get(
        "/api/v1/staff/tickets/stats",
        query_string={"from": (today - timedelta(days=7)).isoformat(), "to": (today + timedelta(days=1)).isoformat()},
        headers=jt_supervisor["headers"],
    )
    assert stats.status_code == 200, stats.get_json()
    body = stats.get_json()
    total = body["total"]
    assert (total["created"], total["complaints"], total["answered"], total["answered_on_time"], total["callbacks"]) == (4, 3, 2, 2, 2)
    assert total["on_time_rate"] == 1.0 and total["satisfaction_rate"] == 0.5 and total["unsatisfied"] == 1
    assert sum(week["created"] for week in body["weeks"]) == 4 and body["weeks"][0]["week"].count("-W") == 1
    assert body["top_items_by_complaints"] == [
        {"item_code": "330200-JT-001", "item_name": body["top_items_by_complaints"][0]["item_name"], "complaints": 3}
    ]
    assert (
        body["top_departments_by_complaints"][0]["department_code"] == "JT" and body["top_departments_by_complaints"][0]["complaints"] == 3
    )
    assert (
        client.get("/api/v1/staff/tickets/stats", query_string={"from": "2026-01-01"}, headers=jt_supervisor["headers"]).status_code == 422
    )
    assert (
        client.get(
            "/api/v1/staff/tickets/stats", query_string={"from": "2026-01-01", "to": "2025-01-01"}, headers=jt_supervisor["headers"]
        ).status_code
        == 422
    )
    assert (
        client.get(
            "/api/v1/staff/tickets/stats", query_string={"from": "2026-01-01", "to": "2026-01-31"}, headers=operator["headers"]
        ).status_code
        == 403
    )


def test_the_beat_job_escalates_an_overdue_ticket_in_a_worker(app, client, celery_worker, operator, ga_head):
    from sqlalchemy import update

    from hotline.models import Ticket
    from mobile_api.celery_app import celery
    from mobile_api.extensions import db

    assert app.extensions["beat_schedule"]["hotline-scan-deadlines"]["task"] == "hotline.scan_deadlines"
    ticket_no = _create(client, operator, ticket_type="help", department_code="GA").get_json()["ticket_no"]
    with app.app_context():  # the deadline passed a week ago (the worker counts on the real calendar)
        db.session.execute(update(Ticket).where(Ticket.ticket_no == ticket_no).values(due_on=date.today() - timedelta(days=7)))
        db.session.commit()
        db.session.remove()
    celery.send_task("hotline.scan_deadlines")

    def escalated():
        view = client.get(f"/api/v1/hotline/tickets/{ticket_no}", headers=operator["headers"]).get_json()
        return view if view["escalations"] == 1 else None

    view = wait_for(escalated, timeout=60, what="the worker's deadline scan")
    assert view["colour"] == "red" and view["history"][-1]["action"] == "escalate" and view["history"][-1]["actor"] == "system"
    warnings = client.get(
        "/api/v1/staff/tickets/warnings", query_string={"colour": "red", "per_page": 100}, headers=ga_head["headers"]
    ).get_json()
    assert [w["role"] for w in warnings["items"] if w["ticket_no"] == ticket_no] == ["department_head"]
