"""Kuaidi100 pushes: signatures, duplicates, out-of-order and full-history repeats, the state by event time
whatever the arrival order, concurrent pushes, what a new state does; the stale-parcel query; the local
courier's journey."""

from __future__ import annotations

import itertools
import logging
import random
import threading
from datetime import timedelta

import requests
from sqlalchemy import func, select

from cases.models import Case, CaseEvent
from express import service
from express.models import TrackingEvent
from mobile_api.extensions import db
from mobile_api.timeutil import utcnow
from notifications.models import Notification
from tests.express.conftest import K100_SALT, api, delivery_of, issued_and_booked
from tests.express.fakes import kuaidi100_sign, push_body
from tests.support import wait_for

T1, T2, T3, T4 = "2026-11-20 09:10:00", "2026-11-20 18:30:00", "2026-11-21 08:05:00", "2026-11-21 11:42:00"
PICKED = (T1, "【宁波市】顺丰速运 已收取快件", "揽收")
MOVING = (T2, "快件在【宁波鄞州集散中心】完成分拣，准备发往【宁波海曙】", "在途")
OUT = (T3, "【宁波海曙】快递员 王师傅（138****0000）正在为您派件", "派件")
SIGNED = (T4, "快件已签收，签收人：本人", "签收")


def push(client, param: str, salt: str = K100_SALT, sign: str | None = None):
    return client.post(
        "/api/v1/webhooks/express/kuaidi100", data={"param": param, "sign": sign if sign is not None else kuaidi100_sign(param + salt)}
    )


def _count(app, model, *where) -> int:
    with app.app_context():
        value = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
        return value


def test_pushes_bad_signature_duplicates_out_of_order_full_history(app, client, configured, express_worker, citizen, staff, items, caplog):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
    number = parcel.waybill_no
    picked = push_body(number, "shunfeng", "1", [PICKED])
    with caplog.at_level(logging.WARNING, logger="express.api"):
        forged = push(client, picked, salt="not-the-salt")
        unsigned = push(client, picked, sign="")
    assert (forged.status_code, unsigned.status_code) == (401, 401) and forged.get_json()["result"] is False
    assert any("bad signature" in record.getMessage() for record in caplog.records)
    assert delivery_of(app, case_no).status == "waybill_booked"

    first = push(client, picked)
    assert first.status_code == 200 and first.get_json() == {"result": True, "returnCode": "200", "message": "成功"}
    assert push(client, picked).get_json()["result"] is True  # the same push again
    assert delivery_of(app, case_no).status == "picked_up" and _count(app, TrackingEvent, TrackingEvent.delivery_id == parcel.id) == 1

    # Kuaidi100 sends the whole history, newest first; the out-for-delivery push arrives before the in-transit one.
    assert push(client, push_body(number, "shunfeng", "5", [OUT, MOVING, PICKED])).status_code == 200
    assert push(client, push_body(number, "shunfeng", "0", [MOVING, PICKED])).status_code == 200  # late, older
    after = delivery_of(app, case_no)
    assert after.status == "out_for_delivery" and _count(app, TrackingEvent, TrackingEvent.delivery_id == parcel.id) == 3

    for _ in range(2):
        assert push(client, push_body(number, "shunfeng", "3", [SIGNED, OUT, MOVING, PICKED])).get_json()["result"] is True
    done = delivery_of(app, case_no)
    assert done.status == "delivered" and done.delivered_at is not None
    view = api(client, "GET", f"/api/v1/cases/{case_no}", citizen["token"]).get_json()
    assert view["status"] == "closed"
    closing = [(e["action"], e["status"], e["note"], e["actor"]) for e in view["timeline"][-2:]]
    assert closing == [("deliver", "delivered", "已送达", "系统"), ("close", "closed", "办结：已送达", "系统")]
    events = view["delivery"]["parcels"][0]["events"]
    assert [e["status"] for e in events] == ["delivered", "out_for_delivery", "in_transit", "picked_up"]  # newest first
    templates = {
        code: _count(app, Notification, Notification.account_id == citizen["id"], Notification.template_code == code)
        for code in ("express.booked", "express.out_for_delivery", "express.delivered")
    }
    assert templates == {"express.booked": 1, "express.out_for_delivery": 1, "express.delivered": 1}
    mine = api(client, "GET", "/api/v1/me/deliveries", citizen["token"]).get_json()
    assert mine["total"] == 1 and mine["items"][0]["status"] == "delivered" and len(mine["items"][0]["events"]) == 4


