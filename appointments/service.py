"""Appointments: halls, availability, booking, cancel, reschedule, waitlist, check-in, and the jobs.

Services own transactions. Places are taken and given back only through ``appointments.slots``,
whose conditional UPDATEs are the no-overbooking guarantee.
"""

from __future__ import annotations

import importlib
import math
import re
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from appointments import schedule, slots
from appointments.models import (
    BOOKED,
    CANCELLED,
    CHECKED_IN,
    NO_SHOW,
    RANK_APPOINTMENT,
    RANK_PRIORITY,
    WL_ACCEPTED,
    WL_EXPIRED,
    WL_LEFT,
    WL_OFFERED,
    WL_WAITING,
    Booking,
    BookingBan,
    Closure,
    Hall,
    OpeningRule,
    PlaceRelease,
    Slot,
    Ticket,
    WaitlistEntry,
    Window,
    new_booking_code,
    new_public_id,
)
from auth.models import Account, StaffUser
from cases.models import ServiceItem
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import Page
from mobile_api.timeutil import CITY_TZ, city_today, utcnow
from notifications.service import notify

MAX_AVAILABILITY_DAYS = 31
PUBLIC_ID = re.compile(r"[0-9a-f]{32}")  # bookings and waitlist entries: uuid4 hex


def _cfg(name: str) -> Any:
    return current_app.config[f"APPOINTMENTS_{name}"]


def _when(moment: datetime) -> str:
    return moment.astimezone(CITY_TZ).strftime("%Y-%m-%d %H:%M")


# --- halls -----------------------------------------------------------------------------------------


def hall_or_404(hall_id: int) -> Hall:
    hall = db.session.get(Hall, hall_id)
    if hall is None:
        raise Problem(404, "hall_not_found", "服务大厅不存在")
    return hall


def service_item(item_code: str) -> ServiceItem | None:
    return db.session.scalar(select(ServiceItem).where(ServiceItem.code == item_code, ServiceItem.is_current.is_(True)))


def bookable_item(item_code: str, hall_id: int) -> ServiceItem:
    item = service_item(item_code)
    if item is None:
        raise Problem(404, "item_not_found", "办事事项不存在", errors={"item_code": ["未找到该事项"]})
    if not item.bookable or hall_id not in (item.hall_ids or []) or not schedule.windows_serving(hall_id, item_code):
        raise Problem(422, "item_not_bookable_here", "该事项不能在此大厅预约", errors={"item_code": ["该大厅不提供此事项的预约"]})
    return item


def _distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def hall_summary(hall: Hall, distance_km: float | None = None) -> dict:
    return {
        "id": hall.id,
        "name": hall.name,
        "level": hall.level,
        "city": hall.city,
        "district": hall.district,
        "street": hall.street,
        "address": hall.address,
        "phone": hall.phone,
        "latitude": hall.latitude,
        "longitude": hall.longitude,
        "distance_km": None if distance_km is None else round(distance_km, 2),
    }


def list_halls(item_code: str | None, lat: float | None, lng: float | None, page: int, per_page: int) -> Page:
    """Halls (optionally only those where ``item_code`` can be booked), nearest first when a position is given."""
    halls = list(db.session.scalars(select(Hall).order_by(Hall.id)))
    if item_code:
        item = service_item(item_code)
        allowed = set(item.hall_ids or []) if item is not None and item.bookable else set()
        halls = [hall for hall in halls if hall.id in allowed and schedule.windows_serving(hall.id, item_code)]
    rows = [(hall, None if lat is None or lng is None else _distance_km(lat, lng, hall.latitude, hall.longitude)) for hall in halls]
    if lat is not None and lng is not None:
        rows.sort(key=lambda row: row[1])
    chunk = rows[(page - 1) * per_page : page * per_page]
    return Page([hall_summary(hall, distance) for hall, distance in chunk], page, per_page, len(rows))


