"""Halls: look-ups, the nearest-first list, a hall's hours and windows, and staff scope."""

from __future__ import annotations

import math

from sqlalchemy import select

from appointments import schedule
from appointments.models import Hall, OpeningRule
from auth.models import StaffUser
from cases.models import ServiceItem
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import Page
from mobile_api.roles import ADMIN, HALL_MANAGER


def hall_or_404(hall_id: int) -> Hall:
    hall = db.session.get(Hall, hall_id)
    if hall is None:
        raise Problem(404, "hall_not_found", "服务大厅不存在")
    return hall


def check_hall_scope(staff: StaffUser, hall_id: int) -> Hall:
    """The hall, if this member of staff works there (admins work everywhere)."""
    hall = hall_or_404(hall_id)
    if ADMIN not in (staff.roles or []) and hall_id not in (staff.hall_ids or []):
        raise Problem(403, "hall_out_of_scope", "您不在该大厅工作，不能操作其叫号")
    return hall


def check_manages(staff: StaffUser, hall_id: int, roles: tuple[str, ...] = (HALL_MANAGER,)) -> Hall:
    """The hall, if this member of staff runs it: admins run every hall; a hall manager (or whoever has
    one of ``roles``) the halls in ``StaffUser.hall_ids``."""
    hall = hall_or_404(hall_id)
    held = set(staff.roles or [])
    if ADMIN in held:
        return hall
    if not held & set(roles) or hall_id not in (staff.hall_ids or []):
        raise Problem(403, "hall_out_of_scope", "您不是该大厅的管理人员，不能修改其设置")
    return hall


def service_item(item_code: str) -> ServiceItem | None:
    return db.session.scalar(select(ServiceItem).where(ServiceItem.code == item_code, ServiceItem.is_current.is_(True)))


def bookable_item(item_code: str, hall_id: int) -> ServiceItem:
    item = service_item(item_code)
    if item is None:
        raise Problem(404, "item_not_found", "办事事项不存在", errors={"item_code": ["未找到该事项"]})
    hall = db.session.get(Hall, hall_id)
    if not item.bookable or not hall.active or hall_id not in (item.hall_ids or []) or not schedule.windows_serving(hall_id, item_code):
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
    halls = list(db.session.scalars(select(Hall).where(Hall.active.is_(True)).order_by(Hall.id)))
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
    windows = schedule.hall_windows(hall_id)
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
        "windows": [
            {"id": window.id, "name": window.name, "item_codes": window.item_codes, "per_slot": window.per_slot} for window in windows
        ],
    }
