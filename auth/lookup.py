"""Exact look-ups of an account for staff tools above auth (the 12345 hotline): by phone, by ID number.

Exact only: an ID number is found through its blind index, never by a partial or wildcard match, so
these functions cannot be used to browse personal data. The caller audits the look-up.
"""

from __future__ import annotations

from sqlalchemy import select

from auth.models import Account
from mobile_api.extensions import db
from mobile_api.pii import blind_index


def account_by_phone(phone: str) -> Account | None:
    """The account signed in with exactly this mobile number."""
    return db.session.scalar(select(Account).where(Account.phone == phone.strip()))


def account_by_id_number(id_number: str) -> Account | None:
    """The account whose verified ID number is exactly this one (through the blind index)."""
    return db.session.scalar(select(Account).where(Account.id_number_index == blind_index(id_number, "id_number")))


def account_by_id(account_id: str) -> Account | None:
    return db.session.get(Account, account_id)