def hall_detail(hall_id: int) -> dict:
    hall = hall_or_404(hall_id)
    rules = db.session.scalars(select(OpeningRule).where(OpeningRule.hall_id == hall_id).order_by(OpeningRule.weekday))
    windows = db.session.scalars(select(Window).where(Window.hall_id == hall_id, Window.active.is_(True)).order_by(Window.id))
    return {
        **hall_summary(hall),
        "opening_hours": [
            {
                "weekday": rule.weekday,
                "opens": rule.opens.strftime("%H:%M"),
                "closes": rule.closes.strftime("%H:%M"),
                "break": f"{rule.break_start:%H:%M}-{rule.break_end:%H:%M}" if rule.break_start and rule.break_end else None,
                "slot_minutes": rule.slot_minutes,
            }
            for rule in rules
        ],
        "windows": [{"id": window.id, "name": window.name, "item_codes": window.item_codes} for window in windows],
    }


def close_day(staff: StaffUser, hall_id: int, day: date, reason: str) -> dict:
    """Close a hall for a day: no slots that day; active bookings are cancelled and their citizens told."""
    from appointments.queue import check_hall_scope

    hall = check_hall_scope(staff, hall_id)
    if day <= city_today():
        raise Problem(422, "closure_in_past", "只能设置明天及以后的闭厅日期", errors={"date": ["请选择明天及以后的日期"]})
    db.session.add(Closure(hall_id=hall_id, day=day, reason=reason))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Problem(409, "already_closed", "该日期已设置闭厅") from None
    first = datetime.combine(day, datetime.min.time(), tzinfo=CITY_TZ)
    affected = db.session.scalars(
        select(Booking).where(
            Booking.hall_id == hall_id, Booking.status == BOOKED, Booking.start >= first, Booking.start < first + timedelta(days=1)
        )
    ).all()
    actor, now = staff_actor(staff), utcnow()
    for booking in affected:
        booking.status, booking.cancelled_at = CANCELLED, now
        slots.release_place(booking.slot_id)
        record_audit(actor, "appointment.cancel_hall_closed", "appointment", booking.id, reason=reason)
        item = service_item(booking.item_code)
        notify(
            db.session.get(Account, booking.account_id),
            "appointments.cancelled_hall_closed",
            {
                "reason": reason,
                "hall": hall.name,
                "day": f"{day:%m月%d日}",
                "item": item.name if item else booking.item_code,
                "code": booking.code,
            },
            dedupe_key=f"appointments:{booking.id}:hall_closed",
        )
    db.session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.hall_id == hall_id, WaitlistEntry.day == day, WaitlistEntry.status.in_((WL_WAITING, WL_OFFERED)))
        .values(status=WL_EXPIRED),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return {"hall_id": hall_id, "date": day, "reason": reason, "cancelled_appointments": len(affected)}


# --- availability ----------------------------------------------------------------------------------


def _slot_rows(hall_id: int, item_code: str, first: date, last: date) -> dict[datetime, Slot]:
    rows = db.session.scalars(select(Slot).where(Slot.hall_id == hall_id, Slot.item_code == item_code, Slot.day.between(first, last)))
    return {row.start: row for row in rows}


def _free_slots(hall_id: int, item_code: str, first: date, last: date) -> dict[date, list[dict]]:
    planned = schedule.plan(hall_id, item_code, first, last)
    rows = _slot_rows(hall_id, item_code, first, last)
    days: dict[date, list[dict]] = {}
    for day, times in planned.items():
        entries = []
        for slot in times:
            row = rows.get(slot.start)
            remaining = slot.capacity if row is None else max(0, row.capacity - row.booked - row.held)
            entries.append({"start": slot.start, "end": slot.end, "remaining": remaining})
        days[day] = entries
    return days


