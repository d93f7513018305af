"""A parcel's progress: tracking events in, state out, and what a new state does.

Events come from Kuaidi100 pushes (``ingest_push``), Kuaidi100 queries of quiet parcels, and the local
courier's scripted scans. A push may repeat, arrive out of order, or carry the whole history again:

- every event is stored once (unique ``delivery_id, fingerprint`` = time + text; ``INSERT … ON
  CONFLICT DO NOTHING``), so a repeat adds nothing and changes nothing;
- the parcel's state is recomputed from *all* its stored events: the newest by event time that says
  where the parcel is (ties: the further state, then the fingerprint) — so any arrival order of the
  same events gives the same state;
- the parcel row is taken first (a conditional UPDATE) so two pushes for one parcel apply one after the
  other, each seeing the other's events, on PostgreSQL and SQLite alike.

A new state, in the same transaction: out for delivery and delivered tell the citizen; delivered closes
the case (办结, 已送达); exception / refused / returned tell the citizen (re-delivery or pickup is
offered in the app) and leave the hall a note on the case; the citizen's case view is marked stale.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, update

from cases.fulfilment import close_delivered, delivery_case, note_for_staff, touch_case_view
from express.couriers import COURIER_NAMES
from express.models import PROBLEM_STATUSES, Delivery, DeliveryStatus, Direction, TrackingEvent
from express.notices import tell_citizen
from express.tracking import Route, RouteEvent, parse_push, verify_push
from mobile_api.extensions import db
from mobile_api.metrics import count_receipt
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "system:express"
# Kuaidi100 company code → our courier names.
COMPANIES = {"shunfeng": ("sf",), "ems": ("ems",)}
# How far along each state is: breaks ties between events stamped with the same second.
RANK = {
    DeliveryStatus.PICKED_UP: 1,
    DeliveryStatus.IN_TRANSIT: 2,
    DeliveryStatus.OUT_FOR_DELIVERY: 3,
    DeliveryStatus.EXCEPTION: 4,
    DeliveryStatus.REFUSED: 5,
    DeliveryStatus.RETURNED: 6,
    DeliveryStatus.DELIVERED: 7,
}
PROBLEM_REASONS = {DeliveryStatus.EXCEPTION: "派送异常", DeliveryStatus.REFUSED: "快件被拒签", DeliveryStatus.RETURNED: "快件已退回"}


def ingest_push(param: str, sign: str) -> dict:
    """A Kuaidi100 push: verified (``PushRejected`` 401), parsed (``PushRejected`` 400), applied once."""
    verify_push(param, sign, setting("KUAIDI100_SALT"))
    route = parse_push(param)
    note = route.message if route.push_status in ("abort", "shutdown") else None
    seen = _already_seen(route)  # most pushes repeat what we have: answered with two reads, no write
    if seen is not None and note is None:
        return seen
    with transaction():
        delivery_id = lock_by_waybill(route.company, route.number)
        if delivery_id is None:
            log.info("kuaidi100 push for a waybill we do not have: %s %s", route.company, route.number)
            return {"known": False, "added": 0}
        result = apply_route(delivery_id, route.events, source="kuaidi100", note=note)
    if result["added"]:
        count_receipt("courier", "kuaidi100", result["status"])
    return result


def _already_seen(route: Route) -> dict | None:
    """The answer without writing, when every event of the push is stored already. Safe to skip the lock:
    the transaction that stored those events also stored the state they lead to, and committed it."""
    row = db.session.execute(
        select(Delivery.id, Delivery.status).where(
            Delivery.courier.in_(COMPANIES.get(route.company, (route.company,))), Delivery.waybill_no == route.number
        )
    ).first()
    if row is None:
        return None
    fingerprints = {event.fingerprint for event in route.events}
    stored = db.session.scalar(select(func.count()).where(TrackingEvent.delivery_id == row.id, TrackingEvent.fingerprint.in_(fingerprints)))
    return {"known": True, "added": 0, "status": row.status} if stored == len(fingerprints) else None


def lock_by_waybill(company: str, number: str) -> str | None:
    """Take the parcel's row (no-op UPDATE … RETURNING) before reading its events: pushes for one parcel queue up."""
    couriers = COMPANIES.get(company, (company,))
    return db.session.execute(
        update(Delivery)
        .where(Delivery.courier.in_(couriers), Delivery.waybill_no == number)
        .values(updated_at=utcnow())
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    ).scalar()


