"""How a case is shown: list summaries, the full detail with its timeline, certificates.

Shared by the citizen's side (``service.py``, the stored view in ``read_model.py``) and the staff side
(``staff.py``; ``internal=True`` adds internal events and notes). Read-only: nothing here writes.
"""

from __future__ import annotations

import math
from datetime import date

from sqlalchemy import func, select

from cases import catalog
from cases.clock import today
from cases.deadlines import DaysLeft, deadline_from
from cases.models import (
    BEFORE_ACCEPTANCE_STATUSES,
    RUNNING_STATUSES,
    ApprovalTask,
    Case,
    CaseEvent,
    CaseMaterial,
    CaseStatus,
    Certificate,
    ServiceItem,
)
from cases.timeline import CITIZEN_ACTOR
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.pii import mask_name
from mobile_api.settings import setting

STATUS_NAMES = {
    CaseStatus.DRAFT: "草稿",
    CaseStatus.PREREVIEW_PENDING: "待预审",
    CaseStatus.PREREVIEW_RETURNED: "预审退回，待补正",
    CaseStatus.RESUBMITTED: "已重新提交，待预审",
    CaseStatus.PREREVIEW_PASSED: "预审通过，待受理",
    CaseStatus.ACCEPTED: "已受理",
    CaseStatus.IN_PROGRESS: "办理中",
    CaseStatus.SUSPENDED: "补正中（计时暂停）",
    CaseStatus.APPROVED: "已办结（准予许可）",
    CaseStatus.REJECTED: "已办结（不予许可）",
    CaseStatus.CERTIFICATE_ISSUED: "证照已制发",
    CaseStatus.DELIVERED: "证照已寄出",
    CaseStatus.COLLECTED: "证照已领取",
    CaseStatus.CLOSED: "已归档",
}


def summaries(result: Page, *, staff: bool) -> dict:
    """A page of cases as list rows (two calendar queries for the whole page, not one per case)."""
    on = today()
    days = DaysLeft(on, [case.due_on for case in result.items if case.due_on])
    names = catalog.department_names({case.department_code for case in result.items})
    items = [
        {
            "case_no": case.case_no,
            "status": case.status,
            "status_name": STATUS_NAMES[case.status],
            "item_code": case.item.code,
            "item_name": case.item.name,
            "item_version": case.item.version,
            "department_code": case.department_code,
            "department_name": names.get(case.department_code),
            "current_step": case.current_step,
            "created_at": case.created_at,
            "accepted_on": case.accepted_on,
            "due_on": case.due_on,
            "due_provisional": case.due_provisional,
            "working_days_left": _days_left(case, days),
            **({"colour": case.colour} if staff else {}),
        }
        for case in result.items
    ]
    return result.as_dict() | {"items": items}


def _days_left(case: Case, days: DaysLeft) -> int | None:
    if case.status == CaseStatus.SUSPENDED:
        return case.days_left_at_suspension
    if case.status in RUNNING_STATUSES and case.due_on:
        return days.days_left(case.due_on)
    return None


def case_detail(case: Case, *, internal: bool = False) -> dict:
    """Everything the citizen sees of one case; ``internal``: staff also see internal events and notes."""
    on = today()
    days = DaysLeft(on, [case.due_on] if case.due_on else [])
    recent, timeline_total = _recent_events(case.id, internal)
    materials = {m.material_code: m for m in db.session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))}
    tasks = db.session.scalars(select(ApprovalTask).where(ApprovalTask.case_id == case.id).order_by(ApprovalTask.department_code)).all()
    names = catalog.department_names({case.department_code, *(task.department_code for task in tasks)})
    item = case.item
    detail = {
        "case_no": case.case_no,
        "status": case.status,
        "status_name": STATUS_NAMES[case.status],
        "item": {
            "code": item.code,
            "name": item.name,
            "version": item.version,
            "item_type": item.item_type,
            "promised_days": item.promised_days,
        },
        "department_code": case.department_code,
        "department_name": names.get(case.department_code),
        "current_step": case.current_step,
        "steps": item.steps,
        "form": case.form,
        "created_at": case.created_at,
        "submitted_at": case.submitted_at,
        "prereview_due_on": case.prereview_due_on,
        "accepted_on": case.accepted_on,
        "due_on": case.due_on,
        "due_provisional": case.due_provisional,
        "working_days_left": _days_left(case, days),
        "suspended_days": case.suspended_days,
        "extended_days": case.extended_days,
        "predicted_completion_on": _predicted_completion(case, on),
        "finished_on": case.finished_on,
        "result_reason": case.result_reason,
        "returned_issues": _returned_issues(case.id) if case.status == CaseStatus.PREREVIEW_RETURNED else [],
        "materials": [_material_view(spec, materials.get(spec["code"])) for spec in item.materials],
        "approval_tasks": [
            {
                "department_code": t.department_code,
                "department_name": names.get(t.department_code),
                "done": t.done_at is not None,
                "done_at": t.done_at.isoformat() if t.done_at else None,
            }
            for t in tasks
        ],
        "timeline": [_event_view(event, staff=internal) for event in recent],
        "timeline_total": timeline_total,
    }
    return detail


