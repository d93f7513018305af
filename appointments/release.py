"""Slot release (放号) and the shares a hall keeps: when a day's places open, and which places of a slot
are kept for walk-ins, the elderly (适老化) and green-channel cases (绿色通道).

A day's places open at the hall's release time (``APPOINTMENTS_RELEASE_TIME``, e.g. 08:00) on the
working day that lies N working days before it (``APPOINTMENTS_BOOKABLE_WORKING_DAYS``, per hall
``release_days_ahead``). Before that the day is listed with ``opens_at`` instead of looking full.

Shares are percentages of the hall's places. The places of one slot time are numbered across the
hall's open windows (window by window, in id order) and a place's number, scrambled by a step coprime
to 100, says whether it is kept: so any 100 consecutive places keep exactly the shares, spread over
the day and the windows instead of piling up on the first slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from appointments.models import Hall, PlaceKind, Window
from appointments.schedule import SlotTime, hall_windows, parse_hhmm, per_request
from auth.models import Account
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ, city_today
from mobile_api.workdays import WorkdayCalendar, add_working_days

_SCRAMBLE = 37  # coprime to 100: n → n·37 mod 100 visits every residue once per 100 places


@dataclass(frozen=True)
class KeptPlaces:
    walk_in: int = 0
    elderly: int = 0
    green: int = 0

    @property
    def total(self) -> int:
        return self.walk_in + self.elderly + self.green


def days_ahead(hall: Hall) -> int:
    return hall.release_days_ahead if hall.release_days_ahead is not None else setting("APPOINTMENTS_BOOKABLE_WORKING_DAYS")


def release_clock(hall: Hall) -> time:
    return hall.release_time or parse_hhmm(setting("APPOINTMENTS_RELEASE_TIME"))


def listing_range(hall: Hall, today: date | None = None) -> tuple[date, date]:
    """From tomorrow to the day that opens at the next release (one working day past the open ones)."""
    today = today or city_today()
    ahead = days_ahead(hall)

    def compute() -> tuple[date, date]:
        return today + timedelta(days=1), add_working_days(today, ahead + 1).date

    return per_request(("listing", hall.id, ahead, today), compute)


def opens_at(hall: Hall, day: date) -> datetime:
    """When ``day``'s places open: the release time on the N-th working day before it."""
    ahead = days_ahead(hall)

    def compute() -> datetime:
        calendar = WorkdayCalendar(day - timedelta(days=ahead * 2 + 30), day)
        release_day, counted = day, 0
        while counted < ahead:
            release_day -= timedelta(days=1)
            if calendar.is_workday(release_day):
                counted += 1
        return datetime.combine(release_day, release_clock(hall), tzinfo=CITY_TZ)

    return per_request(("opens_at", hall.id, ahead, day), compute)


def is_released(hall: Hall, day: date, now: datetime) -> bool:
    return now >= opens_at(hall, day)


def _kept_kind(hall: Hall, number: int) -> str | None:
    position = number * _SCRAMBLE % 100
    for kind, percent in (("walk_in", hall.walk_in_percent), ("elderly", hall.elderly_percent), ("green", hall.green_channel_percent)):
        if position < percent:
            return kind
        position -= percent
    return None


def kept_places(hall: Hall, window: Window, slot: SlotTime) -> KeptPlaces:
    """How many of ``window``'s places in ``slot`` are kept for walk-ins, the elderly and green channel."""
    if not (hall.walk_in_percent or hall.elderly_percent or hall.green_channel_percent):
        return KeptPlaces()
    windows = hall_windows(hall.id)
    per_slot = sum(other.per_slot for other in windows)
    offset = sum(other.per_slot for other in windows if other.id < window.id)
    counts = {"walk_in": 0, "elderly": 0, "green": 0}
    for place in range(window.per_slot):
        kind = _kept_kind(hall, slot.index * per_slot + offset + place)
        if kind:
            counts[kind] += 1
    return KeptPlaces(**counts)


def is_elderly(account: Account, today: date) -> bool:
    """``APPOINTMENTS_ELDERLY_AGE`` or older by the birth date in the ID number (适老化: they go first in
    the queue and may book the places kept for them)."""
    number = account.id_number
    if not number or len(number) != 18:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age >= setting("APPOINTMENTS_ELDERLY_AGE")


def place_kinds(account: Account, day: date, green_channel: bool) -> list[PlaceKind]:
    """The places this citizen may take, in the order to try them: kept places first for those they
    are kept for (so the free places stay for everybody else), then free ones."""
    kinds = [PlaceKind.GREEN] if green_channel else []
    if is_elderly(account, day):
        kinds.append(PlaceKind.ELDERLY)
    return [*kinds, PlaceKind.FREE]
