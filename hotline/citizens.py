"""The citizen's side of tickets: open one in the app, follow it, rate the answer (the citizen's own
return call, 回访). Citizens only ever reach their own tickets, cases and bookings (404 otherwise)."""

from __future__ import annotations

from sqlalchemy import select

from auth.models import Account
from cases.service import case_for_citizen
from hotline import records, tickets
from hotline.models import Ticket, TicketSource, TicketStatus
from hotline.service import TicketDraft, case_story, check_item, record_callback, related_booking, write_ticket
from hotline.tickets import check_action, find_ticket
from mobile_api.errors import Problem
from mobile_api.pagination import paginate
from mobile_api.transactions import transaction

CITIZEN_ACTOR = "citizen"


def citizen_create_ticket(account: Account, args: dict) -> dict:
    """A citizen opens a ticket in the app; related cases and bookings must be their own."""
    with transaction():
        case_no = case_for_citizen(account.id, args["case_no"]).case_no if args.get("case_no") else None
        related_booking(args.get("booking_code"), account.id)
        check_item(args.get("item_code"))
        item_code = args.get("item_code")
        if case_no and not item_code:
            item_code = records.find_case(case_no)["item_code"]
        ticket = write_ticket(
            TicketDraft(
                ticket_type=args["ticket_type"],
                content=args["content"],
                source=TicketSource.APP,
                created_by=CITIZEN_ACTOR,
                caller_phone=account.phone,
                account=account,
                case_no=case_no,
                booking_code=(args.get("booking_code") or "").upper() or None,
                delivery_no=args.get("delivery_no"),
                item_code=item_code,
                public_text=args.get("publish", False),
            )
        )
        return citizen_ticket_view(ticket, account)


def _own_ticket(account: Account, ticket_no: str) -> Ticket:
    ticket = find_ticket(ticket_no)
    if ticket is None or ticket.account_id != account.id:
        raise Problem(404, "ticket_not_found", "未找到该工单", ticket_no=ticket_no)
    return ticket


def citizen_ticket_view(ticket: Ticket, account: Account) -> dict:
    view = tickets.detail(ticket, staff=False)
    view.pop("caller_phone_masked", None)
    story = case_story(ticket.case_no)
    owns_case = story is not None and records.find_case(ticket.case_no)["account_id"] == account.id
    return view | {"case": story if owns_case else None, "can_rate": ticket.status == TicketStatus.ANSWERED}


def citizen_tickets(account: Account, page: int, per_page: int) -> dict:
    statement = select(Ticket).where(Ticket.account_id == account.id).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    result = paginate(statement, page, per_page)
    items = tickets.summaries(result.items)
    for item in items:
        item.pop("caller_phone_masked", None)
        item.pop("colour", None)
    return result.as_dict() | {"items": items}


def citizen_ticket(account: Account, ticket_no: str) -> dict:
    return citizen_ticket_view(_own_ticket(account, ticket_no), account)


def citizen_rate(account: Account, ticket_no: str, args: dict) -> dict:
    """The citizen's own return call: satisfaction after the answer; unsatisfied may reopen once."""
    with transaction():
        ticket = _own_ticket(account, ticket_no)
        check_action(ticket, "callback")
        record_callback(ticket, CITIZEN_ACTOR, args["satisfaction"], args.get("comment"), bool(args.get("reopen")))
        return citizen_ticket_view(ticket, account)
