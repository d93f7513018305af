"""Hall administration for admins and hall managers, and a clerk's view of their window's queue."""

from __future__ import annotations

from datetime import date

from flask_smorest import Blueprint

from appointments import service
from appointments.admin_schemas import (
    AdminHallListSchema,
    AdminHallSchema,
    AdminWindowSchema,
    HallCreateRequest,
    HallUpdateRequest,
    OpeningRulesRequest,
    OpeningRulesSchema,
    SpecialDayListSchema,
    SpecialDayRequest,
    SpecialDaySchema,
    WindowCreateRequest,
    WindowListSchema,
    WindowQueueSchema,
    WindowUpdateRequest,
)
from mobile_api.access import current_staff, requires
from mobile_api.errors import Problem
from mobile_api.idempotency import idempotent
from mobile_api.roles import ADMIN, HALL_MANAGER, SUPERVISOR, WINDOW_CLERK

hall_admin_blp = Blueprint(
    "hall_admin",
    __name__,
    url_prefix="/api/v1/staff/halls",
    description="大厅管理：大厅、窗口、办公时间、特殊日期、放号与预留（管理员、大厅管理员）",
)

READERS = [HALL_MANAGER, WINDOW_CLERK, SUPERVISOR]


@hall_admin_blp.route("", methods=["GET"])
@requires(roles=READERS)
@hall_admin_blp.response(200, AdminHallListSchema)
def list_halls():
    """The halls I work at (admins: all), with windows, opening rules, special days and release settings."""
    return {"items": service.staff_halls(current_staff())}


@hall_admin_blp.route("", methods=["POST"])
@requires(roles=[ADMIN])
@idempotent
@hall_admin_blp.arguments(HallCreateRequest)
@hall_admin_blp.response(201, AdminHallSchema)
def create_hall(args: dict):
    """Open a new hall (admins only). Add windows and opening rules next."""
    return service.create_hall(current_staff(), args)


@hall_admin_blp.route("/<int:hall_id>", methods=["GET"])
@requires(roles=READERS)
@hall_admin_blp.response(200, AdminHallSchema)
def get_hall(hall_id: int):
    """One hall as its staff see it."""
    return service.hall_for_staff(current_staff(), hall_id)


@hall_admin_blp.route("/<int:hall_id>", methods=["PATCH"])
@requires(roles=[HALL_MANAGER])
@hall_admin_blp.arguments(HallUpdateRequest)
@hall_admin_blp.response(200, AdminHallSchema)
def update_hall(args: dict, hall_id: int):
    """Change details, slot release (放号 time, days ahead) and kept shares; ``active: false`` takes the
    hall out of service. Bookings that lose their place are moved or cancelled, with a notice."""
    return service.update_hall(current_staff(), hall_id, args)


@hall_admin_blp.route("/<int:hall_id>/windows", methods=["GET"])
@requires(roles=READERS)
@hall_admin_blp.response(200, WindowListSchema)
def list_windows(hall_id: int):
    """The hall's windows, open and closed."""
    return {"items": service.list_windows(current_staff(), hall_id)}


@hall_admin_blp.route("/<int:hall_id>/windows", methods=["POST"])
@requires(roles=[HALL_MANAGER])
@idempotent
@hall_admin_blp.arguments(WindowCreateRequest)
@hall_admin_blp.response(201, AdminWindowSchema)
def add_window(args: dict, hall_id: int):
    """Add a window: the items it serves, citizens per slot, the clerk at it."""
    return service.add_window(current_staff(), hall_id, args)


@hall_admin_blp.route("/<int:hall_id>/windows/<int:window_id>", methods=["PATCH"])
@requires(roles=[HALL_MANAGER])
@hall_admin_blp.arguments(WindowUpdateRequest)
@hall_admin_blp.response(200, AdminWindowSchema)
def update_window(args: dict, hall_id: int, window_id: int):
    """Change what a window serves, whether it is open, its citizens per slot or its clerk; bookings
    that lose their place go to another window at the same time, else the nearest free time."""
    return service.update_window(current_staff(), hall_id, window_id, args)


@hall_admin_blp.route("/<int:hall_id>/opening-rules", methods=["PUT"])
@requires(roles=[HALL_MANAGER])
@hall_admin_blp.arguments(OpeningRulesRequest)
@hall_admin_blp.response(200, OpeningRulesSchema)
def set_opening_rules(args: dict, hall_id: int):
    """Replace the weekly opening rules (a weekday left out is closed; 调休 weekend days use Monday's)."""
    return service.set_opening_rules(current_staff(), hall_id, args["rules"])


@hall_admin_blp.route("/<int:hall_id>/special-days", methods=["GET"])
@requires(roles=READERS)
@hall_admin_blp.response(200, SpecialDayListSchema)
def list_special_days(hall_id: int):
    """Closures and extra openings from tomorrow on."""
    return {"items": service.list_special_days(current_staff(), hall_id)}


@hall_admin_blp.route("/<int:hall_id>/special-days", methods=["POST"])
@requires(roles=[HALL_MANAGER, SUPERVISOR])
@hall_admin_blp.arguments(SpecialDayRequest)
@hall_admin_blp.response(201, SpecialDaySchema)
def add_special_day(args: dict, hall_id: int):
    """A closure (``kind: closed``; ``action`` cancels or moves its bookings, each citizen told with the
    nearest free times) or an extra opening with its hours (``kind: open``, e.g. a 调休 Saturday)."""
    return service.add_special_day(current_staff(), hall_id, args)


@hall_admin_blp.route("/<int:hall_id>/special-days/<day>", methods=["DELETE"])
@requires(roles=[HALL_MANAGER, SUPERVISOR])
@hall_admin_blp.response(200, SpecialDaySchema)
def remove_special_day(hall_id: int, day: str):
    """Undo a closure or an extra opening (bookings of a removed opening are moved, with a notice)."""
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        raise Problem(422, "invalid_date", "日期格式不正确", errors={"date": ["请使用 YYYY-MM-DD"]}) from None
    return service.remove_special_day(current_staff(), hall_id, parsed)


@hall_admin_blp.route("/<int:hall_id>/windows/<int:window_id>/queue", methods=["GET"])
@requires(roles=[WINDOW_CLERK])
@hall_admin_blp.response(200, WindowQueueSchema)
def window_queue(hall_id: int, window_id: int):
    """A clerk's window: the number called here now and who waits for the items it serves."""
    return service.window_queue(current_staff(), hall_id, window_id)
