"""Parcels: created with the certificate, re-delivered after a failure, picked up with paper originals,
handed over and received at the hall.

The outbound parcel is created by ``ship_on_issue`` inside the transaction that issues the certificate
(``cases.events.case_status_changed``): the issue and the parcel commit together or not at all. The
waybill is booked by a task after commit (``express.booking``).
"""

from __future__ import annotations

from sqlalchemy import select, update

from auth.models import Account, StaffUser
from cases.fulfilment import DeliveryCase, delivery_case, delivery_case_for_citizen, record_posted_originals, touch_case_view
from cases.models import BEFORE_ACCEPTANCE_STATUSES, CaseStatus
from express.addresses import own_address
from express.booking import ready_to_book
from express.couriers import COURIER_NAMES, default_courier, enabled_couriers
from express.dispatch import after_commit
from express.fees import quote, yuan
from express.models import (
    FINAL_STATUSES,
    PROBLEM_STATUSES,
    Address,
    Delivery,
    DeliveryChoice,
    DeliveryMethod,
    DeliveryStatus,
    Direction,
)
from express.notices import tell_citizen
from express.progress import apply_route
from express.regions import resolve
from express.tracking import RouteEvent
from express.views import delivery_view, events_of
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.roles import ADMIN, SUPERVISOR
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

# Cases still collecting materials: paper originals by post are useful then.
MATERIAL_PHASE = (*BEFORE_ACCEPTANCE_STATUSES, CaseStatus.SUSPENDED)


def default_hall(case: DeliveryCase) -> int | None:
    return case.hall_ids[0] if case.hall_ids else (setting("EXPRESS_DEFAULT_HALL_ID") or None)


def open_outbound(case_id: int) -> Delivery | None:
    """The case's outbound parcel still on its way (not cancelled, not delivered, not returned)."""
    return db.session.scalar(
        select(Delivery)
        .where(Delivery.case_id == case_id, Delivery.direction == Direction.OUTBOUND, Delivery.status.not_in(FINAL_STATUSES))
        .order_by(Delivery.created_at.desc())
        .limit(1)
    )


def _snapshot(delivery: Delivery, address: Address) -> None:
    delivery.person_name, delivery.person_phone, delivery.street = address.recipient_name, address.phone, address.street
    delivery.province_code, delivery.province_name = address.province_code, address.province_name
    delivery.city_code, delivery.city_name = address.city_code, address.city_name
    delivery.district_code, delivery.district_name = address.district_code, address.district_name


def update_waiting_parcel(parcel: Delivery, choice: DeliveryChoice, address: Address) -> None:
    """A parcel still waiting for its fee follows the citizen's new address / courier (caller's transaction)."""
    _snapshot(parcel, address)
    parcel.courier, parcel.fee_cents = choice.courier, choice.fee_cents
    parcel.cod_cents = choice.fee_cents if choice.payer == "cod" else 0
    if ready_to_book(parcel):
        after_commit("express.book_waybill", parcel.id)


