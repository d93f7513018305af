"""The ticket (工单) state machine, its history rows, deadlines and the views of a ticket.

created (受理) → assigned (转办, the department's clock runs) → answered (答复) → closed (回访, 办结).
A department may send a mis-routed ticket back (退回: assigned → sent_back → assigned elsewhere). An
unsatisfied caller may reopen an answered ticket once (answered → assigned, same department, a new
deadline). An operator may close a consultation on the call (resolve) or a duplicate with a reason;
complaints and reports always get a department's answer (群众有诉求、部门须回应). Every step is one
conditional UPDATE on the ticket's status (two people acting at once: one wins, the other gets 409)
plus a history row with who and when. No transactions here: the service functions own them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update

from cases import catalog
from cases.clock import today
from cases.deadlines import DaysLeft, deadline_from
from cases.service import CASE_NO_ALPHABET
from hotline.models import (
    SATISFACTION_NAMES,
    TICKET_STATUS_NAMES,
    TICKET_TYPE_NAMES,
    Colour,
    Ticket,
    TicketEvent,
    TicketStatus,
    TicketType,
)
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pii import mask_name, mask_phone
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow

OPERATOR, DEPARTMENT, CALLER, SYSTEM = "operator", "department", "caller", "system"
# Types an operator may not close on the call: they need a department's answer.
NEEDS_DEPARTMENT = (TicketType.COMPLAINT, TicketType.REPORT)
DAYS_SETTING = {ticket_type: f"HOTLINE_DAYS_{ticket_type.name}" for ticket_type in TicketType}


@dataclass(frozen=True)
class Action:
    from_statuses: tuple[TicketStatus, ...]
    who: str  # operator | department | caller


ACTIONS: dict[str, Action] = {
    "assign": Action((TicketStatus.CREATED, TicketStatus.SENT_BACK), OPERATOR),
    "resolve": Action((TicketStatus.CREATED,), OPERATOR),
    "close": Action((TicketStatus.CREATED, TicketStatus.SENT_BACK), OPERATOR),
    "note": Action((TicketStatus.CREATED, TicketStatus.ASSIGNED, TicketStatus.SENT_BACK, TicketStatus.ANSWERED), OPERATOR),
    "callback": Action((TicketStatus.ANSWERED,), CALLER),
    "answer": Action((TicketStatus.ASSIGNED,), DEPARTMENT),
    "send_back": Action((TicketStatus.ASSIGNED,), DEPARTMENT),
}
OPERATOR_ACTIONS = tuple(name for name, action in ACTIONS.items() if action.who in (OPERATOR, CALLER))

ACTION_NAMES = {
    "create": "受理",
    "assign": "转办",
    "resolve": "当场答复办结",
    "close": "办结（不需转办）",
    "note": "备注",
    "answer": "部门答复",
    "send_back": "部门退回（非本部门职责）",
    "callback": "回访",
    "reopen": "不满意，重新办理",
    "escalate": "超期督办",
    "warn": "即将到期预警",
    "case_update": "关联办件状态变化",
}

NEXT_STEPS = {
    TicketStatus.CREATED: "等待热线转办至责任部门",
    TicketStatus.ASSIGNED: "{department}办理中，应于{due_on}前答复",
    TicketStatus.SENT_BACK: "等待热线重新转办",
    TicketStatus.ANSWERED: "部门已答复，等待回访评价",
    TicketStatus.CLOSED: "已办结",
}


def new_ticket_no(on: date) -> str:
    """``RX2611-K7M3Q``: like case numbers, readable aloud over the phone."""
    suffix = "".join(secrets.choice(CASE_NO_ALPHABET) for _ in range(5))
    return f"{setting('HOTLINE_TICKET_PREFIX')}{on:%y%m}-{suffix}"


# Open311 service codes (``hotline/open311/services.py``): one per ticket type, a complaint about a
# case, and a consultation per catalog item. Every ticket stores the code it is published under.
CASE_COMPLAINT_SERVICE = "complaint-case"
ITEM_CONSULTATION_PREFIX = "consultation-"


def service_code_for(ticket_type: str, item_code: str | None, case_no: str | None) -> str:
    if ticket_type == TicketType.COMPLAINT and case_no:
        return CASE_COMPLAINT_SERVICE
    if ticket_type == TicketType.CONSULTATION and item_code:
        return ITEM_CONSULTATION_PREFIX + item_code
    return str(ticket_type)


def response_days(ticket_type: str) -> int:
    return int(setting(DAYS_SETTING[TicketType(ticket_type)]))


def start_clock(ticket: Ticket, on: date) -> None:
    """The department's deadline: the type's working days after ``on`` (the day of routing)."""
    due = deadline_from(on, response_days(ticket.ticket_type))
    ticket.assigned_at, ticket.assigned_on = utcnow(), on
    ticket.due_on, ticket.due_provisional = due.due_on, due.provisional
    ticket.colour = Colour.GREEN  # a new deadline starts green; colour_changes keeps counting (warnings stay unique)


def claim(ticket: Ticket, from_status: str) -> None:
    """Take the ticket for one step: a conditional UPDATE on its status (the loser of a race gets 409)."""
    claimed = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == from_status)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        raise Problem(409, "ticket_changed", "工单状态刚刚发生了变化，请刷新后重试")


def check_action(ticket: Ticket, action_name: str) -> Action:
    action = ACTIONS[action_name]
    if ticket.status not in action.from_statuses:
        raise Problem(
            409,
            "transition_not_allowed",
            "工单当前状态不允许此操作",
            ticket_status=ticket.status,
            allowed_actions=allowed_actions(ticket),
        )
    return action


def allowed_actions(ticket: Ticket, who: tuple[str, ...] = (OPERATOR, CALLER, DEPARTMENT)) -> list[str]:
    return [name for name, action in ACTIONS.items() if ticket.status in action.from_statuses and action.who in who]


def add_event(
    ticket: Ticket, actor: str, action: str, from_status: str | None, to_status: str, *, note: str | None = None, data: dict | None = None
) -> TicketEvent:
    if ticket.id is None:
        db.session.flush()
    event = TicketEvent(
        ticket_id=ticket.id, actor=actor, action=action, from_status=from_status, to_status=to_status, note=note, data=data, at=utcnow()
    )
    db.session.add(event)
    return event


def find_ticket(ticket_no: str) -> Ticket | None:
    return db.session.scalar(select(Ticket).where(Ticket.ticket_no == ticket_no.strip().upper()))


# ------------------------------------------------------------------ views


def next_step(ticket: Ticket, department_name: str | None) -> str:
    due = f"{ticket.due_on.year}年{ticket.due_on.month}月{ticket.due_on.day}日" if ticket.due_on else "规定期限"
    return NEXT_STEPS[TicketStatus(ticket.status)].format(department=department_name or "责任部门", due_on=due)


def working_days_left(ticket: Ticket, days: DaysLeft) -> int | None:
    if ticket.status == TicketStatus.ASSIGNED and ticket.due_on:
        return days.days_left(ticket.due_on)
    return None


def summaries(tickets: list[Ticket]) -> list[dict]:
    """List rows for staff: status, routing, deadline and colour; the caller's phone masked."""
    on = today()
    days = DaysLeft(on, [t.due_on for t in tickets if t.due_on])
    names = catalog.department_names({t.department_code for t in tickets if t.department_code})
    return [summary(ticket, names, days) for ticket in tickets]


