"""Deadline supervision of tickets: colours, yellow warnings and red escalation (督办), like cases'.

green: more than ``HOTLINE_YELLOW_DAYS`` working days left; yellow: that many or fewer (the
department's officers are warned); red: past the deadline — the ticket is escalated (督办) to the
department head and the supervisors, with a history row. A colour change is claimed with a
conditional UPDATE (``WHERE colour = old``) and warnings are unique per colour change and role, so two
scans running at once on two workers escalate a ticket exactly once.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from auth.models import StaffUser
from cases.clock import today
from cases.deadlines import DaysLeft
from hotline.models import Colour, Ticket, TicketEvent, TicketStatus, TicketWarning
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.roles import ADMIN, DEPARTMENT_HEAD, OFFICER, SUPERVISOR
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

BATCH = 500
WARNED_ROLES = {Colour.YELLOW: (OFFICER,), Colour.RED: (OFFICER, DEPARTMENT_HEAD, SUPERVISOR)}


def colour_for(days_left: int, yellow_days: int) -> Colour:
    if days_left < 0:
        return Colour.RED
    return Colour.YELLOW if days_left <= yellow_days else Colour.GREEN


def scan_deadlines(on: date | None = None) -> dict:
    """Recolour every ticket whose department clock runs; warn and escalate on changes."""
    on = on or today()
    yellow_days = int(setting("HOTLINE_YELLOW_DAYS"))
    changed = escalated = warnings = 0
    last_id = 0
    while True:
        with transaction():
            rows = db.session.execute(
                select(Ticket.id, Ticket.ticket_no, Ticket.department_code, Ticket.due_on, Ticket.colour, Ticket.colour_changes)
                .where(Ticket.id > last_id, Ticket.status == TicketStatus.ASSIGNED, Ticket.due_on.is_not(None))
                .order_by(Ticket.id)
                .limit(BATCH)
            ).all()
            if not rows:
                break
            last_id = rows[-1].id
            days = DaysLeft(on, [row.due_on for row in rows])
            for row in rows:
                colour = colour_for(days.days_left(row.due_on), yellow_days)
                if colour == row.colour or not _claim_colour(row.id, row.colour, colour):
                    continue
                changed += 1
                warnings += _warn(row, colour, row.colour_changes + 1)
                if colour == Colour.RED:
                    _escalate(row)
                    escalated += 1
    return {"changed": changed, "escalated": escalated, "warnings": warnings}


def _claim_colour(ticket_id: int, old: str, new: str) -> bool:
    values: dict = {"colour": new, "colour_changes": Ticket.colour_changes + 1}
    if new == Colour.RED:
        values |= {"escalations": Ticket.escalations + 1, "escalated_at": utcnow()}
    return bool(
        db.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.colour == old, Ticket.status == TicketStatus.ASSIGNED)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    )


def _warn(row, colour: Colour, change: int) -> int:
    raised = 0
    for role in WARNED_ROLES.get(colour, ()):
        raised += insert_ignoring_conflict(
            TicketWarning,
            ticket_id=row.id,
            ticket_no=row.ticket_no,
            department_code=row.department_code,
            colour=colour,
            colour_change=change,
            role=role,
            due_on=row.due_on,
            created_at=utcnow(),
        )
    return raised


def _escalate(row) -> None:
    db.session.add(
        TicketEvent(
            ticket_id=row.id,
            actor="system",
            action="escalate",
            from_status=TicketStatus.ASSIGNED,
            to_status=TicketStatus.ASSIGNED,
            note=f"已超过答复期限（{row.due_on.isoformat()}），督办至部门负责人和监察人员",
            data={"due_on": row.due_on.isoformat(), "department_code": row.department_code},
            at=utcnow(),
        )
    )


def list_warnings(staff: StaffUser, page: int, per_page: int, colour: str | None = None) -> Page:
    """Warnings for the reader's roles and departments: officers see yellow and red, heads and
    supervisors the escalations; admins everything."""
    statement = select(TicketWarning).order_by(TicketWarning.created_at.desc(), TicketWarning.id.desc())
    if ADMIN not in staff.roles:
        roles = {role for role in (OFFICER, DEPARTMENT_HEAD, SUPERVISOR) if role in staff.roles}
        statement = statement.where(TicketWarning.department_code.in_(list(staff.department_codes or [])), TicketWarning.role.in_(roles))
    if colour:
        statement = statement.where(TicketWarning.colour == colour)
    return paginate(statement, page, per_page)
