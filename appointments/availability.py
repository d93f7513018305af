"""Free places: the planned slots of a hall and item, each the sum over the windows serving the item of
what their rows say is still free (or what a row would be created with), minus kept shares; days not
yet released say when they open instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from appointments.models import Slot
from appointments.plan_cache import ItemPlan, PlannedDay, PlannedSlot, item_plan
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.timeutil import CITY_TZ, utcnow

MAX_AVAILABILITY_DAYS = 31


@dataclass(frozen=True)
class Places:
    free: int  # anyone may book these
    elderly: int  # kept for the elderly
    green: int  # kept for green-channel cases


def _live_rows(plan: ItemPlan, first: date, last: date) -> dict[datetime, list[tuple[int, int, int, int, int]]]:
    """start → [(window, capacity, untaken, kept for the elderly, kept for green channel)] of the rows
    that exist: one statement (Core, not ORM: it runs on every read), only the columns counted."""
    if not plan.window_ids:
        return {}
    slot = Slot.__table__.c
    untaken = slot.booked + slot.held + slot.reserve_walk_in + slot.reserve_elderly + slot.reserve_green
    statement = select(slot.start, slot.window_id, slot.capacity, untaken, slot.reserve_elderly, slot.reserve_green).where(
        slot.window_id.in_(plan.window_ids), slot.day.between(first, last)
    )
    rows: dict[datetime, list[tuple[int, int, int, int, int]]] = {}
    for start, *row in db.session.connection().execute(statement):
        rows.setdefault(start, []).append(tuple(row))
    return rows


def _places(slot: PlannedSlot, rows: dict) -> Places:
    """The planned places of the slot, corrected by the rows that exist (only slots somebody booked
    have rows: the cost follows the bookings, not the windows × slots)."""
    free, elderly, green = slot.free, slot.elderly, slot.green
    for window_id, capacity, untaken, kept_elderly, kept_green in rows.get(slot.time.start, ()):
        planned = slot.row(window_id)
        if planned is None:
            continue
        free += max(0, capacity - untaken) - (planned.capacity - planned.kept.total)
        elderly += kept_elderly - planned.kept.elderly
        green += kept_green - planned.kept.green
    return Places(free, elderly, green)


def places_by_time(plan: ItemPlan, first: date, last: date) -> list[tuple[PlannedDay, list[tuple[PlannedSlot, Places]]]]:
    """Every planned day in ``[first, last]`` with its slots and the places still to be had."""
    rows = _live_rows(plan, first, last)
    days = [planned for planned in plan.days if first <= planned.day <= last]
    return [(planned, [(slot, _places(slot, rows)) for slot in planned.slots]) for planned in days]


def _day_view(planned: PlannedDay, entries: list[tuple[PlannedSlot, Places]], now: datetime) -> dict:
    released = planned.opens_at is None or now >= planned.opens_at
    slots = [
        {
            "start": slot.start_iso,
            "end": slot.end_iso,
            "remaining": places.free if released else 0,
            "kept_for_elderly": places.elderly if released else 0,
            "kept_for_green_channel": places.green if released else 0,
        }
        for slot, places in entries
    ]
    opens_at = None if released else planned.opens_at_iso
    return {"date": planned.iso, "open": bool(entries), "released": released, "opens_at": opens_at, "slots": slots}


def availability(hall_id: int, item_code: str, first: date | None, last: date | None, now: datetime | None = None) -> dict:
    """Days in the requested range (clipped to the listed range), each with its slots and free places;
    a day whose places are not released yet has ``released: false`` and ``opens_at``. Two statements
    once the plan is known to this process: the plan version and the slot rows.

    The answer is ready for JSON (dates and times as ISO 8601 strings, rendered once in the plan): it
    is what ``AvailabilitySchema`` would dump, without dumping ~140 slots through marshmallow on the
    most-read endpoint of the rush (a test holds the two equal)."""
    now = now or utcnow()
    plan = item_plan(hall_id, item_code)
    first = max(first or plan.earliest, plan.earliest)
    last = min(last or plan.latest, plan.latest, first + timedelta(days=MAX_AVAILABILITY_DAYS - 1))
    days = places_by_time(plan, first, last) if first <= last else []
    views = [_day_view(planned, entries, now) for planned, entries in days]
    released_days = [planned.day for (planned, _), view in zip(days, views, strict=True) if view["open"] and view["released"]]
    return {
        "hall_id": hall_id,
        "item_code": item_code,
        "bookable_from": plan.earliest.isoformat(),
        "bookable_until": (max(released_days) if released_days else plan.earliest).isoformat(),
        "days": views,
    }


def nearest_free(hall_id: int, item_code: str, wanted: datetime, limit: int = 3, now: datetime | None = None) -> list[dict]:
    """The released free slots closest in time to ``wanted`` (alternatives for a 409 slot_full, a closed
    day or a moved booking)."""
    now = now or utcnow()
    try:
        plan = item_plan(hall_id, item_code)
    except Problem:  # the hall closed or no longer offers the item: nothing to suggest
        return []
    free = [
        (slot, places.free)
        for planned, entries in places_by_time(plan, plan.earliest, plan.latest)
        if entries and (planned.opens_at is None or now >= planned.opens_at)
        for slot, places in entries
        if places.free > 0 and slot.time.start > now
    ]
    free.sort(key=lambda entry: abs((entry[0].time.start - wanted.astimezone(CITY_TZ)).total_seconds()))
    return [{"start": slot.start_iso, "end": slot.end_iso, "remaining": remaining} for slot, remaining in free[:limit]]
