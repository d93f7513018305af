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

from appointments.availability import availability, nearest_free
from appointments.booking import active_ban, book, booking_view, cancel, get_booking, list_bookings, reschedule
from appointments.halls import bookable_item, close_day, hall_detail, hall_or_404, list_halls, service_item
from appointments.jobs import mark_no_shows, send_reminders
from appointments.offers import expire_offers
from appointments.queue import call_next, display, finish, issue_walk_in, recall
from appointments.visits import check_in, is_elderly
from appointments.waitlist import accept_offer, join_waitlist, leave_waitlist, list_waitlist, waitlist_view

__all__ = [
    "accept_offer",
    "active_ban",
    "availability",
    "book",
    "bookable_item",
    "booking_view",
    "call_next",
    "cancel",
    "check_in",
    "close_day",
    "display",
    "expire_offers",
    "finish",
    "get_booking",
    "hall_detail",
    "hall_or_404",
    "is_elderly",
    "issue_walk_in",
    "join_waitlist",
    "leave_waitlist",
    "list_bookings",
    "list_halls",
    "list_waitlist",
    "mark_no_shows",
    "nearest_free",
    "recall",
    "reschedule",
    "send_reminders",
    "service_item",
    "waitlist_view",
]
