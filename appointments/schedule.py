"""When a hall is open and with which windows: opening rules, special days, windows and the calendar.

A day is open when the hall is in service and either a special day opens it (its own hours) or the
calendar says working day (closed on statutory holidays, open on 调休 Saturdays and Sundays), the hall
has a rule for that weekday (a 调休 weekend day uses Monday's) and no special day closes it. A slot's
places are those of the active windows serving the item (``Window.per_slot`` each) — shared with every
other item those windows serve. Everything here is computed, nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import has_request_context, request
from sqlalchemy import select

from appointments.models import Hall, OpeningRule, SpecialDay, SpecialDayKind, Window
from mobile_api.extensions import db
from mobile_api.timeutil import CITY_TZ
from mobile_api.workdays import WorkdayCalendar


@dataclass(frozen=True)
class SlotTime:
    start: datetime  # aware, city time
    end: datetime
    capacity: int  # places of all the windows serving the item
    index: int = 0  # position in the day (0 = first slot): spreads the kept shares over the day

    @property
    def day(self) -> date:
        return self.start.date()


@dataclass(frozen=True)
class Hours:
    """One day's opening: hours, lunch break and slot length."""

    opens: time
    closes: time
    break_start: time | None
    break_end: time | None
    slot_minutes: int


def per_request(key: tuple, compute: Callable[[], Any]) -> Any:
    """Memoise read-only look-ups for the length of one request (never across requests or processes)."""
    if not has_request_context():
        return compute()
    # On the request itself, not on ``g``: an app context (and its ``g``) can outlive one request.
    memo = request.environ.setdefault("appointments.memo", {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def forget_memo() -> None:
    """After an admin change within the same request, plans are computed afresh."""
    if has_request_context():
        request.environ.pop("appointments.memo", None)


def hall_windows(hall_id: int) -> list[Window]:
    """The hall's open windows, in id order."""

    def load() -> list[Window]:
        return list(db.session.scalars(select(Window).where(Window.hall_id == hall_id, Window.active.is_(True)).order_by(Window.id)))

    return per_request(("hall_windows", hall_id), load)


def windows_serving(hall_id: int, item_code: str) -> list[Window]:
    """Open windows serving the item, most specialised first (fewest items), so that an item served at
    several windows fills its own windows before the shared ones other items depend on."""
    serving = [window for window in hall_windows(hall_id) if item_code in (window.item_codes or [])]
    return sorted(serving, key=lambda window: (len(window.item_codes or []), window.id))


def _slot_times(day: date, hours: Hours, capacity: int) -> list[SlotTime]:
    step = timedelta(minutes=hours.slot_minutes)
    start = datetime.combine(day, hours.opens, tzinfo=CITY_TZ)
    closes = datetime.combine(day, hours.closes, tzinfo=CITY_TZ)
    pause = None
    if hours.break_start and hours.break_end:
        pause = (datetime.combine(day, hours.break_start, tzinfo=CITY_TZ), datetime.combine(day, hours.break_end, tzinfo=CITY_TZ))
    slots: list[SlotTime] = []
    while start + step <= closes:
        end = start + step
        if pause and start < pause[1] and end > pause[0]:
            start = pause[1]
            continue
        slots.append(SlotTime(start, end, capacity, len(slots)))
        start = end
    return slots


def _hours_of(rule: OpeningRule | SpecialDay, default_minutes: int = 30) -> Hours:
    return Hours(rule.opens, rule.closes, rule.break_start, rule.break_end, rule.slot_minutes or default_minutes)


def opening_hours(hall_id: int, first: date, last: date) -> dict[date, Hours | None]:
    """Every day in ``[first, last]`` → the hall's hours that day, or None when it is closed."""

    def compute() -> dict[date, Hours | None]:
        hall = db.session.get(Hall, hall_id)
        rules = {rule.weekday: rule for rule in db.session.scalars(select(OpeningRule).where(OpeningRule.hall_id == hall_id))}
        special = {
            row.day: row
            for row in db.session.scalars(select(SpecialDay).where(SpecialDay.hall_id == hall_id, SpecialDay.day.between(first, last)))
        }
        calendar = WorkdayCalendar(first, last)
        days: dict[date, Hours | None] = {}
        day = first
        while day <= last:
            days[day] = _day_hours(hall, rules, special.get(day), calendar, day)
            day += timedelta(days=1)
        return days

    return per_request(("hours", hall_id, first, last), compute)


def _day_hours(hall: Hall | None, rules: dict, special: SpecialDay | None, calendar: WorkdayCalendar, day: date) -> Hours | None:
    if hall is None or not hall.active:
        return None
    if special is not None:
        if special.kind == SpecialDayKind.OPEN and special.opens and special.closes:
            default = rules.get(0).slot_minutes if rules.get(0) else 30
            return _hours_of(special, default)
        return None
    rule = rules.get(day.weekday()) or (rules.get(0) if day.weekday() >= 5 else None)
    if rule is None or not calendar.is_workday(day):
        return None
    return _hours_of(rule)


def plan(hall_id: int, item_code: str, first: date, last: date) -> dict[date, list[SlotTime]]:
    """Every day in ``[first, last]`` → the item's slot times (an empty list when closed or unserved)."""
    capacity = sum(window.per_slot for window in windows_serving(hall_id, item_code))
    days: dict[date, list[SlotTime]] = {}
    for day, hours in opening_hours(hall_id, first, last).items():
        days[day] = _slot_times(day, hours, capacity) if hours is not None and capacity > 0 else []
    return days


def hall_grid(hall_id: int, day: date) -> list[SlotTime]:
    """The hall's slot times on one day, whatever the item (capacity: all open windows)."""
    hours = opening_hours(hall_id, day, day)[day]
    capacity = sum(window.per_slot for window in hall_windows(hall_id))
    return _slot_times(day, hours, capacity) if hours is not None else []


def slot_at(hall_id: int, item_code: str, start: datetime) -> SlotTime | None:
    """The slot starting exactly at ``start`` if the hall offers it for the item, else None."""
    local = start.astimezone(CITY_TZ)
    for slot in plan(hall_id, item_code, local.date(), local.date())[local.date()]:
        if slot.start == local:
            return slot
    return None


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
