"""Bookings in a citizen's data export and account closure (registered as the ``appointments`` provider).

Exported: bookings (hall, item, time, status, code, linked case), waitlist entries, queue tickets and
no-show bans of the account.

On closure: future bookings are cancelled and their places given back (to the waitlist first, as any
cancellation), waitlist entries and bans are deleted. Past bookings and queue tickets stay as the record of
the service given at the hall (and of its queue figures), held by the closed account, which no longer has
a phone or WeChat binding. The booking code is the only thing a booking carries besides its times; it is
replaced, so a code read out at a counter leads nowhere any more.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from appointments.models import Booking, BookingBan, BookingStatus, Hall, Ticket, WaitlistEntry, WaitlistStatus, new_booking_code
from appointments.offers import give_back_place, pass_on_hold
from mobile_api.extensions import db
from mobile_api.personal_data import Subject
from mobile_api.timeutil import utcnow


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_appointments(subject: Subject) -> dict:
    account_id = subject.account_id
    bookings = db.session.execute(
        select(Booking, Hall.name).join(Hall, Hall.id == Booking.hall_id).where(Booking.account_id == account_id).order_by(Booking.start)
    ).all()
    waitlist = db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.account_id == account_id).order_by(WaitlistEntry.created_at)
    ).all()
    tickets = db.session.scalars(select(Ticket).where(Ticket.account_id == account_id).order_by(Ticket.issued_at)).all()
    bans = db.session.scalars(select(BookingBan).where(BookingBan.account_id == account_id).order_by(BookingBan.starts)).all()
    return {
        "bookings": [
            {
                "code": b.code,
                "hall": hall_name,
                "item_code": b.item_code,
                "start": _iso(b.start),
                "end": _iso(b.end),
                "status": b.status,
                "case_no": b.case_no,
                "created_at": _iso(b.created_at),
                "cancelled_at": _iso(b.cancelled_at),
                "checked_in_at": _iso(b.checked_in_at),
            }
            for b, hall_name in bookings
        ],
        "waitlist": [{"hall_id": w.hall_id, "item_code": w.item_code, "day": _iso(w.day), "status": w.status} for w in waitlist],
        "queue_tickets": [
            {"hall_id": t.hall_id, "day": _iso(t.day), "ticket_no": t.ticket_no, "status": t.status, "issued_at": _iso(t.issued_at)}
            for t in tickets
        ],
        "no_show_bans": [{"starts": _iso(b.starts), "until": _iso(b.until), "no_shows": b.no_shows} for b in bans],
    }


def erase_appointments(subject: Subject, context: dict) -> dict:
    """In the caller's transaction."""
    account_id, now = subject.account_id, utcnow()
    future = db.session.execute(
        select(Booking.id, Booking.slot_id).where(
            Booking.account_id == account_id, Booking.status == BookingStatus.BOOKED, Booking.start > now
        )
    ).all()
    cancelled = 0
    for booking_id, slot_id in future:
        ended = db.session.execute(
            update(Booking)
            .where(Booking.id == booking_id, Booking.status == BookingStatus.BOOKED)
            .values(status=BookingStatus.CANCELLED, cancelled_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if ended:
            give_back_place(slot_id, now)
            cancelled += 1
    offered = db.session.scalars(
        select(WaitlistEntry.offered_slot_id).where(
            WaitlistEntry.account_id == account_id,
            WaitlistEntry.status == WaitlistStatus.OFFERED,
            WaitlistEntry.offered_slot_id.is_not(None),
        )
    ).all()
    waitlist = _delete(delete(WaitlistEntry).where(WaitlistEntry.account_id == account_id))
    for slot_id in offered:  # a place held for this citizen goes to the next in line
        pass_on_hold(slot_id, now)
    bans = _delete(delete(BookingBan).where(BookingBan.account_id == account_id))
    kept = db.session.scalars(select(Booking.id).where(Booking.account_id == account_id)).all()
    for booking_id in kept:
        db.session.execute(
            update(Booking).where(Booking.id == booking_id).values(code=new_booking_code()).execution_options(synchronize_session=False)
        )
    return {
        "erased": {"future_bookings_cancelled": cancelled, "waitlist_entries": waitlist, "no_show_bans": bans, "booking_codes": len(kept)},
        "kept": {"past_bookings": f"{len(kept)}: the record of service at the hall, anonymous"} if kept else {},
    }


def _rows(model, account_id: str, order) -> list:
    return db.session.scalars(select(model).where(model.account_id == account_id).order_by(order)).all()


def _delete(statement) -> int:
    return db.session.execute(statement).rowcount or 0
