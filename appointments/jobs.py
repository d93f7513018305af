"""Beat jobs on bookings: reminders, end-of-day no-shows, and the booking ban after repeated no-shows.

Each job reads what is due in a transaction of its own, then claims every item with a conditional
UPDATE in a short transaction: idempotent, and safe when two beat runs overlap. (The waitlist job,
``expire_offers``, lives with the offers in ``appointments.offers``.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update

from appointments.booking import active_ban
from appointments.halls import service_item
from appointments.messages import city_time_text
from appointments.models import Booking, BookingBan, BookingStatus, Hall
from auth.models import Account
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ, utcnow
from mobile_api.transactions import transaction
from notifications.service import notify

# (flag on the booking, template, sent this long before the start at the earliest, and at the latest)
REMINDERS = (
    ("reminded_day_before", "appointments.reminder_day_before", timedelta(hours=24), timedelta(hours=1)),
    ("reminded_hour_before", "appointments.reminder_hour_before", timedelta(hours=1), timedelta(0)),
)


def send_reminders(now: datetime | None = None) -> int:
    """Beat job: the day-before and the hour-before reminder, each at most once, only for active bookings."""
    now = now or utcnow()
    return sum(_remind(flag, template, lead, floor, now) for flag, template, lead, floor in REMINDERS)


def _remind(flag: str, template: str, lead: timedelta, floor: timedelta, now: datetime) -> int:
    column = getattr(Booking, flag)
    with transaction():
        due = db.session.scalars(
            select(Booking.id)
            .where(Booking.status == BookingStatus.BOOKED, column.is_(False), Booking.start <= now + lead, Booking.start > now + floor)
            .limit(500)
        ).all()
    sent = 0
    for booking_id in due:
        with transaction():
            claimed = db.session.execute(
                update(Booking)
                .where(Booking.id == booking_id, Booking.status == BookingStatus.BOOKED, column.is_(False))
                .values({flag: True}),
                execution_options={"synchronize_session": False},
            ).rowcount
            if claimed:
                _send_reminder(db.session.get(Booking, booking_id), flag, template)
                sent += 1
    return sent


def _send_reminder(booking: Booking, flag: str, template: str) -> None:
    account = db.session.get(Account, booking.account_id)
    hall = db.session.get(Hall, booking.hall_id)
    item = service_item(booking.item_code)
    notify(
        account,
        template,
        {
            "hall": hall.name,
            "item": item.name if item else booking.item_code,
            "when": city_time_text(booking.start),
            "code": booking.code,
        },
        dedupe_key=f"appointments:{booking.id}:{flag}:{booking.start.isoformat()}",
    )


def mark_no_shows(now: datetime | None = None) -> int:
    """End-of-day job: bookings of past days never checked in become no-shows; repeated no-shows suspend booking."""
    now = now or utcnow()
    today = now.astimezone(CITY_TZ).date()
    start_of_today = datetime.combine(today, datetime.min.time(), tzinfo=CITY_TZ)
    with transaction():
        due = db.session.execute(
            select(Booking.id, Booking.account_id).where(Booking.status == BookingStatus.BOOKED, Booking.start < start_of_today).limit(1000)
        ).all()
    marked = 0
    for booking_id, account_id in due:
        with transaction():
            changed = db.session.execute(
                update(Booking)
                .where(Booking.id == booking_id, Booking.status == BookingStatus.BOOKED)
                .values(status=BookingStatus.NO_SHOW),
                execution_options={"synchronize_session": False},
            ).rowcount
            if changed:
                marked += 1
                _maybe_suspend(account_id, today)
    return marked


def _maybe_suspend(account_id: str, today: date) -> None:
    """``APPOINTMENTS_NO_SHOW_LIMIT`` no-shows within ``APPOINTMENTS_NO_SHOW_WINDOW_DAYS`` (not counting
    those already punished by an earlier ban) suspend online booking for ``APPOINTMENTS_BAN_DAYS``."""
    if active_ban(account_id, today) is not None:
        return
    last_ban = db.session.scalar(select(func.max(BookingBan.starts)).where(BookingBan.account_id == account_id))
    since = today - timedelta(days=setting("APPOINTMENTS_NO_SHOW_WINDOW_DAYS"))
    if last_ban is not None and last_ban >= since:
        since = last_ban  # no-shows already punished do not count twice
    window_start = datetime.combine(since, datetime.min.time(), tzinfo=CITY_TZ)
    count = db.session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(Booking.account_id == account_id, Booking.status == BookingStatus.NO_SHOW, Booking.start >= window_start)
    )
    if count < setting("APPOINTMENTS_NO_SHOW_LIMIT"):
        return
    until = today + timedelta(days=setting("APPOINTMENTS_BAN_DAYS"))
    db.session.add(BookingBan(account_id=account_id, starts=today, until=until, no_shows=count))
    account = db.session.get(Account, account_id)
    notify(
        account,
        "appointments.booking_suspended",
        {"count": count, "until": f"{until:%Y年%m月%d日}"},
        dedupe_key=f"appointments:ban:{account_id}:{today.isoformat()}",
    )
