"""Halls, availability, appointments, waitlist, check-in; staff queue calling; the public call display."""

from __future__ import annotations

import json

from flask import current_app

from appointments import service
from appointments.schemas import (
    AvailabilityArgs,
    AvailabilitySchema,
    BookingListArgs,
    BookingPage,
    BookingRequest,
    BookingSchema,
    ClosureRequest,
    ClosureSchema,
    HallDetailSchema,
    HallListArgs,
    HallPage,
    NextRequest,
    QueueDisplaySchema,
    RescheduleRequest,
    TicketSchema,
    WaitlistListSchema,
    WaitlistRequest,
    WaitlistSchema,
    WalkInRequest,
)
from mobile_api.access import current_account, current_staff, requires
from mobile_api.extensions import limiter, principal_or_ip
from mobile_api.idempotency import idempotent
from mobile_api.openapi import Blueprint
from mobile_api.roles import ADMIN, HALL_MANAGER, SUPERVISOR, WINDOW_CLERK
from mobile_api.settings import setting

halls_blp = Blueprint("halls", __name__, url_prefix="/api/v1/halls", description="服务大厅、可预约时段与叫号屏")
appointments_blp = Blueprint("appointments", __name__, url_prefix="/api/v1/appointments", description="预约、改约、取消、签到取号")
waitlist_blp = Blueprint("waitlist", __name__, url_prefix="/api/v1/waitlist", description="预约候补")
staff_queue_blp = Blueprint("staff_queue", __name__, url_prefix="/api/v1/staff/halls", description="窗口叫号与现场取号（工作人员）")


def _account_limit() -> str:
    return setting("APPOINTMENTS_BOOKING_LIMIT")


def _ip_limit() -> str:
    return setting("APPOINTMENTS_BOOKING_IP_LIMIT")


def _read_limit() -> str:
    return setting("APPOINTMENTS_AVAILABILITY_LIMIT")


# Scarce slots: every place-taking request counts against the citizen and against the address.
booking_limits = limiter.shared_limit(_account_limit, scope="appointments-book-account", key_func=principal_or_ip)
booking_ip_limits = limiter.shared_limit(_ip_limit, scope="appointments-book-ip")


@halls_blp.route("", methods=["GET"])
@halls_blp.arguments(HallListArgs, location="query")
@halls_blp.response(200, HallPage)
def list_halls(args: dict):
    """Service halls; with ``item_code`` only halls where it can be booked; with ``lat``/``lng`` nearest first."""
    return service.list_halls(args.get("item_code"), args.get("lat"), args.get("lng"), args["page"], args["per_page"]).as_dict()


@halls_blp.route("/<int:hall_id>", methods=["GET"])
@halls_blp.response(200, HallDetailSchema)
def get_hall(hall_id: int):
    """One hall with its opening hours and windows."""
    return service.hall_detail(hall_id)


@halls_blp.route("/<int:hall_id>/availability", methods=["GET"])
@limiter.limit(_read_limit, key_func=principal_or_ip)
@halls_blp.arguments(AvailabilityArgs, location="query")
@halls_blp.response(200, AvailabilitySchema)
def get_availability(args: dict, hall_id: int):
    """Free places per slot, from tomorrow up to N working days ahead (holidays closed, 调休 days open).
    A day not released yet (放号) says ``released: false`` and ``opens_at``; places kept for the
    elderly and green-channel cases are counted apart."""
    answer = service.availability(hall_id, args["item_code"], args.get("from"), args.get("to"))
    return current_app.response_class(json.dumps(answer, ensure_ascii=False, separators=(",", ":")), mimetype="application/json")


@halls_blp.route("/<int:hall_id>/queue", methods=["GET"])
@halls_blp.response(200, QueueDisplaySchema)
def get_queue_display(hall_id: int):
    """The public call display as JSON: the number each window is calling, the last calls and how many
    are waiting per item. The screen itself is ``/display/halls/<id>`` (HTML, live by Server-Sent Events
    at ``/display/halls/<id>/events``; not part of this JSON API)."""
    return service.display(hall_id)


@appointments_blp.route("", methods=["POST"])
@requires(level=2)
@booking_limits
@booking_ip_limits
@idempotent
@appointments_blp.arguments(BookingRequest)
@appointments_blp.response(201, BookingSchema)
def create_appointment(args: dict):
    """Book one visit (real name required). A full slot answers 409 with the nearest free alternatives."""
    return service.book(current_account(), args["hall_id"], args["item_code"], args["start"], args.get("case_no"))


@appointments_blp.route("", methods=["GET"])
@requires(level=1)
@appointments_blp.arguments(BookingListArgs, location="query")
@appointments_blp.response(200, BookingPage)
def list_appointments(args: dict):
    """My appointments, newest first."""
    return service.list_bookings(current_account(), args.get("status"), args["page"], args["per_page"]).as_dict()


@appointments_blp.route("/<string:booking_id>", methods=["GET"])
@requires(level=1)
@appointments_blp.response(200, BookingSchema)
def get_appointment(booking_id: str):
    """One of my appointments; after check-in with my queue number and how many are ahead of me."""
    return service.get_booking(current_account(), booking_id)


