"""Booking, cancelling and rescheduling a visit, and who may book.

Places are taken and given back only through ``appointments.slots``, whose conditional UPDATEs are the
no-overbooking guarantee; a place given back goes through ``appointments.offers`` (waitlist first).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from appointments import release, slots
from appointments.availability import nearest_free
from appointments.halls import hall_or_404, service_item
from appointments.messages import city_time_text
from appointments.models import Booking, BookingBan, BookingStatus, Hall, Ticket, is_public_id, new_booking_code, new_public_id
from appointments.offers import give_back_place
from appointments.plan_cache import ItemPlan, PlannedSlot, item_plan
from appointments.queue import ticket_status
from auth.models import Account
from cases.models import Case, ServiceItem
from cases.service import case_for_citizen
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.metrics import count_booking_conflict
from mobile_api.pagination import Page, paginate
from mobile_api.settings import setting
from mobile_api.timeutil import CITY_TZ, city_today, utcnow
from mobile_api.transactions import transaction
from notifications.service import notify


class _SlotFull(Exception):
    """Raised inside the transaction so that it rolls back (letting go of the slot rows it locked)
    before the alternatives for the 409 answer are looked up."""


def booking_view(
    booking: Booking, hall: Hall | None = None, ticket: Ticket | None = None, item: ServiceItem | None = None, plan: ItemPlan | None = None
) -> dict:
    if plan is not None:
        hall_view, item_name = {"id": plan.hall_id, "name": plan.hall_name, "address": plan.hall_address}, plan.item_name
    else:
        hall = hall or db.session.get(Hall, booking.hall_id)
        item = item or service_item(booking.item_code)
        hall_view, item_name = {"id": hall.id, "name": hall.name, "address": hall.address}, item.name if item else booking.item_code
    view = {
        "id": booking.id,
        "status": booking.status,
        "code": booking.code,
        "start": booking.start.astimezone(CITY_TZ),
        "end": booking.end.astimezone(CITY_TZ),
        "item_code": booking.item_code,
        "item_name": item_name,
        "case_no": booking.case_no,
        "hall": hall_view,
        "created_at": booking.created_at,
    }
    if ticket is not None:
        view["ticket"] = ticket_status(ticket)
    return view


def own_booking(account: Account, booking_id: str) -> Booking:
    """The citizen's own booking; someone else's and a missing one are the same 404."""
    booking = db.session.get(Booking, booking_id) if is_public_id(booking_id) else None
    if booking is None or booking.account_id != account.id:
        raise Problem(404, "appointment_not_found", "预约不存在")
    return booking


def active_ban(account_id: str, today: date | None = None) -> BookingBan | None:
    today = today or city_today()
    return db.session.scalar(
        select(BookingBan).where(BookingBan.account_id == account_id, BookingBan.until > today).order_by(BookingBan.until.desc()).limit(1)
    )


def check_not_suspended(account: Account) -> None:
    ban = active_ban(account.id)
    if ban is not None:
        raise Problem(403, "booking_suspended", f"因多次预约未到场，{ban.until:%Y年%m月%d日}前暂停网上预约", until=ban.until.isoformat())


def check_may_book(account: Account, item_code: str) -> None:
    """Not suspended, no active booking of this item yet, fewer than ``APPOINTMENTS_MAX_ACTIVE`` active bookings."""
    check_not_suspended(account)
    active = db.session.scalars(
        select(Booking.item_code).where(Booking.account_id == account.id, Booking.status == BookingStatus.BOOKED)
    ).all()
    if item_code in active:
        raise Problem(409, "already_booked_item", "您已预约该事项，请勿重复预约；如需改期请使用改约")
    limit = setting("APPOINTMENTS_MAX_ACTIVE")
    if len(active) >= limit:
        raise Problem(409, "too_many_active_bookings", f"您最多可同时保留{limit}个预约", limit=limit)


def _bookable_slot(plan: ItemPlan, start: datetime, now: datetime) -> PlannedSlot:
    local = start.astimezone(CITY_TZ)
    if not plan.earliest <= local.date() <= plan.latest:
        raise Problem(
            422,
            "outside_booking_range",
            f"可预约{plan.earliest:%m月%d日}至{plan.latest:%m月%d日}的时段",
            errors={"start": ["不在可预约日期范围内"]},
        )
    slot = plan.slot_at(local)
    if slot is None:
        raise Problem(
            422, "no_such_slot", "所选时间不是可预约时段（可能是节假日、闭厅或非整点时段）", errors={"start": ["请从可预约时段中选择"]}
        )
    opens = plan.day(local.date()).opens_at
    if now < opens:
        raise Problem(
            409,
            "not_released_yet",
            f"该日号源将于{opens:%m月%d日 %H:%M}开放预约",
            opens_at=opens.isoformat(),
        )
    return slot


def _green_channel(case: Case | None) -> bool:
    return bool(case is not None and case.green_channel)


def _linked_case(account: Account, case_no: str | None) -> Case | None:
    """The citizen's own case of that number (404 otherwise); None without a number."""
    if not case_no:
        return None
    return case_for_citizen(account.id, case_no)


def _slot_full(hall_id: int, item_code: str, wanted: datetime) -> Problem:
    count_booking_conflict("slot_full")
    return Problem(
        409,
        "slot_full",
        "该时段已约满，请选择其他时段或加入候补",
        alternatives=nearest_free(hall_id, item_code, wanted),
    )