def availability(hall_id: int, item_code: str, first: date | None, last: date | None) -> dict:
    """Days in the requested range (clipped to the bookable range), each with its slots and free places."""
    hall_or_404(hall_id)
    bookable_item(item_code, hall_id)
    earliest, latest = schedule.bookable_range()
    first = max(first or earliest, earliest)
    last = min(last or latest, latest, first + timedelta(days=MAX_AVAILABILITY_DAYS - 1))
    days = _free_slots(hall_id, item_code, first, last) if first <= last else {}
    return {
        "hall_id": hall_id,
        "item_code": item_code,
        "bookable_from": earliest,
        "bookable_until": latest,
        "days": [{"date": day, "open": bool(entries), "slots": entries} for day, entries in days.items()],
    }


def nearest_free(hall_id: int, item_code: str, wanted: datetime, limit: int = 3) -> list[dict]:
    earliest, latest = schedule.bookable_range()
    free = [slot for entries in _free_slots(hall_id, item_code, earliest, latest).values() for slot in entries if slot["remaining"] > 0]
    free.sort(key=lambda slot: abs((slot["start"] - wanted).total_seconds()))
    return [{**slot, "start": slot["start"].isoformat(), "end": slot["end"].isoformat()} for slot in free[:limit]]


# --- booking ---------------------------------------------------------------------------------------


def booking_view(booking: Booking, hall: Hall | None = None, ticket: Ticket | None = None, item: ServiceItem | None = None) -> dict:
    hall = hall or db.session.get(Hall, booking.hall_id)
    item = item or service_item(booking.item_code)
    view = {
        "id": booking.id,
        "status": booking.status,
        "code": booking.code,
        "start": booking.start.astimezone(CITY_TZ),
        "end": booking.end.astimezone(CITY_TZ),
        "item_code": booking.item_code,
        "item_name": item.name if item else booking.item_code,
        "case_no": booking.case_no,
        "hall": {"id": hall.id, "name": hall.name, "address": hall.address},
        "created_at": booking.created_at,
    }
    if ticket is not None:
        from appointments.queue import ticket_status

        view["ticket"] = ticket_status(ticket)
    return view


def _own_booking(account: Account, booking_id: str) -> Booking:
    booking = db.session.get(Booking, booking_id) if PUBLIC_ID.fullmatch(booking_id) else None
    if booking is None or booking.account_id != account.id:
        raise Problem(404, "appointment_not_found", "预约不存在")
    return booking


def active_ban(account_id: str, today: date | None = None) -> BookingBan | None:
    today = today or city_today()
    return db.session.scalar(
        select(BookingBan).where(BookingBan.account_id == account_id, BookingBan.until > today).order_by(BookingBan.until.desc()).limit(1)
    )


def _check_may_book(account: Account, item_code: str, now: datetime) -> None:
    ban = active_ban(account.id)
    if ban is not None:
        raise Problem(403, "booking_suspended", f"因多次预约未到场，{ban.until:%Y年%m月%d日}前暂停网上预约", until=ban.until.isoformat())
    active = db.session.scalars(select(Booking.item_code).where(Booking.account_id == account.id, Booking.status == BOOKED)).all()
    if item_code in active:
        raise Problem(409, "already_booked_item", "您已预约该事项，请勿重复预约；如需改期请使用改约")
    if len(active) >= _cfg("MAX_ACTIVE"):
        raise Problem(409, "too_many_active_bookings", f"您最多可同时保留{_cfg('MAX_ACTIVE')}个预约", limit=_cfg("MAX_ACTIVE"))


def _bookable_slot(hall_id: int, item_code: str, start: datetime) -> schedule.SlotTime:
    earliest, latest = schedule.bookable_range()
    local = start.astimezone(CITY_TZ)
    if not earliest <= local.date() <= latest:
        raise Problem(
            422,
            "outside_booking_range",
            f"可预约{earliest:%m月%d日}至{latest:%m月%d日}的时段",
            errors={"start": ["不在可预约日期范围内"]},
        )
    slot = schedule.slot_at(hall_id, item_code, local)
    if slot is None:
        raise Problem(
            422, "no_such_slot", "所选时间不是可预约时段（可能是节假日、闭厅或非整点时段）", errors={"start": ["请从可预约时段中选择"]}
        )
    return slot


