"""Read-only views of bookings for the packages above (the 12345 hotline): a caller's bookings with
their next step, and one booking by the code read out over the phone. The caller audits the look-up."""

from __future__ import annotations

from sqlalchemy import select

from appointments.models import Booking, BookingStatus, Hall
from cases.catalog import current_item
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.timeutil import CITY_TZ

BOOKING_STATUS_NAMES = {
    BookingStatus.BOOKED: "已预约",
    BookingStatus.CANCELLED: "已取消",
    BookingStatus.CHECKED_IN: "已签到取号",
    BookingStatus.NO_SHOW: "未按时到场",
}
NEXT_STEPS = {
    BookingStatus.BOOKED: "请于{when}携带材料到{hall}签到取号",
    BookingStatus.CANCELLED: "预约已取消，如需办理可重新预约",
    BookingStatus.CHECKED_IN: "已签到，请留意叫号",
    BookingStatus.NO_SHOW: "预约未到场，多次未到场将暂停网上预约",
}


def _item_name(item_code: str) -> str:
    try:
        return current_item(item_code).name
    except Problem:
        return item_code


def booking_brief(booking: Booking, hall: Hall | None = None) -> dict:
    hall = hall or db.session.get(Hall, booking.hall_id)
    start = booking.start.astimezone(CITY_TZ)
    when = f"{start:%m月%d日 %H:%M}"
    return {
        "code": booking.code,
        "item_code": booking.item_code,
        "item_name": _item_name(booking.item_code),
        "status": booking.status,
        "status_name": BOOKING_STATUS_NAMES.get(booking.status, booking.status),
        "next_step": NEXT_STEPS.get(booking.status, "").format(when=when, hall=hall.name if hall else ""),
        "start": start,
        "hall_name": hall.name if hall else None,
        "hall_address": hall.address if hall else None,
        "case_no": booking.case_no,
    }


def bookings_for_account(account_id: str, limit: int = 20) -> list[dict]:
    """The account's most recent bookings (newest first)."""
    rows = db.session.execute(
        select(Booking, Hall)
        .join(Hall, Hall.id == Booking.hall_id)
        .where(Booking.account_id == account_id)
        .order_by(Booking.start.desc())
        .limit(limit)
    ).all()
    return [booking_brief(booking, hall) for booking, hall in rows]


def booking_by_code(code: str) -> dict | None:
    """One booking by its 8-character code, with the account it belongs to."""
    booking = db.session.scalar(select(Booking).where(Booking.code == code.strip().upper()))
    if booking is None:
        return None
    return booking_brief(booking) | {"account_id": booking.account_id}
