"""Queue numbers at the hall (取号 / 叫号): tickets, "next" for a window, recall, served, no-show, a
window's own queue. Each change also goes to the call display's event log (``appointments.display``).

"Next" claims a ticket with a conditional UPDATE (``… SET status='called', window_id=? WHERE id=? AND
status='waiting'``) and checks ``rowcount``: when two clerks press "next" at the same instant, on any
number of processes, only one UPDATE matches a given ticket; the other moves on to the next ticket in
line. On PostgreSQL the candidate is first picked with ``FOR UPDATE SKIP LOCKED`` so the clerks do not
even queue up on the same row. Order: priority (elderly, green channel), appointments on time, walk-ins;
then first come first served.
"""

from __future__ import annotations

import math
from datetime import date, datetime

from sqlalchemy import func, select, update

from appointments.display import record_event
from appointments.halls import check_hall_scope, service_item
from appointments.models import RANK_PRIORITY, RANK_WALK_IN, QueueEventKind, Ticket, TicketCounter, TicketStatus, Window
from appointments.schedule import windows_serving
from auth.models import Account, StaffUser
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.roles import ADMIN
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import CITY_TZ, utcnow
from mobile_api.transactions import transaction
from notifications.service import notify

NOTIFY_WHEN_AHEAD = 3


def _city_day(moment: datetime) -> date:
    return moment.astimezone(CITY_TZ).date()


def issue_ticket(
    hall_id: int,
    item_code: str,
    rank: int,
    now: datetime,
    *,
    booking_id: str | None = None,
    account_id: str | None = None,
    issued_by: str | None = None,
    prefix: str = "B",
) -> Ticket:
    """Hand out the next number of the day (in the caller's transaction)."""
    day = _city_day(now)
    insert_ignoring_conflict(TicketCounter, hall_id=hall_id, day=day, prefix=prefix, value=0)
    # The increment is one UPDATE (row lock on PostgreSQL, write lock on SQLite): numbers never repeat.
    counter = (TicketCounter.hall_id == hall_id) & (TicketCounter.day == day) & (TicketCounter.prefix == prefix)
    db.session.execute(
        update(TicketCounter).where(counter).values(value=TicketCounter.value + 1), execution_options={"synchronize_session": False}
    )
    number = db.session.scalar(select(TicketCounter.value).where(counter))
    ticket = Ticket(
        hall_id=hall_id,
        day=day,
        ticket_no=f"{prefix}{number:03d}",
        item_code=item_code,
        rank=rank,
        booking_id=booking_id,
        account_id=account_id,
        status=TicketStatus.WAITING,
        issued_at=now,
        issued_by=issued_by,
    )
    db.session.add(ticket)
    db.session.flush()
    record_event(hall_id, QueueEventKind.ISSUED, ticket.ticket_no)
    return ticket


def _ahead_of(ticket: Ticket) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.hall_id == ticket.hall_id,
                Ticket.day == ticket.day,
                Ticket.item_code == ticket.item_code,
                Ticket.status == TicketStatus.WAITING,
                (Ticket.rank < ticket.rank) | ((Ticket.rank == ticket.rank) & (Ticket.id < ticket.id)),
            )
        )
        or 0
    )


def ticket_status(ticket: Ticket) -> dict:
    window = db.session.get(Window, ticket.window_id) if ticket.window_id else None
    ahead = _ahead_of(ticket) if ticket.status == TicketStatus.WAITING else 0
    windows = max(1, len(windows_serving(ticket.hall_id, ticket.item_code)))
    minutes = setting("APPOINTMENTS_AVERAGE_SERVICE_MINUTES")
    return {
        "id": ticket.id,
        "ticket_no": ticket.ticket_no,
        "status": ticket.status,
        "item_code": ticket.item_code,
        "people_ahead": ahead,
        "position": ahead + 1 if ticket.status == TicketStatus.WAITING else 0,
        "estimated_wait_minutes": math.ceil(ahead * minutes / windows) if ticket.status == TicketStatus.WAITING else 0,
        "window": window.name if window else None,
    }