def book(account: Account, hall_id: int, item_code: str, start: datetime, case_no: str | None = None) -> dict:
    """Take a place at one of the windows serving the item (kept places first for the elderly and
    green-channel cases) and write the booking — one transaction. Everything that can be read or
    written without the place comes first; the place is taken last, just before the booking row and
    the commit, so its row lock is held as briefly as possible."""
    plan = item_plan(hall_id, item_code)
    now = utcnow()
    check_may_book(account, item_code)
    planned = _bookable_slot(plan, start, now)
    slot = planned.time
    case = _linked_case(account, case_no)
    green = _green_channel(case)
    booking = Booking(
        id=new_public_id(),
        code=new_booking_code(),
        account_id=account.id,
        hall_id=hall_id,
        item_code=item_code,
        start=slot.start,
        end=slot.end,
        status=BookingStatus.BOOKED,
        case_no=case.case_no if case else None,
        green_channel=green,
        created_at=now,
    )
    planned_rows = [(row.window_id, row.capacity, row.kept) for row in planned.rows]
    kinds = release.place_kinds(account, slot.day, green)
    try:
        with transaction():
            rows = slots.rows_for_booking(hall_id, slot, planned_rows)
            if not slots.shows_a_place(rows, planned_rows, kinds):
                raise _SlotFull  # a refusal writes nothing
            notify(
                account,
                "appointments.booked",
                {"hall": plan.hall_name, "item": plan.item_name, "when": city_time_text(slot.start), "code": booking.code},
                dedupe_key=f"appointments:{booking.id}:booked",
            )
            booking.slot_id = slots.take_shown_place(rows, planned_rows, kinds)
            if booking.slot_id is None:
                raise _SlotFull
            db.session.add(booking)
            try:
                db.session.flush()
            except IntegrityError:
                # The partial unique index: a concurrent request of the same citizen booked this item first.
                count_booking_conflict("duplicate_booking")
                raise Problem(409, "already_booked_item", "您已预约该事项，请勿重复预约；如需改期请使用改约") from None
            view = booking_view(booking, plan=plan)  # before commit: no reloading of expired objects
    except _SlotFull:
        raise _slot_full(hall_id, item_code, slot.start) from None
    return view


def list_bookings(account: Account, status: str | None, page: int, per_page: int) -> Page:
    statement = select(Booking).where(Booking.account_id == account.id).order_by(Booking.start.desc())
    if status:
        statement = statement.where(Booking.status == status)
    result = paginate(statement, page, per_page)
    result.items = [booking_view(booking) for booking in result.items]
    return result


def get_booking(account: Account, booking_id: str) -> dict:
    booking = own_booking(account, booking_id)
    ticket = db.session.scalar(select(Ticket).where(Ticket.booking_id == booking.id))
    return booking_view(booking, ticket=ticket)


def _check_cancellable(booking: Booking, now: datetime) -> None:
    if booking.status != BookingStatus.BOOKED:
        raise Problem(409, "appointment_not_active", "该预约已取消、已签到或已过期", current_status=booking.status)
    minutes = setting("APPOINTMENTS_CANCEL_BEFORE_MINUTES")
    if booking.start - now < timedelta(minutes=minutes):
        raise Problem(409, "too_late_to_change", f"预约开始前{minutes // 60}小时内不能取消或改约")


def cancel(account: Account, booking_id: str, now: datetime | None = None) -> dict:
    now = now or utcnow()
    booking = own_booking(account, booking_id)
    _check_cancellable(booking, now)
    with transaction():
        ended = db.session.execute(
            update(Booking)
            .where(Booking.id == booking.id, Booking.status == BookingStatus.BOOKED)
            .values(status=BookingStatus.CANCELLED, cancelled_at=now),
            execution_options={"synchronize_session": False},
        ).rowcount
        if not ended:  # cancelled a moment ago by another request
            raise Problem(409, "appointment_not_active", "该预约已取消、已签到或已过期")
        give_back_place(booking.slot_id, now)
    db.session.refresh(booking)
    return booking_view(booking)


def reschedule(account: Account, booking_id: str, new_start: datetime, now: datetime | None = None) -> dict:
    """Move a booking atomically: the new place is taken first; the old one is given back only then.

    On PostgreSQL both slot rows are locked in id order first, so two citizens swapping slots at the
    same instant queue up instead of deadlocking.
    """
    now = now or utcnow()
    booking = own_booking(account, booking_id)
    _check_cancellable(booking, now)
    hall = hall_or_404(booking.hall_id)
    slot = _bookable_slot(item_plan(booking.hall_id, booking.item_code), new_start, now).time
    if slot.start == booking.start.astimezone(CITY_TZ):
        return booking_view(booking)
    try:
        with transaction():
            candidates = slots.ensure_rows(hall, booking.item_code, slot)
            slots.lock_in_order([*candidates, booking.slot_id])
            new_slot_id = slots.take_first(candidates, release.place_kinds(account, slot.day, booking.green_channel))
            if new_slot_id is None:
                raise _SlotFull
            old_slot_id = booking.slot_id
            moved = db.session.execute(
                update(Booking)
                .where(Booking.id == booking.id, Booking.status == BookingStatus.BOOKED, Booking.slot_id == old_slot_id)
                .values(slot_id=new_slot_id, start=slot.start, end=slot.end, reminded_day_before=False, reminded_hour_before=False),
                execution_options={"synchronize_session": False},
            ).rowcount
            if not moved:
                raise Problem(409, "appointment_not_active", "该预约已取消、已签到或已改约，请刷新后重试")
            give_back_place(old_slot_id, now)
    except _SlotFull:
        raise _slot_full(booking.hall_id, booking.item_code, slot.start) from None
    db.session.refresh(booking)
    return booking_view(booking)
