"""The parcel is created in the certificate's transaction; the express worker books its waybill with the
courier (SF, EMS) once — retried with backoff, given up on and re-booked — subscribes it to Kuaidi100;
the window prints the label and hands the parcel over."""

from __future__ import annotations

import io
import signal
from datetime import timedelta

from kombu import Connection
from pypdf import PdfReader
from reportlab.lib.units import mm
from sqlalchemy import func, select

from cases.events import case_status_changed
from cases.models import Case, CaseEvent
from express import service
from express.couriers import BookingRequest, Party, get_courier
from mobile_api.errors import Problem
from mobile_api.extensions import db
from notifications.models import Notification
from tests.express.barcodes import bars_in_pdf, decode_code128
from tests.express.conftest import (
    K100_SALT,
    accepted_case,
    add_address,
    api,
    approve,
    delivery_of,
    issue,
    issued_and_booked,
)
from tests.support import wait_for


def test_issue_books_an_sf_waybill_once_and_subscribes_tracking(
    app, client, configured, express_worker, citizen, staff, items, live_server
):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
    sf, k100 = configured["sf"], configured["k100"]
    assert sf.creates == [parcel.id] and sf.waybills == {parcel.id: parcel.waybill_no}  # our delivery id is SF's orderId
    order = sf.orders[parcel.id]["msg"]
    sender, recipient = order["contactInfoList"]
    assert sender["contactType"] == 1 and "服务中心" in sender["company"] and sender["province"] == "浙江省"
    assert (recipient["contact"], recipient["mobile"], recipient["county"]) == ("张三丰", "13912345678", "海曙区")
    assert order["payMethod"] == 1 and order["monthlyCard"] == "7551234567"  # government pays: the hall's account
    subscription = wait_for(lambda: next((s for s in k100.subscriptions if s["number"] == parcel.waybill_no), None), what="kuaidi100 poll")
    assert subscription["company"] == "shunfeng" and subscription["parameters"]["salt"] == K100_SALT
    assert subscription["parameters"]["callbackurl"] == live_server + "/api/v1/webhooks/express/kuaidi100"
    with app.app_context():
        booked = db.session.scalar(
            select(func.count()).where(Notification.account_id == citizen["id"], Notification.template_code == "express.booked")
        )
        db.session.remove()
    assert booked == 1
    view = api(client, "GET", f"/api/v1/cases/{case_no}", citizen["token"]).get_json()
    assert view["status"] == "certificate_issued" and view["delivery"]["payment_state"] == "government_paid"
    assert [(p["status"], p["waybill_no"]) for p in view["delivery"]["parcels"]] == [("waybill_booked", parcel.waybill_no)]
    assert view["delivery"]["parcels"][0]["person"]["name"] == "张**"
    # Booking again (a redelivered task, the sweep) changes nothing: the parcel is no longer "created".
    with app.app_context():
        assert service.book_waybill(parcel.id) == "already"
        db.session.remove()
    assert sf.creates == [parcel.id]


def test_the_parcel_commits_with_the_certificate_or_not_at_all(app, client, configured, citizen, staff, items):
    token = citizen["token"]
    case_no = accepted_case(client, token, staff, items["free"])
    address = add_address(client, token)["id"]
    api(client, "PUT", f"/api/v1/cases/{case_no}/delivery", token, json={"method": "express", "address_id": address, "courier": "sf"})
    approve(client, staff, case_no)

    def refuse_after_express(case, *, event, from_status, to_status):  # connected after express's receiver: runs later
        if case.case_no == case_no and to_status == "certificate_issued":
            raise Problem(409, "refused_by_test", "测试：拒绝制证")

    case_status_changed.connect(refuse_after_express)
    try:
        assert issue(client, staff, case_no).status_code == 409
    finally:
        case_status_changed.disconnect(refuse_after_express)
    assert delivery_of(app, case_no) is None  # express had created it; it rolled back with the issue
    assert issue(client, staff, case_no).status_code == 200
    assert delivery_of(app, case_no) is not None


