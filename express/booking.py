"""Booking a parcel's waybill with its courier, and subscribing it to tracking. Bodies of tasks.

Why a retried or duplicated booking never makes two waybills: the courier's order reference is our
delivery id, and the courier keeps one order per reference; we store the answer with one conditional
UPDATE (``WHERE status = 'created'``). A worker killed after the courier answered but before that
UPDATE committed leaves the parcel ``created``; the task runs again (redelivered, or republished by the
sweep), books the same reference, gets the same waybill, and stores it once.

No transaction is held open while a courier answers: what the request needs is read first, the read
transaction ends, and the answer is written in a transaction of its own.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from appointments.service import hall_detail
from cases.fulfilment import delivery_case, note_for_staff, touch_case_view
from express.couriers import COURIER_NAMES, BookingRequest, CourierError, Party, get_courier
from express.dispatch import after_commit
from express.models import Delivery, DeliveryChoice, DeliveryStatus, Direction, PaymentState
from express.notices import tell_citizen
from express.regions import region
from express.tracking import Kuaidi100, TrackingError, tracking_enabled
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:express"
SETTLED_STATES = (PaymentState.PAID, PaymentState.GOVERNMENT_PAID, PaymentState.COD)


class RetryLater(Exception):
    """A temporary failure: the task tries again after ``countdown`` seconds."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


def ready_to_book(delivery: Delivery) -> bool:
    """Outbound parcels the citizen pays for wait for the payment; everything else books at once."""
    if delivery.direction == Direction.INBOUND or delivery.payer != "citizen" or delivery.fee_cents == 0:
        return True
    state = db.session.scalar(select(DeliveryChoice.payment_state).where(DeliveryChoice.case_id == delivery.case_id))
    return state in SETTLED_STATES


def hall_party(hall_id: int | None) -> Party:
    """The hall as a courier's sender (outbound) or recipient (inbound)."""
    origin_city = setting("EXPRESS_ORIGIN_REGION")
    city, province = region(origin_city), region(origin_city[:2] + "0000")
    hall = {"name": "市民服务中心", "address": "", "phone": "", "district": ""}
    if hall_id:
        try:
            hall = hall_detail(hall_id)
        except Problem:
            log.warning("sending hall %s does not exist; using the city's name", hall_id)
    return Party(
        name=hall["name"],
        phone=hall.get("phone") or "",
        province=province.name if province else "",
        city=city.name if city else "",
        district=hall.get("district") or "",
        address=hall.get("address") or hall["name"],
        company=hall["name"],
    )


def citizen_party(delivery: Delivery) -> Party:
    return Party(
        name=delivery.person_name,
        phone=delivery.person_phone,
        province=delivery.province_name,
        city=delivery.city_name,
        district=delivery.district_name or "",
        address=delivery.street,
    )


def booking_request(delivery: Delivery) -> BookingRequest:
    hall, citizen = hall_party(delivery.hall_id), citizen_party(delivery)
    outbound = delivery.direction == Direction.OUTBOUND
    # Who pays the courier: the city's monthly account (a fee paid online or borne by the government),
    # the recipient at the door (cash on delivery), or the citizen sending originals, at the door.
    if outbound:
        pay_method = "recipient" if delivery.payer == "cod" else "account"
    else:
        pay_method = "account" if delivery.payer == "government" else "sender"
    return BookingRequest(
        order_ref=delivery.id,
        sender=hall if outbound else citizen,
        recipient=citizen if outbound else hall,
        pay_method=pay_method,
        cod_cents=delivery.cod_cents,
        pickup=not outbound,
        description="证照文件" if outbound else "申请材料（纸质原件）",
    )