def summary(ticket: Ticket, names: dict[str, str], days: DaysLeft) -> dict:
    department_name = names.get(ticket.department_code) if ticket.department_code else None
    return {
        "ticket_no": ticket.ticket_no,
        "ticket_type": ticket.ticket_type,
        "type_name": TICKET_TYPE_NAMES[TicketType(ticket.ticket_type)],
        "status": ticket.status,
        "status_name": TICKET_STATUS_NAMES[TicketStatus(ticket.status)],
        "next_step": next_step(ticket, department_name),
        "source": ticket.source,
        "department_code": ticket.department_code,
        "department_name": department_name,
        "due_on": ticket.due_on,
        "working_days_left": working_days_left(ticket, days),
        "colour": ticket.colour,
        "escalations": ticket.escalations,
        "case_no": ticket.case_no,
        "item_code": ticket.item_code,
        "caller_phone_masked": mask_phone(ticket.caller_phone),
        "satisfaction": ticket.satisfaction,
        "reopen_count": ticket.reopen_count,
        "created_at": ticket.created_at,
    }


def history(ticket: Ticket, *, staff: bool) -> list[dict]:
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.at, TicketEvent.id)
    ).all()
    rows = []
    for event in events:
        if not staff and event.action in ("note", "warn"):
            continue
        row = {
            "at": event.at,
            "action": event.action,
            "action_name": ACTION_NAMES.get(event.action, event.action),
            "status": event.to_status,
            "status_name": TICKET_STATUS_NAMES[TicketStatus(event.to_status)],
            "note": event.note,
            "actor": event.actor if staff else _public_actor(event.actor),
        }
        if event.data:
            row["data"] = event.data
        rows.append(row)
    return rows


def _public_actor(actor: str) -> str:
    if actor == "citizen":
        return "您"
    if actor.startswith("staff:"):
        return "工作人员"
    return "系统"


def detail(ticket: Ticket, *, staff: bool) -> dict:
    """One ticket with its words, answer and history. Staff see actors and internal notes."""
    on = today()
    names = catalog.department_names({ticket.department_code} if ticket.department_code else set())
    view = summary(ticket, names, DaysLeft(on, [ticket.due_on] if ticket.due_on else []))
    view |= {
        "content": ticket.content,
        "booking_code": ticket.booking_code,
        "delivery_no": ticket.delivery_no,
        "answer": ticket.answer,
        "answered_at": ticket.answered_at,
        "answered_on_time": ticket.answered_on_time,
        "satisfaction_name": SATISFACTION_NAMES.get(ticket.satisfaction) if ticket.satisfaction else None,
        "callback_at": ticket.callback_at,
        "closed_at": ticket.closed_at,
        "history": history(ticket, staff=staff),
    }
    if staff:
        view |= {
            "caller_name_masked": mask_name(ticket.caller_name),
            "created_by": ticket.created_by,
            "sent_back_count": ticket.sent_back_count,
        }
    return view