def cancel_waiting_parcel(parcel: Delivery) -> bool:
    return bool(
        db.session.execute(
            update(Delivery)
            .where(Delivery.id == parcel.id, Delivery.status == DeliveryStatus.CREATED)
            .values(status=DeliveryStatus.CANCELLED, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def create_outbound(case: DeliveryCase, choice: DeliveryChoice, address: Address, *, replaces: str | None = None) -> Delivery:
    """A new outbound parcel (caller's transaction); its waybill is booked after commit once the fee is settled."""
    delivery = Delivery(
        case_id=case.id,
        account_id=case.account_id,
        direction=Direction.OUTBOUND,
        courier=choice.courier,
        hall_id=choice.hall_id,
        payer=choice.payer,
        fee_cents=choice.fee_cents,
        cod_cents=choice.fee_cents if choice.payer == "cod" else 0,
        replaces_id=replaces,
        last_activity_at=utcnow(),
    )
    _snapshot(delivery, address)
    db.session.add(delivery)
    db.session.flush()
    if ready_to_book(delivery):
        after_commit("express.book_waybill", delivery.id)
    else:
        tell_citizen(case, "express.fee_due", {"amount": yuan(choice.fee_cents)}, dedupe_key=f"express-fee-due:{delivery.id}")
    touch_case_view(case.id)
    return delivery


def ship_on_issue(case_id: int) -> Delivery | None:
    """The certificate was just issued: if the citizen chose the courier, create the parcel (same transaction)."""
    choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == case_id))
    if choice is None or choice.method != DeliveryMethod.EXPRESS or open_outbound(case_id) is not None:
        return None
    address = db.session.get(Address, choice.address_id) if choice.address_id else None
    if address is None:  # deleting an address in use is refused; this guards the impossible
        raise Problem(409, "delivery_address_missing", "申请人选择的收货地址已不存在，请联系申请人重新选择")
    return create_outbound(delivery_case(case_id), choice, address)


# --- the citizen ------------------------------------------------------------------------------------


def own_delivery(account_id: str, delivery_id: str) -> Delivery:
    delivery = db.session.scalar(select(Delivery).where(Delivery.id == delivery_id, Delivery.account_id == account_id))
    if delivery is None:
        raise Problem(404, "delivery_not_found", "未找到该快递", delivery_id=delivery_id)
    return delivery


def redeliver(account: Account, delivery_id: str, method: str, address_id: str | None) -> dict:
    """After an exception, refusal or return: send again (same or another address) or collect at the window."""
    with transaction():
        failed = own_delivery(account.id, delivery_id)
        if failed.direction != Direction.OUTBOUND or failed.status not in PROBLEM_STATUSES:
            raise Problem(409, "not_redeliverable", "只有异常、拒签或退回的快件可以重新投递或改为自取", delivery_status=failed.status)
        claimed = db.session.execute(
            update(Delivery)
            .where(Delivery.id == failed.id, Delivery.status.in_(PROBLEM_STATUSES))
            .values(updated_at=utcnow())
            .execution_options(synchronize_session=False)
        ).rowcount
        if not claimed or db.session.scalar(select(Delivery.id).where(Delivery.replaces_id == failed.id)):
            raise Problem(409, "already_redelivered", "该快件已经安排过重新投递")
        case = delivery_case(failed.case_id)
        if case.status != CaseStatus.CERTIFICATE_ISSUED:
            raise Problem(409, "delivery_locked", "证照已领取或办件已办结", case_status=case.status)
        choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == case.id))
        if method == DeliveryMethod.PICKUP:
            choice.method = DeliveryMethod.PICKUP
            touch_case_view(case.id)
            return {"method": "pickup", "delivery": None}
        address = own_address(account.id, address_id) if address_id else db.session.get(Address, choice.address_id or "")
        if address is None:
            raise Problem(422, "address_required", "请选择收货地址", errors={"address_id": ["必填"]})
        choice.method, choice.address_id = DeliveryMethod.EXPRESS, address.id
        parcel = create_outbound(case, choice, address, replaces=failed.id)
        return {"method": "express", "delivery": delivery_view(parcel, [], case_no=case.case_no)}


def book_inbound(account: Account, case_no: str, address_id: str, material_codes: list[str], courier: str | None) -> dict:
    """A courier picks paper originals up at the citizen's address and brings them to the hall."""
    with transaction():
        case = delivery_case_for_citizen(account.id, case_no)
        if case.status not in MATERIAL_PHASE:
            raise Problem(409, "originals_not_needed", "办件当前状态不需要邮寄材料", case_status=case.status)
        postable = [code for code in case.postal_materials if code in case.material_names]
        if not postable:
            raise Problem(409, "no_postal_materials", "此事项没有可以邮寄的纸质材料")
        unknown = sorted(set(material_codes) - set(postable))
        if unknown:
            raise Problem(422, "material_not_postable", "这些材料不能邮寄", errors={"material_codes": unknown}, postable=postable)
        courier = courier or default_courier()
        if courier not in enabled_couriers():
            raise Problem(422, "courier_unavailable", "不支持该快递公司", errors={"courier": enabled_couriers()})
        _refuse_overlapping_pickup(case.id, material_codes)
        address = own_address(account.id, address_id)
        region = resolve(address.province_code, address.city_code, address.district_code)
        fee = quote(case, courier, region, setting("EXPRESS_ORIGIN_REGION"))
        delivery = Delivery(
            case_id=case.id,
            account_id=account.id,
            direction=Direction.INBOUND,
            courier=courier,
            hall_id=default_hall(case),
            payer=case.delivery_payer,
            fee_cents=fee.amount_cents,  # government: 0; otherwise paid to the courier at the door
            material_codes=list(dict.fromkeys(material_codes)),
            last_activity_at=utcnow(),
        )
        _snapshot(delivery, address)
        db.session.add(delivery)
        db.session.flush()
        after_commit("express.book_waybill", delivery.id)
        touch_case_view(case.id)
        return delivery_view(delivery, [], case_no=case.case_no)


def _refuse_overlapping_pickup(case_id: int, material_codes: list[str]) -> None:
    pending = db.session.scalars(
        select(Delivery).where(
            Delivery.case_id == case_id,
            Delivery.direction == Direction.INBOUND,
            Delivery.received_at.is_(None),
            Delivery.status.not_in((DeliveryStatus.CANCELLED, *PROBLEM_STATUSES)),
        )
    ).all()
    overlap = sorted({code for parcel in pending for code in parcel.material_codes or []} & set(material_codes))
    if overlap:
        raise Problem(409, "pickup_already_booked", "这些材料已经预约了上门取件", errors={"material_codes": overlap})


# --- the hall ---------------------------------------------------------------------------------------


