"""The whole journey over real HTTP, with real processes: a citizen signs in (SMS code) and proves their
name, applies for an item whose courier fee the citizen pays, adds an address, chooses delivery and pays
with WeChat Pay (the real client against a local v3 server, which notifies our webhook); the case is
pre-reviewed, accepted, approved and the certificate issued — the parcel is created in that transaction
and the express worker books an SF waybill against a local SF-protocol server and subscribes it at a
local Kuaidi100; the window prints the label and hands the parcel over; Kuaidi100 pushes arrive with a
bad signature, repeated, out of order and as full history, until the parcel is delivered and the case
closed (办结, 已送达). The citizen follows it all in the case view, "my deliveries" and the inbox."""

from __future__ import annotations

import random

import requests
from reportlab.lib.units import mm

from mobile_api.extensions import db
from tests.cases.helpers import pdf_bytes
from tests.express.barcodes import bars_in_pdf, decode_code128
from tests.express.conftest import ITEM_BASE, K100_SALT, delivery_of
from tests.express.fakes import kuaidi100_sign, push_body
from tests.support import bearer, sign_in_level2, staff_token, wait_for


class Http:
    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def __call__(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), **(bearer(token) if token else {})}
        return self.session.request(method, self.base + path, headers=headers, timeout=20, **kwargs)