def _link_case(account: Account, case_no: str | None) -> tuple[str | None, bool]:
    """Link a case when the cases package offers ``case_for_citizen``; otherwise keep the number as given."""
    if not case_no:
        return None, False
    try:
        cases_service = importlib.import_module("cases.service")
    except ModuleNotFoundError as exc:
        if exc.name not in ("cases.service", "cases"):
            raise
        return case_no, False
    case_for_citizen = getattr(cases_service, "case_for_citizen", None)
    if case_for_citizen is None:
        return case_no, False
    case = case_for_citizen(account.id, case_no)
    if case is None:
        raise Problem(404, "case_not_found", "办件不存在", errors={"case_no": ["未找到您的该办件"]})
    green = getattr(case, "green_channel", None)
    if green is None and isinstance(case, dict):
        green = case.get("green_channel")
    return case_no, bool(green)


def _slot_full(hall_id: int, item_code: str, wanted: datetime) -> Problem:
    return Problem(
        409,
        "slot_full",
        "该时段已约满，请选择其他时段或加入候补",
        alternatives=nearest_free(hall_id, item_code, wanted),
    )


def book(account: Account, hall_id: int, item_code: str, start: datetime, case_no: str | None = None) -> dict:
    hall = hall_or_404(hall_id)
    item = bookable_item(item_code, hall_id)
    now = utcnow()
    _check_may_book(account, item_code, now)
    slot = _bookable_slot(hall_id, item_code, start)
    case_no, green = _link_case(account, case_no)
    slot_id = slots.ensure_slot(hall_id, item_code, slot)
    if not slots.take_place(slot_id):
        db.session.rollback()
        raise _slot_full(hall_id, item_code, slot.start)
    booking = Booking(
        id=new_public_id(),
        code=new_booking_code(),
        account_id=account.id,
        hall_id=hall_id,
        item_code=item_code,
        slot_id=slot_id,
        start=slot.start,
        end=slot.end,
        status=BOOKED,
        case_no=case_no,
        green_channel=green,
        created_at=now,
    )
    db.session.add(booking)
    try:
        db.session.flush()
    except IntegrityError:
        # The partial unique index: a concurrent request of the same citizen booked this item first.
        db.session.rollback()
        raise Problem(409, "already_booked_item", "您已预约该事项，请勿重复预约；如需改期请使用改约") from None
    notify(
        account,
        "appointments.booked",
        {"hall": hall.name, "item": item.name, "when": _when(slot.start), "code": booking.code},
        dedupe_key=f"appointments:{booking.id}:booked",
    )
    view = booking_view(booking, hall, item=item)  # before commit: no reloading of expired objects
    db.session.commit()
    return view


def list_bookings(account: Account, status: str | None, page: int, per_page: int) -> Page:
    statement = select(Booking).where(Booking.account_id == account.id).order_by(Booking.start.desc())
    if status:
        statement = statement.where(Booking.status == status)
    from mobile_api.pagination import paginate

    result = paginate(statement, page, per_page)
    result.items = [booking_view(booking) for booking in result.items]
    return result


def get_booking(account: Account, booking_id: str) -> dict:
    booking = _own_booking(account, booking_id)
    ticket = db.session.scalar(select(Ticket).where(Ticket.booking_id == booking.id))
    return booking_view(booking, ticket=ticket)


def _check_cancellable(booking: Booking, now: datetime) -> None:
    if booking.status != BOOKED:
        raise Problem(409, "appointment_not_active", "该预约已取消、已签到或已过期", current_status=booking.status)
    if booking.start - now < timedelta(minutes=_cfg("CANCEL_BEFORE_MINUTES")):
        hours = _cfg("CANCEL_BEFORE_MINUTES") // 60
        raise Problem(409, "too_late_to_change", f"预约开始前{hours}小时内不能取消或改约")


