"""How deliveries, choices and payments are shown: to the citizen (masked) and to staff. Read-only."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from express.addresses import mask_street, region_text
from express.couriers import COURIER_NAMES
from express.fees import ZONE_NAMES, yuan
from express.models import (
    MOVING,
    PROBLEM_STATUSES,
    Delivery,
    DeliveryChoice,
    DeliveryMethod,
    DeliveryStatus,
    Direction,
    Payment,
    PaymentState,
    PaymentStatus,
    TrackingEvent,
)
from mobile_api.extensions import db
from mobile_api.pii import mask_name, mask_phone
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow

STATUS_NAMES = {
    DeliveryStatus.CREATED: "待下单",
    DeliveryStatus.WAYBILL_BOOKED: "已下单，待交寄",
    DeliveryStatus.HANDED_OVER: "已交寄快递",
    DeliveryStatus.PICKED_UP: "已揽收",
    DeliveryStatus.IN_TRANSIT: "运输中",
    DeliveryStatus.OUT_FOR_DELIVERY: "派送中",
    DeliveryStatus.DELIVERED: "已签收",
    DeliveryStatus.EXCEPTION: "快递异常",
    DeliveryStatus.REFUSED: "已拒签",
    DeliveryStatus.RETURNED: "已退回",
    DeliveryStatus.CANCELLED: "已取消",
}
PAYMENT_STATE_NAMES = {
    PaymentState.UNPAID: "待支付",
    PaymentState.PAID: "已支付",
    PaymentState.GOVERNMENT_PAID: "免费（政府承担）",
    PaymentState.COD: "到付",
    PaymentState.REFUNDED: "已退款",
}


def event_view(event: TrackingEvent) -> dict:
    return {
        "time": event.event_time,
        "context": event.context,
        "status": event.state,
        "status_name": STATUS_NAMES.get(event.state) if event.state else None,
    }


def events_of(delivery_ids: list[str]) -> dict[str, list[TrackingEvent]]:
    """Every event of these parcels, newest first, in one query."""
    grouped: dict[str, list[TrackingEvent]] = {delivery_id: [] for delivery_id in delivery_ids}
    if delivery_ids:
        rows = db.session.scalars(
            select(TrackingEvent)
            .where(TrackingEvent.delivery_id.in_(delivery_ids))
            .order_by(TrackingEvent.event_time.desc(), TrackingEvent.id.desc())
        )
        for event in rows:
            grouped[event.delivery_id].append(event)
    return grouped


def needs_attention(delivery: Delivery) -> str | None:
    """Why staff should look at this parcel first: ``failed`` (problem or booking gave up) or ``stuck``."""
    if delivery.status in PROBLEM_STATUSES or delivery.booking_failed:
        return "failed"
    stale = timedelta(hours=setting("EXPRESS_STALE_HOURS"))
    if delivery.status in (DeliveryStatus.CREATED, DeliveryStatus.WAYBILL_BOOKED, *MOVING) and delivery.last_activity_at < utcnow() - stale:
        return "stuck"
    return None


def delivery_view(delivery: Delivery, events: list[TrackingEvent], *, case_no: str | None = None, staff: bool = False) -> dict:
    view = {
        "id": delivery.id,
        "case_no": case_no,
        "direction": delivery.direction,
        "status": delivery.status,
        "status_name": STATUS_NAMES[DeliveryStatus(delivery.status)],
        "courier": delivery.courier,
        "courier_name": COURIER_NAMES.get(delivery.courier, delivery.courier),
        "waybill_no": delivery.waybill_no,
        "payer": delivery.payer,
        "fee": yuan(delivery.fee_cents),
        "cod_amount": yuan(delivery.cod_cents) if delivery.cod_cents else None,
        "person": {
            "name": mask_name(delivery.person_name),
            "phone": mask_phone(delivery.person_phone),
            "region_text": region_text(delivery.province_name, delivery.city_name, delivery.district_name),
            "street": mask_street(delivery.street),
        },
        "material_codes": delivery.material_codes or [],
        "created_at": delivery.created_at,
        "booked_at": delivery.booked_at,
        "handed_over_at": delivery.handed_over_at,
        "delivered_at": delivery.delivered_at,
        "received_at": delivery.received_at,
        "last_event_at": delivery.last_event_at,
        "problem": delivery.problem,
        "can_redeliver": delivery.direction == Direction.OUTBOUND and delivery.status in PROBLEM_STATUSES,
        "events": [event_view(event) for event in events],
    }
    if staff:
        view |= {
            "hall_id": delivery.hall_id,
            "attention": needs_attention(delivery),
            "booking_attempts": delivery.booking_attempts,
            "booking_failed": delivery.booking_failed,
            "booking_error": delivery.booking_error,
            "tracking_note": delivery.tracking_note,
            "replaces_id": delivery.replaces_id,
            "last_activity_at": delivery.last_activity_at,
        }
    return view


def payment_view(payment: Payment | None) -> dict | None:
    if payment is None:
        return None
    return {
        "id": payment.id,
        "provider": payment.provider,
        "amount": yuan(payment.amount_cents),
        "status": payment.status,
        "paid_at": payment.paid_at,
        "refunded_at": payment.refunded_at,
    }


def latest_payment(case_id: int) -> Payment | None:
    return db.session.scalar(
        select(Payment).where(Payment.case_id == case_id).order_by(Payment.created_at.desc(), Payment.id.desc()).limit(1)
    )


def choice_view(case_no: str, choice: DeliveryChoice, address: dict | None, payment: Payment | None) -> dict:
    refund = None
    if payment is not None and payment.status in (PaymentStatus.REFUND_REQUESTED, PaymentStatus.REFUNDING):
        refund = "processing"
    quote = choice.quote or None
    if quote:
        quote = quote | {"zone_name": ZONE_NAMES.get(quote.get("zone"), "")}
    return {
        "case_no": case_no,
        "method": choice.method,
        "courier": choice.courier,
        "courier_name": COURIER_NAMES.get(choice.courier) if choice.courier else None,
        "address": address,
        "quote": quote,
        "fee": yuan(choice.fee_cents),
        "payer": choice.payer,
        "payment_state": choice.payment_state,
        "payment_state_name": PAYMENT_STATE_NAMES.get(choice.payment_state) if choice.payment_state else None,
        "refund": refund,
        "payment": payment_view(payment),
        "updated_at": choice.updated_at,
    }


def case_fragment(case_id: int, case_no: str) -> dict | None:
    """The ``delivery`` part of the citizen's case view: the choice, the fee, and every parcel's timeline."""
    choice = db.session.scalar(select(DeliveryChoice).where(DeliveryChoice.case_id == case_id))
    parcels = list(db.session.scalars(select(Delivery).where(Delivery.case_id == case_id).order_by(Delivery.created_at, Delivery.id)))
    if choice is None and not parcels:
        return None
    events = events_of([parcel.id for parcel in parcels])
    fragment: dict = {"method": None, "parcels": [delivery_view(parcel, events[parcel.id], case_no=case_no) for parcel in parcels]}
    if choice is not None:
        fragment |= {
            "method": choice.method,
            "courier": choice.courier,
            "courier_name": COURIER_NAMES.get(choice.courier) if choice.courier else None,
            "fee": yuan(choice.fee_cents),
            "payer": choice.payer,
            "payment_state": choice.payment_state,
            "payment_state_name": PAYMENT_STATE_NAMES.get(choice.payment_state) if choice.payment_state else None,
        }
    fragment["pickup_at_window"] = choice is not None and choice.method == DeliveryMethod.PICKUP
    return fragment