def test_certificate_by_courier_end_to_end(app, client, configured, express_worker, live_server, config_override):
    http = Http(live_server)
    sf, k100, wxpay = configured["sf"], configured["k100"], configured["wxpay"]
    config_override(EXPRESS_PAYMENT_PROVIDER="wechat")
    password = app.config["DEMO_PASSWORD"]
    admin, prereviewer, clerk, officer = (staff_token(client, name, password) for name in ("admin", "prereviewer", "clerk", "officer"))

    # --- the catalog says the item can be delivered, the citizen pays, and the contract may be posted
    code = f"330200-GA-E2E{random.randrange(10**6):06d}"
    item = {**ITEM_BASE, "code": code, "name": "居住证签注（快递）", "delivery_payer": "citizen", "postal_materials": ["contract"]}
    assert http("POST", "/api/v1/staff/catalog/items", admin, json=item).status_code == 201
    guide = http("GET", f"/api/v1/catalog/items/{code}").json()
    assert (guide["deliverable"], guide["delivery_payer"], guide["postal_materials"]) == (True, "citizen", ["contract"])

    # --- a citizen signs in with an SMS code, proves their name (level 2), has WeChat bound
    citizen = sign_in_level2(app, client)
    token = citizen["access_token"]
    openid = _bind_wechat(app, citizen["phone"])

    # --- address from the region picker, then apply and choose delivery at application time
    city = next(c for c in http("GET", "/api/v1/regions", params={"province": "330000"}).json()["items"] if c["name"] == "宁波市")
    district = next(d for d in http("GET", "/api/v1/regions", params={"city": city["code"]}).json()["items"] if d["name"] == "海曙区")
    address = http(
        "POST",
        "/api/v1/me/addresses",
        token,
        json={
            "recipient_name": citizen["name"],
            "phone": citizen["phone"],
            "province_code": "330000",
            "city_code": city["code"],
            "district_code": district["code"],
            "street": "鼓楼街道中山西路2号",
        },
    ).json()
    case_no = http("POST", "/api/v1/cases", token, json={"item_code": code, "form": {"contact_phone": citizen["phone"]}}).json()["case_no"]
    for material in ("id_card", "contract"):
        uploaded = http(
            "POST",
            f"/api/v1/cases/{case_no}/materials",
            token,
            data={"material_code": material},
            files={"file": (f"{material}.pdf", pdf_bytes(1), "application/pdf")},
        )
        assert uploaded.status_code == 201, uploaded.text
    choice = http(
        "PUT", f"/api/v1/cases/{case_no}/delivery", token, json={"method": "express", "address_id": address["id"], "courier": "sf"}
    ).json()
    assert (choice["fee"], choice["payment_state"], choice["quote"]["zone"]) == ("12.00", "unpaid", "same_city")

    # --- pay with WeChat Pay: JSAPI order, the app pays, WeChat Pay notifies our webhook (once, then again)
    checkout = http("POST", f"/api/v1/cases/{case_no}/delivery/payments", token, headers={"Idempotency-Key": "pay-1"})
    assert checkout.status_code == 201, checkout.text
    payment_id = checkout.json()["payment"]["id"]
    assert checkout.json()["params"]["package"].startswith("prepay_id=wx")
    replay = http("POST", f"/api/v1/cases/{case_no}/delivery/payments", token, headers={"Idempotency-Key": "pay-1"})
    assert replay.json()["payment"]["id"] == payment_id and replay.headers.get("Idempotent-Replayed") == "true"
    resource = wxpay.paid_resource(payment_id, 1200, openid)
    webhook = live_server + "/api/v1/webhooks/pay/wechat"
    assert [wxpay.notify(webhook, "TRANSACTION.SUCCESS", resource).status_code for _ in range(2)] == [204, 204]
    assert http("GET", f"/api/v1/cases/{case_no}/delivery", token).json()["payment_state"] == "paid"

    # --- submit, pre-review, accept, approve, issue: the parcel is made with the certificate
    assert http("POST", f"/api/v1/cases/{case_no}/submit", token).status_code == 200
    for staff_token_, action in ((prereviewer, "prereview_pass"), (clerk, "accept"), (officer, "start"), (officer, "approve")):
        response = http("POST", f"/api/v1/staff/cases/{case_no}/transitions", staff_token_, json={"action": action})
        assert response.status_code == 200, (action, response.text)
    issued = http(
        "POST",
        f"/api/v1/staff/cases/{case_no}/transitions",
        officer,
        json={"action": "issue_certificate", "certificate": {"kind": "居住证"}},
    )
    assert issued.status_code == 200 and issued.json()["status"] == "certificate_issued"
    parcel = wait_for(lambda: (p := delivery_of(app, case_no)) is not None and p.waybill_no and p, what="SF waybill booked")
    waybill = parcel.waybill_no
    assert sf.creates == [parcel.id] and sf.waybills[parcel.id] == waybill
    wait_for(lambda: any(s["number"] == waybill for s in k100.subscriptions), what="Kuaidi100 subscription")

    # --- the window: the list, the label (barcode = waybill, recipient masked), the handover scan
    listed = http("GET", "/api/v1/staff/deliveries", clerk, params={"status": "waybill_booked"}).json()["items"]
    assert parcel.id in [row["id"] for row in listed]
    label = http("GET", f"/api/v1/staff/deliveries/{parcel.id}/label", clerk)
    assert label.headers["Content-Type"] == "application/pdf" and decode_code128(bars_in_pdf(label.content, 18 * mm)) == waybill
    assert citizen["name"].encode("utf-16-be") not in label.content
    assert http("POST", f"/api/v1/staff/deliveries/{parcel.id}/handover", clerk, json={"waybill_no": "SF0000000000000"}).status_code == 422
    assert (
        http("POST", f"/api/v1/staff/deliveries/{parcel.id}/handover", clerk, json={"waybill_no": waybill}).json()["status"]
        == "handed_over"
    )

    # --- Kuaidi100 pushes: a forged one, then the route in a jumbled order with repeats and full history
    picked = ("2026-11-24 16:00:00", "【宁波市】顺丰速运 已收取快件", "揽收")
    moving = ("2026-11-24 21:30:00", "快件已发往【宁波海曙】", "在途")
    out = ("2026-11-25 08:10:00", "【宁波海曙】快递员正在派件", "派件")
    signed = ("2026-11-25 10:20:00", "快件已签收，签收人：本人", "签收")

    def push(param: str, salt: str = K100_SALT) -> requests.Response:
        return http("POST", "/api/v1/webhooks/express/kuaidi100", data={"param": param, "sign": kuaidi100_sign(param + salt)})

    assert push(push_body(waybill, "shunfeng", "3", [signed]), salt="forged").status_code == 401
    assert _status(http, token, parcel.id) == "handed_over"
    assert push(push_body(waybill, "shunfeng", "1", [picked])).json()["result"] is True
    assert push(push_body(waybill, "shunfeng", "1", [picked])).json()["result"] is True  # duplicate
    assert push(push_body(waybill, "shunfeng", "5", [out, moving, picked])).json()["result"] is True
    assert push(push_body(waybill, "shunfeng", "0", [moving, picked])).json()["result"] is True  # late and older
    assert _status(http, token, parcel.id) == "out_for_delivery"
    assert push(push_body(waybill, "shunfeng", "3", [signed, out, moving, picked])).json()["result"] is True
    assert push(push_body(waybill, "shunfeng", "3", [signed, out, moving, picked])).json()["result"] is True  # full history again

    # --- delivered: the case is closed (办结, 已送达), and the citizen sees it all
    view = http("GET", f"/api/v1/cases/{case_no}", token).json()
    assert view["status"] == "closed" and view["timeline"][-1]["note"] == "办结：已送达"
    delivery = view["delivery"]
    assert (delivery["method"], delivery["payment_state"], delivery["fee"]) == ("express", "paid", "12.00")
    events = delivery["parcels"][0]["events"]
    assert [e["status"] for e in events] == ["delivered", "out_for_delivery", "in_transit", "picked_up"] and delivery["parcels"][0][
        "status"
    ] == "delivered"
    mine = http("GET", "/api/v1/me/deliveries", token).json()
    assert [(d["case_no"], d["status"], d["waybill_no"]) for d in mine["items"]] == [(case_no, "delivered", waybill)]
    inbox = wait_for(lambda: _inbox_texts(http, token, 3), what="inbox copies of the parcel's messages")
    for words in ("运单号", "正在派送", "已送达"):
        assert any(words in text for text in inbox), (words, inbox)
    assert wxpay.bad_signatures == 0 and len(sf.orders) == 1


def _status(http: Http, token: str, delivery_id: str) -> str:
    return http("GET", f"/api/v1/me/deliveries/{delivery_id}", token).json()["status"]


def _inbox_texts(http: Http, token: str, at_least: int) -> list[str] | None:
    items = http("GET", "/api/v1/me/messages", token).json()["items"]
    texts = [
        item.get("body") or item.get("content") or ""
        for item in items
        if "快递" in (item.get("title") or "") or "证照" in (item.get("title") or "")
    ]
    return texts if len(texts) >= at_least else None


def _bind_wechat(app, phone: str) -> str:
    """The citizen's WeChat binding (tested in tests/auth) as data: the openid WeChat Pay charges."""
    from sqlalchemy import update

    from auth.models import Account

    openid = f"o-e2e-{random.randrange(10**12)}"
    with app.app_context():
        db.session.execute(update(Account).where(Account.phone == phone).values(wechat_openid=openid))
        db.session.commit()
        db.session.remove()
    return openid