def book_waybill(delivery_id: str) -> str:
    """The task body: book, store once, tell the citizen. Raises ``RetryLater`` on a temporary failure."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        return "missing"
    if delivery.status != DeliveryStatus.CREATED or delivery.booking_failed:
        return "already"
    if not ready_to_book(delivery):
        return "awaiting_payment"
    request, courier_name = booking_request(delivery), delivery.courier
    db.session.rollback()  # end the read transaction: nothing is held while the courier answers
    try:
        booking = get_courier(courier_name).book(request)
    except CourierError as error:
        return _booking_failed(delivery_id, error)
    return _record_booking(delivery_id, booking.waybill_no)


def _record_booking(delivery_id: str, waybill_no: str) -> str:
    now = utcnow()
    try:
        with transaction():
            booked = db.session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.CREATED)
                .values(
                    status=DeliveryStatus.WAYBILL_BOOKED,
                    waybill_no=waybill_no,
                    booked_at=now,
                    booking_error=None,
                    next_booking_at=None,
                    last_activity_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if not booked:
                return "already"  # a concurrent run stored it first (the same waybill: same reference)
            delivery = db.session.get(Delivery, delivery_id, populate_existing=True)
            _booked(delivery)
    except IntegrityError:
        log.error("courier %s gave waybill %s to another parcel as well", delivery_id, waybill_no)
        return _booking_failed(delivery_id, CourierError(f"运单号{waybill_no}重复", temporary=False))
    return "booked"


def _booked(delivery: Delivery) -> None:
    case = delivery_case(delivery.case_id)
    courier = COURIER_NAMES.get(delivery.courier, delivery.courier)
    if delivery.direction == Direction.OUTBOUND:
        tell_citizen(
            case, "express.booked", {"courier": courier, "waybill_no": delivery.waybill_no}, dedupe_key=f"express-booked:{delivery.id}"
        )
    else:
        materials = "、".join(case.material_names.get(code, code) for code in delivery.material_codes or [])
        params = {"courier": courier, "waybill_no": delivery.waybill_no, "materials": materials}
        tell_citizen(case, "express.pickup_booked", params, dedupe_key=f"express-booked:{delivery.id}")
    touch_case_view(delivery.case_id)
    if tracking_enabled() and get_courier(delivery.courier).kuaidi100_code:
        after_commit("express.subscribe_tracking", delivery.id)


def _booking_failed(delivery_id: str, error: CourierError) -> str:
    """Record the attempt; retry later with backoff, or give up and tell the hall."""
    with transaction():
        delivery = db.session.get(Delivery, delivery_id, populate_existing=True)
        if delivery is None or delivery.status != DeliveryStatus.CREATED:
            return "already"
        delivery.booking_attempts += 1
        delivery.booking_error = str(error)[:500]
        if error.temporary and delivery.booking_attempts < setting("EXPRESS_BOOKING_MAX_ATTEMPTS"):
            countdown = backoff_seconds(delivery.booking_attempts)
            delivery.next_booking_at = utcnow() + timedelta(seconds=countdown)
        else:
            countdown = None
            delivery.booking_failed, delivery.next_booking_at = True, None
            note_for_staff(
                delivery.case_id,
                actor=SYSTEM_ACTOR,
                internal_note=f"快递下单失败（{COURIER_NAMES.get(delivery.courier, delivery.courier)}）：{error}。请核对地址后重新下单。",
                data={"delivery_id": delivery.id},
            )
    if countdown is None:
        log.warning("booking of %s gave up: %s", delivery_id, error)
        return "failed"
    raise RetryLater(countdown)


def backoff_seconds(attempt: int) -> float:
    """Exponential from ``EXPRESS_BOOKING_RETRY_BASE_SECONDS``, capped at an hour, ±20 % jitter."""
    base = float(setting("EXPRESS_BOOKING_RETRY_BASE_SECONDS")) * 2 ** (attempt - 1)
    return min(base, 3600.0) * random.uniform(0.8, 1.2)


def subscribe_tracking(delivery_id: str) -> str:
    """The task body: ask Kuaidi100 to push this waybill's route to us (once; 501 "already" is fine)."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or not delivery.waybill_no or delivery.subscribed_at is not None:
        return "nothing_to_do"
    company = get_courier(delivery.courier).kuaidi100_code
    if not tracking_enabled() or not company:
        return "not_tracked"
    number, phone = delivery.waybill_no, delivery.person_phone
    db.session.rollback()
    try:
        Kuaidi100().subscribe(company, number, phone)
    except TrackingError as error:
        if error.temporary:
            raise RetryLater(backoff_seconds(3)) from error
        log.error("tracking subscription of %s refused: %s", delivery_id, error)
        with transaction():
            db.session.execute(update(Delivery).where(Delivery.id == delivery_id).values(tracking_note=str(error)[:200]))
        return "refused"
    with transaction():
        db.session.execute(
            update(Delivery).where(Delivery.id == delivery_id, Delivery.subscribed_at.is_(None)).values(subscribed_at=utcnow())
        )
    return "subscribed"
