"""Read-only views of cases for the packages above (the 12345 hotline): who owns a case, a caller's
cases with their next step, a case's citizen-visible timeline, and its rating and rectification.

These functions write nothing and audit nothing: the caller audits the look-up that shows them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from cases import catalog
from cases.clock import today
from cases.deadlines import days_left_on
from cases.models import Case, CaseEvent, Rating, Rectification, ServiceItem
from cases.presentation import STATUS_NAMES
from cases.service import RATING_LEVELS
from cases.timeline import cn_date
from mobile_api.extensions import db

# What the citizen does or waits for next, by status (stored status values).
NEXT_STEPS = {
    "draft": "申请尚未提交，请在App中填写完整后提交",
    "prereview_pending": "等待预审，预审人员将在{prereview_due_on}前完成",
    "prereview_returned": "请按一次性告知补正材料后重新提交",
    "resubmitted": "已重新提交，等待预审",
    "prereview_passed": "预审已通过，等待受理（需到大厅的请按预约前往）",
    "accepted": "已受理，承诺{due_on}前办结",
    "in_progress": "正在“{current_step}”环节办理，承诺{due_on}前办结",
    "suspended": "补正中，办理时限暂停，请按部门要求补正",
    "approved": "已准予许可，等待制发证照",
    "rejected": "未予许可，可查看理由；如有异议可依法申请复议",
    "certificate_issued": "证照已制发，可到大厅领取或等待寄递",
    "delivered": "证照已交快递寄出",
    "collected": "证照已领取",
    "closed": "已归档，欢迎对本次服务评价",
}


def _next_step(case: Case) -> str:
    return NEXT_STEPS.get(case.status, "").format(
        prereview_due_on=cn_date(case.prereview_due_on) if case.prereview_due_on else "规定时间",
        due_on=cn_date(case.due_on) if case.due_on else "承诺期限",
        current_step=case.current_step or "审核",
    )


def case_brief(case: Case, department_names: dict[str, str] | None = None) -> dict:
    """Status and next step of one case, and the dates a caller asks about."""
    names = department_names if department_names is not None else catalog.department_names({case.department_code})
    on = today()
    return {
        "case_no": case.case_no,
        "account_id": case.account_id,
        "item_code": case.item.code,
        "item_name": case.item.name,
        "department_code": case.department_code,
        "department_name": names.get(case.department_code),
        "status": case.status,
        "status_name": STATUS_NAMES.get(case.status, case.status),
        "next_step": _next_step(case),
        "current_step": case.current_step,
        "due_on": case.due_on,
        "working_days_left": days_left_on(on, case.due_on) if case.due_on and case.status in ("accepted", "in_progress") else None,
        "finished_on": case.finished_on,
    }


def find_case(case_no: str) -> dict | None:
    """One case by its exact number (any owner), or None."""
    case = db.session.scalar(select(Case).options(joinedload(Case.item)).where(Case.case_no == case_no.strip().upper()))
    return case_brief(case) if case is not None else None


def cases_for_account(account_id: str, limit: int = 20) -> list[dict]:
    """The account's most recent cases (newest first), drafts included."""
    cases = db.session.scalars(
        select(Case)
        .options(joinedload(Case.item))
        .where(Case.account_id == account_id)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    ).all()
    names = catalog.department_names({case.department_code for case in cases})
    return [case_brief(case, names) for case in cases]


def case_timeline(case_no: str) -> list[dict]:
    """What the citizen sees of a case's history: the visible events, oldest first."""
    rows = db.session.scalars(
        select(CaseEvent)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.case_no == case_no.strip().upper(), CaseEvent.visible.is_(True))
        .order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    return [
        {
            "at": event.at,
            "action": event.action,
            "status": event.to_status,
            "status_name": STATUS_NAMES.get(event.to_status, event.to_status),
            "note": event.note,
        }
        for event in rows
    ]


def rating_story(case_no: str) -> dict | None:
    """The case's 好差评 rating and, for a 差评, its rectification (deadline, colour, outcome); None if unrated."""
    row = db.session.execute(
        select(Rating, Rectification)
        .join(Case, Case.id == Rating.case_id)
        .outerjoin(Rectification, Rectification.rating_id == Rating.id)
        .where(Case.case_no == case_no.strip().upper())
    ).first()
    if row is None:
        return None
    rating, rectification = row
    story: dict = {
        "level": rating.level,
        "level_name": RATING_LEVELS.get(rating.level),
        "comment": rating.comment,
        "rated_at": rating.created_at,
        "rectification": None,
    }
    if rectification is not None:
        story["rectification"] = {
            "department_code": rectification.department_code,
            "due_on": rectification.due_on,
            "colour": rectification.colour,
            "done": rectification.done_at is not None,
            "done_at": rectification.done_at,
            "outcome": rectification.outcome,
        }
    return story


def item_names(codes: set[str]) -> dict[str, str]:
    """Current names of service items by code (one query)."""
    if not codes:
        return {}
    rows = db.session.execute(
        select(ServiceItem.code, ServiceItem.name).where(ServiceItem.code.in_(codes), ServiceItem.is_current.is_(True))
    )
    return dict(rows.all())


def current_items() -> list[dict]:
    """Every current service item, briefly (code, name, department, keywords), ordered by code."""
    rows = db.session.scalars(select(ServiceItem).where(ServiceItem.is_current.is_(True)).order_by(ServiceItem.code)).all()
    return [
        {"code": item.code, "name": item.name, "department_code": item.department_code, "keywords": list(item.keywords or [])}
        for item in rows
    ]


def catalog_changed_at() -> datetime | None:
    """When the catalog last changed (its newest item version)."""
    return db.session.scalar(select(func.max(ServiceItem.created_at)))
