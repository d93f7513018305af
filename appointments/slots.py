"""The no-overbooking guarantee, in the database.

Capacity belongs to windows: a slot row is one window's places at one start time, and every item the
window serves draws on them. Every change of a row's counters is ONE conditional UPDATE whose WHERE
clause states the invariant (``booked + held + kept < capacity`` to take a free place, ``reserve_x > 0``
to take a kept one, ``held > 0`` to turn a hold into a booking), and the caller checks ``rowcount``:

- PostgreSQL (READ COMMITTED): an UPDATE takes the row lock; a concurrent UPDATE of the same row
  waits for it, then re-evaluates its WHERE clause against the committed new row version. So when
  one place is left and 200 processes on any number of machines try, exactly one UPDATE matches
  and all others see ``rowcount == 0`` — no SELECT-then-write window exists to race through.
- SQLite (embedded default): a write takes the database's single write lock, so conditional
  UPDATEs are serialised and each one sees the previous one's result.

A booking reads the rows of the windows serving its item and tries those that showed a place, one
after the other (most specialised window first); on PostgreSQL it first locks them in id order, as a
reschedule does, so two transactions touching the same rows never wait for each other crosswise (a
conditional UPDATE whose re-check fails after waiting keeps its row lock until commit). It does so as its
last slot statement, just before the booking row and the commit.

The CHECK constraint ``booked + held + reserves <= capacity`` on ``appointment_window_slots`` is the
last line: even a future bug that forgot the WHERE clause would fail instead of overbooking.

Rows are created lazily (``INSERT … ON CONFLICT DO NOTHING``) the first time anyone books a time, so
availability for days nobody booked yet costs no rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update

from appointments.models import Hall, PlaceKind, Slot, Window
from appointments.release import KeptPlaces, kept_places
from appointments.schedule import SlotTime, windows_serving
from mobile_api.extensions import db
from mobile_api.sql import insert_ignoring_conflict

_KEPT_COLUMN = {PlaceKind.ELDERLY: Slot.reserve_elderly, PlaceKind.GREEN: Slot.reserve_green}
UNTAKEN = Slot.booked + Slot.held + Slot.reserve_walk_in + Slot.reserve_elderly + Slot.reserve_green


def planned_row(hall: Hall, window: Window, slot: SlotTime) -> tuple[int, KeptPlaces]:
    """Capacity and kept places a row would be created with (what availability counts before it exists)."""
    return window.per_slot, kept_places(hall, window, slot)


def ensure_rows(hall: Hall, item_code: str, slot: SlotTime) -> list[int]:
    """The ids of the rows of every window serving the item at ``slot``, created if missing; in the
    order a booking tries them."""
    windows = windows_serving(hall.id, item_code)
    for window in windows:
        _create_row(hall.id, window.id, slot, *planned_row(hall, window, slot))
    ids = dict(
        db.session.execute(
            select(Slot.window_id, Slot.id).where(Slot.window_id.in_([w.id for w in windows]), Slot.start == slot.start)
        ).all()
    )
    return [ids[window.id] for window in windows if window.id in ids]


def lock_in_order(slot_ids: Iterable[int]) -> None:
    """PostgreSQL: take the row locks of several rows in id order before changing them, so two
    transactions touching the same rows (A: s1→s2, B: s2→s1) queue up instead of deadlocking.
    SQLite needs nothing: its single write lock already serialises the transactions."""
    ids = sorted(set(slot_ids))
    if len(ids) > 1 and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Slot.id).where(Slot.id.in_(ids)).order_by(Slot.id).with_for_update())


def _changed(statement) -> bool:
    return db.session.execute(statement, execution_options={"synchronize_session": False}).rowcount == 1


def take_place(slot_id: int, kind: PlaceKind = PlaceKind.FREE) -> bool:
    """Book one place of this row: a free one, or one kept for ``kind``. False when there is none."""
    if kind == PlaceKind.FREE:
        return _changed(update(Slot).where(Slot.id == slot_id, UNTAKEN < Slot.capacity).values(booked=Slot.booked + 1))
    column = _KEPT_COLUMN[kind]
    return _changed(update(Slot).where(Slot.id == slot_id, column > 0).values({column.key: column - 1, "booked": Slot.booked + 1}))


def take_first(slot_ids: list[int], kinds: list[PlaceKind]) -> int | None:
    """The first row (in order) where one place of the first possible kind could be taken, or None.
    Kept places go first for those they are kept for, so free places stay free for everyone else."""
    lock_in_order(slot_ids)
    for kind in kinds:
        for slot_id in slot_ids:
            if take_place(slot_id, kind):
                return slot_id
    return None


def rows_for_booking(hall_id: int, slot: SlotTime, planned: list[tuple[int, int, KeptPlaces]]) -> dict[int, tuple[int, int, int, int]]:
    """The rows of the windows serving the item at ``slot`` as they are now — window id → (row id, free
    places, kept for the elderly, kept for green channel) — creating the missing ones (``planned``: window
    id, capacity, kept places, in the order a booking tries them). A read: nothing is locked."""
    rows = _rows_at(planned, slot)
    missing = [entry for entry in planned if entry[0] not in rows]
    if missing:
        for window_id, capacity, kept in missing:
            _create_row(hall_id, window_id, slot, capacity, kept)
        rows = _rows_at(planned, slot)
    return rows


def _create_row(hall_id: int, window_id: int, slot: SlotTime, capacity: int, kept: KeptPlaces) -> None:
    """The window's row at ``slot`` with nothing taken yet, unless a concurrent request created it first."""
    insert_ignoring_conflict(
        Slot,
        hall_id=hall_id,
        window_id=window_id,
        day=slot.day,
        start=slot.start,
        end=slot.end,
        capacity=capacity,
        booked=0,
        held=0,
        reserve_walk_in=kept.walk_in,
        reserve_elderly=kept.elderly,
        reserve_green=kept.green,
    )


