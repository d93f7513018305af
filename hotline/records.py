"""What the packages below know about a caller, read through their look-up functions.

Cases (``cases.lookup``), bookings (``appointments.lookup``), accounts (``auth.lookup``) and
deliveries (:func:`deliveries_for_account`). Nothing here writes or audits: the look-up and ticket
services audit what they show.
"""

from __future__ import annotations

from appointments.lookup import booking_by_code, bookings_for_account
from auth.lookup import account_by_id, account_by_id_number, account_by_phone
from auth.models import Account
from cases.lookup import case_timeline, cases_for_account, find_case, rating_story
from express import lookup as express_lookup

__all__ = [
    "Account",
    "account_by_id",
    "account_by_id_number",
    "account_by_phone",
    "booking_by_code",
    "bookings_for_account",
    "case_timeline",
    "cases_for_account",
    "deliveries_for_account",
    "find_case",
    "rating_story",
]


def deliveries_for_account(account_id: str) -> list[dict]:
    """The caller's certificate deliveries (证照快递), newest first: waybill number, courier, case number,
    status, status name, next step and (shown once the caller is verified) the tracking events."""
    return express_lookup.deliveries_for_account(account_id)