def issue_walk_in(staff: StaffUser, hall_id: int, item_code: str, priority: str | None, now: datetime | None = None) -> dict:
    now = now or utcnow()
    check_hall_scope(staff, hall_id)
    item = service_item(item_code)
    if item is None or not windows_serving(hall_id, item_code):
        raise Problem(422, "item_not_served_here", "该大厅没有办理此事项的窗口", errors={"item_code": ["该大厅不办理此事项"]})
    if ADMIN not in (staff.roles or []) and item.department_code not in (staff.department_codes or []):
        raise Problem(403, "department_out_of_scope", "该事项不属于您所在部门，不能为其取号")
    rank = RANK_PRIORITY if priority else RANK_WALK_IN
    with transaction():
        ticket = issue_ticket(hall_id, item_code, rank, now, issued_by=staff_actor(staff), prefix="B")
    return ticket_status(ticket)


def _window_in_hall(hall_id: int, window_id: int) -> Window:
    window = db.session.get(Window, window_id)
    if window is None or window.hall_id != hall_id or not window.active:
        raise Problem(404, "window_not_found", "窗口不存在", errors={"window_id": ["该大厅没有此窗口"]})
    return window


def _next_candidate(window: Window, day: date, postgres: bool) -> int | None:
    statement = (
        select(Ticket.id)
        .where(
            Ticket.hall_id == window.hall_id,
            Ticket.day == day,
            Ticket.status == TicketStatus.WAITING,
            Ticket.item_code.in_(window.item_codes or []),
        )
        .order_by(Ticket.rank, Ticket.id)
        .limit(1)
    )
    if postgres:
        statement = statement.with_for_update(skip_locked=True)
    return db.session.scalar(statement)


def call_next(staff: StaffUser, hall_id: int, window_id: int, now: datetime | None = None) -> dict:
    """Call the next ticket this window serves. The window's previous ticket, if still called, counts as served."""
    now = now or utcnow()
    check_hall_scope(staff, hall_id)
    window = _window_in_hall(hall_id, window_id)
    day = _city_day(now)
    postgres = db.session.get_bind().dialect.name == "postgresql"
    actor = staff_actor(staff)
    with transaction():
        db.session.execute(
            update(Ticket)
            .where(Ticket.window_id == window.id, Ticket.status == TicketStatus.CALLED)
            .values(status=TicketStatus.SERVED, finished_at=now),
            execution_options={"synchronize_session": False},
        )
        # An empty queue raises and rolls back the line above: the window keeps its ticket on the display.
        ticket = _claim_next(window, day, postgres, now)
        record_event(hall_id, QueueEventKind.CALLED, ticket.ticket_no, window.name)
        if ticket.account_id:
            record_audit(actor, "queue.call", "queue_ticket", ticket.id, reason=f"叫号 {ticket.ticket_no} 到 {window.name}")
        _tell_the_one_three_ahead(ticket)
    return {**ticket_status(ticket), "window": window.name}


def _claim_next(window: Window, day: date, postgres: bool, now: datetime) -> Ticket:
    """Claim the first waiting ticket with a conditional UPDATE; a ticket another window claimed first is skipped."""
    while True:
        candidate = _next_candidate(window, day, postgres)
        if candidate is None:
            raise Problem(409, "queue_empty", "当前没有等候的号码")
        claimed = db.session.execute(
            update(Ticket)
            .where(Ticket.id == candidate, Ticket.status == TicketStatus.WAITING)
            .values(status=TicketStatus.CALLED, window_id=window.id, called_at=now),
            execution_options={"synchronize_session": False},
        ).rowcount
        if claimed:
            break
    ticket = db.session.get(Ticket, candidate)
    db.session.refresh(ticket)
    return ticket