def lock_delivery(delivery_id: str) -> bool:
    return bool(
        db.session.execute(
            update(Delivery).where(Delivery.id == delivery_id).values(updated_at=utcnow()).execution_options(synchronize_session=False)
        ).rowcount
    )


def apply_route(delivery_id: str, events: list[RouteEvent], *, source: str, note: str | None = None) -> dict:
    """Store the events not seen before and move the parcel to the state its newest event says (caller's transaction)."""
    delivery = db.session.get(Delivery, delivery_id, populate_existing=True)
    now, added = utcnow(), 0
    for event in events:
        added += insert_ignoring_conflict(
            TrackingEvent,
            delivery_id=delivery_id,
            event_time=event.time,
            context=event.context,
            courier_status=event.courier_status,
            state=event.state,
            area_code=event.area_code,
            source=source,
            fingerprint=event.fingerprint,
            received_at=now,
        )
    if note:
        delivery.tracking_note = note[:200]
    if added:
        delivery.last_activity_at = now
        recompute(delivery)
    return {"known": True, "added": added, "status": delivery.status}


def recompute(delivery: Delivery) -> None:
    rows = db.session.execute(
        select(TrackingEvent.event_time, TrackingEvent.state, TrackingEvent.context, TrackingEvent.fingerprint).where(
            TrackingEvent.delivery_id == delivery.id
        )
    ).all()
    if not rows:
        return
    delivery.last_event_at = max(row.event_time for row in rows)
    stateful = [row for row in rows if row.state]
    if not stateful or delivery.status == DeliveryStatus.CANCELLED:
        return
    newest = max(stateful, key=lambda row: (row.event_time, RANK.get(row.state, 0), row.fingerprint))
    if newest.state == delivery.status:
        return
    previous, delivery.status = delivery.status, newest.state
    on_new_status(delivery, previous, newest.event_time, newest.context, newest.fingerprint)


def on_new_status(delivery: Delivery, previous: str, at: datetime, context: str, fingerprint: str) -> None:
    case = delivery_case(delivery.case_id)
    courier = COURIER_NAMES.get(delivery.courier, delivery.courier)
    params = {"courier": courier, "waybill_no": delivery.waybill_no or ""}
    key = f"express:{delivery.id}:{delivery.status}:{fingerprint[:16]}"
    touch_case_view(delivery.case_id)
    status = DeliveryStatus(delivery.status)
    if status == DeliveryStatus.DELIVERED:
        delivery.delivered_at, delivery.problem = at, None
    if delivery.direction == Direction.OUTBOUND:
        if status == DeliveryStatus.OUT_FOR_DELIVERY:
            tell_citizen(case, "express.out_for_delivery", params, dedupe_key=key)
        elif status == DeliveryStatus.DELIVERED:
            close_delivered(case.id, actor=SYSTEM_ACTOR, note="已送达", data={"courier": courier, "waybill_no": delivery.waybill_no})
            tell_citizen(case, "express.delivered", params, dedupe_key=f"express-delivered:{delivery.id}")
    elif status == DeliveryStatus.DELIVERED:
        note_for_staff(
            case.id, actor=SYSTEM_ACTOR, internal_note=f"申请人邮寄的纸质材料已送达大厅（{courier} {delivery.waybill_no}），请确认收件。"
        )
    if status in PROBLEM_STATUSES:
        delivery.problem = context[:500]
        reason = f"{PROBLEM_REASONS[status]}，{context[:60]}"
        if delivery.direction == Direction.OUTBOUND:  # a failed pickup of originals: the hall calls the citizen
            tell_citizen(case, "express.exception", params | {"reason": reason}, dedupe_key=key)
        note_for_staff(
            case.id,
            actor=SYSTEM_ACTOR,
            internal_note=f"{PROBLEM_REASONS[status]}（{courier} {delivery.waybill_no}）：{context[:200]}。"
            "请联系申请人确认重新投递或到大厅自取。",
            data={"delivery_id": delivery.id, "status": status.value, "previous": previous},
        )


def apply_query(delivery_id: str, route: Route) -> dict:
    """A Kuaidi100 query's answer for a quiet parcel (the stale-parcel job), applied like a push."""
    with transaction():
        if not lock_delivery(delivery_id):
            return {"known": False, "added": 0}
        outcome = apply_route(delivery_id, route.events, source="query")
        db.session.execute(update(Delivery).where(Delivery.id == delivery_id).values(last_checked_at=utcnow()))
        return outcome