def test_malformed_unknown_and_oversized_pushes(client, configured):
    unknown = push(client, push_body("SF0000000000009", "shunfeng", "0", [MOVING]))
    assert unknown.status_code == 200 and unknown.get_json()["result"] is True  # not ours: do not make it retry forever
    for param in ("{", "[]", '{"lastResult": {"nu": "x"}}', push_body("SF1", "shunfeng", "0", [("昨天", "x", "在途")])):
        response = push(client, param)
        assert response.status_code == 400 and response.get_json()["result"] is False, param
    assert push(client, "a\u0000b").status_code == 400
    huge = push(client, push_body("SF1", "shunfeng", "0", [MOVING] * 3000))
    assert huge.status_code == 413 and huge.get_json()["result"] is False
    assert client.post("/api/v1/webhooks/express/kuaidi100", data="param=x", content_type="text/plain").status_code == 415


def test_state_follows_event_time_whatever_the_arrival_order(app, client, configured, express_worker, citizen, staff, items):
    """Every arrival order of the same pushes (duplicates included) ends in the same state and events."""
    pushes = [[PICKED], [MOVING, PICKED], [OUT, MOVING, PICKED], [SIGNED, OUT, MOVING, PICKED], [OUT]]
    codes = ["1", "0", "5", "3", "5"]
    orders = random.Random(7).sample(list(itertools.permutations(range(len(pushes)))), 4)
    finals = set()
    for order in orders:
        case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
        for index in order:
            assert push(client, push_body(parcel.waybill_no, "shunfeng", codes[index], pushes[index])).status_code == 200
        after = delivery_of(app, case_no)
        finals.add((after.status, _count(app, TrackingEvent, TrackingEvent.delivery_id == parcel.id), after.last_event_at))
        with app.app_context():
            assert db.session.scalar(select(Case.status).where(Case.case_no == case_no)) == "closed"
            db.session.remove()
    assert len(finals) == 1 and next(iter(finals))[:2] == ("delivered", 4), finals


def test_concurrent_duplicate_pushes_store_each_event_once(app, client, configured, express_worker, citizen, staff, items, live_server):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
    param = push_body(parcel.waybill_no, "shunfeng", "3", [SIGNED, OUT, MOVING, PICKED])
    answers: list[tuple[int, bool]] = []
    barrier = threading.Barrier(6)

    def send() -> None:
        barrier.wait()
        response = requests.post(
            live_server + "/api/v1/webhooks/express/kuaidi100", data={"param": param, "sign": kuaidi100_sign(param + K100_SALT)}, timeout=30
        )
        answers.append((response.status_code, response.json()["result"]))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Each push is applied whole or asks for a retry (result false): none is half-applied.
    assert all(answer in ((200, True), (500, False)) for answer in answers) and (200, True) in answers, answers
    while (500, False) in answers:  # Kuaidi100 pushes again what we refused
        answers.remove((500, False))
        assert push(client, param).get_json()["result"] is True
    assert delivery_of(app, case_no).status == "delivered"
    assert _count(app, TrackingEvent, TrackingEvent.delivery_id == parcel.id) == 4
    assert _count(app, Notification, Notification.account_id == citizen["id"], Notification.template_code == "express.delivered") == 1
    with app.app_context():
        closes = db.session.scalar(
            select(func.count()).select_from(CaseEvent).join(Case).where(Case.case_no == case_no, CaseEvent.action == "close")
        )
        db.session.remove()
    assert closes == 1


