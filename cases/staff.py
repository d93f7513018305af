"""Staff work on cases: lists, audited reads, transitions (roles, departments, state machine), rectifications.

Staff reach the cases of their departments (the owning department or one with a parallel-approval
task); admins and 12345 operators read every case. Every read or change leaves an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from auth.models import Account, StaffUser
from cases import catalog
from cases.clock import today
from cases.deadlines import days_left_on, deadline_from, extend_deadline, resume_deadline
from cases.models import (
    ACCEPTED,
    APPROVED,
    CERTIFICATE_ISSUED,
    CLOSED,
    COLLECTED,
    DELIVERED,
    DRAFT,
    FINISHED_STATUSES,
    IN_PROGRESS,
    PREREVIEW_PASSED,
    PREREVIEW_PENDING,
    PREREVIEW_RETURNED,
    PREREVIEW_STATUSES,
    REJECTED,
    RESUBMITTED,
    RUNNING_STATUSES,
    SUSPENDED,
    ApprovalTask,
    Case,
    CaseMaterial,
    Certificate,
    Rectification,
)
from cases.service import add_event, case_detail, claim_case, cn_date, notify_citizen, summaries
from cases.storage import load_bytes
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.roles import ADMIN, HOTLINE_OPERATOR, OFFICER, PREREVIEWER, SUPERVISOR, WINDOW_CLERK
from mobile_api.timeutil import utcnow


def _in_scope(staff: StaffUser, department_code: str) -> bool:
    return ADMIN in staff.roles or department_code in (staff.department_codes or [])


def _scope_clause(staff: StaffUser):
    # The 12345 hotline answers for the whole city: operators read every case (audited), act on none.
    if ADMIN in staff.roles or HOTLINE_OPERATOR in staff.roles:
        return None
    codes = list(staff.department_codes or [])
    return or_(Case.department_code.in_(codes), Case.id.in_(select(ApprovalTask.case_id).where(ApprovalTask.department_code.in_(codes))))


def staff_case(staff: StaffUser, case_no: str) -> Case:
    statement = select(Case).options(joinedload(Case.item)).where(Case.case_no == case_no.strip().upper())
    scope = _scope_clause(staff)
    if scope is not None:
        statement = statement.where(scope)
    case = db.session.scalar(statement)
    if case is None:
        raise Problem(404, "case_not_found", "未找到该办件，或不属于您所在部门", case_no=case_no)
    return case


def staff_read_case(staff: StaffUser, case_no: str, reason: str | None = None) -> dict:
    case = staff_case(staff, case_no)
    detail = staff_detail(case, staff)
    record_audit(staff_actor(staff), "case.read", "case", case.case_no, reason=reason)
    db.session.commit()
    return detail


def staff_material_file(staff: StaffUser, case_no: str, material_code: str, reason: str | None = None) -> tuple[bytes, str, str]:
    """The uploaded bytes of one material, for the pre-reviewer or officer (audited)."""
    case = staff_case(staff, case_no)
    material = db.session.scalar(select(CaseMaterial).where(CaseMaterial.case_id == case.id, CaseMaterial.material_code == material_code))
    stored = load_bytes(material.file_id) if material is not None and material.file_id else None
    if stored is None:
        raise Problem(404, "material_file_not_found", "该材料没有上传文件", material_code=material_code)
    record_audit(staff_actor(staff), "case.read_material", "case", case.case_no, reason=reason, details={"material_code": material_code})
    db.session.commit()
    data, content_type = stored
    extension = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(content_type, "bin")
    return data, content_type, f"{case.case_no}-{material_code}.{extension}"


def staff_list_cases(
    staff: StaffUser, *, status: str | None, department: str | None, overdue: bool | None, page: int, per_page: int
) -> dict:
    statement = select(Case).options(selectinload(Case.item)).where(Case.status != DRAFT)
    scope = _scope_clause(staff)
    if scope is not None:
        statement = statement.where(scope)
    if status:
        statement = statement.where(Case.status == status)
    if department:
        statement = statement.where(
            or_(
                Case.department_code == department,
                Case.id.in_(select(ApprovalTask.case_id).where(ApprovalTask.department_code == department)),
            )
        )
    if overdue is not None:
        on = today()
        late = or_(
            and_(Case.status.in_(RUNNING_STATUSES), Case.due_on < on),
            and_(Case.status.in_(PREREVIEW_STATUSES), Case.prereview_due_on < on),
        )
        statement = statement.where(late if overdue else ~late)
    statement = statement.order_by(Case.due_on.is_(None), Case.due_on, Case.id)
    result = paginate(statement, page, per_page)
    record_audit(
        staff_actor(staff),
        "case.list",
        "case",
        "*",
        details={"status": status, "department": department, "overdue": overdue, "page": page, "count": len(result.items)},
    )
    page_of_cases = summaries(result, staff=True)
    db.session.commit()
    return page_of_cases


@dataclass(frozen=True)
class Action:
    from_statuses: tuple[str, ...]
    to_status: str | None  # None: the status stays
    roles: tuple[str, ...]
    visible: bool = True
    template: str | None = None


ACTIONS: dict[str, Action] = {
    "prereview_pass": Action(PREREVIEW_STATUSES, PREREVIEW_PASSED, (PREREVIEWER,), template="cases.prereview_passed"),
    "prereview_return": Action(PREREVIEW_STATUSES, PREREVIEW_RETURNED, (PREREVIEWER,), template="cases.prereview_returned"),
    "accept": Action((PREREVIEW_PASSED,), ACCEPTED, (WINDOW_CLERK, OFFICER), template="cases.accepted"),
    "start": Action((ACCEPTED,), IN_PROGRESS, (OFFICER,), template="cases.progress"),
    "advance_step": Action((ACCEPTED, IN_PROGRESS), IN_PROGRESS, (OFFICER,), template="cases.progress"),
    "complete_task": Action((ACCEPTED, IN_PROGRESS), IN_PROGRESS, (OFFICER,), template="cases.progress"),
    "suspend": Action((ACCEPTED, IN_PROGRESS), SUSPENDED, (OFFICER,), template="cases.suspended"),
    "resume": Action((SUSPENDED,), IN_PROGRESS, (OFFICER,), template="cases.resumed"),
    "extend": Action((ACCEPTED, IN_PROGRESS), None, (SUPERVISOR,), template="cases.extended"),
    "approve": Action((IN_PROGRESS,), APPROVED, (OFFICER,), template="cases.approved"),
    "reject": Action((ACCEPTED, IN_PROGRESS, SUSPENDED), REJECTED, (OFFICER,), template="cases.rejected"),
    "issue_certificate": Action((APPROVED,), CERTIFICATE_ISSUED, (OFFICER,), template="cases.certificate_issued"),
    "deliver": Action((CERTIFICATE_ISSUED,), DELIVERED, (WINDOW_CLERK, OFFICER), template="cases.delivered"),
    "collect": Action((CERTIFICATE_ISSUED,), COLLECTED, (WINDOW_CLERK,), template="cases.collected"),
    "close": Action((APPROVED, REJECTED, DELIVERED, COLLECTED), CLOSED, (WINDOW_CLERK, OFFICER), template="cases.closed"),
    "note": Action(
        (PREREVIEW_PENDING, PREREVIEW_RETURNED, RESUBMITTED, PREREVIEW_PASSED, ACCEPTED, IN_PROGRESS, SUSPENDED, *FINISHED_STATUSES),
        None,
        (PREREVIEWER, WINDOW_CLERK, OFFICER, SUPERVISOR),
        visible=False,
    ),
}


def _has_role(staff: StaffUser, roles: tuple[str, ...]) -> bool:
    return ADMIN in staff.roles or bool(set(roles) & set(staff.roles))


def allowed_actions(case: Case, staff: StaffUser | None = None) -> list[str]:
    return [
        name
        for name, action in ACTIONS.items()
        if case.status in action.from_statuses and (staff is None or _has_role(staff, action.roles))
    ]


def transition(staff: StaffUser, case_no: str, action_name: str, args: dict) -> dict:
    """Apply one staff action to a case: role, department and state are checked; timeline, audit, notice."""
    case = staff_case(staff, case_no)
    action = ACTIONS[action_name]
    if not _has_role(staff, action.roles):
        raise Problem(403, "role_required", "您的岗位没有此操作权限", required_roles=list(action.roles))
    if action_name not in ("complete_task", "note") and not _in_scope(staff, case.department_code):
        raise Problem(403, "department_scope", "此办件不属于您所在部门，不能进行该操作")
    if case.status not in action.from_statuses:
        raise Problem(
            409, "transition_not_allowed", "办件当前状态不允许此操作", case_status=case.status, allowed_actions=allowed_actions(case, staff)
        )
    from_status = case.status
    claim_case(case, from_status)
    on = today()
    handler = _HANDLERS.get(action_name)
    detail_text, data = handler(staff, case, args, on) if handler else (args.get("note") or "", None)
    if action.to_status:
        case.status = action.to_status
    actor = staff_actor(staff)
    event = add_event(
        case,
        actor,
        action_name,
        from_status,
        case.status,
        on=on,
        visible=action.visible,
        note=args.get("note"),
        internal_note=args.get("internal_note"),
        data=data,
    )
    if action.template:
        notify_citizen(db.session.get(Account, case.account_id), case, action.template, event, detail_text)
    record_audit(actor, f"case.{action_name}", "case", case.case_no, reason=args.get("note") or args.get("internal_note"))
    db.session.commit()
    return staff_detail(case, staff)


def _prereview_return(staff, case, args, on):
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


def _prereview_pass(staff, case, args, on):
    visit = "请按预约时间到大厅办理受理。" if case.item.needs_visit else "将在线受理。"
    return visit, {"first_try": case.prereview_returns == 0}


def _accept(staff, case, args, on):
    due = deadline_from(on, case.item.promised_days)
    case.accepted_on, case.due_on, case.due_provisional = on, due.due_on, due.provisional
    case.current_step = (case.item.steps or ["受理"])[0]
    case.colour = "green"
    for department in case.item.parallel_departments or []:
        db.session.add(ApprovalTask(case_id=case.id, department_code=department))
    text = cn_date(due.due_on) + ("（暂按周一至周五推算，节假日公布后可能调整）" if due.provisional else "")
    return text, {"due_on": due.due_on.isoformat(), "due_provisional": due.provisional, "promised_days": case.item.promised_days}


def _start(staff, case, args, on):
    steps = case.item.steps or []
    if len(steps) > 1:
        case.current_step = steps[1]
    return f"已开始办理，当前环节：{case.current_step}", None


def _advance_step(staff, case, args, on):
    steps = case.item.steps or []
    wanted = args.get("step")
    if wanted is not None and wanted not in steps:
        raise Problem(422, "step_unknown", "该步骤不属于此事项", errors={"step": steps})
    if wanted is None:
        index = steps.index(case.current_step) + 1 if case.current_step in steps else 0
        wanted = steps[min(index, len(steps) - 1)] if steps else None
    case.current_step = wanted
    return f"已进入“{wanted}”环节", {"step": wanted}


def _complete_task(staff, case, args, on):
    department = args.get("department") or case.department_code
    if not _in_scope(staff, department):
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


def _suspend(staff, case, args, on):
    if not args.get("note"):
        raise Problem(422, "note_required", "请写明需要补正的内容", errors={"note": ["必填"]})
    case.suspended_on = on
    case.days_left_at_suspension = days_left_on(on, case.due_on)
    return args["note"], {"days_left": case.days_left_at_suspension}


def _resume(staff, case, args, on):
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


def _extend(staff, case, args, on):
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


def _approve(staff, case, args, on):
    pending = db.session.scalars(
        select(ApprovalTask.department_code).where(ApprovalTask.case_id == case.id, ApprovalTask.done_at.is_(None))
    ).all()
    if pending:
        raise Problem(
            409, "parallel_tasks_pending", "并联审批尚未全部完成", pending_departments=list(pending), allowed_actions=["complete_task"]
        )
    return args.get("note") or "", _finish(case, on, None)


def _reject(staff, case, args, on):
    reason = (args.get("reason") or "").strip()
    if not reason:
        raise Problem(422, "reason_required", "不予许可必须说明理由", errors={"reason": ["必填"]})
    if case.status == SUSPENDED:
        case.suspended_days += max(days_left_on(case.suspended_on, on), 0)
    return reason, _finish(case, on, reason)


def _issue_certificate(staff, case, args, on):
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


_HANDLERS = {
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


def complete_rectification(staff: StaffUser, rectification_id: int, outcome: str) -> Rectification:
    rectification = db.session.get(Rectification, rectification_id)
    if rectification is None or not _in_scope(staff, rectification.department_code):
        raise Problem(404, "rectification_not_found", "未找到该整改任务")
    done = db.session.execute(
        update(Rectification)
        .where(Rectification.id == rectification.id, Rectification.done_at.is_(None))
        .values(done_at=utcnow(), done_by=staff_actor(staff), outcome=outcome)
    ).rowcount
    if not done:
        raise Problem(409, "rectification_done", "该整改任务已经完成")
    case = db.session.get(Case, rectification.case_id)
    event = add_event(case, staff_actor(staff), "rectified", case.status, case.status, on=today(), note=outcome)
    notify_citizen(db.session.get(Account, case.account_id), case, "cases.rectified", event, outcome)
    record_audit(staff_actor(staff), "case.rectified", "case", case.case_no, reason=outcome)
    db.session.commit()
    db.session.refresh(rectification)
    return rectification


def list_rectifications(staff: StaffUser, *, open_only: bool, page: int, per_page: int) -> Page:
    statement = select(Rectification).order_by(Rectification.due_on, Rectification.id)
    if ADMIN not in staff.roles:
        statement = statement.where(Rectification.department_code.in_(list(staff.department_codes or [])))
    if open_only:
        statement = statement.where(Rectification.done_at.is_(None))
    return paginate(statement, page, per_page)


def staff_detail(case: Case, staff: StaffUser) -> dict:
    return case_detail(case, internal=True) | {"colour": case.colour, "allowed_actions": allowed_actions(case, staff)}