def cancel(account: Account, booking_id: str, now: datetime | None = None) -> dict:
    now = now or utcnow()
    booking = _own_booking(account, booking_id)
    _check_cancellable(booking, now)
    ended = db.session.execute(
        update(Booking).where(Booking.id == booking.id, Booking.status == BOOKED).values(status=CANCELLED, cancelled_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not ended:  # cancelled a moment ago by another request
        db.session.rollback()
        raise Problem(409, "appointment_not_active", "该预约已取消、已签到或已过期")
    _give_back_place(booking.slot_id, now)
    db.session.commit()
    db.session.refresh(booking)
    return booking_view(booking)


def reschedule(account: Account, booking_id: str, new_start: datetime, now: datetime | None = None) -> dict:
    """Move a booking atomically: the new place is taken first; the old one is given back only then."""
    now = now or utcnow()
    booking = _own_booking(account, booking_id)
    _check_cancellable(booking, now)
    slot = _bookable_slot(booking.hall_id, booking.item_code, new_start)
    if slot.start == booking.start.astimezone(CITY_TZ):
        return booking_view(booking)
    new_slot_id = slots.ensure_slot(booking.hall_id, booking.item_code, slot)
    slots.lock_in_order([new_slot_id, booking.slot_id])
    if not slots.take_place(new_slot_id):
        db.session.rollback()
        raise _slot_full(booking.hall_id, booking.item_code, slot.start)
    old_slot_id = booking.slot_id
    moved = db.session.execute(
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == BOOKED, Booking.slot_id == old_slot_id)
        .values(slot_id=new_slot_id, start=slot.start, end=slot.end, reminded_day_before=False, reminded_hour_before=False),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not moved:
        db.session.rollback()
        raise Problem(409, "appointment_not_active", "该预约已取消、已签到或已改约，请刷新后重试")
    _give_back_place(old_slot_id, now)
    db.session.commit()
    db.session.refresh(booking)
    return booking_view(booking)


# --- waitlist --------------------------------------------------------------------------------------


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
    if entry.status == WL_OFFERED and entry.offered_slot_id:
        slot = db.session.get(Slot, entry.offered_slot_id)
        view["offer"] = {"start": slot.start.astimezone(CITY_TZ), "end": slot.end.astimezone(CITY_TZ), "expires_at": entry.offer_expires_at}
    return view


def join_waitlist(account: Account, hall_id: int, item_code: str, day: date) -> dict:
    hall_or_404(hall_id)
    bookable_item(item_code, hall_id)
    ban = active_ban(account.id)
    if ban is not None:
        raise Problem(403, "booking_suspended", f"因多次预约未到场，{ban.until:%Y年%m月%d日}前暂停网上预约", until=ban.until.isoformat())
    earliest, latest = schedule.bookable_range()
    if not earliest <= day <= latest or not schedule.plan(hall_id, item_code, day, day)[day]:
        raise Problem(422, "day_not_bookable", "该日期不可预约", errors={"date": ["请选择可预约的工作日"]})
    entry = WaitlistEntry(id=new_public_id(), account_id=account.id, hall_id=hall_id, item_code=item_code, day=day, status=WL_WAITING)
    db.session.add(entry)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Problem(409, "already_waiting", "您已在该日期的候补队列中") from None
    return waitlist_view(entry)


def list_waitlist(account: Account) -> list[dict]:
    entries = db.session.scalars(
        select(WaitlistEntry).where(WaitlistEntry.account_id == account.id).order_by(WaitlistEntry.created_at.desc()).limit(50)
    )
    return [waitlist_view(entry) for entry in entries]


def _own_entry(account: Account, entry_id: str) -> WaitlistEntry:
    entry = db.session.get(WaitlistEntry, entry_id) if PUBLIC_ID.fullmatch(entry_id) else None
    if entry is None or entry.account_id != account.id:
        raise Problem(404, "waitlist_entry_not_found", "候补记录不存在")
    return entry


def accept_offer(account: Account, entry_id: str, now: datetime | None = None) -> dict:
    now = now or utcnow()
    entry = _own_entry(account, entry_id)
    if entry.status != WL_OFFERED:
        raise Problem(409, "no_open_offer", "当前没有为您保留的名额", current_status=entry.status)
    _check_may_book(account, entry.item_code, now)
    slot = db.session.get(Slot, entry.offered_slot_id)
    booking_id = new_public_id()
    accepted = db.session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status == WL_OFFERED, WaitlistEntry.offer_expires_at > now)
        .values(status=WL_ACCEPTED, booking_id=booking_id),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not accepted or not slots.take_held_place(slot.id):
        db.session.rollback()
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
        status=BOOKED,
        created_at=now,
    )
    db.session.add(booking)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Problem(409, "already_booked_item", "您已预约该事项，请勿重复预约") from None
    return booking_view(booking)


