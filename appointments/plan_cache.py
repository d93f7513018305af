"""The availability plan as a read model: computed once per process, checked with one statement.

What a hall offers for an item — its open days in the listing range, each day's slot times, when each
day's places are released, the windows serving the item and what a row of each would be created with —
changes only when an administrator changes a hall, a window, an opening rule, a special day, the
calendar or the catalog. Computing it costs ~30 statements (the calendar is read per day); the live part
of availability (the slot rows' counters) is one more.

So each process keeps computed plans in memory under the **plan version**, a counter in
``appointment_plan_version`` that is raised in the same transaction as any change to those tables (the
session events below: ORM flushes and ORM bulk UPDATE/DELETE). Every use reads the version first — one
primary-key read — so a plan changed by an admin on any machine is recomputed by every process on its
next request, and a plan computed from data newer than the version it is filed under can only be
recomputed again, never served stale. Places (taken, freed) are never in the plan: they are read live.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from appointments import release, schedule
from appointments.halls import bookable_item, hall_or_404
from appointments.models import Hall, OpeningRule, PlanVersion, SpecialDay, Window
from appointments.release import KeptPlaces
from appointments.slots import planned_row
from cases.models import ServiceItem
from mobile_api.extensions import db
from mobile_api.models import CalendarDay, CalendarYear
from mobile_api.settings import setting
from mobile_api.timeutil import city_today

PLAN_TABLES = (Hall, Window, OpeningRule, SpecialDay, CalendarDay, CalendarYear, ServiceItem)
MAX_PLANS_PER_PROCESS = 256  # ~150 KB each (140 slots × their windows): ~40 MB per process at most; the rest recompute


@dataclass(frozen=True)
class PlannedRow:
    """One window's row at one slot time, as it would be created (capacity, kept places)."""

    window_id: int
    capacity: int
    kept: KeptPlaces


@dataclass(frozen=True)
class PlannedSlot:
    time: schedule.SlotTime
    rows: tuple[PlannedRow, ...]  # the windows serving the item, in the order a booking tries them
    start_iso: str  # rendered once: availability answers are built from these strings
    end_iso: str
    free: int  # places while none of its rows exists yet (anyone / the elderly / green channel)
    elderly: int
    green: int

    def row(self, window_id: int) -> PlannedRow | None:
        return next((row for row in self.rows if row.window_id == window_id), None)


@dataclass(frozen=True)
class PlannedDay:
    day: date
    opens_at: datetime | None  # when its places are released; None when the hall is closed that day
    slots: tuple[PlannedSlot, ...]
    iso: str
    opens_at_iso: str | None


@dataclass(frozen=True)
class ItemPlan:
    hall_id: int
    hall_name: str
    hall_address: str | None
    item_code: str
    item_name: str
    earliest: date  # the listing range
    latest: date
    window_ids: tuple[int, ...]
    days: tuple[PlannedDay, ...]

    def day(self, day: date) -> PlannedDay | None:
        index = (day - self.earliest).days
        return self.days[index] if 0 <= index < len(self.days) else None

    def slot_at(self, start: datetime) -> PlannedSlot | None:
        planned = self.day(start.date())
        return next((slot for slot in planned.slots if slot.time.start == start), None) if planned else None


_plans: OrderedDict[tuple, ItemPlan] = OrderedDict()
_lock = threading.Lock()


def plan_version() -> int:
    table = PlanVersion.__table__  # Core, not ORM: this runs on every availability read
    return db.session.connection().execute(select(table.c.version).where(table.c.id == 1)).scalar() or 0


def item_plan(hall_id: int, item_code: str, today: date | None = None) -> ItemPlan:
    """The plan of a hall and item (404 for a missing hall, 422 for an item it does not offer, as ever)."""
    today = today or city_today()
    key = (plan_version(), hall_id, item_code, today, setting("APPOINTMENTS_BOOKABLE_WORKING_DAYS"), setting("APPOINTMENTS_RELEASE_TIME"))
    with _lock:
        plan = _plans.get(key)
        if plan is not None:
            _plans.move_to_end(key)
            return plan
    plan = _compute(hall_id, item_code, today)
    with _lock:
        _plans[key] = plan
        while len(_plans) > MAX_PLANS_PER_PROCESS:
            _plans.popitem(last=False)
    return plan


def _compute(hall_id: int, item_code: str, today: date) -> ItemPlan:
    hall = hall_or_404(hall_id)
    item = bookable_item(item_code, hall_id)
    earliest, latest = release.listing_range(hall, today)
    windows = schedule.windows_serving(hall_id, item_code)
    days = []
    for day, times in schedule.plan(hall_id, item_code, earliest, latest).items():
        slots = tuple(_planned_slot(slot, tuple(PlannedRow(w.id, *planned_row(hall, w, slot)) for w in windows)) for slot in times)
        opens_at = release.opens_at(hall, day) if times else None
        days.append(PlannedDay(day, opens_at, slots, day.isoformat(), opens_at.isoformat() if opens_at else None))
    return ItemPlan(
        hall_id=hall.id,
        hall_name=hall.name,
        hall_address=hall.address,
        item_code=item_code,
        item_name=item.name,
        earliest=earliest,
        latest=latest,
        window_ids=tuple(window.id for window in windows),
        days=tuple(days),
    )


def _planned_slot(slot: schedule.SlotTime, rows: tuple[PlannedRow, ...]) -> PlannedSlot:
    return PlannedSlot(
        slot,
        rows,
        slot.start.isoformat(),
        slot.end.isoformat(),
        free=sum(row.capacity - row.kept.total for row in rows),
        elderly=sum(row.kept.elderly for row in rows),
        green=sum(row.kept.green for row in rows),
    )


# --- raising the version with every change to what plans are made of ---------------------------------


def _raise_version(session: Session) -> None:
    table = PlanVersion.__table__
    session.connection().execute(update(table).where(table.c.id == 1).values(version=table.c.version + 1))


def _touches_plan(objects) -> bool:
    return any(isinstance(obj, PLAN_TABLES) for obj in objects)


def _after_flush(session: Session, _context) -> None:
    changed = [obj for obj in session.dirty if session.is_modified(obj, include_collections=False)]
    if _touches_plan(session.new) or _touches_plan(session.deleted) or _touches_plan(changed):
        _raise_version(session)


def _after_bulk(state) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and state.bind_mapper is not None:
        if issubclass(state.bind_mapper.class_, PLAN_TABLES):
            _raise_version(state.session)


def watch_plan_changes() -> None:
    """Register the session events once per process (every session: web, workers, CLI)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _after_bulk)
