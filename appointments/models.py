"""Service halls in the city → district → street network (四级便民服务网络), their windows, opening
rules and special days; window slots with their capacity, bookings, the waitlist, queue tickets, the
call display's event log and booking bans.

Capacity belongs to windows: a :class:`Slot` row is one window's places in one slot time, shared by
every item that window serves, so a hall is never promised more visits than its windows can take.
The no-overbooking guarantee rests on it: ``booked + held + reserves <= capacity`` is kept by one
conditional UPDATE per place taken (see ``appointments.slots``) and backed by a CHECK constraint, so
no interleaving of processes or machines can push a window past its capacity.
"""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mobile_api.extensions import db
from mobile_api.timeutil import UTCDateTime, utcnow


class BookingStatus(StrEnum):
    """``booked`` is the only active status; the others are final."""

    BOOKED = "booked"
    CANCELLED = "cancelled"
    CHECKED_IN = "checked_in"
    NO_SHOW = "no_show"


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVED = "served"
    MISSED = "no_show"  # called, but nobody came to the window


class SpecialDayKind(StrEnum):
    CLOSED = "closed"  # a working day the hall does not open (renovation, system cut-over)
    OPEN = "open"  # an extra opening (a 调休 Saturday the rules do not cover, a service day)


class PlaceKind(StrEnum):
    """Which places of a slot a booking may take: free ones, or those kept for the elderly / green channel."""

    FREE = "free"
    ELDERLY = "elderly"
    GREEN = "green"


class QueueEventKind(StrEnum):
    """What the call display hears about (``queue_events``)."""

    ISSUED = "issued"  # a new number: waiting counts change
    CALLED = "called"
    RECALLED = "recalled"
    FINISHED = "finished"  # served or no-show: the window's number goes off the display


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # a place is held for this entry until ``offer_expires_at``
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    LEFT = "left"


# Queue order of tickets (lower first): priority (elderly, green channel), appointments on time, walk-ins.
RANK_PRIORITY, RANK_APPOINTMENT, RANK_WALK_IN = 0, 1, 2

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a window
_PUBLIC_ID = re.compile(r"[0-9a-f]{32}")


def new_public_id() -> str:
    """Bookings and waitlist entries: uuid4 hex."""
    return uuid.uuid4().hex


def is_public_id(value: str) -> bool:
    """Checked before a look-up, so odd path segments never reach the database."""
    return _PUBLIC_ID.fullmatch(value) is not None


def new_booking_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


class Hall(db.Model):
    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))  # city | district | street
    city: Mapped[str] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    # A hall taken out of service: not listed, not bookable (its data stays).
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Slot release (放号): a day's places open at ``release_time`` on the working day that lies
    # ``release_days_ahead`` working days before it. None: the APPOINTMENTS_RELEASE_* settings.
    release_days_ahead: Mapped[int | None] = mapped_column(Integer)
    release_time: Mapped[time | None] = mapped_column(Time)
    # Shares of every slot's places (percent) kept off online booking for walk-ins, and kept for
    # the elderly (适老化) and for green-channel cases (绿色通道).
    walk_in_percent: Mapped[int] = mapped_column(Integer, default=0)
    elderly_percent: Mapped[int] = mapped_column(Integer, default=0)
    green_channel_percent: Mapped[int] = mapped_column(Integer, default=0)


class Window(db.Model):
    """A counter (窗口) in a hall, serving a set of service item codes, ``per_slot`` citizens a slot."""

    __tablename__ = "hall_windows"
    __table_args__ = (
        UniqueConstraint("hall_id", "name", name="uq_hall_windows_hall_name"),
        CheckConstraint("per_slot >= 0", name="per_slot_not_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(32))  # what the call display shows: "3号窗口"
    item_codes: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # open (staffed) or closed
    # Citizens this window serves in one slot: its places, shared by all the items it serves.
    per_slot: Mapped[int] = mapped_column(Integer, default=1)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))


class OpeningRule(db.Model):
    """Opening hours of a hall on one weekday (0 = Monday). A 调休 weekend working day uses Monday's."""

    __tablename__ = "hall_opening_rules"
    __table_args__ = (UniqueConstraint("hall_id", "weekday", name="uq_hall_opening_rules_hall_weekday"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)
    break_start: Mapped[time | None] = mapped_column(Time)
    break_end: Mapped[time | None] = mapped_column(Time)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)


