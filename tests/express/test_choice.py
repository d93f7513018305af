"""Choosing delivery: the fee quote by item, courier and region; who pays; the payment state; the local
sandbox payment applied once; refunds when the citizen switches to pickup or the case is rejected."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from express.models import Payment
from mobile_api.extensions import db
from notifications.models import Notification
from tests.express.conftest import accepted_case, act, add_address, api, new_case
from tests.support import wait_for

HANGZHOU = {"province_code": "330000", "city_code": "330100", "district_code": "330106"}
BEIJING = {"province_code": "110000", "city_code": "110000", "district_code": "110105"}
URUMQI = {"province_code": "650000", "city_code": "650100", "district_code": "650102"}


def choose(client, token: str, case_no: str, **body):
    return api(client, "PUT", f"/api/v1/cases/{case_no}/delivery", token, json=body)


def test_quote_by_item_courier_and_region(client, configured, citizen, items):
    token = citizen["token"]
    case_no = new_case(client, token, items["paid"])  # at application time: the case is a draft
    ningbo, hangzhou = add_address(client, token)["id"], add_address(client, token, **HANGZHOU)["id"]
    beijing, urumqi = add_address(client, token, **BEIJING)["id"], add_address(client, token, **URUMQI)["id"]
    expected = [(ningbo, "sf", "12.00", "same_city"), (hangzhou, "sf", "13.00", "same_province"), (beijing, "sf", "18.00", "mainland")]
    expected += [(urumqi, "sf", "30.00", "remote"), (ningbo, "ems", "10.00", "same_city")]
    for address_id, courier, amount, zone in expected:
        answer = choose(client, token, case_no, method="express", address_id=address_id, courier=courier)
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert (body["quote"]["amount"], body["quote"]["zone"], body["fee"]) == (amount, zone, amount)
        assert body["payment_state"] == "unpaid" and body["payer"] == "citizen" and body["address"]["id"] == address_id
    # The courier is remembered: choosing another address keeps EMS.
    assert choose(client, token, case_no, method="express", address_id=beijing).get_json()["courier"] == "ems"
    assert api(client, "GET", f"/api/v1/cases/{case_no}/delivery", token).get_json()["fee"] == "15.00"


def test_who_pays_follows_the_item(client, configured, citizen, items):
    token = citizen["token"]
    address = add_address(client, token, **BEIJING)["id"]
    for item, amount, state in (("free", "0.00", "government_paid"), ("cod", "18.00", "cod"), ("fixed", "15.00", "unpaid")):
        case_no = new_case(client, token, items[item])
        body = choose(client, token, case_no, method="express", address_id=address, courier="sf").get_json()
        assert (body["fee"], body["payment_state"], body["quote"]["tariff"]) == (amount, state, "18.00"), (item, body)
    pickup_only = new_case(client, token, items["pickup_only"])
    refused = choose(client, token, pickup_only, method="express", address_id=address)
    assert refused.status_code == 409 and refused.get_json()["code"] == "not_deliverable"
    pickup = choose(client, token, pickup_only, method="pickup")
    assert pickup.status_code == 200 and pickup.get_json()["method"] == "pickup" and pickup.get_json()["payment_state"] is None


def test_bad_choices_and_other_citizens(client, configured, make_citizen, items):
    owner, stranger = make_citizen(), make_citizen()
    case_no = new_case(client, owner["token"], items["paid"])
    mine, theirs = add_address(client, owner["token"])["id"], add_address(client, stranger["token"])["id"]
    assert choose(client, stranger["token"], case_no, method="pickup").status_code == 404  # not their case
    assert choose(client, owner["token"], case_no, method="express", address_id=theirs).status_code == 404  # not my address
    assert choose(client, owner["token"], case_no, method="express").status_code == 422  # no address
    assert choose(client, owner["token"], case_no, method="express", address_id=mine, courier="dhl").status_code == 422
    assert choose(client, owner["token"], case_no, method="drone").status_code == 422
    assert api(client, "GET", f"/api/v1/cases/{case_no}/delivery", owner["token"]).status_code == 404  # nothing chosen yet
    assert api(client, "GET", "/api/v1/cases/NB0000-AAAAA/delivery", owner["token"]).status_code == 404
    # The address chosen for a certificate not sent yet cannot be deleted.
    assert choose(client, owner["token"], case_no, method="express", address_id=mine).status_code == 200
    in_use = api(client, "DELETE", f"/api/v1/me/addresses/{mine}", owner["token"])
    assert in_use.status_code == 409 and in_use.get_json()["code"] == "address_in_use"


def _pay_locally(client, token: str, case_no: str) -> dict:
    checkout = api(client, "POST", f"/api/v1/cases/{case_no}/delivery/payments", token)
    assert checkout.status_code == 201, checkout.get_json()
    body = checkout.get_json()
    assert body["provider"] == "local" and body["payment"]["status"] == "pending"
    return body


def test_local_payment_applied_once_even_when_raced(app, client, configured, make_citizen, items):
    token, stranger = make_citizen()["token"], make_citizen()["token"]
    case_no = new_case(client, token, items["paid"])
    choose(client, token, case_no, method="express", address_id=add_address(client, token)["id"], courier="sf")
    checkout = _pay_locally(client, token, case_no)
    url = checkout["params"]["sandbox_pay_url"]
    assert api(client, "POST", url, stranger).status_code == 404  # not their payment
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def pay() -> None:
        barrier.wait()
        response = api(app.test_client(), "POST", url, token)
        outcomes.append(response.get_json()["outcome"] if response.status_code == 200 else str(response.status_code))

    threads = [threading.Thread(target=pay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already", "already", "already", "applied"], outcomes
    choice = api(client, "GET", f"/api/v1/cases/{case_no}/delivery", token).get_json()
    assert choice["payment_state"] == "paid" and choice["payment"]["status"] == "paid"
    again = api(client, "POST", f"/api/v1/cases/{case_no}/delivery/payments", token)
    assert again.status_code == 409 and again.get_json()["code"] == "nothing_to_pay"
    # Paid: a new address must cost the same.
    dearer = choose(client, token, case_no, method="express", address_id=add_address(client, token, **BEIJING)["id"])
    assert dearer.status_code == 409 and dearer.get_json()["code"] == "fee_changed_after_payment"
    same = choose(client, token, case_no, method="express", address_id=add_address(client, token, street="中山东路1号")["id"])
    assert same.status_code == 200 and same.get_json()["payment_state"] == "paid"


def test_pickup_after_paying_refunds_once(app, client, configured, express_worker, citizen, items):
    token = citizen["token"]
    case_no = new_case(client, token, items["paid"])
    choose(client, token, case_no, method="express", address_id=add_address(client, token)["id"], courier="sf")
    api(client, "POST", _pay_locally(client, token, case_no)["params"]["sandbox_pay_url"], token)
    switched = choose(client, token, case_no, method="pickup")
    assert switched.status_code == 200 and switched.get_json()["refund"] == "processing"
    wait_for(lambda: _choice(client, token, case_no)["payment_state"] == "refunded", timeout=30, what="refund by the worker")
    assert _choice(client, token, case_no)["payment"]["status"] == "refunded"
    with app.app_context():
        refunded = db.session.scalar(
            select(func.count()).where(Notification.account_id == citizen["id"], Notification.template_code == "express.refunded")
        )
        db.session.remove()
    assert refunded == 1


def test_rejected_case_refunds_a_paid_fee(app, client, configured, express_worker, citizen, staff, items):
    token = citizen["token"]
    case_no = accepted_case(client, token, staff, items["paid"])  # any time before collection
    choose(client, token, case_no, method="express", address_id=add_address(client, token)["id"], courier="sf")
    api(client, "POST", _pay_locally(client, token, case_no)["params"]["sandbox_pay_url"], token)
    assert act(client, staff["officer"], case_no, "start").status_code == 200
    assert act(client, staff["officer"], case_no, "reject", reason="材料不真实").status_code == 200
    wait_for(lambda: _choice(client, token, case_no)["payment_state"] == "refunded", timeout=30, what="refund after rejection")
    rejected = choose(client, token, case_no, method="pickup")
    assert rejected.status_code == 409 and rejected.get_json()["code"] == "delivery_locked"


def test_a_superseded_checkout_paid_late_is_refunded(app, client, configured, express_worker, citizen, items):
    token = citizen["token"]
    case_no = new_case(client, token, items["paid"])
    choose(client, token, case_no, method="express", address_id=add_address(client, token)["id"], courier="sf")
    old = _pay_locally(client, token, case_no)
    # The quote changes (another region): the open checkout is closed; a new one is for the new fee.
    assert choose(client, token, case_no, method="express", address_id=add_address(client, token, **BEIJING)["id"]).status_code == 200
    new = _pay_locally(client, token, case_no)
    assert new["payment"]["amount"] == "18.00" and old["payment"]["id"] != new["payment"]["id"]
    assert api(client, "POST", new["params"]["sandbox_pay_url"], token).get_json()["outcome"] == "applied"
    # The old checkout's money still arrives: nobody needs it, so it goes back.
    late = api(client, "POST", old["params"]["sandbox_pay_url"], token).get_json()
    assert late["outcome"] == "refunding"

    def old_status():
        with app.app_context():
            status = db.session.scalar(select(Payment.status).where(Payment.id == old["payment"]["id"]))
            db.session.remove()
            return status

    wait_for(lambda: old_status() == "refunded", timeout=30, what="the late payment refunded")
    assert _choice(client, token, case_no)["payment_state"] == "paid"  # the new payment stands


def _choice(client, token: str, case_no: str) -> dict:
    return api(client, "GET", f"/api/v1/cases/{case_no}/delivery", token).get_json()
