"""Ticket verbs: write a ticket (operators, citizens and Open311 all come through ``write_ticket``),
route it, call back and reopen, and what operators read.

Every function owns its transaction (``mobile_api.transactions``) and audits every staff read or
change of a ticket. The department side (lists, answer, send back) is ``hotline/departments.py``, the
citizen side ``hotline/citizens.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from auth.models import Account, StaffUser
from cases import catalog
from cases.clock import today
from cases.events import case_status_changed
from cases.presentation import STATUS_NAMES
from hotline import records, tickets
from hotline.masking import mask_text
from hotline.models import (
    OPEN_STATUSES,
    Lookup,
    Satisfaction,
    Ticket,
    TicketSource,
    TicketStatus,
)
from hotline.tickets import NEEDS_DEPARTMENT, add_event, check_action, claim, find_ticket, start_clock
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import paginate
from mobile_api.pii import blind_index
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction


@dataclass
class TicketDraft:
    """A ticket about to be written; filled by the operator, citizen or Open311 entry points."""

    ticket_type: str
    content: str
    source: str
    created_by: str
    caller_phone: str | None = None
    caller_name: str | None = None
    caller_email: str | None = None
    account: Account | None = None
    case_no: str | None = None
    booking_code: str | None = None
    delivery_no: str | None = None
    item_code: str | None = None
    public_text: bool = False
    service_code: str | None = None
    location: dict[str, Any] = field(default_factory=dict)  # lat, long, address, address_id, media_url
    api_key_id: int | None = None
    lookup_id: str | None = None


def write_ticket(draft: TicketDraft) -> Ticket:
    """Insert the ticket and its first history row (inside the caller's transaction)."""
    on = today()
    for _ in range(5):
        ticket = Ticket(
            ticket_no=tickets.new_ticket_no(on),
            ticket_type=draft.ticket_type,
            status=TicketStatus.CREATED,
            source=draft.source,
            service_code=draft.service_code or tickets.service_code_for(draft.ticket_type, draft.item_code, draft.case_no),
            account_id=draft.account.id if draft.account else None,
            caller_phone=draft.caller_phone,
            caller_phone_index=blind_index(draft.caller_phone, "phone") if draft.caller_phone else None,
            caller_name=draft.caller_name,
            caller_email=draft.caller_email,
            content=draft.content,
            public_text=draft.public_text,
            public_description=mask_text(draft.content) if draft.public_text else None,
            item_code=draft.item_code,
            case_no=draft.case_no,
            booking_code=draft.booking_code,
            delivery_no=draft.delivery_no,
            created_by=draft.created_by,
            api_key_id=draft.api_key_id,
            lookup_id=draft.lookup_id,
            **draft.location,
        )
        try:
            with db.session.begin_nested():
                db.session.add(ticket)
        except IntegrityError:  # the five random characters collided with another ticket this month
            continue
        add_event(ticket, draft.created_by, "create", None, TicketStatus.CREATED, data={"source": draft.source})
        return ticket
    raise Problem(503, "ticket_no_exhausted", "系统繁忙，请稍后再试")


# ------------------------------------------------------------------ operators


def _operator_lookup(staff: StaffUser, lookup_id: str | None) -> Lookup | None:
    if not lookup_id:
        return None
    lookup = db.session.get(Lookup, lookup_id)
    if lookup is None or lookup.operator_id != staff.id:
        raise Problem(422, "lookup_unknown", "查询记录不存在", errors={"lookup_id": ["不是您的查询记录"]})
    return lookup


def _related_case(case_no: str | None, owner_id: str | None) -> dict | None:
    if not case_no:
        return None
    case = records.find_case(case_no)
    if case is None:
        raise Problem(422, "case_not_found", "未找到该办件", errors={"case_no": ["办件号不存在"]})
    if owner_id is not None and case["account_id"] != owner_id:
        raise Problem(422, "case_not_callers", "该办件不属于本次查询的来电人", errors={"case_no": ["不属于来电人"]})
    return case


def related_booking(code: str | None, owner_id: str | None) -> None:
    if not code:
        return
    booking = records.booking_by_code(code)
    if booking is None or (owner_id is not None and booking["account_id"] != owner_id):
        raise Problem(422, "booking_not_found", "未找到来电人的该预约", errors={"booking_code": ["预约码不存在"]})


def check_item(item_code: str | None) -> None:
    if item_code:
        catalog.current_item(item_code)


def check_department(code: str) -> str:
    if code not in catalog.department_names({code}):
        raise Problem(422, "department_unknown", "部门代码不存在", errors={"department_code": [code]})
    return code


def operator_create_ticket(staff: StaffUser, args: dict) -> dict:
    """An operator records a call as a ticket; with ``department_code`` it is routed at once."""
    actor = staff_actor(staff)
    with transaction():
        lookup = _operator_lookup(staff, args.get("lookup_id"))
        owner_id = lookup.account_id if lookup is not None and lookup.verified_at else None
        case = _related_case(args.get("case_no"), owner_id)
        related_booking(args.get("booking_code"), owner_id)
        check_item(args.get("item_code"))
        account = records.account_by_id(owner_id) if owner_id else records.account_by_phone(args["caller_phone"])
        draft = TicketDraft(
            ticket_type=args["ticket_type"],
            content=args["content"],
            source=TicketSource.HOTLINE,
            created_by=actor,
            caller_phone=args["caller_phone"],
            caller_name=args.get("caller_name"),
            account=account,
            case_no=case["case_no"] if case else None,
            booking_code=(args.get("booking_code") or "").upper() or None,
            delivery_no=args.get("delivery_no"),
            item_code=args.get("item_code") or (case["item_code"] if case else None),
            public_text=args.get("publish", False),
            lookup_id=lookup.id if lookup else None,
        )
        ticket = write_ticket(draft)
        if lookup is not None:
            lookup.ticket_no = ticket.ticket_no
        if args.get("department_code"):
            assign_ticket(ticket, actor, check_department(args["department_code"]), args.get("note"))
        record_audit(
            actor, "hotline.ticket.create", "ticket", ticket.ticket_no, details={"lookup_id": draft.lookup_id, "case_no": draft.case_no}
        )
        return staff_ticket_view(ticket)


def assign_ticket(ticket: Ticket, actor: str, department_code: str, note: str | None) -> None:
    from_status = ticket.status
    claim(ticket, from_status)
    ticket.status, ticket.department_code = TicketStatus.ASSIGNED, department_code
    start_clock(ticket, today())
    add_event(
        ticket,
        actor,
        "assign",
        from_status,
        ticket.status,
        note=note,
        data={"department_code": department_code, "due_on": ticket.due_on.isoformat(), "due_provisional": ticket.due_provisional},
    )


def operator_tickets(staff: StaffUser, filters: dict, page: int, per_page: int) -> dict:
    """Every ticket of the city (operators answer for all of it), filtered; the list read is audited."""
    statement = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc())
    if filters.get("status"):
        statement = statement.where(Ticket.status == filters["status"])
    if filters.get("ticket_type"):
        statement = statement.where(Ticket.ticket_type == filters["ticket_type"])
    if filters.get("department"):
        statement = statement.where(Ticket.department_code == filters["department"])
    if filters.get("overdue") is not None:
        late = (Ticket.status == TicketStatus.ASSIGNED) & (Ticket.due_on < today())
        statement = statement.where(late if filters["overdue"] else ~late)
    with transaction():
        result = paginate(statement, page, per_page)
        record_audit(
            staff_actor(staff), "hotline.ticket.list", "ticket", "*", details={**filters, "page": page, "count": len(result.items)}
        )
        return result.as_dict() | {"items": tickets.summaries(result.items)}


