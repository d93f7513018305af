"""When a hall is open for an item: opening rules, closures, windows and the working-day calendar.

A day is open when the calendar says working day (so closed on statutory holidays, open on 调休
Saturdays and Sundays) and the hall has no closure that day. Hours come from the rule for that
weekday; a 调休 weekend day uses Monday's rule. Capacity of a slot = active windows serving the
item × the rule's ``per_window``. Everything here is computed, nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select

from appointments.models import Closure, OpeningRule, Window
from mobile_api.extensions import db
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ, city_today
from mobile_api.workdays import WorkdayCalendar, add_working_days


@dataclass(frozen=True)
class SlotTime:
    start: datetime  # aware, city time
    end: datetime
    capacity: int

    @property
    def day(self) -> date:
        return self.start.date()


def _per_request(key: tuple, compute: Callable[[], Any]) -> Any:
    """Memoise read-only look-ups for the length of one request (never across requests or processes)."""
    if not has_request_context():
        return compute()
    memo = g.setdefault("appointments_memo", {})
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def windows_serving(hall_id: int, item_code: str) -> list[Window]:
    def load() -> list[Window]:
        windows = db.session.scalars(select(Window).where(Window.hall_id == hall_id, Window.active.is_(True)).order_by(Window.id))
        return [window for window in windows if item_code in (window.item_codes or [])]

    return _per_request(("windows", hall_id, item_code), load)


def bookable_range(today: date | None = None) -> tuple[date, date]:
    """From tomorrow to N working days ahead (``APPOINTMENTS_BOOKABLE_WORKING_DAYS``)."""
    today = today or city_today()

    def compute() -> tuple[date, date]:
        last = add_working_days(today, setting("APPOINTMENTS_BOOKABLE_WORKING_DAYS")).date
        return today + timedelta(days=1), last

    return _per_request(("range", today), compute)


def _slot_times(day: date, rule: OpeningRule, capacity: int) -> list[SlotTime]:
    step = timedelta(minutes=rule.slot_minutes)
    start = datetime.combine(day, rule.opens, tzinfo=CITY_TZ)
    closes = datetime.combine(day, rule.closes, tzinfo=CITY_TZ)
    pause = None
    if rule.break_start and rule.break_end:
        pause = (datetime.combine(day, rule.break_start, tzinfo=CITY_TZ), datetime.combine(day, rule.break_end, tzinfo=CITY_TZ))
    slots = []
    while start + step <= closes:
        end = start + step
        if pause and start < pause[1] and end > pause[0]:
            start = pause[1]
            continue
        slots.append(SlotTime(start, end, capacity))
        start = end
    return slots


def plan(hall_id: int, item_code: str, first: date, last: date) -> dict[date, list[SlotTime]]:
    """Every day in ``[first, last]`` → its slot times (an empty list when closed)."""
    rules = {rule.weekday: rule for rule in db.session.scalars(select(OpeningRule).where(OpeningRule.hall_id == hall_id))}
    closed = set(db.session.scalars(select(Closure.day).where(Closure.hall_id == hall_id, Closure.day.between(first, last))))
    windows = len(windows_serving(hall_id, item_code))
    calendar = WorkdayCalendar(first, last)
    days: dict[date, list[SlotTime]] = {}
    day = first
    while day <= last:
        rule = rules.get(day.weekday()) or (rules.get(0) if day.weekday() >= 5 else None)
        if windows and rule and calendar.is_workday(day) and day not in closed:
            days[day] = _slot_times(day, rule, windows * rule.per_window)
        else:
            days[day] = []
        day += timedelta(days=1)
    return days


def slot_at(hall_id: int, item_code: str, start: datetime) -> SlotTime | None:
    """The slot starting exactly at ``start`` if the hall offers it, else None."""
    local = start.astimezone(CITY_TZ)
    for slot in plan(hall_id, item_code, local.date(), local.date())[local.date()]:
        if slot.start == local:
            return slot
    return None


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
