"""Running a hall: open one, change its details, release settings and shares, its windows (items served,
open/closed, citizens per slot, the clerk at it) and its weekly opening rules.

Admins run every hall and alone open new ones; a hall manager runs the halls in ``StaffUser.hall_ids``.
Every change is audited. A change that takes places away (hours, a window closed or serving other
items, fewer citizens per slot, larger shares, the hall out of service) re-places the bookings it
displaces through ``appointments.rehoming`` in the same transaction: same time at another window,
else the nearest free time, else cancelled — the citizens are told.
"""

from __future__ import annotations

from datetime import date, time

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from appointments import rehoming, release, schedule
from appointments.halls import check_hall_scope, check_manages, hall_summary, service_item
from appointments.models import Hall, OpeningRule, SpecialDay, Window
from auth.models import StaffUser
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.roles import ADMIN
from mobile_api.timeutil import city_today
from mobile_api.transactions import transaction

HALL_FIELDS = ("name", "level", "city", "district", "street", "address", "phone", "latitude", "longitude", "active")
RELEASE_FIELDS = ("release_days_ahead", "release_time", "walk_in_percent", "elderly_percent", "green_channel_percent")
WINDOW_FIELDS = ("name", "item_codes", "active", "per_slot", "staff_id")
# Changes that can take places away from booked citizens.
DISPLACING_HALL_FIELDS = {"active", "walk_in_percent", "elderly_percent", "green_channel_percent"}
DISPLACING_WINDOW_FIELDS = {"item_codes", "active", "per_slot"}


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value else None


def window_view(window: Window) -> dict:
    staff = db.session.get(StaffUser, window.staff_id) if window.staff_id else None
    return {
        "id": window.id,
        "name": window.name,
        "item_codes": list(window.item_codes or []),
        "active": window.active,
        "per_slot": window.per_slot,
        "staff": {"id": staff.id, "username": staff.username, "display_name": staff.display_name} if staff else None,
    }


def rule_view(rule: OpeningRule) -> dict:
    return {
        "weekday": rule.weekday,
        "opens": _hhmm(rule.opens),
        "closes": _hhmm(rule.closes),
        "break_start": _hhmm(rule.break_start),
        "break_end": _hhmm(rule.break_end),
        "slot_minutes": rule.slot_minutes,
    }


def special_day_view(row: SpecialDay) -> dict:
    return {
        "date": row.day,
        "kind": row.kind,
        "reason": row.reason,
        "opens": _hhmm(row.opens),
        "closes": _hhmm(row.closes),
        "break_start": _hhmm(row.break_start),
        "break_end": _hhmm(row.break_end),
        "slot_minutes": row.slot_minutes,
    }


def admin_view(hall: Hall) -> dict:
    """Everything a hall's manager sees and changes."""
    windows = db.session.scalars(select(Window).where(Window.hall_id == hall.id).order_by(Window.id))
    rules = db.session.scalars(select(OpeningRule).where(OpeningRule.hall_id == hall.id).order_by(OpeningRule.weekday))
    special = db.session.scalars(
        select(SpecialDay).where(SpecialDay.hall_id == hall.id, SpecialDay.day > city_today()).order_by(SpecialDay.day)
    )
    return {
        **hall_summary(hall),
        "active": hall.active,
        "release": {
            "days_ahead": release.days_ahead(hall),
            "time": _hhmm(release.release_clock(hall)),
            "walk_in_percent": hall.walk_in_percent,
            "elderly_percent": hall.elderly_percent,
            "green_channel_percent": hall.green_channel_percent,
        },
        "windows": [window_view(window) for window in windows],
        "opening_rules": [rule_view(rule) for rule in rules],
        "special_days": [special_day_view(row) for row in special],
    }


def staff_halls(staff: StaffUser) -> list[dict]:
    """The halls this member of staff works at (admins: all), each with its windows."""
    statement = select(Hall).order_by(Hall.id)
    if ADMIN not in (staff.roles or []):
        statement = statement.where(Hall.id.in_(staff.hall_ids or []))
    return [admin_view(hall) for hall in db.session.scalars(statement)]


def hall_for_staff(staff: StaffUser, hall_id: int) -> dict:
    return admin_view(check_hall_scope(staff, hall_id))


def _check_shares(values: dict) -> None:
    total = sum(values.get(name) or 0 for name in ("walk_in_percent", "elderly_percent", "green_channel_percent"))
    if total > 100:
        raise Problem(
            422, "shares_too_large", "现场、老年人和绿色通道预留比例之和不能超过100%", errors={"walk_in_percent": ["比例之和超过100"]}
        )


def create_hall(staff: StaffUser, values: dict) -> dict:
    _check_shares(values)
    hall = Hall(**{name: values[name] for name in (*HALL_FIELDS, *RELEASE_FIELDS) if name in values})
    hall.active = values.get("active", True)
    with transaction():
        db.session.add(hall)
        db.session.flush()
        record_audit(staff_actor(staff), "hall.create", "hall", hall.id, details={"name": hall.name})
        view = admin_view(hall)
    return view


