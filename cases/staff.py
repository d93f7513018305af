"""Staff work on cases: lists, audited reads, transitions, rectifications.

Staff reach the cases of their departments (the owning department or one with a parallel-approval
task); admins and 12345 operators read every case. Every read or change leaves an audit row, written
in the same transaction. The state machine is ``lifecycle.py``; what each action does, ``transitions.py``.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import joinedload, selectinload

from auth.models import Account, StaffUser
from cases.clock import today
from cases.lifecycle import ACTIONS, allowed_actions, has_role, in_scope
from cases.models import PREREVIEW_STATUSES, RUNNING_STATUSES, ApprovalTask, Case, CaseMaterial, CaseStatus, Rectification
from cases.presentation import case_detail, summaries, timeline_page
from cases.storage import load_bytes
from cases.timeline import add_event, claim_case, notify_citizen
from cases.transitions import HANDLERS
from mobile_api.access import staff_actor
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.roles import ADMIN, HOTLINE_OPERATOR
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction


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


def set_green_channel(staff: StaffUser, case_no: str, enabled: bool, reason: str) -> dict:
    """绿色通道: mark (or unmark) a key project's case; bookings linked to it may take the places halls
    keep for green-channel cases and go first in the queue. Audited with the reason."""
    with transaction():
        case = staff_case(staff, case_no)
        case.green_channel = enabled
        record_audit(staff_actor(staff), "case.green_channel_" + ("on" if enabled else "off"), "case", case.case_no, reason=reason)
        view = {"case_no": case.case_no, "green_channel": enabled}
    return view


def staff_read_case(staff: StaffUser, case_no: str, reason: str | None = None) -> dict:
    with transaction():
        case = staff_case(staff, case_no)
        detail = staff_detail(case, staff)
        record_audit(staff_actor(staff), "case.read", "case", case.case_no, reason=reason)
    return detail


def staff_timeline(staff: StaffUser, case_no: str, page: int, per_page: int, reason: str | None = None) -> dict:
    """A case's full timeline with internal events, newest first (audited like a read of the case)."""
    with transaction():
        case = staff_case(staff, case_no)
        result = timeline_page(case, internal=True, page=page, per_page=per_page)
        record_audit(staff_actor(staff), "case.timeline.read", "case", case.case_no, reason=reason)
    return result


def staff_material_file(staff: StaffUser, case_no: str, material_code: str, reason: str | None = None) -> tuple[bytes, str, str]:
    """The uploaded bytes of one material, for the pre-reviewer or officer (audited)."""
    with transaction():
        case = staff_case(staff, case_no)
        material = db.session.scalar(
            select(CaseMaterial).where(CaseMaterial.case_id == case.id, CaseMaterial.material_code == material_code)
        )
        stored = load_bytes(material.file_id) if material is not None and material.file_id else None
        if stored is None:
            raise Problem(404, "material_file_not_found", "该材料没有上传文件", material_code=material_code)
        record_audit(
            staff_actor(staff), "case.read_material", "case", case.case_no, reason=reason, details={"material_code": material_code}
        )
    data, content_type = stored
    extension = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}.get(content_type, "bin")
    return data, content_type, f"{case.case_no}-{material_code}.{extension}"


def staff_list_cases(
    staff: StaffUser, *, status: str | None, department: str | None, overdue: bool | None, page: int, per_page: int
) -> dict:
    statement = select(Case).options(selectinload(Case.item)).where(Case.status != CaseStatus.DRAFT)
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
    with transaction():
        result = paginate(statement, page, per_page)
        record_audit(
            staff_actor(staff),
            "case.list",
            "case",
            "*",
            details={"status": status, "department": department, "overdue": overdue, "page": page, "count": len(result.items)},
        )
        page_of_cases = summaries(result, staff=True)
    return page_of_cases


def transition(staff: StaffUser, case_no: str, action_name: str, args: dict) -> dict:
    """Apply one staff action to a case: role, department and state are checked; timeline, audit, notice."""
    with transaction():
        case = staff_case(staff, case_no)
        action = ACTIONS[action_name]
        if not has_role(staff, action.roles):
            raise Problem(403, "role_required", "您的岗位没有此操作权限", required_roles=list(action.roles))
        # complete_task is checked against the task's department (a parallel department acts on a case it does
        # not own); a note is allowed on any case the staff member can see.
        if action_name not in ("complete_task", "note") and not in_scope(staff, case.department_code):
            raise Problem(403, "department_scope", "此办件不属于您所在部门，不能进行该操作")
        if case.status not in action.from_statuses:
            raise Problem(
                409,
                "transition_not_allowed",
                "办件当前状态不允许此操作",
                case_status=case.status,
                allowed_actions=allowed_actions(case, staff),
            )
        from_status = case.status
        claim_case(case, from_status)
        on = today()
        handler = HANDLERS.get(action_name)
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
    return staff_detail(case, staff)


def complete_rectification(staff: StaffUser, rectification_id: int, outcome: str) -> Rectification:
    with transaction():
        rectification = db.session.get(Rectification, rectification_id)
        if rectification is None or not in_scope(staff, rectification.department_code):
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
    db.session.refresh(rectification)  # the outcome was written by a conditional UPDATE, not on this object
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
