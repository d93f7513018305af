"""Bookings an admin change displaces: a closed day, new hours, a window closed, serving other items or
taking fewer citizens, new shares.

After the change is written (in the caller's transaction) :func:`reconcile` finds every booking from
tomorrow on whose place no longer exists, gives those places back, sets every future row of the hall to
its window's current capacity and kept shares, and then places each displaced booking again:

1. the same time at another window serving the item — the citizen sees no change (audited only);
2. with ``move``: the nearest free time at the hall (same item) — moved, the citizen is told;
3. otherwise cancelled, and the citizen is told why and the nearest times still free.

Bookings of today are left alone: the hall runs today as planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, update

from appointments import schedule, slots
from appointments.availability import nearest_free
from appointments.halls import service_item
from appointments.messages import alternatives_text, city_time_text
from appointments.models import Booking, BookingStatus, Hall, Slot, WaitlistEntry, WaitlistStatus, Window
from appointments.release import KeptPlaces, place_kinds
from appointments.slots import planned_row
from auth.models import Account, StaffUser
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.extensions import db
from mobile_api.timeutil import CITY_TZ, city_today, utcnow
from notifications.service import notify


@dataclass
class Outcome:
    kept_same_time: int = 0  # moved to another window at the same time: nothing changes for the citizen
    moved: int = 0
    cancelled: int = 0

    def as_dict(self) -> dict:
        return {"kept_same_time": self.kept_same_time, "moved": self.moved, "cancelled": self.cancelled}


def _future_bookings(hall_id: int, first: date) -> list[tuple[Booking, Slot, Window]]:
    since = datetime.combine(first, datetime.min.time(), tzinfo=CITY_TZ)
    return list(
        db.session.execute(
            select(Booking, Slot, Window)
            .join(Slot, Slot.id == Booking.slot_id)
            .join(Window, Window.id == Slot.window_id)
            .where(Booking.hall_id == hall_id, Booking.status == BookingStatus.BOOKED, Booking.start >= since)
            .order_by(Booking.created_at.desc(), Booking.id)
        ).tuples()
    )


def _still_offered(hall_id: int, booking: Booking, window: Window) -> bool:
    return (
        window.active
        and booking.item_code in (window.item_codes or [])
        and schedule.slot_at(hall_id, booking.item_code, booking.start) is not None
    )


def _displaced(hall_id: int, first: date) -> list[Booking]:
    """Bookings whose place is gone; on a row now over its window's capacity, the latest bookings.
    Newest first."""
    displaced, staying = [], {}
    for booking, row, window in _future_bookings(hall_id, first):
        if _still_offered(hall_id, booking, window):
            staying.setdefault(row.id, (row, window, []))[2].append(booking)
        else:
            displaced.append(booking)
    for row, window, bookings in staying.values():
        over = len(bookings) + row.held - window.per_slot
        displaced.extend(bookings[: max(0, over)])  # newest first (the query's order) give way
    displaced.sort(key=lambda booking: booking.created_at, reverse=True)
    return displaced


def _resize_rows(hall: Hall, first: date) -> None:
    rows = db.session.execute(
        select(Slot.id, Slot.start, Window).join(Window, Window.id == Slot.window_id).where(Slot.hall_id == hall.id, Slot.day >= first)
    ).all()
    for slot_id, start, window in rows:
        local = start.astimezone(CITY_TZ)
        grid = {slot.start: slot for slot in schedule.hall_grid(hall.id, local.date())}
        slot = grid.get(local)
        if window.active and slot is not None:
            capacity, kept = planned_row(hall, window, slot)
        else:
            capacity, kept = 0, KeptPlaces()
        slots.resize(slot_id, capacity, kept)


def reconcile(staff: StaffUser, hall: Hall, reason: str, *, move: bool, cause: str = "hall_changed") -> Outcome:
    """Re-place what the change displaced (in the caller's transaction). See the module docstring."""
    schedule.forget_memo()
    first = city_today() + timedelta(days=1)
    displaced = _displaced(hall.id, first)
    for booking in displaced:
        slots.release_place(booking.slot_id)
    _resize_rows(hall, first)
    outcome = Outcome()
    actor = staff_actor(staff)
    for booking in reversed(displaced):  # the earliest booked gets the first pick
        _place_again(actor, hall, booking, reason, move, cause, outcome)
    return outcome


def _take_at(hall: Hall, booking: Booking, account: Account, start: datetime) -> tuple[int, schedule.SlotTime] | None:
    slot = schedule.slot_at(hall.id, booking.item_code, start)
    if slot is None:
        return None
    row = slots.take_first(slots.ensure_rows(hall, booking.item_code, slot), place_kinds(account, slot.day, booking.green_channel))
    return (row, slot) if row is not None else None


def _place_again(actor: str, hall: Hall, booking: Booking, reason: str, move: bool, cause: str, outcome: Outcome) -> None:
    account = db.session.get(Account, booking.account_id)
    old_start = booking.start
    taken = _take_at(hall, booking, account, old_start)
    if taken is not None:
        _rebook(booking, *taken)
        record_audit(actor, "appointment.moved_window", "appointment", booking.id, reason=reason)
        outcome.kept_same_time += 1
        return
    alternatives = nearest_free(hall.id, booking.item_code, old_start, now=utcnow())
    if move:
        for alternative in alternatives:
            taken = _take_at(hall, booking, account, datetime.fromisoformat(alternative["start"]))
            if taken is not None:
                _rebook(booking, *taken)
                record_audit(actor, f"appointment.moved_{cause}", "appointment", booking.id, reason=reason)
                _tell(account, hall, booking, "appointments.moved_by_hall", reason, old_start, new=city_time_text(booking.start))
                outcome.moved += 1
                return
    booking.status, booking.cancelled_at = BookingStatus.CANCELLED, utcnow()
    record_audit(actor, f"appointment.cancel_{cause}", "appointment", booking.id, reason=reason)
    starts = [alternative["start"] for alternative in alternatives]
    _tell(account, hall, booking, "appointments.cancelled_by_hall", reason, old_start, alternatives=alternatives_text(starts), cause=cause)
    outcome.cancelled += 1


def _rebook(booking: Booking, row_id: int, slot: schedule.SlotTime) -> None:
    moved = booking.start != slot.start
    booking.slot_id, booking.start, booking.end = row_id, slot.start, slot.end
    if moved:
        booking.reminded_day_before = booking.reminded_hour_before = False
    db.session.flush()


def _tell(
    account: Account, hall: Hall, booking: Booking, template: str, reason: str, old_start: datetime, cause: str = "", **extra
) -> None:
    item = service_item(booking.item_code)
    params = {
        "reason": reason,
        "hall": hall.name,
        "item": item.name if item else booking.item_code,
        "code": booking.code,
        "old": city_time_text(old_start),
        **extra,
    }
    if template == "appointments.cancelled_by_hall":
        key = f"appointments:{booking.id}:{cause}"
    else:
        key = f"appointments:{booking.id}:moved:{booking.start.isoformat()}"
    notify(account, template, params, dedupe_key=key)


def end_waitlist_of(hall_id: int, day: date) -> None:
    """Nobody may wait for a day that will not come: lines and open offers of that day end."""
    db.session.execute(
        update(WaitlistEntry)
        .where(
            WaitlistEntry.hall_id == hall_id,
            WaitlistEntry.day == day,
            WaitlistEntry.status.in_((WaitlistStatus.WAITING, WaitlistStatus.OFFERED)),
        )
        .values(status=WaitlistStatus.EXPIRED),
        execution_options={"synchronize_session": False},
    )