def leave_waitlist(account: Account, entry_id: str, now: datetime | None = None) -> dict:
    now = now or utcnow()
    entry = _own_entry(account, entry_id)
    left = db.session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.id == entry.id, WaitlistEntry.status.in_((WL_WAITING, WL_OFFERED)))
        .values(status=WL_LEFT),
        execution_options={"synchronize_session": False},
    ).rowcount
    if left and entry.status == WL_OFFERED and entry.offered_slot_id:
        _pass_on_hold(entry.offered_slot_id, now)
    db.session.commit()
    db.session.refresh(entry)
    return waitlist_view(entry)


def _offer_to_next(slot: Slot, now: datetime) -> bool:
    """Offer the place in ``slot`` to the first citizen waiting for that hall/item/day. True if offered."""
    hold = timedelta(minutes=_cfg("OFFER_HOLD_MINUTES"))
    if slot.start - now < hold:
        return False  # too late for anyone to accept and travel
    line = (
        select(WaitlistEntry.id)
        .where(
            WaitlistEntry.hall_id == slot.hall_id,
            WaitlistEntry.item_code == slot.item_code,
            WaitlistEntry.day == slot.day,
            WaitlistEntry.status == WL_WAITING,
        )
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    )
    for entry_id in db.session.scalars(line.limit(20)).all():
        offered = db.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == WL_WAITING)
            .values(status=WL_OFFERED, offered_slot_id=slot.id, offer_expires_at=now + hold),
            execution_options={"synchronize_session": False},
        ).rowcount
        if offered:
            entry = db.session.get(WaitlistEntry, entry_id)
            account = db.session.get(Account, entry.account_id)
            hall = db.session.get(Hall, slot.hall_id)
            item = service_item(slot.item_code)
            notify(
                account,
                "appointments.waitlist_offer",
                {
                    "hall": hall.name,
                    "item": item.name if item else slot.item_code,
                    "when": _when(slot.start),
                    "until": (now + hold).astimezone(CITY_TZ).strftime("%H:%M"),
                },
                dedupe_key=f"appointments:offer:{entry_id}:{slot.id}",
            )
            return True
    return False


def _give_back_place(slot_id: int, now: datetime) -> None:
    """A booking ended: its place goes to the first in line; with nobody waiting it is held back for
    ``RELEASE_DELAY_MINUTES`` (against slot trading) and then freed by the beat job."""
    slot = db.session.get(Slot, slot_id)
    if _offer_to_next(slot, now):
        slots.hold_released_place(slot_id)
        return
    delay = timedelta(minutes=_cfg("RELEASE_DELAY_MINUTES"))
    if delay and slot.start - now > delay:
        slots.hold_released_place(slot_id)
        db.session.add(PlaceRelease(slot_id=slot_id, release_at=now + delay, done=False))
    else:
        slots.release_place(slot_id)


def _pass_on_hold(slot_id: int, now: datetime) -> None:
    """An offer ended without a booking: offer the held place to the next in line, or free it."""
    slot = db.session.get(Slot, slot_id)
    if not _offer_to_next(slot, now):
        slots.drop_hold(slot_id)