def staff_delivery(staff: StaffUser, delivery_id: str) -> Delivery:
    """A parcel of one of the staff member's halls (admins and supervisors: every hall), or 404."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or not in_hall_scope(staff, delivery.hall_id):
        raise Problem(404, "delivery_not_found", "未找到该快件，或不属于您所在的大厅", delivery_id=delivery_id)
    return delivery


def in_hall_scope(staff: StaffUser, hall_id: int | None) -> bool:
    return bool({ADMIN, SUPERVISOR} & set(staff.roles)) or hall_id is None or hall_id in (staff.hall_ids or [])


def handover(staff: StaffUser, delivery_id: str, scanned: str) -> dict:
    """The window hands the parcel to the courier; the scanned waybill must be this parcel's."""
    with transaction():
        delivery = staff_delivery(staff, delivery_id)
        if delivery.direction != Direction.OUTBOUND:
            raise Problem(409, "not_outbound", "上门取件的快件不需要交寄")
        if delivery.status in (DeliveryStatus.CREATED, DeliveryStatus.CANCELLED) or not delivery.waybill_no:
            raise Problem(409, "waybill_not_booked", "该快件还没有运单号，不能交寄", delivery_status=delivery.status)
        if scanned.strip().upper() != delivery.waybill_no.upper():
            raise Problem(422, "waybill_mismatch", "扫描的运单号与该快件不符", errors={"waybill_no": ["运单号不符"]})
        actor = staff_actor(staff)
        now = utcnow()
        handed = db.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id, Delivery.handed_over_at.is_(None))
            .values(handed_over_at=now, handed_over_by=actor, last_activity_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.execute(  # before the courier's first scan: handed over; after it, the scans decide
            update(Delivery)
            .where(Delivery.id == delivery.id, Delivery.status == DeliveryStatus.WAYBILL_BOOKED)
            .values(status=DeliveryStatus.HANDED_OVER)
            .execution_options(synchronize_session=False)
        )
        if handed:
            record_audit(actor, "delivery.handover", "delivery", delivery.id, details={"waybill_no": delivery.waybill_no})
            touch_case_view(delivery.case_id)
        delivery = db.session.get(Delivery, delivery.id, populate_existing=True)
        return delivery_view(delivery, events_of([delivery.id])[delivery.id], staff=True)


def receive_originals(staff: StaffUser, delivery_id: str, material_codes: list[str] | None) -> dict:
    """The hall has the posted paper originals: they count for pre-review; the citizen is told."""
    with transaction():
        delivery = staff_delivery(staff, delivery_id)
        if delivery.direction != Direction.INBOUND:
            raise Problem(409, "not_inbound", "只有上门取件的快件需要确认收件")
        if delivery.status in (DeliveryStatus.CREATED, DeliveryStatus.CANCELLED):
            raise Problem(409, "not_picked_up", "该快件还没有揽收", delivery_status=delivery.status)
        codes = material_codes or list(delivery.material_codes or [])
        extra = sorted(set(codes) - set(delivery.material_codes or []))
        if extra:
            raise Problem(422, "material_not_in_parcel", "这些材料不在该快件中", errors={"material_codes": extra})
        actor, now = staff_actor(staff), utcnow()
        received = db.session.execute(
            update(Delivery)
            .where(Delivery.id == delivery.id, Delivery.received_at.is_(None))
            .values(received_at=now, received_by=actor, last_activity_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not received:
            raise Problem(409, "already_received", "该快件已经确认收件")
        reference = f"{COURIER_NAMES.get(delivery.courier, delivery.courier)} {delivery.waybill_no}"
        recorded = record_posted_originals(delivery.case_id, codes, actor=actor, reference=reference)
        _hall_signed(delivery)
        case = delivery_case(delivery.case_id)
        materials = "、".join(case.material_names.get(code, code) for code in recorded)
        tell_citizen(case, "express.originals_received", {"materials": materials}, dedupe_key=f"express-received:{delivery.id}")
        record_audit(actor, "delivery.receive", "delivery", delivery.id, details={"material_codes": recorded})
        delivery = db.session.get(Delivery, delivery.id, populate_existing=True)
        return delivery_view(delivery, events_of([delivery.id])[delivery.id], staff=True)


def _hall_signed(delivery: Delivery) -> None:
    """The hall's receipt is the parcel's last scan: a "delivered" event at now, through the same path as the courier's."""
    event = RouteEvent(utcnow(), "服务大厅已签收并核对纸质材料", "hall", DeliveryStatus.DELIVERED, None)
    apply_route(delivery.id, [event], source="hall")


def rebook(staff: StaffUser, delivery_id: str) -> dict:
    """A booking that gave up (address the courier refused, account problem) is tried again after a fix."""
    with transaction():
        delivery = staff_delivery(staff, delivery_id)
        if delivery.status != DeliveryStatus.CREATED or not delivery.booking_failed:
            raise Problem(409, "not_failed", "只有下单失败的快件可以重新下单", delivery_status=delivery.status)
        delivery.booking_failed, delivery.booking_attempts, delivery.booking_error = False, 0, None
        record_audit(staff_actor(staff), "delivery.rebook", "delivery", delivery.id)
        after_commit("express.book_waybill", delivery.id)
        return delivery_view(delivery, [], staff=True)