@appointments_blp.route("/<string:booking_id>/cancel", methods=["POST"])
@requires(level=1)
@appointments_blp.response(200, BookingSchema)
def cancel_appointment(booking_id: str):
    """Cancel (until 2 hours before). The place goes to the waitlist first."""
    return service.cancel(current_account(), booking_id)


@appointments_blp.route("/<string:booking_id>/reschedule", methods=["POST"])
@requires(level=2)
@booking_limits
@booking_ip_limits
@appointments_blp.arguments(RescheduleRequest)
@appointments_blp.response(200, BookingSchema)
def reschedule_appointment(args: dict, booking_id: str):
    """Move to another slot atomically: the old place is given back only once the new one is taken."""
    return service.reschedule(current_account(), booking_id, args["start"])


@appointments_blp.route("/<string:booking_id>/check-in", methods=["POST"])
@requires(level=1)
@appointments_blp.response(200, TicketSchema)
def check_in(booking_id: str):
    """Check in at the hall around the booked time; returns the queue number."""
    return service.check_in(current_account(), booking_id)


@waitlist_blp.route("", methods=["POST"])
@requires(level=2)
@booking_limits
@idempotent
@waitlist_blp.arguments(WaitlistRequest)
@waitlist_blp.response(201, WaitlistSchema)
def join_waitlist(args: dict):
    """Wait for a place on a full day; a freed place is held for you for 15 minutes (SMS)."""
    return service.join_waitlist(current_account(), args["hall_id"], args["item_code"], args["date"])


@waitlist_blp.route("", methods=["GET"])
@requires(level=1)
@waitlist_blp.response(200, WaitlistListSchema)
def list_waitlist():
    """My waitlist entries and open offers."""
    return {"items": service.list_waitlist(current_account())}


@waitlist_blp.route("/<string:entry_id>/accept", methods=["POST"])
@requires(level=2)
@idempotent
@waitlist_blp.response(201, BookingSchema)
def accept_offer(entry_id: str):
    """Take the place held for me."""
    return service.accept_offer(current_account(), entry_id)


@waitlist_blp.route("/<string:entry_id>/leave", methods=["POST"])
@requires(level=1)
@waitlist_blp.response(200, WaitlistSchema)
def leave_waitlist(entry_id: str):
    """Leave the line (an open offer passes to the next)."""
    return service.leave_waitlist(current_account(), entry_id)


@staff_queue_blp.route("/<int:hall_id>/tickets", methods=["POST"])
@requires(roles=[WINDOW_CLERK])
@idempotent
@staff_queue_blp.arguments(WalkInRequest)
@staff_queue_blp.response(201, TicketSchema)
def issue_walk_in(args: dict, hall_id: int):
    """A queue number for a walk-in citizen (priority for the elderly and green-channel cases)."""
    return service.issue_walk_in(current_staff(), hall_id, args["item_code"], args.get("priority"))


@staff_queue_blp.route("/<int:hall_id>/queue/next", methods=["POST"])
@requires(roles=[WINDOW_CLERK])
@staff_queue_blp.arguments(NextRequest)
@staff_queue_blp.response(200, TicketSchema)
def call_next(args: dict, hall_id: int):
    """Call the next number this window serves; exactly one window gets each number."""
    return service.call_next(current_staff(), hall_id, args["window_id"])


@staff_queue_blp.route("/<int:hall_id>/tickets/<int:ticket_id>/recall", methods=["POST"])
@requires(roles=[WINDOW_CLERK])
@staff_queue_blp.response(200, TicketSchema)
def recall_ticket(hall_id: int, ticket_id: int):
    """Call the same number again."""
    return service.recall(current_staff(), hall_id, ticket_id)


@staff_queue_blp.route("/<int:hall_id>/tickets/<int:ticket_id>/served", methods=["POST"])
@requires(roles=[WINDOW_CLERK])
@staff_queue_blp.response(200, TicketSchema)
def ticket_served(hall_id: int, ticket_id: int):
    """The citizen has been served."""
    return service.finish(current_staff(), hall_id, ticket_id, "served")


@staff_queue_blp.route("/<int:hall_id>/tickets/<int:ticket_id>/no-show", methods=["POST"])
@requires(roles=[WINDOW_CLERK, SUPERVISOR])
@staff_queue_blp.response(200, TicketSchema)
def ticket_no_show(hall_id: int, ticket_id: int):
    """Called but did not come to the window."""
    return service.finish(current_staff(), hall_id, ticket_id, "no_show")


@staff_queue_blp.route("/<int:hall_id>/closures", methods=["POST"])
@requires(roles=[ADMIN, SUPERVISOR, HALL_MANAGER])
@staff_queue_blp.arguments(ClosureRequest)
@staff_queue_blp.response(201, ClosureSchema)
def close_hall_day(args: dict, hall_id: int):
    """Close the hall on a day (闭厅): no slots; bookings that day are cancelled (or, with
    ``action: move``, moved to the nearest free time) and the citizens told by SMS with the nearest
    free times. The same as ``POST …/special-days`` with ``kind: closed``."""
    return service.close_day(current_staff(), hall_id, args["date"], args["reason"], args["action"])