def test_exception_alerts_citizen_and_hall_then_redelivery(app, client, configured, express_worker, citizen, staff, items):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
    problem = ("2026-11-21 10:00:00", "收件人电话无人接听，地址无法找到，快件滞留", "疑难")
    assert push(client, push_body(parcel.waybill_no, "shunfeng", "2", [problem, MOVING, PICKED])).status_code == 200
    failed = delivery_of(app, case_no)
    assert failed.status == "exception" and "滞留" in failed.problem
    assert _count(app, Notification, Notification.account_id == citizen["id"], Notification.template_code == "express.exception") == 1
    with app.app_context():
        notes = db.session.scalars(
            select(CaseEvent.internal_note).join(Case).where(Case.case_no == case_no, CaseEvent.visible.is_(False))
        ).all()
        db.session.remove()
    assert any("派送异常" in (note or "") and "重新投递" in note for note in notes)
    listed = api(
        client, "GET", "/api/v1/staff/deliveries", staff["supervisor"], query_string={"status": "exception", "per_page": 100}
    ).get_json()
    row = next(item for item in listed["items"] if item["id"] == parcel.id)
    assert row["attention"] == "failed" and row["person"]["phone"] == "139****5678"

    mine = api(client, "GET", f"/api/v1/me/deliveries/{parcel.id}", citizen["token"]).get_json()
    assert mine["can_redeliver"] is True
    stranger = api(client, "POST", f"/api/v1/me/deliveries/{parcel.id}/redelivery", _stranger_token(app), json={"method": "express"})
    assert stranger.status_code == 404
    again = api(client, "POST", f"/api/v1/me/deliveries/{parcel.id}/redelivery", citizen["token"], json={"method": "express"})
    assert again.status_code == 201, again.get_json()
    new_id = again.get_json()["delivery"]["id"]
    assert new_id != parcel.id
    twice = api(client, "POST", f"/api/v1/me/deliveries/{parcel.id}/redelivery", citizen["token"], json={"method": "pickup"})
    assert twice.status_code == 409 and twice.get_json()["code"] == "already_redelivered"
    rebooked = wait_for(
        lambda: (p := delivery_of(app, case_no)) is not None and p.id == new_id and p.waybill_no and p, what="re-delivery booked"
    )
    assert rebooked.replaces_id == parcel.id and rebooked.waybill_no != parcel.waybill_no
    assert configured["sf"].creates.count(new_id) == 1


def _stranger_token(app) -> str:
    from auth.models import Account
    from auth.tokens import issue_tokens
    from mobile_api.access import CITIZEN
    from tests.support import unique_phone

    with app.app_context():
        account = Account(phone=unique_phone(), level=2)
        db.session.add(account)
        db.session.flush()
        token = issue_tokens(CITIZEN, account.id).access_token
        db.session.commit()
        db.session.remove()
        return token


def test_quiet_parcels_are_looked_up(app, client, configured, express_worker, citizen, staff, items):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
    k100 = configured["k100"]
    route = json_route(parcel.waybill_no, [OUT, MOVING, PICKED], "5")
    k100.routes[parcel.waybill_no] = route
    with app.app_context():
        assert service.poll_stale(now=utcnow() + timedelta(hours=25)) >= 1
        db.session.remove()
    assert any(q["num"] == parcel.waybill_no and q["com"] == "shunfeng" for q in k100.queries)  # signed: the fake checked it
    after = delivery_of(app, case_no)
    assert after.status == "out_for_delivery" and after.last_checked_at is not None
    with app.app_context():  # asked just now: not asked again within the hour
        asked_before = len(k100.queries)
        service.poll_stale(now=utcnow() + timedelta(minutes=30))
        db.session.remove()
    assert len(k100.queries) == asked_before


def json_route(number: str, events: list, state: str) -> dict:
    data = [{"time": t, "ftime": t, "context": c, "status": s} for t, c, s in events]
    return {"nu": number, "com": "shunfeng", "state": state, "ischeck": "0", "data": data}


def test_local_courier_plays_the_whole_journey(app, client, configured, express_worker, citizen, staff, items):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"], courier="local")
    assert parcel.waybill_no.startswith("LC") and parcel.id not in configured["sf"].creates
    with app.app_context():
        assert service.advance_local() == 0  # not handed over yet: the courier has nothing
        db.session.remove()
    handed = api(client, "POST", f"/api/v1/staff/deliveries/{parcel.id}/handover", staff["clerk"], json={"waybill_no": parcel.waybill_no})
    assert handed.status_code == 200
    seen = []
    for _ in range(6):
        with app.app_context():
            service.advance_local()
            db.session.remove()
        seen.append(delivery_of(app, case_no).status)
    assert seen == ["picked_up", "in_transit", "in_transit", "out_for_delivery", "delivered", "delivered"]
    view = api(client, "GET", f"/api/v1/cases/{case_no}", citizen["token"]).get_json()
    assert view["status"] == "closed" and len(view["delivery"]["parcels"][0]["events"]) == 5
    assert _count(app, TrackingEvent, TrackingEvent.delivery_id == parcel.id, TrackingEvent.source == "local") == 5
