"""Where a place goes when a booking ends: offered to the first in line, held back, or freed.

A cancelled or moved-away place belongs to a window, so it is offered to the first citizen on the
waitlist for that hall and day for any item the window serves, and held for them (``held``) for
``APPOINTMENTS_OFFER_HOLD_MINUTES``. With nobody waiting it is held back for
``APPOINTMENTS_RELEASE_DELAY_MINUTES`` against slot trading, then freed for everybody at once.
The beat job :func:`expire_offers` moves lapsed offers and due held-back places on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from appointments import slots
from appointments.halls import service_item
from appointments.messages import city_time_text
from appointments.models import Hall, PlaceRelease, Slot, WaitlistEntry, WaitlistStatus, Window
from auth.models import Account
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ, utcnow
from mobile_api.transactions import transaction
from notifications.service import notify


def _offer_to_next(slot: Slot, now: datetime) -> bool:
    """Offer the place in ``slot`` to the first citizen waiting for that hall and day for an item the
    slot's window serves. True if offered."""
    hold = timedelta(minutes=setting("APPOINTMENTS_OFFER_HOLD_MINUTES"))
    window = db.session.get(Window, slot.window_id)
    if slot.start - now < hold or window is None or not window.active:
        return False  # too late for anyone to accept and travel, or the window is closed
    line = (
        select(WaitlistEntry.id)
        .where(
            WaitlistEntry.hall_id == slot.hall_id,
            WaitlistEntry.item_code.in_(window.item_codes or []),
            WaitlistEntry.day == slot.day,
            WaitlistEntry.status == WaitlistStatus.WAITING,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    )
    for entry_id in db.session.scalars(line.limit(20)).all():
        offered = db.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == WaitlistStatus.WAITING)
            .values(status=WaitlistStatus.OFFERED, offered_slot_id=slot.id, offer_expires_at=now + hold),
            execution_options={"synchronize_session": False},
        ).rowcount
        if offered:
            _tell_about_the_offer(entry_id, slot, now + hold)
            return True
    return False


def _tell_about_the_offer(entry_id: str, slot: Slot, until: datetime) -> None:
    entry = db.session.get(WaitlistEntry, entry_id)
    account = db.session.get(Account, entry.account_id)
    hall = db.session.get(Hall, slot.hall_id)
    item = service_item(entry.item_code)
    notify(
        account,
        "appointments.waitlist_offer",
        {
            "hall": hall.name,
            "item": item.name if item else entry.item_code,
            "when": city_time_text(slot.start),
            "until": until.astimezone(CITY_TZ).strftime("%H:%M"),
        },
        dedupe_key=f"appointments:offer:{entry_id}:{slot.id}",
    )


def give_back_place(slot_id: int, now: datetime) -> None:
    """A booking ended (in the caller's transaction): its place goes to the first in line; with nobody
    waiting it is held back for ``APPOINTMENTS_RELEASE_DELAY_MINUTES`` and then freed by the beat job."""
    slot = db.session.get(Slot, slot_id)
    if _offer_to_next(slot, now):
        slots.hold_released_place(slot_id)
        return
    delay = timedelta(minutes=setting("APPOINTMENTS_RELEASE_DELAY_MINUTES"))
    if delay and slot.start - now > delay:
        slots.hold_released_place(slot_id)
        db.session.add(PlaceRelease(slot_id=slot_id, release_at=now + delay, done=False))
    else:
        slots.release_place(slot_id)


def pass_on_hold(slot_id: int, now: datetime) -> None:
    """An offer ended without a booking (in the caller's transaction): offer the held place to the
    next in line, or free it."""
    slot = db.session.get(Slot, slot_id)
    if not _offer_to_next(slot, now):
        slots.drop_hold(slot_id)


def expire_offers(now: datetime | None = None) -> int:
    """Beat job: offers not accepted in time pass to the next in line, and places held back after a
    cancellation are offered to the waitlist or freed. Idempotent, safe to run twice at once: every
    item is claimed by a conditional UPDATE in its own short transaction."""
    now = now or utcnow()
    passed_on = _release_held_places(now)
    # The due list is read in a transaction of its own, and each item is then changed in a short one
    # (SQLite cannot turn a read snapshot into a write once another process has written meanwhile).
    with transaction():
        due = db.session.execute(
            select(WaitlistEntry.id, WaitlistEntry.offered_slot_id).where(
                WaitlistEntry.status == WaitlistStatus.OFFERED, WaitlistEntry.offer_expires_at <= now
            )
        ).all()
    expired = 0
    for entry_id, slot_id in due:
        with transaction():
            changed = db.session.execute(
                update(WaitlistEntry)
                .where(
                    WaitlistEntry.id == entry_id,
                    WaitlistEntry.status == WaitlistStatus.OFFERED,
                    WaitlistEntry.offer_expires_at <= now,
                )
                .values(status=WaitlistStatus.EXPIRED),
                execution_options={"synchronize_session": False},
            ).rowcount
            if changed:
                pass_on_hold(slot_id, now)
                expired += 1
    return expired + passed_on


def _release_held_places(now: datetime) -> int:
    with transaction():
        due = db.session.execute(
            select(PlaceRelease.id, PlaceRelease.slot_id).where(PlaceRelease.done.is_(False), PlaceRelease.release_at <= now).limit(500)
        ).all()
    released = 0
    for release_id, slot_id in due:
        with transaction():
            claimed = db.session.execute(
                update(PlaceRelease).where(PlaceRelease.id == release_id, PlaceRelease.done.is_(False)).values(done=True),
                execution_options={"synchronize_session": False},
            ).rowcount
            if claimed:
                pass_on_hold(slot_id, now)
                released += 1
    return released
