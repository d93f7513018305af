"""WeChat Pay API v3 through the real ``wechatpayv3`` client against a local server speaking the protocol:
the JSAPI order signed with the merchant key, answers verified with the platform public key (no
certificate download), the notification verified, decrypted and applied once, and the refund."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from express.models import Payment
from mobile_api.extensions import db
from tests.express.conftest import accepted_case, act, add_address, api, new_case
from tests.express.fakes import _new_key, rsa_verify
from tests.support import wait_for


@pytest.fixture()
def wechat(configured, config_override, live_server):
    config_override(EXPRESS_PAYMENT_PROVIDER="wechat")
    return configured["wxpay"], live_server + "/api/v1/webhooks/pay/wechat"


def _checkout(client, token: str, case_no: str) -> dict:
    response = api(client, "POST", f"/api/v1/cases/{case_no}/delivery/payments", token)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _case_to_pay(client, citizen: dict, items: dict) -> str:
    case_no = new_case(client, citizen["token"], items["paid"])
    address = add_address(client, citizen["token"])["id"]
    assert (
        api(
            client,
            "PUT",
            f"/api/v1/cases/{case_no}/delivery",
            citizen["token"],
            json={"method": "express", "address_id": address, "courier": "sf"},
        ).status_code
        == 200
    )
    return case_no


def test_jsapi_order_signed_both_ways(client, wechat, citizen, items):
    server, _ = wechat
    case_no = _case_to_pay(client, citizen, items)
    checkout = _checkout(client, citizen["token"], case_no)
    payment_id = checkout["payment"]["id"]
    assert server.bad_signatures == 0 and payment_id in server.orders  # our Authorization header verified
    order = server.orders[payment_id]["body"]
    assert order["amount"] == {"total": 1200, "currency": "CNY"} and order["payer"] == {"openid": citizen["openid"]}
    assert order["notify_url"].endswith("/api/v1/webhooks/pay/wechat") and order["description"].startswith("证照快递费")
    params = checkout["params"]
    assert params["package"] == f"prepay_id={server.orders[payment_id]['prepay_id']}" and params["signType"] == "RSA"
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    assert rsa_verify(server.merchant_key.public_key(), message, params["paySign"])  # what wx.requestPayment checks
    # Asking again within the hour reuses the prepay order instead of opening another.
    assert _checkout(client, citizen["token"], case_no)["payment"]["id"] == payment_id and len(server.orders) == 1


def test_a_citizen_without_wechat_cannot_pay_by_wechat(client, wechat, make_citizen, items):
    citizen = make_citizen(wechat=False)
    case_no = _case_to_pay(client, citizen, items)
    refused = api(client, "POST", f"/api/v1/cases/{case_no}/delivery/payments", citizen["token"])
    assert refused.status_code == 409 and refused.get_json()["code"] == "payment_refused"


def test_notification_verified_decrypted_applied_once(app, client, wechat, citizen, items):
    server, webhook = wechat
    case_no = _case_to_pay(client, citizen, items)
    payment_id = _checkout(client, citizen["token"], case_no)["payment"]["id"]
    resource = server.paid_resource(payment_id, 1200, citizen["openid"])

    forged = server.notify(webhook, "TRANSACTION.SUCCESS", resource, key=_new_key())  # signed by someone else
    stale = server.notify(webhook, "TRANSACTION.SUCCESS", resource, timestamp=int(time.time()) - 600)
    headers, body = server.notification("TRANSACTION.SUCCESS", resource)
    tampered = client.post("/api/v1/webhooks/pay/wechat", data=body.replace(b'"ciphertext": "', b'"ciphertext": "AAAA'), headers=headers)
    no_headers = client.post("/api/v1/webhooks/pay/wechat", data=body, content_type="application/json")
    assert [forged.status_code, stale.status_code, tampered.status_code, no_headers.status_code] == [401, 401, 401, 401]
    assert forged.json()["code"] == "FAIL"
    assert _choice(client, citizen, case_no)["payment_state"] == "unpaid"

    wrong_amount = server.notify(webhook, "TRANSACTION.SUCCESS", resource | {"amount": {"total": 1}})
    other_merchant = server.notify(webhook, "TRANSACTION.SUCCESS", resource | {"mchid": "1111111111"})
    assert (wrong_amount.status_code, other_merchant.status_code) == (400, 401)

    first = server.notify(webhook, "TRANSACTION.SUCCESS", resource)
    assert first.status_code == 204, first.text
    for _ in range(3):  # WeChat Pay repeats a notification until it is answered; we may see it again
        assert server.notify(webhook, "TRANSACTION.SUCCESS", resource).status_code == 204
    choice = _choice(client, citizen, case_no)
    assert choice["payment_state"] == "paid" and choice["payment"]["status"] == "paid"
    with app.app_context():
        row = db.session.get(Payment, payment_id)
        assert row.transaction_id == resource["transaction_id"]
        assert db.session.scalar(select(func.count()).where(Payment.case_id == row.case_id, Payment.status == "paid")) == 1
        db.session.remove()


def test_refund_when_rejected_processing_then_notified(app, client, wechat, express_worker, citizen, staff, items):
    server, webhook = wechat
    server.refund_status = "PROCESSING"
    token = citizen["token"]
    case_no = accepted_case(client, token, staff, items["paid"])
    address = add_address(client, token)["id"]
    api(client, "PUT", f"/api/v1/cases/{case_no}/delivery", token, json={"method": "express", "address_id": address, "courier": "sf"})
    payment_id = _checkout(client, token, case_no)["payment"]["id"]
    assert server.notify(webhook, "TRANSACTION.SUCCESS", server.paid_resource(payment_id, 1200)).status_code == 204
    assert act(client, staff["officer"], case_no, "start").status_code == 200
    assert act(client, staff["officer"], case_no, "reject", reason="不符合受理条件").status_code == 200

    refund_no = f"{payment_id}R"
    wait_for(lambda: refund_no in server.refunds, timeout=30, what="the refund asked of WeChat Pay")
    assert server.refunds[refund_no]["body"]["amount"] == {"refund": 1200, "total": 1200, "currency": "CNY"}
    assert server.refunds[refund_no]["body"]["out_trade_no"] == payment_id
    wait_for(lambda: _payment_status(app, payment_id) == "refunding", timeout=30, what="refund accepted, processing")
    refund = {
        "mchid": server.MCHID,
        "out_trade_no": payment_id,
        "out_refund_no": refund_no,
        "refund_id": server.refunds[refund_no]["refund_id"],
        "refund_status": "SUCCESS",
    }
    assert server.notify(webhook, "REFUND.SUCCESS", refund).status_code == 204
    assert server.notify(webhook, "REFUND.SUCCESS", refund).status_code == 204  # repeated: nothing more
    assert _payment_status(app, payment_id) == "refunded" and _choice(client, citizen, case_no)["payment_state"] == "refunded"
    assert server.refund_requests.count(refund_no) == 1 and server.bad_signatures == 0


def test_webhook_is_off_without_wechat_pay(client, configured):
    response = client.post("/api/v1/webhooks/pay/wechat", json={"id": "x"})
    assert response.status_code == 404


def _choice(client, citizen: dict, case_no: str) -> dict:
    return api(client, "GET", f"/api/v1/cases/{case_no}/delivery", citizen["token"]).get_json()


def _payment_status(app, payment_id: str) -> str:
    with app.app_context():
        status = db.session.scalar(select(Payment.status).where(Payment.id == payment_id))
        db.session.remove()
        return status
