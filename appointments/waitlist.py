"""The waitlist (候补): join the line for a full day, see offers, accept the held place, leave."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from appointments import release, schedule, slots
from appointments.booking import booking_view, check_may_book, check_not_suspended
from appointments.halls import bookable_item, hall_or_404
from appointments.models import Booking, BookingStatus, Slot, WaitlistEntry, WaitlistStatus, is_public_id, new_booking_code, new_public_id
from appointments.offers import pass_on_hold
from auth.models import Account
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.timeutil import CITY_TZ, utcnow
from mobile_api.transactions import transaction


def waitlist_view(entry: WaitlistEntry) -> dict:
    view = {
        "id": entry.id,
        "hall_id": entry.hall_id,
        "item_code": entry.item_code,
        "date": entry.day,
        "status": entry.status,
        "offer": None,
        "booking_id": entry.booking_id,
    }
    if entry.status == WaitlistStatus.OFFERED and entry.offered_slot_id:
        slot = db.session.get(Slot, entry.offered_slot_id)
        view["offer"] = {"start": slot.start.astimezone(CITY_TZ), "end": slot.end.astimezone(CITY_TZ), "expires_at": entry.offer_expires_at}
    return view


def join_waitlist(account: Account, hall_id: int, item_code: str, day: date, now: datetime | None = None) -> dict:
    """Wait for a place on an open day whose places are released (before that there is nothing to wait for)."""
    now = now or utcnow()
    hall = hall_or_404(hall_id)
    bookable_item(item_code, hall_id)
    check_not_suspended(account)
    earliest, latest = release.listing_range(hall)
    if not earliest <= day <= latest or not schedule.plan(hall_id, item_code, day, day)[day]:
        raise Problem(422, "day_not_bookable", "该日期不可预约", errors={"date": ["请选择可预约的工作日"]})
    opens = release.opens_at(hall, day)
    if now < opens:
        raise Problem(409, "not_released_yet", f"该日号源将于{opens:%m月%d日 %H:%M}开放预约", opens_at=opens.isoformat())
    entry = WaitlistEntry(
        id=new_public_id(), account_id=account.id, hall_id=hall_id, item_code=item_code, day=day, status=WaitlistStatus.WAITING
    )
    with transaction():
        db.session.add(entry)
        try:
            db.session.flush()
        except IntegrityError:
            raise Problem(409, "already_waiting", "您已在该日期的候补队列中") from None
    return waitlist_view(entry)


def list_waitlist(account: Account) -> list[dict]:
    entries = db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.account_id == account.id).order_by(WaitlistEntry.created_at.desc()).limit(50)
    )
    return [waitlist_view(entry) for entry in entries]


def _own_entry(account: Account, entry_id: str) -> WaitlistEntry:
    entry = db.session.get(WaitlistEntry, entry_id) if is_public_id(entry_id) else None
    if entry is None or entry.account_id != account.id:
        raise Problem(404, "waitlist_entry_not_found", "候补记录不存在")
    return entry


def accept_offer(account: Account, entry_id: str, now: datetime | None = None) -> dict:
    """Turn the place held for this entry into a booking, if the offer still runs."""
    now = now or utcnow()
    entry = _own_entry(account, entry_id)
    if entry.status != WaitlistStatus.OFFERED:
        raise Problem(409, "no_open_offer", "当前没有为您保留的名额", current_status=entry.status)
    check_may_book(account, entry.item_code)
    slot = db.session.get(Slot, entry.offered_slot_id)
    booking_id = new_public_id()
    with transaction():
        accepted = db.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == WaitlistStatus.OFFERED, WaitlistEntry.offer_expires_at > now)
            .values(status=WaitlistStatus.ACCEPTED, booking_id=booking_id),
            execution_options={"synchronize_session": False},
        ).rowcount
        if not accepted or not slots.take_held_place(slot.id):
            raise Problem(409, "offer_expired", "保留时间已过，名额已顺延给下一位")
        booking = Booking(
            id=booking_id,
            code=new_booking_code(),
            account_id=account.id,
            hall_id=entry.hall_id,
            item_code=entry.item_code,
            slot_id=slot.id,
            start=slot.start,
            end=slot.end,
            status=BookingStatus.BOOKED,
            created_at=now,
        )
        db.session.add(booking)
        try:
            db.session.flush()
        except IntegrityError:  # the partial unique index: this item was booked meanwhile
            raise Problem(409, "already_booked_item", "您已预约该事项，请勿重复预约") from None
    return booking_view(booking)


def leave_waitlist(account: Account, entry_id: str, now: datetime | None = None) -> dict:
    """Leave the line; an open offer passes to the next in line."""
    now = now or utcnow()
    entry = _own_entry(account, entry_id)
    with transaction():
        left = db.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry.id, WaitlistEntry.status.in_((WaitlistStatus.WAITING, WaitlistStatus.OFFERED)))
            .values(status=WaitlistStatus.LEFT),
            execution_options={"synchronize_session": False},
        ).rowcount
        if left and entry.status == WaitlistStatus.OFFERED and entry.offered_slot_id:
            pass_on_hold(entry.offered_slot_id, now)
    db.session.refresh(entry)
    return waitlist_view(entry)
