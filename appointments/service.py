"""The verbs of appointments, as the API, the beat tasks and other packages call them.

Each lives in its concern module; this module only gathers them, so a caller has one place to look:

- ``halls``: look-ups, the nearest-first list, a hall's hours and windows, closing a day
- ``availability``: free places per slot
- ``booking``: book, cancel, reschedule, and who may book
- ``waitlist``: join, accept the held place, leave; ``offers``: where a given-back place goes
- ``visits``: check-in; ``queue``: queue numbers and calling at the windows
- ``jobs``: reminders, no-shows and booking bans (beat)

Places are taken and given back only through ``appointments.slots``, whose conditional UPDATEs are the
no-overbooking guarantee.
"""

from __future__ import annotations

from appointments.availability import availability
from appointments.booking import active_ban, book, cancel, get_booking, list_bookings, reschedule
from appointments.halls import close_day, hall_detail, list_halls
from appointments.jobs import mark_no_shows, send_reminders
from appointments.offers import expire_offers
from appointments.queue import call_next, display, finish, issue_walk_in, recall
from appointments.visits import check_in
from appointments.waitlist import accept_offer, join_waitlist, leave_waitlist, list_waitlist

__all__ = [
    # halls and free places
    "list_halls",
    "hall_detail",
    "availability",
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
    "display",
    # beat jobs
    "send_reminders",
    "expire_offers",
    "mark_no_shows",
]
