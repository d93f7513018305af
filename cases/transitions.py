"""What each staff action does to a case besides its status: deadlines, parallel tasks, outcome, certificate.

A handler takes ``(staff, case, args, on)``, changes the case inside the caller's transaction and
returns ``(detail text for the citizen's message, data for the timeline event)``; a ``Problem`` it
raises rolls the whole transition back. ``staff.transition`` runs them; ``lifecycle.ACTIONS`` says
who may run which, from which status.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import func, select, update

from auth.models import Account, StaffUser
from cases import catalog
from cases.deadlines import days_left_on, deadline_from, extend_deadline, resume_deadline
from cases.lifecycle import in_scope
from cases.models import ApprovalTask, Case, CaseStatus, Certificate, Colour
from cases.timeline import cn_date
from mobile_api.access import staff_actor
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.timeutil import utcnow

Handler = Callable[[StaffUser, Case, dict, date], tuple[str, dict | None]]


def _prereview_return(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    issues = args.get("issues") or []
    if not issues:
        raise Problem(422, "issues_required", "退回时请列出每一项需要补正的材料（一次性告知）", errors={"issues": ["至少一项"]})
    codes = {spec["code"]: spec["name"] for spec in case.item.materials}
    unknown = [issue["material_code"] for issue in issues if issue["material_code"] not in codes]
    if unknown:
        raise Problem(422, "material_unknown", "退回意见中的材料不属于此事项", errors={"issues": unknown})
    case.prereview_returns += 1
    case.returned_at = utcnow()
    case.returned_materials = sorted({issue["material_code"] for issue in issues})
    listed = [{"material_code": i["material_code"], "name": codes[i["material_code"]], "reason": i["reason"]} for i in issues]
    text = "；".join(f"{i['name']}（{i['reason']}）" for i in listed)
    return text, {"issues": listed, "count": len(listed)}


def _prereview_pass(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    visit = "请按预约时间到大厅办理受理。" if case.item.needs_visit else "将在线受理。"
    return visit, {"first_try": case.prereview_returns == 0}


def _accept(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    due = deadline_from(on, case.item.promised_days)
    case.accepted_on, case.due_on, case.due_provisional = on, due.due_on, due.provisional
    case.current_step = (case.item.steps or ["受理"])[0]
    case.colour = Colour.GREEN
    for department in case.item.parallel_departments or []:
        db.session.add(ApprovalTask(case_id=case.id, department_code=department))
    text = cn_date(due.due_on) + ("（暂按周一至周五推算，节假日公布后可能调整）" if due.provisional else "")
    return text, {"due_on": due.due_on.isoformat(), "due_provisional": due.provisional, "promised_days": case.item.promised_days}


def _start(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    steps = case.item.steps or []
    if len(steps) > 1:
        case.current_step = steps[1]
    return f"已开始办理，当前环节：{case.current_step}", None


def _advance_step(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    steps = case.item.steps or []
    wanted = args.get("step")
    if wanted is not None and wanted not in steps:
        raise Problem(422, "step_unknown", "该步骤不属于此事项", errors={"step": steps})
    if wanted is None:
        index = steps.index(case.current_step) + 1 if case.current_step in steps else 0
        wanted = steps[min(index, len(steps) - 1)] if steps else None
    case.current_step = wanted
    return f"已进入“{wanted}”环节", {"step": wanted}


def _complete_task(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    department = args.get("department") or case.department_code
    if not in_scope(staff, department):
        raise Problem(403, "department_scope", "您不能代其他部门完成审批任务", department=department)
    done = db.session.execute(
        update(ApprovalTask)
        .where(ApprovalTask.case_id == case.id, ApprovalTask.department_code == department, ApprovalTask.done_at.is_(None))
        .values(done_at=utcnow(), done_by=staff_actor(staff), opinion=args.get("note"))
    ).rowcount
    if not done:
        raise Problem(409, "task_not_open", "该部门没有待办的并联审批任务", department=department)
    pending = db.session.scalar(select(func.count()).where(ApprovalTask.case_id == case.id, ApprovalTask.done_at.is_(None)))
    name = catalog.department_names({department}).get(department, department)
    text = f"{name}已完成审核" + ("，并联审批已全部完成" if pending == 0 else f"，还有{pending}个部门在办理")
    return text, {"department_code": department, "department_name": name, "pending": pending, "all_done": pending == 0}


def _suspend(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    if not args.get("note"):
        raise Problem(422, "note_required", "请写明需要补正的内容", errors={"note": ["必填"]})
    case.suspended_on = on
    case.days_left_at_suspension = days_left_on(on, case.due_on)
    return args["note"], {"days_left": case.days_left_at_suspension}


def _resume(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    paused = days_left_on(case.suspended_on, on)
    due = resume_deadline(on, case.days_left_at_suspension or 0)
    old = case.due_on
    case.suspended_days += max(paused, 0)
    case.due_on, case.due_provisional = due.due_on, due.provisional
    case.suspended_on, case.days_left_at_suspension = None, None
    data = {
        "previous_due_on": old.isoformat(),
        "due_on": due.due_on.isoformat(),
        "due_provisional": due.provisional,
        "paused_working_days": paused,
    }
    return cn_date(due.due_on) + ("（暂按周一至周五推算）" if due.provisional else ""), data


def _extend(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    days = args.get("days")
    if not days or not args.get("note"):
        raise Problem(422, "extension_incomplete", "延期须写明天数和理由", errors={"days": ["必填"], "note": ["必填"]})
    old = case.due_on
    due = extend_deadline(case.due_on, days)
    case.due_on, case.due_provisional = due.due_on, due.provisional
    case.extended_days += days
    return cn_date(due.due_on), {
        "days": days,
        "previous_due_on": old.isoformat(),
        "due_on": due.due_on.isoformat(),
        "approved_by": staff_actor(staff),
    }


def _finish(case: Case, on: date, reason: str | None) -> dict:
    case.finished_on = on
    case.working_days_used = max(days_left_on(case.accepted_on, on) - case.suspended_days, 0)
    case.on_time = on <= case.due_on
    case.result_reason = reason
    case.current_step = (case.item.steps or [None])[-1]
    return {"working_days_used": case.working_days_used, "on_time": case.on_time}


def _approve(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    pending = db.session.scalars(
        select(ApprovalTask.department_code).where(ApprovalTask.case_id == case.id, ApprovalTask.done_at.is_(None))
    ).all()
    if pending:
        raise Problem(
            409, "parallel_tasks_pending", "并联审批尚未全部完成", pending_departments=list(pending), allowed_actions=["complete_task"]
        )
    return args.get("note") or "", _finish(case, on, None)


def _reject(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    reason = (args.get("reason") or "").strip()
    if not reason:
        raise Problem(422, "reason_required", "不予许可必须说明理由", errors={"reason": ["必填"]})
    if case.status == CaseStatus.SUSPENDED:
        case.suspended_days += max(days_left_on(case.suspended_on, on), 0)
    return reason, _finish(case, on, reason)


def _issue_certificate(staff: StaffUser, case: Case, args: dict, on: date) -> tuple[str, dict | None]:
    spec = args.get("certificate") or {}
    kind = spec.get("kind") or case.item.name
    years = spec.get("valid_years")
    account = db.session.get(Account, case.account_id)
    certificate = Certificate(
        number=f"DZZZ-{case.department_code}-{case.case_no}",
        kind=kind,
        account_id=case.account_id,
        holder_name=account.name,
        department_code=case.department_code,
        case_id=case.id,
        valid_from=on,
        valid_until=on.replace(year=on.year + years) - timedelta(days=1) if years else None,
    )
    db.session.add(certificate)
    return f"证照编号{certificate.number}", {"certificate_no": certificate.number, "kind": kind}


HANDLERS: dict[str, Handler] = {
    "prereview_return": _prereview_return,
    "prereview_pass": _prereview_pass,
    "accept": _accept,
    "start": _start,
    "advance_step": _advance_step,
    "complete_task": _complete_task,
    "suspend": _suspend,
    "resume": _resume,
    "extend": _extend,
    "approve": _approve,
    "reject": _reject,
    "issue_certificate": _issue_certificate,
}