def staff_ticket_view(ticket: Ticket) -> dict:
    view = tickets.detail(ticket, staff=True) | {"case": case_story(ticket.case_no)}
    return view | {"allowed_actions": tickets.allowed_actions(ticket)}


def case_story(case_no: str | None) -> dict | None:
    """The linked case as the hotline sees it: status, next step, and its 好差评 and rectification."""
    if not case_no:
        return None
    case = records.find_case(case_no)
    if case is None:
        return None
    return {key: value for key, value in case.items() if key != "account_id"} | {"rating": records.rating_story(case_no)}


def operator_ticket(staff: StaffUser, ticket_no: str, reason: str | None) -> dict:
    with transaction():
        ticket = _ticket_or_404(ticket_no)
        record_audit(staff_actor(staff), "hotline.ticket.read", "ticket", ticket.ticket_no, reason=reason)
        return staff_ticket_view(ticket)


def caller_phone_for_callback(staff: StaffUser, ticket_no: str, reason: str) -> dict:
    """The caller's whole number, for the return call (回访); every reveal is audited with its reason."""
    with transaction():
        ticket = _ticket_or_404(ticket_no)
        if not ticket.caller_phone:
            raise Problem(404, "no_caller_phone", "该工单没有来电号码")
        record_audit(staff_actor(staff), "hotline.ticket.caller_phone", "ticket", ticket.ticket_no, reason=reason)
        return {"ticket_no": ticket.ticket_no, "caller_phone": ticket.caller_phone}


def _ticket_or_404(ticket_no: str) -> Ticket:
    ticket = find_ticket(ticket_no)
    if ticket is None:
        raise Problem(404, "ticket_not_found", "未找到该工单", ticket_no=ticket_no)
    return ticket


def operator_transition(staff: StaffUser, ticket_no: str, action_name: str, args: dict) -> dict:
    """assign | resolve | close | note | callback, by an operator (the callback records the caller's view)."""
    actor = staff_actor(staff)
    with transaction():
        ticket = _ticket_or_404(ticket_no)
        check_action(ticket, action_name)
        _OPERATOR_HANDLERS[action_name](ticket, actor, args)
        record_audit(actor, f"hotline.ticket.{action_name}", "ticket", ticket.ticket_no, reason=args.get("note"))
        return staff_ticket_view(ticket)