def test_an_unpaid_fee_holds_the_booking_until_paid(app, client, configured, express_worker, citizen, staff, items):
    token = citizen["token"]
    case_no = accepted_case(client, token, staff, items["paid"])
    address = add_address(client, token)["id"]
    api(client, "PUT", f"/api/v1/cases/{case_no}/delivery", token, json={"method": "express", "address_id": address, "courier": "sf"})
    approve(client, staff, case_no)
    assert issue(client, staff, case_no).status_code == 200
    parcel = delivery_of(app, case_no)
    assert parcel.status == "created" and parcel.fee_cents == 1200
    with app.app_context():
        assert service.book_waybill(parcel.id) == "awaiting_payment"
        fee_due = db.session.scalar(
            select(func.count()).where(Notification.account_id == citizen["id"], Notification.template_code == "express.fee_due")
        )
        db.session.remove()
    assert fee_due == 1 and parcel.id not in configured["sf"].creates
    # While it waits for the fee the citizen may still change the address (the parcel follows).
    hangzhou = add_address(client, token, province_code="330000", city_code="330100", district_code="330106")["id"]
    assert (
        api(client, "PUT", f"/api/v1/cases/{case_no}/delivery", token, json={"method": "express", "address_id": hangzhou}).status_code
        == 200
    )
    assert delivery_of(app, case_no).city_name == "杭州市"
    checkout = api(client, "POST", f"/api/v1/cases/{case_no}/delivery/payments", token).get_json()
    assert checkout["payment"]["amount"] == "13.00"
    assert api(client, "POST", checkout["params"]["sandbox_pay_url"], token).get_json()["outcome"] == "applied"
    booked = wait_for(lambda: delivery_of(app, case_no).waybill_no, what="booked once paid")
    assert configured["sf"].waybills[parcel.id] == booked
    # Booked: the address can no longer change from here (re-delivery is the way after a failure).
    moved = api(client, "PUT", f"/api/v1/cases/{case_no}/delivery", token, json={"method": "pickup"})
    assert moved.status_code == 409 and moved.get_json()["code"] == "delivery_in_progress"


def test_temporary_failures_retry_with_backoff_then_book_once(app, client, configured, express_worker, citizen, staff, items):
    configured["sf"].fail_next(2, 503)
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
    assert configured["sf"].creates == [parcel.id] * 3 and len(configured["sf"].orders) == 1
    assert parcel.booking_attempts == 2 and parcel.booking_error is None and not parcel.booking_failed


def test_a_refused_booking_gives_up_tells_the_hall_and_can_be_rebooked(app, client, configured, express_worker, citizen, staff, items):
    configured["sf"].refuse_next("8019")
    token = citizen["token"]
    case_no = accepted_case(client, token, staff, items["free"])
    api(
        client,
        "PUT",
        f"/api/v1/cases/{case_no}/delivery",
        token,
        json={"method": "express", "address_id": add_address(client, token)["id"], "courier": "sf"},
    )
    approve(client, staff, case_no)
    assert issue(client, staff, case_no).status_code == 200
    failed = wait_for(lambda: (p := delivery_of(app, case_no)) is not None and p.booking_failed and p, what="booking given up")
    assert "8019" in failed.booking_error and failed.status == "created"
    with app.app_context():
        notes = db.session.scalars(
            select(CaseEvent.internal_note).join(Case).where(Case.case_no == case_no, CaseEvent.action == "note")
        ).all()
        db.session.remove()
    assert any("快递下单失败" in (note or "") for note in notes)
    listed = api(client, "GET", "/api/v1/staff/deliveries", staff["clerk"]).get_json()["items"]
    assert listed[0]["attention"] == "failed"  # failed parcels first
    rebooked = api(client, "POST", f"/api/v1/staff/deliveries/{failed.id}/rebook", staff["clerk"])
    assert rebooked.status_code == 200, rebooked.get_json()
    assert wait_for(lambda: delivery_of(app, case_no).waybill_no, what="rebooked") == configured["sf"].waybills[failed.id]
    assert api(client, "POST", f"/api/v1/staff/deliveries/{failed.id}/rebook", staff["clerk"]).status_code == 409


def _request(order_ref: str) -> BookingRequest:
    hall = Party("宁波市民服务中心", "0574-12345", "浙江省", "宁波市", "鄞州区", "宁东路901号", "宁波市民服务中心")
    citizen = Party("张三丰", "13912345678", "浙江省", "宁波市", "海曙区", "中山西路2号")
    return BookingRequest(order_ref=order_ref, sender=hall, recipient=citizen, pay_method="recipient", cod_cents=1800)  # 到付


