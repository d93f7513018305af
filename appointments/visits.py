"""At the hall: checking in around the booked time turns a booking into a queue ticket."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from appointments.booking import own_booking
from appointments.messages import city_time_text
from appointments.models import RANK_APPOINTMENT, RANK_PRIORITY, Booking, BookingStatus, Ticket
from appointments.queue import issue_ticket, ticket_status
from appointments.release import is_elderly
from auth.models import Account
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ, utcnow
from mobile_api.transactions import transaction


def _ticket_of(booking: Booking) -> Ticket | None:
    return db.session.scalar(select(Ticket).where(Ticket.booking_id == booking.id))


def _check_in_window(booking: Booking, now: datetime) -> None:
    opens = booking.start - timedelta(minutes=setting("APPOINTMENTS_CHECKIN_EARLY_MINUTES"))
    closes = booking.start + timedelta(minutes=setting("APPOINTMENTS_CHECKIN_LATE_MINUTES"))
    if not opens <= now <= closes:
        raise Problem(
            409,
            "outside_check_in_window",
            f"请在{city_time_text(opens)}至{closes.astimezone(CITY_TZ):%H:%M}之间签到；迟到请到窗口现场取号",
            check_in_from=opens.astimezone(CITY_TZ).isoformat(),
            check_in_until=closes.astimezone(CITY_TZ).isoformat(),
        )


def check_in(account: Account, booking_id: str, now: datetime | None = None) -> dict:
    """At the hall, around the booked time: the booking becomes a queue ticket. Checking in again
    (or twice at once) answers with the same ticket."""
    now = now or utcnow()
    booking = own_booking(account, booking_id)
    existing = _ticket_of(booking)
    if existing is not None:
        return ticket_status(existing)
    if booking.status != BookingStatus.BOOKED:
        raise Problem(409, "appointment_not_active", "该预约已取消或已过期，不能签到", current_status=booking.status)
    _check_in_window(booking, now)
    ticket = None
    try:
        with transaction():
            checked = db.session.execute(
                update(Booking)
                .where(Booking.id == booking.id, Booking.status == BookingStatus.BOOKED)
                .values(status=BookingStatus.CHECKED_IN, checked_in_at=now),
                execution_options={"synchronize_session": False},
            ).rowcount
            if checked:
                today = now.astimezone(CITY_TZ).date()
                rank = RANK_PRIORITY if booking.green_channel or is_elderly(account, today) else RANK_APPOINTMENT
                ticket = issue_ticket(
                    booking.hall_id, booking.item_code, rank, now, booking_id=booking.id, account_id=account.id, prefix="A"
                )
    except IntegrityError:  # a concurrent check-in of the same booking issued the ticket
        return ticket_status(_ticket_of(booking))
    if ticket is not None:
        return ticket_status(ticket)
    existing = _ticket_of(booking)  # checked in (or cancelled) a moment ago by another request
    if existing is not None:
        return ticket_status(existing)
    raise Problem(409, "appointment_not_active", "该预约已取消或已过期，不能签到")
