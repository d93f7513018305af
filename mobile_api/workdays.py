"""The working-day calendar (工作日): Monday–Friday, minus statutory holidays, plus 调休 weekends.

The source of truth is the database: ``calendar_days`` holds every exception to the Monday–Friday
rule and ``calendar_years`` the years whose exceptions are known. ``chinesecalendar`` seeds it (it
covers 2004–2026 and raises for later years); admins add a new year's State Council notice by hand.
A year with no data still gets an answer — Monday–Friday — flagged ``provisional`` so deadlines
shown to citizens can say so, and are recomputed once the year is entered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import select

from mobile_api.extensions import db
from mobile_api.models import CalendarDay, CalendarYear
from mobile_api.transactions import transaction

HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


@dataclass(frozen=True)
class WorkdayDate:
    """A computed date, and whether it rests on a year whose holidays are not yet known."""

    date: date
    provisional: bool


class WorkdayCalendar:
    """A read-only snapshot of the calendar for a date range, loaded with two queries."""

    def __init__(self, start: date, end: date) -> None:
        self.start, self.end = start, end
        rows = db.session.execute(select(CalendarDay.day, CalendarDay.is_workday).where(CalendarDay.day.between(start, end))).all()
        self.exceptions: dict[date, bool] = {day: is_workday for day, is_workday in rows}
        self.known_years: set[int] = set(
            db.session.scalars(select(CalendarYear.year).where(CalendarYear.year.between(start.year, end.year)))
        )

    def is_workday(self, day: date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return day.weekday() < 5

    def is_known(self, day: date) -> bool:
        return day.year in self.known_years


def _calendar_for(start: date, days_needed: int) -> WorkdayCalendar:
    # Long holidays (Spring Festival: 8–9 days off) never stretch n working days beyond ~2n + 14.
    return WorkdayCalendar(start, start + timedelta(days=days_needed * 2 + 30))


def is_workday(day: date) -> bool:
    return WorkdayCalendar(day, day).is_workday(day)


def add_working_days(start: date, count: int) -> WorkdayDate:
    """The ``count``-th working day after ``start`` (行政许可法 art. 42: counting starts the next day).

    ``count == 0`` means "same day" (即办件).
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    calendar = _calendar_for(start, count)
    provisional = False
    day, remaining = start, count
    while remaining > 0:
        day += timedelta(days=1)
        if day > calendar.end:
            calendar = _calendar_for(day, remaining)
        if calendar.is_workday(day):
            remaining -= 1
        provisional = provisional or not calendar.is_known(day)
    return WorkdayDate(day, provisional)


def working_days_between(start: date, end: date) -> int:
    """Working days in ``(start, end]``; negative when ``end`` is before ``start`` (overdue)."""
    if end == start:
        return 0
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    calendar = WorkdayCalendar(start, end)
    count = sum(1 for offset in range(1, (end - start).days + 1) if calendar.is_workday(start + timedelta(days=offset)))
    return sign * count


def next_working_day(day: date) -> date:
    """``day`` itself if it is a working day, else the first working day after it."""
    calendar = _calendar_for(day, 1)
    while not calendar.is_workday(day):
        day += timedelta(days=1)
    return day


def seed_from_chinesecalendar() -> int:
    """Load every year chinesecalendar knows; admin edits are never overwritten. Idempotent."""
    with transaction():
        existing = {row.day: row for row in db.session.scalars(select(CalendarDay))}
        added = 0
        for day, name in chinese_calendar.holidays.items():
            if day.weekday() < 5 and day not in existing:
                db.session.add(CalendarDay(day=day, is_workday=False, name=HOLIDAY_NAMES_ZH.get(name, name), source="chinesecalendar"))
                added += 1
        for day, name in chinese_calendar.workdays.items():
            if day.weekday() >= 5 and day not in existing:
                label = f"{HOLIDAY_NAMES_ZH.get(name, name)}调休上班"
                db.session.add(CalendarDay(day=day, is_workday=True, name=label, source="chinesecalendar"))
                added += 1
        years = {day.year for day in chinese_calendar.holidays} | {day.year for day in chinese_calendar.workdays}
        known = set(db.session.scalars(select(CalendarYear.year)))
        for year in sorted(years - known):
            db.session.add(CalendarYear(year=year, source="chinesecalendar"))
    return added


def set_day(day: date, is_workday: bool, name: str, actor: str) -> CalendarDay:
    """Admin override of one day. Storing a plain weekday/weekend is allowed (it documents intent)."""
    with transaction():
        row = db.session.get(CalendarDay, day)
        if row is None:
            row = CalendarDay(day=day)
            db.session.add(row)
        row.is_workday, row.name, row.source, row.updated_by = is_workday, name, "admin", actor
    return row


def delete_day(day: date) -> bool:
    with transaction():
        row = db.session.get(CalendarDay, day)
        if row is None:
            return False
        db.session.delete(row)
    return True


def mark_year_known(year: int, source: str = "admin") -> CalendarYear:
    """Declare a year's holidays fully entered: its dates stop being provisional."""
    with transaction():
        row = db.session.get(CalendarYear, year)
        if row is None:
            row = CalendarYear(year=year, source=source)
            db.session.add(row)
        row.source = source
    return row


def year_overview(year: int) -> tuple[bool, list[CalendarDay]]:
    known = db.session.get(CalendarYear, year) is not None
    days = db.session.scalars(
        select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))).order_by(CalendarDay.day)
    ).all()
    return known, list(days)
