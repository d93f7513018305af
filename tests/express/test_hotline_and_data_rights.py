"""Express seen from the packages around it: the 12345 hotline sees a caller's parcels (status and next step
before the caller is verified, masked), and a closed account loses its addresses and parcel recipients."""

from __future__ import annotations

from tests.express.conftest import add_address, api, issued_and_booked


def test_an_operator_sees_the_callers_delivery_in_a_look_up(app, client, configured, express_worker, citizen, staff, items):
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
    found = api(client, "GET", f"/api/v1/hotline/lookup?phone={citizen['phone']}&reason=来电查询快递", staff["operator"])
    assert found.status_code == 200, found.get_json()
    body = found.get_json()
    deliveries = body["deliveries"]
    assert [d["waybill_no"] for d in deliveries] == [parcel.waybill_no]
    brief = deliveries[0]
    assert set(brief) == {"waybill_no", "case_no", "status", "status_name", "next_step"}
    assert brief["case_no"] == case_no and brief["status"] == "waybill_booked" and brief["next_step"] == "已生成运单，等待大厅交寄"
    assert citizen["phone"] not in found.get_data(as_text=True)


def test_closure_erases_addresses_and_strips_delivered_parcels(app, client, configured, express_worker, make_citizen, staff, items):
    from sqlalchemy import select

    from express.models import Address, Delivery, DeliveryStatus
    from mobile_api.extensions import db
    from mobile_api.personal_data import Subject, erase_all, export_all
    from mobile_api.transactions import transaction

    citizen, other = make_citizen(), make_citizen()
    case_no, parcel = issued_and_booked(app, client, citizen, staff, items["free"])
    add_address(client, other["token"])
    with app.app_context():
        subject = Subject(citizen["id"], citizen["phone"])
        exported = export_all(subject)["express"]
        assert [p["waybill_no"] for p in exported["parcels"]] == [parcel.waybill_no]
        assert len(exported["addresses"]) == 1 and exported["addresses"][0]["phone"] != other["phone"]
        with transaction():  # a parcel on its way keeps its recipient until it arrives
            assert erase_all(subject)["express"]["kept"]["parcels_on_the_way"] == 1
        assert db.session.scalars(select(Address).where(Address.account_id == citizen["id"])).all() == []
        assert db.session.scalars(select(Address).where(Address.account_id == other["id"])).all() != []
        moving = db.session.get(Delivery, parcel.id)
        assert moving.person_phone != ""
        moving.status = DeliveryStatus.DELIVERED  # once it has arrived, a second closure pass strips it
        db.session.commit()
        with transaction():
            assert erase_all(subject)["express"]["erased"]["parcel_recipients"] == 1
        stripped = db.session.get(Delivery, parcel.id, populate_existing=True)
        assert stripped.person_name == "" and stripped.person_phone == "" and stripped.street == ""
        assert stripped.waybill_no == parcel.waybill_no
