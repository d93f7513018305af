"""Free places: the planned slots of a hall and item, minus what the slot rows say is booked or held."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from appointments import schedule
from appointments.halls import bookable_item, hall_or_404
from appointments.models import Slot
from mobile_api.extensions import db

MAX_AVAILABILITY_DAYS = 31


def _slot_rows(hall_id: int, item_code: str, first: date, last: date) -> dict[datetime, Slot]:
    rows = db.session.scalars(select(Slot).where(Slot.hall_id == hall_id, Slot.item_code == item_code, Slot.day.between(first, last)))
    return {row.start: row for row in rows}


def _free_slots(hall_id: int, item_code: str, first: date, last: date) -> dict[date, list[dict]]:
    planned = schedule.plan(hall_id, item_code, first, last)
    rows = _slot_rows(hall_id, item_code, first, last)
    days: dict[date, list[dict]] = {}
    for day, times in planned.items():
        entries = []
        for slot in times:
            row = rows.get(slot.start)
            remaining = slot.capacity if row is None else max(0, row.capacity - row.booked - row.held)
            entries.append({"start": slot.start, "end": slot.end, "remaining": remaining})
        days[day] = entries
    return days


def availability(hall_id: int, item_code: str, first: date | None, last: date | None) -> dict:
    """Days in the requested range (clipped to the bookable range), each with its slots and free places."""
    hall_or_404(hall_id)
    bookable_item(item_code, hall_id)
    earliest, latest = schedule.bookable_range()
    first = max(first or earliest, earliest)
    last = min(last or latest, latest, first + timedelta(days=MAX_AVAILABILITY_DAYS - 1))
    days = _free_slots(hall_id, item_code, first, last) if first <= last else {}
    return {
        "hall_id": hall_id,
        "item_code": item_code,
        "bookable_from": earliest,
        "bookable_until": latest,
        "days": [{"date": day, "open": bool(entries), "slots": entries} for day, entries in days.items()],
    }


def nearest_free(hall_id: int, item_code: str, wanted: datetime, limit: int = 3) -> list[dict]:
    """The free slots closest in time to ``wanted`` (the alternatives offered with a 409 slot_full)."""
    earliest, latest = schedule.bookable_range()
    free = [slot for entries in _free_slots(hall_id, item_code, earliest, latest).values() for slot in entries if slot["remaining"] > 0]
    free.sort(key=lambda slot: abs((slot["start"] - wanted).total_seconds()))
    return [{**slot, "start": slot["start"].isoformat(), "end": slot["end"].isoformat()} for slot in free[:limit]]
