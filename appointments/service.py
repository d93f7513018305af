"""The verbs of appointments, as the API, the beat tasks and other packages call them.

Each lives in its concern module; this module only gathers them, so a caller has one place to look:

- ``halls``: look-ups, the nearest-first list, a hall's hours and windows, staff scope
- ``hall_admin``: opening a hall, its details, release settings, windows and opening rules
- ``special_days``: closures and extra openings; ``rehoming`` re-places the bookings a change displaces
- ``schedule`` when a hall is open; ``release`` when places open (放号) and which are kept
- ``availability``: free places per slot
- ``booking``: book, cancel, reschedule, and who may book
- ``waitlist``: join, accept the held place, leave; ``offers``: where a given-back place goes
- ``visits``: check-in; ``queue``: queue numbers and calling at the windows; ``display``: the call
  display's snapshot, event log and live stream
- ``jobs``: reminders, no-shows and booking bans (beat)

Places are taken and given back only through ``appointments.slots``, whose conditional UPDATEs are the
no-overbooking guarantee.
"""

from __future__ import annotations

from appointments.availability import availability
from appointments.booking import active_ban, book, cancel, get_booking, list_bookings, reschedule
from appointments.display import display, purge_events, stream
from appointments.hall_admin import (
    add_window,
    create_hall,
    hall_for_staff,
    list_windows,
    set_opening_rules,
    staff_halls,
    update_hall,
    update_window,
)
from appointments.halls import hall_detail, list_halls
from appointments.jobs import mark_no_shows, send_reminders
from appointments.offers import expire_offers
from appointments.queue import call_next, finish, issue_walk_in, recall, window_queue
from appointments.special_days import add_special_day, close_day, list_special_days, remove_special_day
from appointments.visits import check_in
from appointments.waitlist import accept_offer, join_waitlist, leave_waitlist, list_waitlist

__all__ = [
    # halls and free places
    "list_halls",
    "hall_detail",
    "availability",
    # running a hall
    "staff_halls",
    "hall_for_staff",
    "create_hall",
    "update_hall",
    "list_windows",
    "add_window",
    "update_window",
    "set_opening_rules",
    "list_special_days",
    "add_special_day",
    "remove_special_day",
    "close_day",
    # a citizen's bookings and waitlist
    "book",
    "list_bookings",
    "get_booking",
    "cancel",
    "reschedule",
    "active_ban",
    "join_waitlist",
    "list_waitlist",
    "accept_offer",
    "leave_waitlist",
    # at the hall
    "check_in",
    "issue_walk_in",
    "call_next",
    "recall",
    "finish",
    "window_queue",
    "display",
    "stream",
    # beat jobs
    "send_reminders",
    "expire_offers",
    "mark_no_shows",
    "purge_events",
]