def _do_assign(ticket: Ticket, actor: str, args: dict) -> None:
    if not args.get("department_code"):
        raise Problem(422, "department_required", "请选择转办部门", errors={"department_code": ["必填"]})
    assign_ticket(ticket, actor, check_department(args["department_code"]), args.get("note"))


def _do_resolve(ticket: Ticket, actor: str, args: dict) -> None:
    if ticket.ticket_type in NEEDS_DEPARTMENT:
        raise Problem(409, "department_answer_required", "投诉、举报须由责任部门答复，不能当场办结", allowed_actions=["assign"])
    answer = (args.get("answer") or "").strip()
    if not answer:
        raise Problem(422, "answer_required", "请填写答复内容", errors={"answer": ["必填"]})
    claim(ticket, ticket.status)
    now = utcnow()
    ticket.answer, ticket.answered_at, ticket.answered_by, ticket.answered_on_time = answer, now, actor, True
    ticket.status, ticket.closed_at = TicketStatus.CLOSED, now
    add_event(ticket, actor, "resolve", TicketStatus.CREATED, TicketStatus.CLOSED, note=args.get("note"))


def _do_close(ticket: Ticket, actor: str, args: dict) -> None:
    note = (args.get("note") or "").strip()
    if not note:
        raise Problem(422, "note_required", "请写明不需转办的理由（如重复工单）", errors={"note": ["必填"]})
    if ticket.ticket_type in NEEDS_DEPARTMENT and not args.get("duplicate_of"):
        raise Problem(
            409, "department_answer_required", "投诉、举报须转办部门答复；重复工单请填写 duplicate_of", allowed_actions=["assign"]
        )
    if args.get("duplicate_of"):
        _ticket_or_404(args["duplicate_of"])
    from_status = ticket.status
    claim(ticket, from_status)
    ticket.status, ticket.closed_at = TicketStatus.CLOSED, utcnow()
    add_event(ticket, actor, "close", from_status, TicketStatus.CLOSED, note=note, data={"duplicate_of": args.get("duplicate_of")})


def _do_note(ticket: Ticket, actor: str, args: dict) -> None:
    if not (args.get("note") or "").strip():
        raise Problem(422, "note_required", "请填写备注", errors={"note": ["必填"]})
    add_event(ticket, actor, "note", ticket.status, ticket.status, note=args["note"].strip())


def _do_callback(ticket: Ticket, actor: str, args: dict) -> None:
    if not args.get("satisfaction"):
        raise Problem(422, "satisfaction_required", "请记录来电人的满意度", errors={"satisfaction": ["必填"]})
    record_callback(ticket, actor, args["satisfaction"], args.get("comment"), bool(args.get("reopen")))


_OPERATOR_HANDLERS = {"assign": _do_assign, "resolve": _do_resolve, "close": _do_close, "note": _do_note, "callback": _do_callback}


def record_callback(ticket: Ticket, actor: str, satisfaction: str, comment: str | None, reopen: bool) -> None:
    """回访: satisfied → closed; unsatisfied and asking → reopened once (same department, new deadline)."""
    if reopen and satisfaction != Satisfaction.UNSATISFIED:
        raise Problem(422, "reopen_needs_unsatisfied", "只有不满意时才能要求重新办理", errors={"reopen": ["满意时不能重新办理"]})
    if reopen and ticket.reopen_count >= 1:
        raise Problem(409, "reopen_used", "该工单已重新办理过一次，不能再次重新办理；请记录回访结果办结")
    claim(ticket, TicketStatus.ANSWERED)
    now = utcnow()
    ticket.satisfaction, ticket.callback_at = satisfaction, now
    data = {"satisfaction": satisfaction, "comment": comment}
    if reopen:
        data["previous_answer"] = ticket.answer
        ticket.reopen_count += 1
        ticket.status = TicketStatus.ASSIGNED
        ticket.answer = ticket.answered_at = ticket.answered_by = ticket.answered_on_time = None
        start_clock(ticket, today())
        data |= {"due_on": ticket.due_on.isoformat(), "department_code": ticket.department_code}
        add_event(ticket, actor, "reopen", TicketStatus.ANSWERED, TicketStatus.ASSIGNED, note=comment, data=data)
        return
    ticket.status, ticket.closed_at = TicketStatus.CLOSED, now
    add_event(ticket, actor, "callback", TicketStatus.ANSWERED, TicketStatus.CLOSED, note=comment, data=data)


# ------------------------------------------------------------------ cases → hotline


def _on_case_status_changed(case, *, event, from_status: str, to_status: str) -> None:
    """A linked case moved: open tickets about it get a history row, so the hotline sees the whole story."""
    open_tickets = db.session.scalars(select(Ticket).where(Ticket.case_no == case.case_no, Ticket.status.in_(OPEN_STATUSES))).all()
    for ticket in open_tickets:
        add_event(
            ticket,
            "system",
            "case_update",
            ticket.status,
            ticket.status,
            note=f"办件{case.case_no}：{STATUS_NAMES.get(to_status, to_status)}",
            data={"case_no": case.case_no, "from_status": from_status, "to_status": to_status},
        )


def subscribe_to_cases() -> None:
    case_status_changed.connect(_on_case_status_changed, weak=False)
