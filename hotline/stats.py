"""Figures for supervisors, by ISO week of the ticket's creation (city time): tickets, complaints,
answered and answered within the deadline, return calls and satisfaction; over the whole period the
service items and the departments with the most complaints.

Weeks are cohorts: a ticket created in week 47 and answered in week 48 counts for week 47, so a week's
figures settle as its tickets are answered. Counted in Python from one query over the period (at most
``MAX_DAYS``), which reads the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from auth.models import StaffUser
from cases import catalog
from hotline.models import Satisfaction, Ticket, TicketType
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.roles import ADMIN
from mobile_api.timeutil import CITY_TZ
from mobile_api.transactions import transaction

MAX_DAYS = 366
TOP = 10
CONTENT_SATISFIED = (Satisfaction.SATISFIED, Satisfaction.BASICALLY_SATISFIED)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _empty() -> dict:
    return {
        "created": 0,
        "complaints": 0,
        "answered": 0,
        "answered_on_time": 0,
        "callbacks": 0,
        "satisfied": 0,
        "unsatisfied": 0,
        "reopened": 0,
    }


def _count(bucket: dict, row) -> None:
    bucket["created"] += 1
    bucket["complaints"] += row.ticket_type == TicketType.COMPLAINT
    if row.answered_on_time is not None:
        bucket["answered"] += 1
        bucket["answered_on_time"] += bool(row.answered_on_time)
    if row.satisfaction:
        bucket["callbacks"] += 1
        bucket["satisfied"] += row.satisfaction in CONTENT_SATISFIED
        bucket["unsatisfied"] += row.satisfaction == Satisfaction.UNSATISFIED
    bucket["reopened"] += row.reopen_count > 0


def _finish(bucket: dict) -> dict:
    return bucket | {
        "on_time_rate": _ratio(bucket["answered_on_time"], bucket["answered"]),
        "satisfaction_rate": _ratio(bucket["satisfied"], bucket["callbacks"]),
    }


def ticket_stats(staff: StaffUser, start: date, end: date, department: str | None) -> dict:
    if end < start or (end - start).days > MAX_DAYS:
        raise Problem(422, "period_invalid", f"统计区间须为{MAX_DAYS}天以内，且开始不晚于结束", errors={"from": ["区间不正确"]})
    codes = None if ADMIN in staff.roles else list(staff.department_codes or [])
    if department:
        codes = [department] if codes is None or department in codes else []
    statement = select(
        Ticket.created_at,
        Ticket.ticket_type,
        Ticket.department_code,
        Ticket.item_code,
        Ticket.answered_on_time,
        Ticket.satisfaction,
        Ticket.reopen_count,
    ).where(
        Ticket.created_at >= datetime.combine(start, time.min, tzinfo=CITY_TZ),
        Ticket.created_at < datetime.combine(end + timedelta(days=1), time.min, tzinfo=CITY_TZ),
    )
    if codes is not None:
        statement = statement.where(Ticket.department_code.in_(codes))
    weeks: dict[str, dict] = defaultdict(_empty)
    total = _empty()
    items, departments = Counter(), Counter()
    with transaction():
        for row in db.session.execute(statement):
            year, week, _ = row.created_at.astimezone(CITY_TZ).isocalendar()
            _count(weeks[f"{year}-W{week:02d}"], row)
            _count(total, row)
            if row.ticket_type == TicketType.COMPLAINT:
                items[row.item_code] += bool(row.item_code)
                departments[row.department_code] += bool(row.department_code)
        names = catalog.department_names({code for code, _ in departments.most_common(TOP) if code})
        record_audit(
            staff_actor(staff),
            "hotline.stats",
            "ticket",
            "*",
            details={"from": start.isoformat(), "to": end.isoformat(), "department": department},
        )
        return {
            "from": start,
            "to": end,
            "department": department,
            "total": _finish(total),
            "weeks": [{"week": week} | _finish(bucket) for week, bucket in sorted(weeks.items())],
            "top_items_by_complaints": [
                {"item_code": code, "item_name": _item_name(code), "complaints": n} for code, n in items.most_common(TOP) if code and n
            ],
            "top_departments_by_complaints": [
                {"department_code": code, "department_name": names.get(code), "complaints": n}
                for code, n in departments.most_common(TOP)
                if code and n
            ],
        }


def _item_name(code: str) -> str | None:
    try:
        return catalog.current_item(code).name
    except Problem:  # an item withdrawn from the catalog still has its complaints counted
        return None
