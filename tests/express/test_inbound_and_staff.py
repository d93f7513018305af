"""Both directions: a courier picks paper originals up at the citizen's and the hall's receipt satisfies
those materials for pre-review. And the hall's list: failed first, then stuck; scope by hall; roles;
every read audited."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select, update

from express.models import Delivery
from mobile_api.extensions import db
from mobile_api.models import AuditEvent
from mobile_api.timeutil import utcnow
from tests.cases.helpers import pdf_bytes
from tests.express.conftest import accepted_case, add_address, api, delivery_of, new_case
from tests.support import staff_token, wait_for


def test_posted_originals_satisfy_pre_review(app, client, configured, express_worker, citizen, staff, items):
    token = citizen["token"]
    case_no = new_case(client, token, items["paid"])  # "contract" may be posted for this item
    data = {"material_code": "id_card", "file": (io.BytesIO(pdf_bytes(1)), "id.pdf")}
    assert (
        api(client, "POST", f"/api/v1/cases/{case_no}/materials", token, data=data, content_type="multipart/form-data").status_code == 201
    )
    incomplete = api(client, "POST", f"/api/v1/cases/{case_no}/submit", token)
    assert incomplete.status_code == 422 and [p["material_code"] for p in incomplete.get_json()["errors"]] == ["contract"]

    address = add_address(client, token)["id"]
    not_postable = api(
        client, "POST", f"/api/v1/cases/{case_no}/inbound-deliveries", token, json={"address_id": address, "material_codes": ["id_card"]}
    )
    assert not_postable.status_code == 422 and not_postable.get_json()["code"] == "material_not_postable"
    booked = api(
        client,
        "POST",
        f"/api/v1/cases/{case_no}/inbound-deliveries",
        token,
        json={"address_id": address, "material_codes": ["contract"], "courier": "sf"},
    )
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["direction"] == "inbound" and booked.get_json()["fee"] == "12.00"  # paid to the courier at the door
    twice = api(
        client, "POST", f"/api/v1/cases/{case_no}/inbound-deliveries", token, json={"address_id": address, "material_codes": ["contract"]}
    )
    assert twice.status_code == 409 and twice.get_json()["code"] == "pickup_already_booked"
    parcel = wait_for(lambda: (p := delivery_of(app, case_no, "inbound")) is not None and p.waybill_no and p, what="pickup booked")
    order = configured["sf"].orders[parcel.id]["msg"]
    sender, recipient = order["contactInfoList"]
    assert (
        order["isDocall"] == 1 and sender["contact"] == "张三丰" and "宁波市民服务中心" == recipient["contact"] and recipient["mobile"]
    )  # from the citizen's door to the hall
    assert order["payMethod"] == 1 and "monthlyCard" not in order  # the citizen pays the courier

    # The hall can confirm only what the parcel carries; receipt counts the material as provided.
    clerk = staff["clerk"]
    wrong = api(client, "POST", f"/api/v1/staff/deliveries/{parcel.id}/receipt", clerk, json={"material_codes": ["id_card"]})
    assert wrong.status_code == 422
    received = api(client, "POST", f"/api/v1/staff/deliveries/{parcel.id}/receipt", clerk, json={})
    assert received.status_code == 200 and received.get_json()["status"] == "delivered" and received.get_json()["received_at"]
    assert api(client, "POST", f"/api/v1/staff/deliveries/{parcel.id}/receipt", clerk, json={}).status_code == 409
    view = api(client, "GET", f"/api/v1/cases/{case_no}", token).get_json()
    contract = next(m for m in view["materials"] if m["material_code"] == "contract")
    assert contract["status"] == "ok" and contract["source"] == "post" and parcel.waybill_no in contract["check"]["reference"]
    assert api(client, "POST", f"/api/v1/cases/{case_no}/submit", token).status_code == 200  # pre-review can start now


def test_inbound_rules(client, configured, make_citizen, items, staff):
    owner, stranger = make_citizen(), make_citizen()
    address = add_address(client, owner["token"])["id"]
    free_case = new_case(client, owner["token"], items["free"])  # nothing of this item may be posted
    refused = api(
        client,
        "POST",
        f"/api/v1/cases/{free_case}/inbound-deliveries",
        owner["token"],
        json={"address_id": address, "material_codes": ["contract"]},
    )
    assert refused.status_code == 409 and refused.get_json()["code"] == "no_postal_materials"
    paid_case = new_case(client, owner["token"], items["paid"])
    body = {"address_id": address, "material_codes": ["contract"]}
    assert api(client, "POST", f"/api/v1/cases/{paid_case}/inbound-deliveries", stranger["token"], json=body).status_code == 404
    theirs = add_address(client, stranger["token"])["id"]
    assert (
        api(
            client, "POST", f"/api/v1/cases/{paid_case}/inbound-deliveries", owner["token"], json={**body, "address_id": theirs}
        ).status_code
        == 404
    )
    assert (
        api(
            client, "POST", f"/api/v1/cases/{paid_case}/inbound-deliveries", owner["token"], json={**body, "material_codes": []}
        ).status_code
        == 422
    )


def test_staff_list_failed_then_stuck_scope_and_audit(app, client, configured, citizen, staff, items):
    token = citizen["token"]
    made = []
    for _ in range(3):
        case_no = accepted_case(client, token, staff, items["paid"])  # unpaid: parcels wait in "created", nothing is booked
        api(
            client,
            "PUT",
            f"/api/v1/cases/{case_no}/delivery",
            token,
            json={"method": "express", "address_id": add_address(client, token)["id"], "courier": "sf"},
        )
        for action in ("start", "approve"):
            api(client, "POST", f"/api/v1/staff/cases/{case_no}/transitions", staff["officer"], json={"action": action})
        api(client, "POST", f"/api/v1/staff/cases/{case_no}/transitions", staff["officer"], json={"action": "issue_certificate"})
        made.append(delivery_of(app, case_no).id)
    fresh, stuck, failed = made
    with app.app_context():
        db.session.execute(update(Delivery).where(Delivery.id == stuck).values(last_activity_at=utcnow() - timedelta(hours=30)))
        db.session.execute(update(Delivery).where(Delivery.id == failed).values(status="exception", problem="地址不详"))
        db.session.commit()
        db.session.remove()
    rows = api(client, "GET", "/api/v1/staff/deliveries", staff["supervisor"], query_string={"per_page": 100}).get_json()["items"]
    order = [row["id"] for row in rows if row["id"] in made]
    assert order == [failed, stuck, fresh] and [r["attention"] for r in rows if r["id"] in made] == ["failed", "stuck", None]
    assert all(row["person"]["name"].endswith("*") for row in rows if row["id"] in made)

    # A clerk of another hall sees none of these parcels (and cannot open one); an officer is not hall staff.
    with app.app_context():
        from auth.service import create_staff

        create_staff("clerk_elsewhere", app.config["DEMO_PASSWORD"], ["window_clerk"], "别处窗口", ["GA"], [999])
        db.session.commit()
    elsewhere = staff_token(client, "clerk_elsewhere", app.config["DEMO_PASSWORD"])
    assert not {row["id"] for row in api(client, "GET", "/api/v1/staff/deliveries", elsewhere).get_json()["items"]} & set(made)
    assert api(client, "GET", f"/api/v1/staff/deliveries/{failed}", elsewhere).status_code == 404
    assert api(client, "GET", "/api/v1/staff/deliveries", staff["officer"]).status_code == 403
    assert api(client, "GET", "/api/v1/staff/deliveries", token).status_code == 403
    assert api(client, "GET", "/api/v1/staff/deliveries", staff["clerk"], query_string={"status": "lost"}).status_code == 422

    read = api(client, "GET", f"/api/v1/staff/deliveries/{failed}", staff["clerk"], query_string={"reason": "申请人来电"})
    assert read.status_code == 200 and read.get_json()["problem"] == "地址不详"
    with app.app_context():
        audits = db.session.execute(
            select(AuditEvent.action, AuditEvent.subject_id, AuditEvent.reason).where(
                AuditEvent.actor.in_(("staff:clerk", "staff:supervisor"))
            )
        ).all()
        db.session.remove()
    assert ("delivery.read", failed, "申请人来电") in audits and any(action == "delivery.list" for action, _s, _r in audits)
