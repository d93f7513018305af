"""The no-overbooking guarantee, in the database.

Every change of a slot's counters is ONE conditional UPDATE whose WHERE clause states the invariant
(``booked + held < capacity`` to take a place, ``held > 0`` to turn a hold into a booking), and the
caller checks ``rowcount``:

- PostgreSQL (READ COMMITTED): an UPDATE takes the row lock; a concurrent UPDATE of the same row
  waits for it, then re-evaluates its WHERE clause against the committed new row version. So when
  one place is left and 200 processes on any number of machines try, exactly one UPDATE matches
  and all others see ``rowcount == 0`` — no SELECT-then-write window exists to race through.
- SQLite (embedded default): a write takes the database's single write lock, so conditional
  UPDATEs are serialised and each one sees the previous one's result.

The CHECK constraint ``booked + held <= capacity`` on ``appointment_slots`` is the last line: even a
future bug that forgot the WHERE clause would fail instead of overbooking.

Slot rows are created lazily (``INSERT … ON CONFLICT DO NOTHING``) the first time anyone books a
time, so availability for days nobody booked yet costs no rows.
"""

from __future__ import annotations

from sqlalchemy import select, update

from appointments.models import Slot
from appointments.schedule import SlotTime
from mobile_api.extensions import db
from mobile_api.sql import insert_ignoring_conflict


def ensure_slot(hall_id: int, item_code: str, slot: SlotTime) -> int:
    """The id of the slot row for this hall/item/start, created with its capacity if missing."""
    insert_ignoring_conflict(
        Slot,
        hall_id=hall_id,
        item_code=item_code,
        day=slot.day,
        start=slot.start,
        end=slot.end,
        capacity=slot.capacity,
        booked=0,
        held=0,
    )
    return db.session.scalar(select(Slot.id).where(Slot.hall_id == hall_id, Slot.item_code == item_code, Slot.start == slot.start))


def lock_in_order(slot_ids: list[int]) -> None:
    """PostgreSQL: take the row locks of several slots in id order before changing them, so two
    reschedules in opposite directions (A: s1→s2, B: s2→s1) queue up instead of deadlocking.
    SQLite needs nothing: its single write lock already serialises the transactions."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Slot.id).where(Slot.id.in_(slot_ids)).order_by(Slot.id).with_for_update())


def _changed(statement) -> bool:
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount == 1


def take_place(slot_id: int) -> bool:
    """Book one free place. False when the slot is full (free places held for the waitlist count as taken)."""
    return _changed(update(Slot).where(Slot.id == slot_id, Slot.booked + Slot.held < Slot.capacity).values(booked=Slot.booked + 1))


def take_held_place(slot_id: int) -> bool:
    """Turn a place held for a waitlist offer into a booking."""
    return _changed(update(Slot).where(Slot.id == slot_id, Slot.held > 0).values(held=Slot.held - 1, booked=Slot.booked + 1))


def release_place(slot_id: int) -> bool:
    """A booking ends (cancelled, moved): its place is free for anyone."""
    return _changed(update(Slot).where(Slot.id == slot_id, Slot.booked > 0).values(booked=Slot.booked - 1))


def hold_released_place(slot_id: int) -> bool:
    """A booking ends, but its place is kept back for a waitlist offer instead of being freed."""
    return _changed(update(Slot).where(Slot.id == slot_id, Slot.booked > 0).values(booked=Slot.booked - 1, held=Slot.held + 1))


def drop_hold(slot_id: int) -> bool:
    """Nobody in line wants the held place: it becomes free for anyone."""
    return _changed(update(Slot).where(Slot.id == slot_id, Slot.held > 0).values(held=Slot.held - 1))
