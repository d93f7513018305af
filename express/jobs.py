"""Beat jobs: republish what got lost, look up quiet parcels, move the local courier's parcels along.

Each is safe to run on several beat/worker machines at once: the sweep only publishes tasks that are
idempotent themselves; the stale poll and the local courier take each parcel's row before writing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from express.booking import ready_to_book
from express.couriers import get_courier
from express.couriers.local import INBOUND_JOURNEY, OUTBOUND_JOURNEY, next_step
from express.dispatch import publish
from express.models import MOVING, TRACKED, Delivery, DeliveryStatus, Direction, Payment, PaymentStatus, TrackingEvent
from express.progress import apply_query, apply_route, lock_delivery
from express.tracking import Kuaidi100, RouteEvent, TrackingError, tracking_enabled
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

log = logging.getLogger(__name__)
BATCH = 200


def sweep(now: datetime | None = None, stuck_after: timedelta | None = None) -> dict:
    """Publish again: bookings whose task never ran (broker down, worker killed), refunds not yet asked
    for, tracking subscriptions not yet made. Everything published is idempotent."""
    now = now or utcnow()
    cutoff = now - (stuck_after if stuck_after is not None else timedelta(seconds=setting("EXPRESS_STUCK_SECONDS")))
    parcels = db.session.scalars(
        select(Delivery)
        .where(
            Delivery.status == DeliveryStatus.CREATED,
            Delivery.booking_failed.is_(False),
            func.coalesce(Delivery.next_booking_at, Delivery.created_at) <= cutoff,
        )
        .order_by(Delivery.created_at)
        .limit(BATCH)
    ).all()
    bookings = [parcel.id for parcel in parcels if ready_to_book(parcel)]
    refunds = db.session.scalars(
        select(Payment.id).where(Payment.status == PaymentStatus.REFUND_REQUESTED, Payment.refund_requested_at <= cutoff).limit(BATCH)
    ).all()
    unsubscribed = []
    if tracking_enabled():
        candidates = db.session.scalars(
            select(Delivery)
            .where(Delivery.subscribed_at.is_(None), Delivery.booked_at <= cutoff, Delivery.status.in_(TRACKED))
            .limit(BATCH)
        ).all()
        unsubscribed = [parcel.id for parcel in candidates if get_courier(parcel.courier).kuaidi100_code and not parcel.tracking_note]
    db.session.rollback()
    published = {
        "bookings": sum(publish("express.book_waybill", delivery_id) for delivery_id in bookings),
        "refunds": sum(publish("express.refund_payment", payment_id) for payment_id in refunds),
        "subscriptions": sum(publish("express.subscribe_tracking", delivery_id) for delivery_id in unsubscribed),
    }
    if any(published.values()):
        log.info("express sweep republished %s", published)
    return published


def poll_stale(now: datetime | None = None, limit: int = 50) -> int:
    """Ask Kuaidi100 about parcels on their way with no event for ``EXPRESS_STALE_HOURS`` (asked at most that often)."""
    if not tracking_enabled():
        return 0
    now = now or utcnow()
    cutoff = now - timedelta(hours=setting("EXPRESS_STALE_HOURS"))
    quiet = db.session.scalars(
        select(Delivery)
        .where(
            Delivery.status.in_(TRACKED),
            Delivery.waybill_no.is_not(None),
            func.coalesce(Delivery.last_event_at, Delivery.booked_at) <= cutoff,
            or_(Delivery.last_checked_at.is_(None), Delivery.last_checked_at <= cutoff),
        )
        .order_by(Delivery.last_checked_at.is_not(None), Delivery.last_checked_at)
        .limit(limit)
    ).all()
    wanted = [(p.id, get_courier(p.courier).kuaidi100_code, p.waybill_no, p.person_phone) for p in quiet]
    db.session.rollback()
    asked = 0
    for delivery_id, company, number, phone in wanted:
        if not company:
            continue
        asked += 1
        try:
            route = Kuaidi100().query(company, number, phone)
        except TrackingError as error:
            log.warning("tracking query for %s failed: %s", delivery_id, error)
            with transaction():
                db.session.execute(update(Delivery).where(Delivery.id == delivery_id).values(last_checked_at=utcnow()))
            continue
        apply_query(delivery_id, route)
    return asked


def advance_local(limit: int = 100) -> int:
    """The local courier's next scan for each of its parcels on the way (embedded default, demos)."""
    if not setting("SANDBOX_MODE"):
        return 0  # the local courier is a simulation: it never "delivers" outside the sandbox
    moving = db.session.scalars(
        select(Delivery.id)
        .where(
            Delivery.courier == "local",
            or_(
                (Delivery.direction == Direction.OUTBOUND) & Delivery.status.in_(MOVING),
                (Delivery.direction == Direction.INBOUND)
                & Delivery.status.in_((DeliveryStatus.WAYBILL_BOOKED, *MOVING))
                & Delivery.received_at.is_(None),
            ),
        )
        .order_by(Delivery.last_activity_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    return sum(_advance_one(delivery_id) for delivery_id in moving)


def _advance_one(delivery_id: str) -> int:
    with transaction():
        if not lock_delivery(delivery_id):
            return 0
        delivery = db.session.get(Delivery, delivery_id, populate_existing=True)
        if delivery.status not in (DeliveryStatus.WAYBILL_BOOKED, *MOVING):
            return 0
        done = db.session.scalar(select(func.count()).where(TrackingEvent.delivery_id == delivery_id, TrackingEvent.source == "local")) or 0
        journey = OUTBOUND_JOURNEY if delivery.direction == Direction.OUTBOUND else INBOUND_JOURNEY
        step = next_step(journey, done)
        if step is None:
            return 0
        state, text = step
        places = {
            "origin": delivery.city_name if delivery.direction == Direction.INBOUND else "市民服务中心",
            "destination": delivery.city_name,
        }
        if delivery.direction == Direction.INBOUND:
            places["destination"] = "市民服务中心"
        event = RouteEvent(utcnow(), text.format(**places), f"local:{done + 1}", state, delivery.district_code)
        apply_route(delivery_id, [event], source="local")
        return 1
