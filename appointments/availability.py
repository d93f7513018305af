"""Free places: the planned slots of a hall and item, each the sum over the windows serving the item of
what their rows say is still free (or what a row would be created with), minus kept shares; days not
yet released say when they open instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from appointments import release, schedule
from appointments.halls import bookable_item, hall_or_404
from appointments.models import Hall, Slot
from appointments.slots import planned_row
from mobile_api.extensions import db
from mobile_api.timeutil import CITY_TZ, utcnow

MAX_AVAILABILITY_DAYS = 31


@dataclass(frozen=True)
class Places:
    free: int  # anyone may book these
    elderly: int  # kept for the elderly
    green: int  # kept for green-channel cases


def _rows(hall_id: int, window_ids: list[int], first: date, last: date) -> dict[tuple[int, datetime], Slot]:
    rows = db.session.scalars(select(Slot).where(Slot.hall_id == hall_id, Slot.window_id.in_(window_ids), Slot.day.between(first, last)))
    return {(row.window_id, row.start): row for row in rows}


def places_by_time(hall: Hall, item_code: str, first: date, last: date) -> dict[date, list[tuple[schedule.SlotTime, Places]]]:
    """Every day → its slot times with the places still to be had (released or not)."""
    windows = schedule.windows_serving(hall.id, item_code)
    rows = _rows(hall.id, [window.id for window in windows], first, last)
    days: dict[date, list[tuple[schedule.SlotTime, Places]]] = {}
    for day, times in schedule.plan(hall.id, item_code, first, last).items():
        entries = []
        for slot in times:
            free = elderly = green = 0
            for window in windows:
                row = rows.get((window.id, slot.start))
                if row is None:
                    capacity, kept = planned_row(hall, window, slot)
                    free += capacity - kept.total
                    elderly, green = elderly + kept.elderly, green + kept.green
                else:
                    untaken = row.booked + row.held + row.reserve_walk_in + row.reserve_elderly + row.reserve_green
                    free += max(0, row.capacity - untaken)
                    elderly, green = elderly + row.reserve_elderly, green + row.reserve_green
            entries.append((slot, Places(free, elderly, green)))
        days[day] = entries
    return days


def _day_view(hall: Hall, day: date, entries: list, now: datetime) -> dict:
    opens = release.opens_at(hall, day) if entries else None
    released = opens is None or now >= opens
    slots = [
        {
            "start": slot.start,
            "end": slot.end,
            "remaining": places.free if released else 0,
            "kept_for_elderly": places.elderly if released else 0,
            "kept_for_green_channel": places.green if released else 0,
        }
        for slot, places in entries
    ]
    return {"date": day, "open": bool(entries), "released": released, "opens_at": None if released else opens, "slots": slots}


def availability(hall_id: int, item_code: str, first: date | None, last: date | None, now: datetime | None = None) -> dict:
    """Days in the requested range (clipped to the listed range), each with its slots and free places;
    a day whose places are not released yet has ``released: false`` and ``opens_at``."""
    now = now or utcnow()
    hall = hall_or_404(hall_id)
    bookable_item(item_code, hall_id)
    earliest, latest = release.listing_range(hall)
    first = max(first or earliest, earliest)
    last = min(last or latest, latest, first + timedelta(days=MAX_AVAILABILITY_DAYS - 1))
    days = places_by_time(hall, item_code, first, last) if first <= last else {}
    views = [_day_view(hall, day, entries, now) for day, entries in days.items()]
    released_days = [view["date"] for view in views if view["open"] and view["released"]]
    return {
        "hall_id": hall_id,
        "item_code": item_code,
        "bookable_from": earliest,
        "bookable_until": max(released_days) if released_days else earliest,
        "days": views,
    }


def nearest_free(hall_id: int, item_code: str, wanted: datetime, limit: int = 3, now: datetime | None = None) -> list[dict]:
    """The released free slots closest in time to ``wanted`` (alternatives for a 409 slot_full, a closed
    day or a moved booking)."""
    now = now or utcnow()
    hall = hall_or_404(hall_id)
    earliest, latest = release.listing_range(hall)
    free = [
        {"start": slot.start, "end": slot.end, "remaining": places.free}
        for day, entries in places_by_time(hall, item_code, earliest, latest).items()
        if entries and release.is_released(hall, day, now)
        for slot, places in entries
        if places.free > 0 and slot.start > now
    ]
    free.sort(key=lambda slot: abs((slot["start"] - wanted.astimezone(CITY_TZ)).total_seconds()))
    return [{**slot, "start": slot["start"].isoformat(), "end": slot["end"].isoformat()} for slot in free[:limit]]
