"""Watching the watchers: the audit trail for supervisors, and operators whose look-ups far exceed their calls.

"Calls" an operator handled on a city day are counted from what a real call leaves behind:
tickets the operator recorded that day plus look-ups the operator verified that day (a verified
caller was on the line). When an operator's look-ups that day reach ``HOTLINE_FLAG_MIN_LOOKUPS``
and exceed ``HOTLINE_FLAG_RATIO`` × calls, the operator is flagged once for that day (a row for
supervisors plus an audit row); until a supervisor reviews the flag, the operator's per-operator
look-up limit is the stricter ``HOTLINE_LOOKUP_LIMIT_FLAGGED``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update

from auth.models import StaffUser
from hotline.models import Lookup, OperatorFlag, Ticket
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.models import AuditEvent
from mobile_api.pagination import Page, paginate
from mobile_api.settings import setting
from mobile_api.sql import insert_ignoring_conflict
from mobile_api.timeutil import CITY_TZ, city_today, utcnow
from mobile_api.transactions import transaction

_ONE_DAY = timedelta(days=1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=CITY_TZ)


def activity(staff: StaffUser, day: date) -> tuple[int, int]:
    """(look-ups, calls) of one operator on one city day."""
    lookups = db.session.scalar(select(func.count()).where(Lookup.operator_id == staff.id, Lookup.day == day)) or 0
    verified = (
        db.session.scalar(select(func.count()).where(Lookup.operator_id == staff.id, Lookup.day == day, Lookup.verified_at.is_not(None)))
        or 0
    )
    start = _day_start(day)
    recorded = (
        db.session.scalar(
            select(func.count()).where(
                Ticket.created_by == staff_actor(staff), Ticket.created_at >= start, Ticket.created_at < start + _ONE_DAY
            )
        )
        or 0
    )
    return lookups, verified + recorded


def check_operator_activity(staff: StaffUser) -> bool:
    """Flag the operator for today when look-ups far exceed calls (inside the look-up's transaction)."""
    day = city_today()
    lookups, calls = activity(staff, day)
    if lookups < int(setting("HOTLINE_FLAG_MIN_LOOKUPS")) or lookups <= float(setting("HOTLINE_FLAG_RATIO")) * calls:
        return False
    if insert_ignoring_conflict(OperatorFlag, operator_id=staff.id, day=day, lookups=lookups, calls=calls, created_at=utcnow()):
        record_audit(
            "system",
            "hotline.operator.flagged",
            "staff",
            staff.username,
            details={"day": day.isoformat(), "lookups": lookups, "calls": calls},
        )
    else:
        db.session.execute(
            update(OperatorFlag).where(OperatorFlag.operator_id == staff.id, OperatorFlag.day == day).values(lookups=lookups, calls=calls)
        )
    return True


def has_open_flag(staff_id: int) -> bool:
    return (
        db.session.scalar(select(OperatorFlag.id).where(OperatorFlag.operator_id == staff_id, OperatorFlag.reviewed_at.is_(None)).limit(1))
        is not None
    )


def list_flags(open_only: bool, page: int, per_page: int) -> dict:
    statement = select(OperatorFlag, StaffUser.username).join(StaffUser, StaffUser.id == OperatorFlag.operator_id)
    if open_only:
        statement = statement.where(OperatorFlag.reviewed_at.is_(None))
    statement = statement.order_by(OperatorFlag.day.desc(), OperatorFlag.id.desc())
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    rows = db.session.execute(statement.limit(per_page).offset((page - 1) * per_page)).all()
    items = [_flag_view(flag, username) for flag, username in rows]
    return {"items": items, "page": page, "per_page": per_page, "total": total}


def _flag_view(flag: OperatorFlag, username: str) -> dict[str, Any]:
    return {
        "id": flag.id,
        "operator": username,
        "day": flag.day,
        "lookups": flag.lookups,
        "calls": flag.calls,
        "created_at": flag.created_at,
        "reviewed_at": flag.reviewed_at,
        "reviewed_by": flag.reviewed_by,
        "review_note": flag.review_note,
    }


def review_flag(staff: StaffUser, flag_id: int, note: str) -> dict:
    with transaction():
        reviewed = db.session.execute(
            update(OperatorFlag)
            .where(OperatorFlag.id == flag_id, OperatorFlag.reviewed_at.is_(None))
            .values(reviewed_at=utcnow(), reviewed_by=staff_actor(staff), review_note=note)
            .execution_options(synchronize_session=False)
        ).rowcount
        row = db.session.execute(
            select(OperatorFlag, StaffUser.username)
            .join(StaffUser, StaffUser.id == OperatorFlag.operator_id)
            .where(OperatorFlag.id == flag_id)
        ).first()
        if row is None:
            raise Problem(404, "flag_not_found", "未找到该提示")
        if not reviewed:
            raise Problem(409, "flag_reviewed", "该提示已经处理过了")
        record_audit(staff_actor(staff), "hotline.operator.flag_reviewed", "staff", row.username, reason=note, details={"flag_id": flag_id})
        return _flag_view(*row)


def audit_events(staff: StaffUser, filters: dict, page: int, per_page: int) -> Page:
    """The platform's audit trail, newest first. ``kind`` matches an action or a dotted prefix of one
    (``hotline.lookup`` → every look-up; ``hotline.lookup.phone`` → by phone only). Reading it is audited."""
    statement = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    if filters.get("actor"):
        statement = statement.where(AuditEvent.actor == filters["actor"])
    if filters.get("kind"):
        kind = filters["kind"]
        statement = statement.where((AuditEvent.action == kind) | AuditEvent.action.startswith(kind + ".", autoescape=True))
    if filters.get("subject_id"):
        statement = statement.where(AuditEvent.subject_id == filters["subject_id"])
    if filters.get("from_"):
        statement = statement.where(AuditEvent.at >= _day_start(filters["from_"]))
    if filters.get("to"):
        statement = statement.where(AuditEvent.at < _day_start(filters["to"]) + _ONE_DAY)
    with transaction():
        result = paginate(statement, page, per_page)
        record_audit(staff_actor(staff), "audit.read", "audit", "*", details={k: str(v) for k, v in filters.items() if v is not None})
        return result
