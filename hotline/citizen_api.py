"""HTTP for citizens: open and follow their own tickets in the app, and rate the answer (回访)."""

from __future__ import annotations

from flask_smorest import Blueprint

from hotline import citizens
from hotline.schemas import CitizenRating, CitizenTicketCreate, TicketDetailSchema, TicketPage
from mobile_api.access import current_account, requires
from mobile_api.idempotency import idempotent
from mobile_api.pagination import PageArgs

my_tickets_blp = Blueprint("my_tickets", __name__, url_prefix="/api/v1/me/tickets", description="我的12345工单：反映问题、查看进度、评价")


@my_tickets_blp.route("", methods=["POST"])
@requires(level=1)
@idempotent
@my_tickets_blp.arguments(CitizenTicketCreate)
@my_tickets_blp.response(201, TicketDetailSchema)
def open_ticket(args: dict):
    """Open a ticket (咨询、投诉、举报、建议、求助、表扬); a linked case or booking must be your own."""
    return citizens.citizen_create_ticket(current_account(), args)


@my_tickets_blp.route("", methods=["GET"])
@requires(level=1)
@my_tickets_blp.arguments(PageArgs, location="query")
@my_tickets_blp.response(200, TicketPage)
def my_tickets(args: dict):
    """My tickets, including those an operator recorded when I called 12345."""
    return citizens.citizen_tickets(current_account(), args["page"], args["per_page"])


@my_tickets_blp.route("/<ticket_no>", methods=["GET"])
@requires(level=1)
@my_tickets_blp.response(200, TicketDetailSchema)
def my_ticket(ticket_no: str):
    """One of the citizen's own tickets, with its history and the department's answer."""
    return citizens.citizen_ticket(current_account(), ticket_no)


@my_tickets_blp.route("/<ticket_no>/satisfaction", methods=["POST"])
@requires(level=1)
@my_tickets_blp.arguments(CitizenRating)
@my_tickets_blp.response(200, TicketDetailSchema)
def rate_ticket(args: dict, ticket_no: str):
    """Rate the department's answer; unsatisfied may ask once for it to be handled again."""
    return citizens.citizen_rate(current_account(), ticket_no, args)