def _showing(rows: dict[int, tuple[int, int, int, int]], planned: list, kinds: list[PlaceKind]) -> list[tuple[int, PlaceKind]]:
    """(row id, kind) pairs that showed a place, in the order to try them: kinds first, then windows."""
    position = {PlaceKind.FREE: 1, PlaceKind.ELDERLY: 2, PlaceKind.GREEN: 3}
    return [
        (rows[window_id][0], kind)
        for kind in kinds
        for window_id, *_ in planned
        if window_id in rows and rows[window_id][position[kind]] > 0
    ]


def shows_a_place(rows: dict[int, tuple[int, int, int, int]], planned: list, kinds: list[PlaceKind]) -> bool:
    return bool(_showing(rows, planned, kinds))


def take_shown_place(rows: dict[int, tuple[int, int, int, int]], planned: list, kinds: list[PlaceKind]) -> int | None:
    """Take one place with a conditional UPDATE on a row that showed one of the first possible kind;
    the id of that row, or None when every such row was taken meanwhile.

    Only rows that showed a place are tried, so a full slot costs no UPDATE and no lock. On PostgreSQL
    the rows about to be tried are locked in id order first — an UPDATE whose re-check fails after
    waiting keeps its row lock, so trying rows in preference order without that could deadlock with a
    reschedule or a citizen trying kept places first. Called last before the booking row and the
    commit, so those locks are held only that long."""
    shown = _showing(rows, planned, kinds)
    lock_in_order(slot_id for slot_id, _ in shown)
    for slot_id, kind in shown:
        if take_place(slot_id, kind):
            return slot_id
    return None


def _rows_at(planned: list[tuple[int, int, KeptPlaces]], slot: SlotTime) -> dict[int, tuple[int, int, int, int]]:
    """window id → (row id, free places, kept for the elderly, kept for green channel) at ``slot``."""
    statement = select(Slot.window_id, Slot.id, Slot.capacity - UNTAKEN, Slot.reserve_elderly, Slot.reserve_green).where(
        Slot.window_id.in_([window_id for window_id, *_ in planned]), Slot.start == slot.start
    )
    return {window_id: (slot_id, free, elderly, green) for window_id, slot_id, free, elderly, green in db.session.execute(statement)}


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


def resize(slot_id: int, capacity: int, kept: KeptPlaces) -> None:
    """An admin changed the window: set the row's capacity and kept places, keeping every booked and
    held place (the kept places shrink first; what still does not fit was moved out by the caller)."""
    booked, held = db.session.execute(select(Slot.booked, Slot.held).where(Slot.id == slot_id).with_for_update()).one()
    taken = booked + held
    capacity = max(capacity, taken)
    room = capacity - taken
    walk_in = min(kept.walk_in, room)
    elderly = min(kept.elderly, room - walk_in)
    green = min(kept.green, room - walk_in - elderly)
    db.session.execute(
        update(Slot)
        .where(Slot.id == slot_id)
        .values(capacity=capacity, reserve_walk_in=walk_in, reserve_elderly=elderly, reserve_green=green),
        execution_options={"synchronize_session": False},
    )