def update_hall(staff: StaffUser, hall_id: int, changes: dict) -> dict:
    hall = check_manages(staff, hall_id)
    merged = {name: getattr(hall, name) for name in RELEASE_FIELDS} | changes
    _check_shares(merged)
    changed = {name: value for name, value in changes.items() if getattr(hall, name) != value}
    with transaction():
        for name, value in changed.items():
            setattr(hall, name, value)
        db.session.flush()
        outcome = rehoming.Outcome()
        if DISPLACING_HALL_FIELDS & set(changed):
            reason = "大厅暂停服务" if changed.get("active") is False else "大厅调整预约号源"
            outcome = rehoming.reconcile(staff, hall, reason, move=hall.active)
        record_audit(staff_actor(staff), "hall.update", "hall", hall.id, details=_jsonable(changed) | {"bookings": outcome.as_dict()})
        view = admin_view(hall) | {"bookings": outcome.as_dict()}
    return view


def _jsonable(values: dict) -> dict:
    return {name: value.isoformat() if isinstance(value, time | date) else value for name, value in values.items()}


def _check_items(item_codes: list[str]) -> None:
    unknown = [code for code in item_codes if service_item(code) is None]
    if unknown:
        raise Problem(422, "item_not_found", "办事事项不存在", errors={"item_codes": [f"未找到事项 {code}" for code in unknown]})


def _check_clerk(hall_id: int, staff_id: int | None) -> None:
    if staff_id is None:
        return
    clerk = db.session.get(StaffUser, staff_id)
    if clerk is None or not clerk.active or (ADMIN not in (clerk.roles or []) and hall_id not in (clerk.hall_ids or [])):
        raise Problem(422, "staff_not_in_hall", "该工作人员不在此大厅工作", errors={"staff_id": ["请选择本大厅的工作人员"]})


def _window_or_404(hall_id: int, window_id: int) -> Window:
    window = db.session.get(Window, window_id)
    if window is None or window.hall_id != hall_id:
        raise Problem(404, "window_not_found", "窗口不存在")
    return window


def _flush_name() -> None:
    try:
        db.session.flush()
    except IntegrityError:
        raise Problem(409, "window_name_taken", "该大厅已有同名窗口", errors={"name": ["窗口名称重复"]}) from None


def list_windows(staff: StaffUser, hall_id: int) -> list[dict]:
    check_hall_scope(staff, hall_id)
    return [window_view(window) for window in db.session.scalars(select(Window).where(Window.hall_id == hall_id).order_by(Window.id))]


def add_window(staff: StaffUser, hall_id: int, values: dict) -> dict:
    check_manages(staff, hall_id)
    _check_items(values.get("item_codes", []))
    _check_clerk(hall_id, values.get("staff_id"))
    window = Window(hall_id=hall_id, **{name: values[name] for name in WINDOW_FIELDS if name in values})
    with transaction():
        db.session.add(window)
        _flush_name()
        record_audit(staff_actor(staff), "hall.window_add", "hall_window", window.id, details=_jsonable(values))
        view = window_view(window)
    schedule.forget_memo()
    return view


def update_window(staff: StaffUser, hall_id: int, window_id: int, changes: dict) -> dict:
    hall = check_manages(staff, hall_id)
    window = _window_or_404(hall_id, window_id)
    if "item_codes" in changes:
        _check_items(changes["item_codes"])
    if "staff_id" in changes:
        _check_clerk(hall_id, changes["staff_id"])
    changed = {name: value for name, value in changes.items() if getattr(window, name) != value}
    with transaction():
        for name, value in changed.items():
            setattr(window, name, list(value) if name == "item_codes" else value)
        _flush_name()
        outcome = rehoming.Outcome()
        if DISPLACING_WINDOW_FIELDS & set(changed):
            outcome = rehoming.reconcile(staff, hall, f"{window.name}调整", move=True)
        details = _jsonable(changed) | {"bookings": outcome.as_dict()}
        record_audit(staff_actor(staff), "hall.window_update", "hall_window", window.id, details=details)
        view = window_view(window) | {"bookings": outcome.as_dict()}
    return view


def set_opening_rules(staff: StaffUser, hall_id: int, rules: list[dict]) -> dict:
    """Replace the hall's weekly rules (one per weekday it opens; a weekday left out is closed)."""
    hall = check_manages(staff, hall_id)
    with transaction():
        db.session.execute(delete(OpeningRule).where(OpeningRule.hall_id == hall_id), execution_options={"synchronize_session": False})
        db.session.flush()
        for rule in rules:
            db.session.add(OpeningRule(hall_id=hall_id, **rule))
        db.session.flush()
        outcome = rehoming.reconcile(staff, hall, "大厅调整办公时间", move=True)
        record_audit(
            staff_actor(staff),
            "hall.opening_rules",
            "hall",
            hall_id,
            details={"rules": [_jsonable(rule) for rule in rules], "bookings": outcome.as_dict()},
        )
        view = {"hall_id": hall_id, "opening_rules": [rule_view(rule) for rule in _rules(hall_id)], "bookings": outcome.as_dict()}
    return view


def _rules(hall_id: int) -> list[OpeningRule]:
    return list(db.session.scalars(select(OpeningRule).where(OpeningRule.hall_id == hall_id).order_by(OpeningRule.weekday)))
