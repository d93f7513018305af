"""Special days of a hall: closures (闭厅) and extra openings (a 调休 Saturday the rules do not cover, a
weekend service day), each with a reason.

Closing a day with bookings moves them to the nearest free time (``action="move"``) or cancels them
(``"cancel"``, the default as before); either way each citizen is told why, and a cancelled citizen is
told the nearest times still free. The waitlist of a closed day ends. Removing an extra opening
re-places its bookings the same way; removing a closure simply opens the day again.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from appointments import rehoming
from appointments.hall_admin import special_day_view
from appointments.halls import check_hall_scope, check_manages
from appointments.models import SpecialDay, SpecialDayKind
from auth.models import StaffUser
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.roles import HALL_MANAGER, SUPERVISOR
from mobile_api.timeutil import city_today
from mobile_api.transactions import transaction

# Supervisors of a hall could close a day before hall managers existed; they still may.
CLOSING_ROLES = (HALL_MANAGER, SUPERVISOR)


def list_special_days(staff: StaffUser, hall_id: int) -> list[dict]:
    check_hall_scope(staff, hall_id)
    rows = db.session.scalars(
        select(SpecialDay).where(SpecialDay.hall_id == hall_id, SpecialDay.day > city_today()).order_by(SpecialDay.day)
    )
    return [special_day_view(row) for row in rows]


def add_special_day(staff: StaffUser, hall_id: int, values: dict) -> dict:
    """A closure or an extra opening from tomorrow on; bookings it displaces are moved or cancelled."""
    kind = values["kind"]
    hall = check_manages(staff, hall_id, CLOSING_ROLES if kind == SpecialDayKind.CLOSED else (HALL_MANAGER,))
    day: date = values["date"]
    if day <= city_today():
        raise Problem(422, "closure_in_past", "只能设置明天及以后的日期", errors={"date": ["请选择明天及以后的日期"]})
    fields = {name: values.get(name) for name in ("opens", "closes", "break_start", "break_end", "slot_minutes")}
    row = SpecialDay(hall_id=hall_id, day=day, kind=kind, reason=values["reason"], created_by=staff_actor(staff), **fields)
    with transaction():
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:
            raise Problem(409, "already_closed", "该日期已设置特殊安排（闭厅或加开）", errors={"date": ["该日期已有特殊安排"]}) from None
        cause = "hall_closed" if kind == SpecialDayKind.CLOSED else "hall_changed"
        outcome = rehoming.reconcile(staff, hall, values["reason"], move=values.get("action") == "move", cause=cause)
        if kind == SpecialDayKind.CLOSED:
            rehoming.end_waitlist_of(hall_id, day)
        record_audit(
            staff_actor(staff),
            f"hall.special_day_{kind}",
            "hall",
            hall_id,
            reason=values["reason"],
            details={"date": day.isoformat(), "bookings": outcome.as_dict()},
        )
        view = special_day_view(row) | {"hall_id": hall_id, "bookings": outcome.as_dict()}
    return view


def remove_special_day(staff: StaffUser, hall_id: int, day: date) -> dict:
    hall = check_manages(staff, hall_id, CLOSING_ROLES)
    row = db.session.scalar(select(SpecialDay).where(SpecialDay.hall_id == hall_id, SpecialDay.day == day))
    if row is None or day <= city_today():
        raise Problem(404, "special_day_not_found", "该日期没有可撤销的特殊安排")
    with transaction():
        reason = f"撤销{day:%m月%d日}的加开安排"
        db.session.delete(row)
        db.session.flush()
        outcome = rehoming.reconcile(staff, hall, reason, move=True)
        record_audit(
            staff_actor(staff),
            "hall.special_day_removed",
            "hall",
            hall_id,
            details={"date": day.isoformat(), "bookings": outcome.as_dict()},
        )
    return {"hall_id": hall_id, "date": day, "removed": True, "bookings": outcome.as_dict()}


def close_day(staff: StaffUser, hall_id: int, day: date, reason: str, action: str = "cancel") -> dict:
    """Close a hall for a day (闭厅): no slots; its bookings are cancelled (or moved) and the citizens told."""
    view = add_special_day(staff, hall_id, {"date": day, "kind": SpecialDayKind.CLOSED, "reason": reason, "action": action})
    outcome = view["bookings"]
    return {
        "hall_id": hall_id,
        "date": day,
        "reason": reason,
        "cancelled_appointments": outcome["cancelled"],
        "moved_appointments": outcome["moved"] + outcome["kept_same_time"],
    }
