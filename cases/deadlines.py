"""Deadlines in working days (时限): acceptance, suspension (补正) and resume, extension, days left.

Rules (行政许可法 art. 42 and the promised limits of each item):
- the deadline is the ``promised_days``-th working day after the day of acceptance (即办件: that day);
- suspension stops the clock: the working days left on the day of suspension are kept, and on resume
  they are counted again from the day after the resume;
- an approved extension adds working days to the current deadline;
- a date resting on a year whose holidays are not yet known is ``provisional``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from mobile_api.workdays import WorkdayCalendar, add_working_days, working_days_between


@dataclass(frozen=True)
class Deadline:
    due_on: date
    provisional: bool


def deadline_from(start: date, working_days: int) -> Deadline:
    computed = add_working_days(start, working_days)
    return Deadline(computed.date, computed.provisional)


def days_left_on(day: date, due_on: date) -> int:
    """Working days left after ``day`` up to ``due_on`` (negative: overdue by that many)."""
    return working_days_between(day, due_on)


def resume_deadline(resumed_on: date, days_left_at_suspension: int) -> Deadline:
    """The clock restarts the day after the resume with what was left when it stopped."""
    return deadline_from(resumed_on, max(days_left_at_suspension, 0))


def extend_deadline(due_on: date, extra_days: int) -> Deadline:
    return deadline_from(due_on, extra_days)


class DaysLeft:
    """Working days left for many deadlines with one calendar load (two queries), for lists."""

    def __init__(self, today: date, due_dates: list[date]) -> None:
        self.today = today
        low = min([today, *due_dates])
        high = max([today, *due_dates])
        self.calendar = WorkdayCalendar(low, high + timedelta(days=1))

    def days_left(self, due_on: date) -> int:
        start, end, sign = (self.today, due_on, 1) if due_on >= self.today else (due_on, self.today, -1)
        count = sum(1 for offset in range(1, (end - start).days + 1) if self.calendar.is_workday(start + timedelta(days=offset)))
        return sign * count
