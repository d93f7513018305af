"""The hall's view of parcels: the list with stuck or failed parcels first, one parcel, its label.

Window clerks see the parcels of their halls; supervisors and admins see every hall. Every read shows
the citizen's name and phone masked and leaves an audit row in the same transaction; the label, which
carries the full address, is audited as ``delivery.label``.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, or_, select

from auth.models import StaffUser
from cases.fulfilment import case_numbers, delivery_case
from express.booking import hall_party
from express.couriers import COURIER_NAMES
from express.fees import yuan
from express.labels import LabelData, render_label
from express.models import MOVING, PROBLEM_STATUSES, Delivery, DeliveryStatus, Direction
from express.parcels import staff_delivery
from express.views import delivery_view, events_of
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.pagination import paginate
from mobile_api.pii import mask_name, mask_phone
from mobile_api.roles import ADMIN, SUPERVISOR
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction


def staff_list(staff: StaffUser, *, status: str | None, hall: int | None, direction: str | None, page: int, per_page: int) -> dict:
    """Failed parcels (problem or booking gave up) first, then stuck ones (no news for ``EXPRESS_STALE_HOURS``),
    each oldest first; then the rest, newest first."""
    stale_before = utcnow() - timedelta(hours=setting("EXPRESS_STALE_HOURS"))
    attention = case(
        (or_(Delivery.status.in_(PROBLEM_STATUSES), Delivery.booking_failed.is_(True)), 0),
        (
            Delivery.status.in_((DeliveryStatus.CREATED, DeliveryStatus.WAYBILL_BOOKED, *MOVING))
            & (Delivery.last_activity_at < stale_before),
            1,
        ),
        else_=2,
    )
    statement = select(Delivery).order_by(
        attention, case((attention < 2, Delivery.last_activity_at)), Delivery.created_at.desc(), Delivery.id
    )
    if not {ADMIN, SUPERVISOR} & set(staff.roles):
        statement = statement.where(or_(Delivery.hall_id.in_(list(staff.hall_ids or [])), Delivery.hall_id.is_(None)))
    if status:
        statement = statement.where(Delivery.status == status)
    if hall:
        statement = statement.where(Delivery.hall_id == hall)
    if direction:
        statement = statement.where(Delivery.direction == direction)
    with transaction():
        result = paginate(statement, page, per_page)
        case_nos = case_numbers({parcel.case_id for parcel in result.items})
        events = events_of([parcel.id for parcel in result.items])
        items = [delivery_view(parcel, events[parcel.id][:1], case_no=case_nos[parcel.case_id], staff=True) for parcel in result.items]
        record_audit(
            staff_actor(staff),
            "delivery.list",
            "delivery",
            "*",
            details={"status": status, "hall": hall, "direction": direction, "page": page, "count": len(items)},
        )
    return result.as_dict() | {"items": items}


def staff_read(staff: StaffUser, delivery_id: str, reason: str | None) -> dict:
    with transaction():
        delivery = staff_delivery(staff, delivery_id)
        view = delivery_view(delivery, events_of([delivery.id])[delivery.id], case_no=delivery_case(delivery.case_id).case_no, staff=True)
        record_audit(staff_actor(staff), "delivery.read", "delivery", delivery.id, reason=reason)
    return view


def staff_label(staff: StaffUser, delivery_id: str) -> tuple[bytes, str]:
    """The PDF label of a booked outbound parcel, and a file name."""
    with transaction():
        delivery = staff_delivery(staff, delivery_id)
        if delivery.direction != Direction.OUTBOUND:
            raise Problem(409, "not_outbound", "上门取件的快件由快递员打印面单")
        if not delivery.waybill_no:
            raise Problem(409, "waybill_not_booked", "该快件还没有运单号，暂不能打印面单", delivery_status=delivery.status)
        data = _label_data(delivery)
        record_audit(staff_actor(staff), "delivery.label", "delivery", delivery.id, details={"waybill_no": delivery.waybill_no})
    return render_label(data), f"{delivery.waybill_no}.pdf"


def _label_data(delivery: Delivery) -> LabelData:
    sender = hall_party(delivery.hall_id)
    payment = f"到付 ¥{yuan(delivery.cod_cents)}" if delivery.cod_cents else "寄付月结"
    region = (
        delivery.province_name
        + ("" if delivery.city_name == delivery.province_name else delivery.city_name)
        + (delivery.district_name or "")
    )
    return LabelData(
        courier_name=COURIER_NAMES.get(delivery.courier, delivery.courier),
        waybill_no=delivery.waybill_no,
        order_ref=delivery.id,
        sender_name=sender.name,
        sender_address=sender.address,
        sender_phone=sender.phone,
        recipient_name=mask_name(delivery.person_name),
        recipient_phone=mask_phone(delivery.person_phone),
        recipient_address=region + delivery.street,
        payment=payment,
        case_no=delivery_case(delivery.case_id).case_no,
        contents="证照文件",
    )