class SpecialDay(db.Model):
    """One day that differs from the rules: closed although a working day, or an extra opening
    (with its own hours) although the rules or the calendar would keep the hall shut."""

    __tablename__ = "hall_special_days"
    __table_args__ = (UniqueConstraint("hall_id", "day", name="uq_hall_special_days_hall_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(8), default=SpecialDayKind.CLOSED)
    reason: Mapped[str] = mapped_column(String(200))
    opens: Mapped[time | None] = mapped_column(Time)
    closes: Mapped[time | None] = mapped_column(Time)
    break_start: Mapped[time | None] = mapped_column(Time)
    break_end: Mapped[time | None] = mapped_column(Time)
    slot_minutes: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Slot(db.Model):
    """One window's places in one slot time. Rows are created on first booking (lazily).

    Every item the window serves draws on the same places. ``held`` counts places kept back for a
    waitlist offer; the ``reserve_*`` columns are places kept for walk-ins (never booked online),
    the elderly and green-channel cases: taking one moves it from the reserve to ``booked``.
    """

    __tablename__ = "appointment_window_slots"
    __table_args__ = (
        UniqueConstraint("window_id", "start", name="uq_appointment_window_slots_window_start"),
        CheckConstraint(
            "booked >= 0 AND held >= 0 AND reserve_walk_in >= 0 AND reserve_elderly >= 0 AND reserve_green >= 0"
            " AND booked + held + reserve_walk_in + reserve_elderly + reserve_green <= capacity",
            name="within_capacity",
        ),
        Index("ix_appointment_window_slots_hall_day", "hall_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    window_id: Mapped[int] = mapped_column(ForeignKey("hall_windows.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    held: Mapped[int] = mapped_column(Integer, default=0)
    reserve_walk_in: Mapped[int] = mapped_column(Integer, default=0)
    reserve_elderly: Mapped[int] = mapped_column(Integer, default=0)
    reserve_green: Mapped[int] = mapped_column(Integer, default=0)


class PlaceRelease(db.Model):
    """A place given back with nobody waiting: kept out of reach until ``release_at``, then freed.

    Against slot trading (as Munich's ZMS does): a place cancelled by one account cannot be
    grabbed a second later by an accomplice; it returns to everybody at the same time.
    """

    __tablename__ = "appointment_place_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_window_slots.id", ondelete="CASCADE"))
    release_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)


class Booking(db.Model):
    __tablename__ = "appointments"
    __table_args__ = (
        # One active booking per item per citizen, kept by the database even for concurrent requests.
        Index(
            "uq_appointments_active_item",
            "account_id",
            "item_code",
            unique=True,
            postgresql_where=text("status = 'booked'"),
            sqlite_where=text("status = 'booked'"),
        ),
        Index("ix_appointments_status_start", "status", "start"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(8), unique=True, default=new_booking_code)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    item_code: Mapped[str] = mapped_column(String(64))
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_window_slots.id"), index=True)
    start: Mapped[datetime] = mapped_column(UTCDateTime())
    end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16), default=BookingStatus.BOOKED)
    case_no: Mapped[str | None] = mapped_column(String(32))
    green_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reminded_day_before: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_hour_before: Mapped[bool] = mapped_column(Boolean, default=False)


class WaitlistEntry(db.Model):
    """A place in line for a hall/item/day; a freed place is offered to the first in line."""

    __tablename__ = "appointment_waitlist"
    __table_args__ = (
        UniqueConstraint("account_id", "hall_id", "item_code", "day", name="uq_appointment_waitlist_account_day"),
        Index("ix_appointment_waitlist_line", "hall_id", "item_code", "day", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_public_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    item_code: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=WaitlistStatus.WAITING)
    offered_slot_id: Mapped[int | None] = mapped_column(ForeignKey("appointment_window_slots.id"))
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    booking_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TicketCounter(db.Model):
    """Per hall, day and prefix: the last queue number handed out."""

    __tablename__ = "queue_ticket_counters"

    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(1), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(db.Model):
    """A queue number (取号) for one visit: from a checked-in booking or a walk-in."""

    __tablename__ = "queue_tickets"
    __table_args__ = (
        UniqueConstraint("hall_id", "day", "ticket_no", name="uq_queue_tickets_hall_day_no"),
        Index("ix_queue_tickets_queue", "hall_id", "day", "status", "rank", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"))
    day: Mapped[date] = mapped_column(Date)
    ticket_no: Mapped[str] = mapped_column(String(8))
    item_code: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer)
    booking_id: Mapped[str | None] = mapped_column(ForeignKey("appointments.id"), unique=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.WAITING)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("hall_windows.id"))
    recalls: Mapped[int] = mapped_column(Integer, default=0)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_by: Mapped[str | None] = mapped_column(String(64))


class QueueEvent(db.Model):
    """The call display's event log: one row per change a hall's screens must show.

    The display's Server-Sent Events stream reads rows after the Last-Event-ID, so any number of web
    processes can serve screens without sharing memory; old rows are purged by a beat job.
    """

    __tablename__ = "queue_events"
    __table_args__ = (Index("ix_queue_events_hall_id", "hall_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    ticket_no: Mapped[str | None] = mapped_column(String(8))
    window_name: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class BookingBan(db.Model):
    """No booking until ``until`` (exclusive) after repeated no-shows."""

    __tablename__ = "appointment_bans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    starts: Mapped[date] = mapped_column(Date)
    until: Mapped[date] = mapped_column(Date)
    no_shows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlanVersion(db.Model):
    """One row: a counter raised in the same transaction as any change to what the availability plan is
    made of (halls, windows, opening rules, special days, the calendar, catalog items). Every web process
    keeps its computed plans under the version it read, so one cheap read tells them all at once that a
    plan is stale (``appointments.plan_cache``)."""

    __tablename__ = "appointment_plan_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