def expire_offers(now: datetime | None = None) -> int:
    """Beat job: offers not accepted in time pass to the next in line, and places held back after a
    cancellation are offered to the waitlist or freed. Idempotent, safe to run twice at once."""
    now = now or utcnow()
    passed_on = _release_held_places(now)
    due = db.session.execute(
        select(WaitlistEntry.id, WaitlistEntry.offered_slot_id).where(
            WaitlistEntry.status == WL_OFFERED, WaitlistEntry.offer_expires_at <= now
        )
    ).all()
    db.session.commit()
    expired = 0
    for entry_id, slot_id in due:
        changed = db.session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id == entry_id, WaitlistEntry.status == WL_OFFERED, WaitlistEntry.offer_expires_at <= now)
            .values(status=WL_EXPIRED),
            execution_options={"synchronize_session": False},
        ).rowcount
        if changed:
            _pass_on_hold(slot_id, now)
            expired += 1
        db.session.commit()
    return expired + passed_on


def _release_held_places(now: datetime) -> int:
    due = db.session.execute(
        select(PlaceRelease.id, PlaceRelease.slot_id).where(PlaceRelease.done.is_(False), PlaceRelease.release_at <= now).limit(500)
    ).all()
    db.session.commit()
    released = 0
    for release_id, slot_id in due:
        claimed = db.session.execute(
            update(PlaceRelease).where(PlaceRelease.id == release_id, PlaceRelease.done.is_(False)).values(done=True),
            execution_options={"synchronize_session": False},
        ).rowcount
        if claimed:
            _pass_on_hold(slot_id, now)
            released += 1
        db.session.commit()
    return released


# --- check-in --------------------------------------------------------------------------------------


def is_elderly(account: Account, today: date) -> bool:
    number = account.id_number
    if not number or len(number) != 18:
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age >= _cfg("ELDERLY_AGE")