def _timeline_query(case_id: int, internal: bool):
    statement = select(CaseEvent).where(CaseEvent.case_id == case_id)
    return statement if internal else statement.where(CaseEvent.visible.is_(True))


def _recent_events(case_id: int, internal: bool) -> tuple[list[CaseEvent], int]:
    """The newest CASES_TIMELINE_IN_DETAIL events, oldest first, and how many there are in all: a case
    with 650 events is not a 145 KB view (the rest pages at ``…/timeline``)."""
    statement = _timeline_query(case_id, internal)
    newest = db.session.scalars(
        statement.order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(setting("CASES_TIMELINE_IN_DETAIL"))
    ).all()
    total = db.session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    return list(reversed(newest)), total


def timeline_page(case: Case, *, internal: bool, page: int, per_page: int) -> dict:
    """One page of a case's timeline, newest first (``internal``: with staff-only events and notes)."""
    statement = _timeline_query(case.id, internal).order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
    result = paginate(statement, page, per_page)
    return result.as_dict() | {"items": [_event_view(event, staff=internal) for event in result.items]}


def _returned_issues(case_id: int) -> list[dict]:
    last_return = db.session.scalar(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.action == "prereview_return")
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(1)
    )
    return (last_return.data or {}).get("issues", []) if last_return is not None else []


def _material_view(spec: dict, material: CaseMaterial | None) -> dict:
    view = {
        "material_code": spec["code"],
        "name": spec["name"],
        "required": spec.get("required", True),
        "certificate_kind": spec.get("certificate_kind"),
    }
    if material is None:
        return view | {"status": "missing"}
    status = "ok" if material.check_ok else "check_failed"
    return view | {"status": status, "source": material.source, "check": material.check, "uploaded_at": material.uploaded_at.isoformat()}


def _event_view(event: CaseEvent, *, staff: bool) -> dict:
    view = {
        "at": event.at,
        "effective_on": event.effective_on,
        "action": event.action,
        "status": event.to_status,
        "status_name": STATUS_NAMES[event.to_status],
        "note": event.note,
        "actor": event.actor if staff else _actor_for_citizen(event.actor),
    }
    if event.data:
        view["data"] = event.data
    if staff:
        view |= {"visible_to_citizen": event.visible, "internal_note": event.internal_note}
    return view


def _actor_for_citizen(actor: str) -> str:
    # The citizen never sees staff usernames.
    if actor == CITIZEN_ACTOR:
        return "您"
    return "工作人员" if actor.startswith("staff:") else "系统"


def _predicted_completion(case: Case, on: date) -> date | None:
    """When the case will probably be done: the deadline, or sooner if this item is usually quicker."""
    if case.finished_on:
        return case.finished_on
    if case.status == CaseStatus.SUSPENDED:
        return None
    if case.status in RUNNING_STATUSES and case.due_on:
        typical = db.session.scalar(
            select(func.avg(Case.working_days_used))
            .join(ServiceItem, ServiceItem.id == Case.item_id)
            .where(ServiceItem.code == case.item.code, Case.working_days_used.is_not(None))
        )
        if typical is None:
            return case.due_on
        guess = deadline_from(case.accepted_on, math.ceil(float(typical)) + case.suspended_days).due_on
        return max(min(guess, case.due_on), on)
    if case.status in BEFORE_ACCEPTANCE_STATUSES:
        return deadline_from(on, setting("CASES_PREREVIEW_DAYS") + case.item.promised_days).due_on
    return None


def certificate_view(certificate: Certificate, on: date) -> dict:
    valid = not certificate.revoked and (certificate.valid_until is None or certificate.valid_until >= on)
    return {
        "number": certificate.number,
        "kind": certificate.kind,
        "department_code": certificate.department_code,
        "holder_name": mask_name(certificate.holder_name),
        "valid_from": certificate.valid_from,
        "valid_until": certificate.valid_until,
        "valid": valid,
    }
