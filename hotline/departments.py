"""The department side of tickets: the tickets routed to my departments, answer (答复), send back (退回).

Scope: staff reach the tickets currently routed to one of their ``department_codes`` (admins reach
all); another department's ticket is a 404, as if it did not exist. Answering tells the caller (in-app
and SMS) and asks for their satisfaction. Every read and change is audited.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from auth.models import Account, StaffUser
from cases import catalog
from cases.clock import today
from hotline import tickets
from hotline.models import Ticket, TicketStatus
from hotline.service import case_story
from hotline.tickets import DEPARTMENT, add_event, check_action, claim, find_ticket
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import paginate
from mobile_api.roles import ADMIN, DEPARTMENT_HEAD, OFFICER
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction
from notifications.service import notify

ANSWER_SMS_CHARS = 200
MOBILE = re.compile(r"^1[3-9]\d{9}$")  # the SMS carries the start of the answer; the app shows all of it


def _scope(staff: StaffUser):
    if ADMIN in staff.roles:
        return None
    return Ticket.department_code.in_(list(staff.department_codes or []))


def _department_ticket(staff: StaffUser, ticket_no: str) -> Ticket:
    ticket = find_ticket(ticket_no)
    in_scope = ticket is not None and ticket.department_code is not None
    in_scope = in_scope and (ADMIN in staff.roles or ticket.department_code in (staff.department_codes or []))
    if not in_scope:
        raise Problem(404, "ticket_not_found", "未找到该工单，或未转办至您所在部门", ticket_no=ticket_no)
    return ticket


def department_tickets(staff: StaffUser, filters: dict, page: int, per_page: int) -> dict:
    statement = select(Ticket).where(Ticket.department_code.is_not(None)).order_by(Ticket.due_on.is_(None), Ticket.due_on, Ticket.id)
    scope = _scope(staff)
    if scope is not None:
        statement = statement.where(scope)
    if filters.get("status"):
        statement = statement.where(Ticket.status == filters["status"])
    if filters.get("overdue") is not None:
        late = (Ticket.status == TicketStatus.ASSIGNED) & (Ticket.due_on < today())
        statement = statement.where(late if filters["overdue"] else ~late)
    with transaction():
        result = paginate(statement, page, per_page)
        record_audit(
            staff_actor(staff), "hotline.ticket.list", "ticket", "*", details={**filters, "page": page, "count": len(result.items)}
        )
        return result.as_dict() | {"items": tickets.summaries(result.items)}


def _view(ticket: Ticket, staff: StaffUser) -> dict:
    can_act = bool({OFFICER, DEPARTMENT_HEAD, ADMIN} & set(staff.roles))
    actions = tickets.allowed_actions(ticket, (DEPARTMENT,)) if can_act else []
    return tickets.detail(ticket, staff=True) | {"case": case_story(ticket.case_no), "allowed_actions": actions}


def department_ticket(staff: StaffUser, ticket_no: str, reason: str | None) -> dict:
    with transaction():
        ticket = _department_ticket(staff, ticket_no)
        record_audit(staff_actor(staff), "hotline.ticket.read", "ticket", ticket.ticket_no, reason=reason)
        return _view(ticket, staff)


def answer(staff: StaffUser, ticket_no: str, text: str) -> dict:
    """答复: the department's answer; on time when given on or before the due day. The caller is told."""
    actor = staff_actor(staff)
    with transaction():
        ticket = _department_ticket(staff, ticket_no)
        check_action(ticket, "answer")
        claim(ticket, TicketStatus.ASSIGNED)
        on = today()
        ticket.answer, ticket.answered_at, ticket.answered_by = text, utcnow(), actor
        ticket.answered_on_time = ticket.due_on is None or on <= ticket.due_on
        ticket.status = TicketStatus.ANSWERED
        event = add_event(ticket, actor, "answer", TicketStatus.ASSIGNED, TicketStatus.ANSWERED, data={"on_time": ticket.answered_on_time})
        db.session.flush()
        _tell_caller(ticket, event.id)
        record_audit(actor, "hotline.ticket.answer", "ticket", ticket.ticket_no)
        return _view(ticket, staff)


def _tell_caller(ticket: Ticket, event_id: int) -> None:
    """In-app and SMS to the caller's account; else SMS to the number they gave if it is a mobile.
    Without either (a landline, an Open311 request without contact details) the return call tells them."""
    if ticket.account_id:
        recipient = db.session.get(Account, ticket.account_id)
    elif ticket.caller_phone and MOBILE.match(ticket.caller_phone):
        recipient = ticket.caller_phone
    else:
        return
    department = catalog.department_names({ticket.department_code}).get(ticket.department_code, ticket.department_code)
    text = ticket.answer if len(ticket.answer) <= ANSWER_SMS_CHARS else ticket.answer[:ANSWER_SMS_CHARS] + "…"
    notify(
        recipient,
        "hotline.ticket_answered",
        {"ticket_no": ticket.ticket_no, "department": department, "answer": text},
        dedupe_key=f"hotline-answer:{event_id}",
    )


def send_back(staff: StaffUser, ticket_no: str, reason: str) -> dict:
    """退回: not this department's business; the hotline re-routes it. The reason is required."""
    actor = staff_actor(staff)
    with transaction():
        ticket = _department_ticket(staff, ticket_no)
        check_action(ticket, "send_back")
        claim(ticket, TicketStatus.ASSIGNED)
        department = ticket.department_code
        ticket.status, ticket.sent_back_count = TicketStatus.SENT_BACK, ticket.sent_back_count + 1
        ticket.department_code = ticket.due_on = ticket.assigned_on = None
        add_event(
            ticket, actor, "send_back", TicketStatus.ASSIGNED, TicketStatus.SENT_BACK, note=reason, data={"department_code": department}
        )
        record_audit(actor, "hotline.ticket.send_back", "ticket", ticket.ticket_no, reason=reason)
        # The ticket left this department: answer with what it can still see, its own view ends here.
        return tickets.detail(ticket, staff=True) | {"case": None, "allowed_actions": []}