def _tell_the_one_three_ahead(called: Ticket) -> None:
    """Whoever now has exactly three people ahead of them gets a heads-up (once)."""
    line = db.session.scalars(
        select(Ticket)
        .where(
            Ticket.hall_id == called.hall_id,
            Ticket.day == called.day,
            Ticket.item_code == called.item_code,
            Ticket.status == TicketStatus.WAITING,
        )
        .order_by(Ticket.rank, Ticket.id)
        .limit(NOTIFY_WHEN_AHEAD + 1)
    ).all()
    if len(line) <= NOTIFY_WHEN_AHEAD or not line[NOTIFY_WHEN_AHEAD].account_id:
        return
    ticket = line[NOTIFY_WHEN_AHEAD]
    account = db.session.get(Account, ticket.account_id)
    notify(account, "appointments.three_ahead", {"ticket_no": ticket.ticket_no}, dedupe_key=f"appointments:ticket:{ticket.id}:three_ahead")


def _called_ticket(staff: StaffUser, hall_id: int, ticket_id: int) -> Ticket:
    check_hall_scope(staff, hall_id)
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.hall_id != hall_id:
        raise Problem(404, "ticket_not_found", "号码不存在")
    if ticket.status != TicketStatus.CALLED:
        raise Problem(409, "ticket_not_called", "该号码当前不在叫号状态", current_status=ticket.status)
    return ticket


def recall(staff: StaffUser, hall_id: int, ticket_id: int, now: datetime | None = None) -> dict:
    now = now or utcnow()
    ticket = _called_ticket(staff, hall_id, ticket_id)
    window = db.session.get(Window, ticket.window_id) if ticket.window_id else None
    with transaction():
        ticket.recalls += 1
        ticket.called_at = now
        record_event(hall_id, QueueEventKind.RECALLED, ticket.ticket_no, window.name if window else None)
        if ticket.account_id:
            record_audit(staff_actor(staff), "queue.recall", "queue_ticket", ticket.id)
    return ticket_status(ticket)


def finish(staff: StaffUser, hall_id: int, ticket_id: int, outcome: str, now: datetime | None = None) -> dict:
    """Served or no-show, once: a conditional UPDATE so a double press changes nothing twice."""
    now = now or utcnow()
    ticket = _called_ticket(staff, hall_id, ticket_id)
    status = TicketStatus.SERVED if outcome == "served" else TicketStatus.MISSED
    with transaction():
        changed = db.session.execute(
            update(Ticket).where(Ticket.id == ticket.id, Ticket.status == TicketStatus.CALLED).values(status=status, finished_at=now),
            execution_options={"synchronize_session": False},
        ).rowcount
        if not changed:
            raise Problem(409, "ticket_not_called", "该号码当前不在叫号状态")
        record_event(hall_id, QueueEventKind.FINISHED, ticket.ticket_no)
        if ticket.account_id:
            record_audit(staff_actor(staff), f"queue.{status}", "queue_ticket", ticket.id)
    db.session.refresh(ticket)
    return ticket_status(ticket)


def window_queue(staff: StaffUser, hall_id: int, window_id: int, now: datetime | None = None, limit: int = 30) -> dict:
    """A clerk's window page: the number at the window now, and who waits for the items it serves."""
    now = now or utcnow()
    check_hall_scope(staff, hall_id)
    window = _window_in_hall(hall_id, window_id)
    day = _city_day(now)
    current = db.session.scalar(
        select(Ticket)
        .where(Ticket.window_id == window.id, Ticket.day == day, Ticket.status == TicketStatus.CALLED)
        .order_by(Ticket.called_at.desc())
    )
    serves = Ticket.item_code.in_(window.item_codes or [])
    waiting = (Ticket.hall_id == hall_id) & (Ticket.day == day) & (Ticket.status == TicketStatus.WAITING) & serves
    line = db.session.scalars(select(Ticket).where(waiting).order_by(Ticket.rank, Ticket.id).limit(limit)).all()
    return {
        "window": {"id": window.id, "name": window.name, "item_codes": window.item_codes},
        "current": ticket_status(current) if current is not None else None,
        "waiting": [
            {"id": ticket.id, "ticket_no": ticket.ticket_no, "item_code": ticket.item_code, "priority": ticket.rank == RANK_PRIORITY}
            for ticket in line
        ],
        "waiting_total": db.session.scalar(select(func.count()).select_from(Ticket).where(waiting)) or 0,
    }