def check_in(account: Account, booking_id: str, now: datetime | None = None) -> dict:
    """At the hall, around the booked time: the booking becomes a queue ticket."""
    from appointments.queue import issue_ticket, ticket_status

    now = now or utcnow()
    booking = _own_booking(account, booking_id)
    existing = db.session.scalar(select(Ticket).where(Ticket.booking_id == booking.id))
    if existing is not None:
        return ticket_status(existing)
    if booking.status != BOOKED:
        raise Problem(409, "appointment_not_active", "该预约已取消或已过期，不能签到", current_status=booking.status)
    opens = booking.start - timedelta(minutes=_cfg("CHECKIN_EARLY_MINUTES"))
    closes = booking.start + timedelta(minutes=_cfg("CHECKIN_LATE_MINUTES"))
    if not opens <= now <= closes:
        raise Problem(
            409,
            "outside_check_in_window",
            f"请在{_when(opens)}至{closes.astimezone(CITY_TZ):%H:%M}之间签到；迟到请到窗口现场取号",
            check_in_from=opens.astimezone(CITY_TZ).isoformat(),
            check_in_until=closes.astimezone(CITY_TZ).isoformat(),
        )
    checked = db.session.execute(
        update(Booking).where(Booking.id == booking.id, Booking.status == BOOKED).values(status=CHECKED_IN, checked_in_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not checked:
        db.session.rollback()
        existing = db.session.scalar(select(Ticket).where(Ticket.booking_id == booking.id))
        if existing is not None:
            return ticket_status(existing)
        raise Problem(409, "appointment_not_active", "该预约已取消或已过期，不能签到")
    today = now.astimezone(CITY_TZ).date()
    rank = RANK_PRIORITY if booking.green_channel or is_elderly(account, today) else RANK_APPOINTMENT
    ticket = issue_ticket(booking.hall_id, booking.item_code, rank, now, booking_id=booking.id, account_id=account.id, prefix="A")
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent check-in of the same booking issued the ticket
        db.session.rollback()
        return ticket_status(db.session.scalar(select(Ticket).where(Ticket.booking_id == booking.id)))
    return ticket_status(ticket)


# --- jobs ------------------------------------------------------------------------------------------


def send_reminders(now: datetime | None = None) -> int:
    """Beat job: the day-before and the hour-before reminder, each at most once, only for active bookings."""
    now = now or utcnow()
    sent = 0
    for flag, template, lead, floor in (
        ("reminded_day_before", "appointments.reminder_day_before", timedelta(hours=24), timedelta(hours=1)),
        ("reminded_hour_before", "appointments.reminder_hour_before", timedelta(hours=1), timedelta(0)),
    ):
        column = getattr(Booking, flag)
        due = db.session.scalars(
            select(Booking.id)
            .where(Booking.status == BOOKED, column.is_(False), Booking.start <= now + lead, Booking.start > now + floor)
            .limit(500)
        ).all()
        db.session.commit()
        for booking_id in due:
            claimed = db.session.execute(
                update(Booking).where(Booking.id == booking_id, Booking.status == BOOKED, column.is_(False)).values({flag: True}),
                execution_options={"synchronize_session": False},
            ).rowcount
            if claimed:
                booking = db.session.get(Booking, booking_id)
                account = db.session.get(Account, booking.account_id)
                hall = db.session.get(Hall, booking.hall_id)
                item = service_item(booking.item_code)
                notify(
                    account,
                    template,
                    {
                        "hall": hall.name,
                        "item": item.name if item else booking.item_code,
                        "when": _when(booking.start),
                        "code": booking.code,
                    },
                    dedupe_key=f"appointments:{booking_id}:{flag}:{booking.start.isoformat()}",
                )
                sent += 1
            db.session.commit()
    return sent


def mark_no_shows(now: datetime | None = None) -> int:
    """End-of-day job: bookings of past days never checked in become no-shows; repeated no-shows suspend booking."""
    now = now or utcnow()
    today = now.astimezone(CITY_TZ).date()
    start_of_today = datetime.combine(today, datetime.min.time(), tzinfo=CITY_TZ)
    due = db.session.execute(
        select(Booking.id, Booking.account_id).where(Booking.status == BOOKED, Booking.start < start_of_today).limit(1000)
    ).all()
    db.session.commit()
    marked = 0
    for booking_id, account_id in due:
        changed = db.session.execute(
            update(Booking).where(Booking.id == booking_id, Booking.status == BOOKED).values(status=NO_SHOW),
            execution_options={"synchronize_session": False},
        ).rowcount
        if changed:
            marked += 1
            _maybe_suspend(account_id, today)
        db.session.commit()
    return marked


def _maybe_suspend(account_id: str, today: date) -> None:
    if active_ban(account_id, today) is not None:
        return
    last_ban = db.session.scalar(select(func.max(BookingBan.starts)).where(BookingBan.account_id == account_id))
    since = today - timedelta(days=_cfg("NO_SHOW_WINDOW_DAYS"))
    if last_ban is not None and last_ban >= since:
        since = last_ban  # no-shows already punished do not count twice
    window_start = datetime.combine(since, datetime.min.time(), tzinfo=CITY_TZ)
    count = db.session.scalar(
        select(func.count())
        .select_from(Booking)
        .where(Booking.account_id == account_id, Booking.status == NO_SHOW, Booking.start >= window_start)
    )
    if count < _cfg("NO_SHOW_LIMIT"):
        return
    until = today + timedelta(days=_cfg("BAN_DAYS"))
    db.session.add(BookingBan(account_id=account_id, starts=today, until=until, no_shows=count))
    account = db.session.get(Account, account_id)
    notify(
        account,
        "appointments.booking_suspended",
        {"count": count, "until": f"{until:%Y年%m月%d日}"},
        dedupe_key=f"appointments:ban:{account_id}:{today.isoformat()}",
    )