def test_sf_duplicate_order_answer_reads_the_order_back(app, configured, config_override):
    configured["sf"].repeat = "8016"  # as SF answers a repeated orderId
    with app.test_request_context():
        courier = get_courier("sf")
        first, second = courier.book(_request("EXDUPLICATE0001")), courier.book(_request("EXDUPLICATE0001"))
    assert first.waybill_no == second.waybill_no
    services = [r["serviceCode"] for r in configured["sf"].requests]
    assert services == ["EXP_RECE_CREATE_ORDER", "EXP_RECE_CREATE_ORDER", "EXP_RECE_SEARCH_ORDER_RESP"]
    assert configured["sf"].orders["EXDUPLICATE0001"]["msg"]["payMethod"] == 2  # cash on delivery: the recipient pays
    config_override(SF_CHECK_WORD="wrong")  # a wrong check word is refused by SF (A1006), for good
    with app.test_request_context():
        try:
            get_courier("sf").book(_request("EXDUPLICATE0002"))
        except Exception as error:  # CourierError
            assert getattr(error, "code", "") == "A1006" and error.temporary is False
        else:
            raise AssertionError("a wrong msgDigest must be refused")


def test_ems_booking_once(app, client, configured, express_worker, citizen, staff, items):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"], courier="ems")
    ems = configured["ems"]
    assert ems.orders[parcel.id] == parcel.waybill_no and ems.creates.count(parcel.id) == 1
    with app.test_request_context():
        again = get_courier("ems").book(_request(parcel.id))  # a retry after a lost answer
    assert (
        again.waybill_no == parcel.waybill_no
        and ems.creates.count(parcel.id) == 2
        and len([w for w in ems.orders.values() if w == parcel.waybill_no]) == 1
    )


def test_sweep_republishes_a_booking_whose_task_was_lost(app, client, configured, express_worker, citizen, staff, items):
    token = citizen["token"]
    case_no = accepted_case(client, token, staff, items["free"])
    api(
        client,
        "PUT",
        f"/api/v1/cases/{case_no}/delivery",
        token,
        json={"method": "express", "address_id": add_address(client, token)["id"], "courier": "sf"},
    )
    approve(client, staff, case_no)
    # The booking task is lost: published while no worker runs, then purged from the real broker.
    express_worker.stop(sig=signal.SIGKILL)
    try:
        assert issue(client, staff, case_no).status_code == 200
        with Connection(app.config["CELERY_BROKER_URL"]) as connection:
            connection.default_channel.queue_purge("express")
    finally:
        express_worker.start()
    parcel = delivery_of(app, case_no)
    assert parcel.status == "created" and parcel.id not in configured["sf"].creates
    with app.app_context():
        assert service.sweep(stuck_after=timedelta(0))["bookings"] >= 1
        db.session.remove()
    assert wait_for(lambda: delivery_of(app, case_no).waybill_no, what="booked after the sweep") == configured["sf"].waybills[parcel.id]


def test_label_and_handover(app, client, configured, express_worker, citizen, staff, items):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["cod"])
    label = api(client, "GET", f"/api/v1/staff/deliveries/{parcel.id}/label", staff["clerk"])
    assert label.status_code == 200 and label.mimetype == "application/pdf"
    assert decode_code128(bars_in_pdf(label.data, 18 * mm)) == parcel.waybill_no  # the barcode reads back as the waybill
    text = PdfReader(io.BytesIO(label.data)).pages[0].extract_text()
    assert "张**" in text and "139****5678" in text and "张三丰" not in text and "13912345678" not in text
    assert "服务中心" in text and "到付 ¥12.00" in text and case_no in text
    assert api(client, "GET", f"/api/v1/staff/deliveries/{parcel.id}/label", staff["officer"]).status_code == 403

    wrong = api(client, "POST", f"/api/v1/staff/deliveries/{parcel.id}/handover", staff["clerk"], json={"waybill_no": "SF0000000000000"})
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "waybill_mismatch"
    handed = api(
        client, "POST", f"/api/v1/staff/deliveries/{parcel.id}/handover", staff["clerk"], json={"waybill_no": parcel.waybill_no.lower()}
    )
    assert handed.status_code == 200 and handed.get_json()["status"] == "handed_over" and handed.get_json()["handed_over_at"]
    again = api(client, "POST", f"/api/v1/staff/deliveries/{parcel.id}/handover", staff["clerk"], json={"waybill_no": parcel.waybill_no})
    assert again.status_code == 200 and again.get_json()["handed_over_at"] == handed.get_json()["handed_over_at"]
    with app.app_context():
        from mobile_api.models import AuditEvent

        actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.subject_id == parcel.id)).all()
        db.session.remove()
    assert actions.count("delivery.handover") == 1 and actions.count("delivery.label") == 1
    assert api(client, "GET", "/api/v1/staff/deliveries/EXNOTHERE", staff["clerk"]).status_code == 404
