"""Applications and cases: create, upload, submit, follow; staff transitions; certificates; ratings.

Every function owns its transaction. Citizens only ever reach their own cases (404 otherwise);
staff reach the cases of their departments, and every staff read or change leaves an audit row.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from auth.access import staff_actor
from auth.models import Account, StaffUser
from auth.roles import ADMIN, HOTLINE_OPERATOR, OFFICER, PREREVIEWER, SUPERVISOR, WINDOW_CLERK
from cases import catalog
from cases.clock import today
from cases.deadlines import DaysLeft, days_left_on, deadline_from, extend_deadline, resume_deadline
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
    CaseEvent,
    CaseMaterial,
    Certificate,
    Rating,
    Rectification,
    ServiceItem,
)
from cases.storage import delete_file, load_bytes, store_bytes
from cases.uploads import check_upload
from mobile_api.audit import record_audit
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import Page, paginate
from mobile_api.pii import mask_name
from mobile_api.timeutil import utcnow
from notifications.service import notify

STATUS_NAMES = {
    DRAFT: "草稿",
    PREREVIEW_PENDING: "待预审",
    PREREVIEW_RETURNED: "预审退回，待补正",
    RESUBMITTED: "已重新提交，待预审",
    PREREVIEW_PASSED: "预审通过，待受理",
    ACCEPTED: "已受理",
    IN_PROGRESS: "办理中",
    SUSPENDED: "补正中（计时暂停）",
    APPROVED: "已办结（准予许可）",
    REJECTED: "已办结（不予许可）",
    CERTIFICATE_ISSUED: "证照已制发",
    DELIVERED: "证照已寄出",
    COLLECTED: "证照已领取",
    CLOSED: "已归档",
}
RATING_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
CITIZEN = "citizen"

# An unambiguous alphabet for case numbers read aloud over the phone: no 0/O, 1/I/L.
CASE_NO_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_case_no(on: date) -> str:
    """``NB2611-K7M3Q``: city, year and month, and five characters a hotline operator can spell."""
    suffix = "".join(secrets.choice(CASE_NO_ALPHABET) for _ in range(5))
    return f"{current_app.config['CASES_NO_PREFIX']}{on:%y%m}-{suffix}"


# ---------------------------------------------------------------- citizen side


def validate_form(item: ServiceItem, form: dict) -> dict:
    """The item declares its form fields; anything missing, unknown or mistyped is a 422 with every error."""
    errors: dict[str, list[str]] = {}
    clean: dict = {}
    declared = {spec["name"]: spec for spec in item.form_fields}
    for name in form:
        if name not in declared:
            errors[name] = ["此事项没有该填写项"]
    for name, spec in declared.items():
        value = form.get(name)
        if value is None or value == "":
            if spec.get("required"):
                errors[name] = [f"请填写{spec.get('label', name)}"]
            continue
        message, cleaned = _check_field(spec, value)
        if message:
            errors[name] = [message]
        else:
            clean[name] = cleaned
    if errors:
        raise Problem(422, "form_invalid", "申请表填写有误，请检查后重试", errors={"form": errors})
    return clean


def _check_field(spec: dict, value):
    label, kind = spec.get("label", spec["name"]), spec.get("type", "string")
    if kind == "string":
        if not isinstance(value, str):
            return f"{label}应为文字", None
        value = value.strip()
        if len(value) > int(spec.get("max_length", 500)):
            return f"{label}太长", None
        return None, value
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return f"{label}应为数字", None
        if kind == "integer" and not float(value).is_integer():
            return f"{label}应为整数", None
        if value < 0 or value > 1e12:
            return f"{label}超出范围", None
        return None, value
    if kind == "boolean":
        return (None, value) if isinstance(value, bool) else (f"{label}应为是或否", None)
    if kind == "date":
        try:
            return None, date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            return f"{label}应为日期（YYYY-MM-DD）", None
    return f"{label}类型未知", None


def create_case(account: Account, item_code: str, form: dict) -> Case:
    item = catalog.current_item(item_code)
    clean = validate_form(item, form)
    on = today()
    for _ in range(5):
        case = Case(
            case_no=new_case_no(on), account_id=account.id, item_id=item.id, department_code=item.department_code,
            status=DRAFT, form=clean, current_step=None,
        )
        try:
            with db.session.begin_nested():
                db.session.add(case)
        except IntegrityError:
            continue
        _add_event(case, CITIZEN, "create", None, DRAFT, on=on, visible=True, note="创建申请")
        db.session.commit()
        return case
    raise Problem(503, "case_no_exhausted", "系统繁忙，请稍后再试")


def case_for_citizen(account_id: str, case_no: str) -> Case:
    """The citizen's own case, or 404 — the same answer for someone else's case and for no case.

    Stable: other packages (appointments, hotline) link to cases through this function.
    """
    case = db.session.scalar(
        select(Case).options(selectinload(Case.item)).where(Case.case_no == case_no.strip().upper(), Case.account_id == account_id)
    )
    if case is None:
        raise Problem(404, "case_not_found", "未找到该办件", case_no=case_no)
    return case


UPLOADABLE = (DRAFT, PREREVIEW_RETURNED, SUSPENDED)


def add_material(account: Account, case_no: str, material_code: str, filename: str | None, data: bytes) -> CaseMaterial:
    case = case_for_citizen(account.id, case_no)
    if case.status not in UPLOADABLE:
        raise Problem(409, "materials_locked", "当前状态不能上传材料", case_status=case.status)
    spec = _material_spec(case.item, material_code)
    if case.status == PREREVIEW_RETURNED and material_code not in case.returned_materials:
        raise Problem(409, "material_not_returned", "只需补正预审退回的材料", returned=case.returned_materials)
    checked = check_upload(data, list(spec.get("formats") or ["jpg", "png", "pdf"]))
    file_id = store_bytes(checked.data, checked.content_type)
    material = db.session.scalar(select(CaseMaterial).where(CaseMaterial.case_id == case.id, CaseMaterial.material_code == material_code))
    if material is None:
        material = CaseMaterial(case_id=case.id, material_code=material_code)
        db.session.add(material)
    replaced = material.file_id
    material.source, material.file_id, material.certificate_id = "upload", file_id, None
    material.check_ok, material.check = checked.ok, {**checked.check, "size": len(checked.data)}
    material.filename = (filename or "")[:200] or None
    material.uploaded_at = utcnow()
    case.view_version = Case.view_version + 1
    db.session.flush()
    if replaced:
        delete_file(replaced)
    db.session.commit()
    return material


def _material_spec(item: ServiceItem, material_code: str) -> dict:
    for spec in item.materials:
        if spec["code"] == material_code:
            return spec
    raise Problem(422, "material_unknown", "此事项不需要该材料", errors={"material_code": ["此事项不需要该材料"]})


def _valid_certificates(account_id: str, kinds: set[str], on: date) -> dict[str, Certificate]:
    if not kinds:
        return {}
    rows = db.session.scalars(
        select(Certificate).where(
            Certificate.account_id == account_id, Certificate.kind.in_(kinds), Certificate.revoked.is_(False),
            or_(Certificate.valid_until.is_(None), Certificate.valid_until >= on),
        ).order_by(Certificate.valid_from)
    )
    return {certificate.kind: certificate for certificate in rows}


def _fill_from_certificate_library(case: Case, materials: dict[str, CaseMaterial], on: date) -> None:
    """A certificate the citizen holds and that is valid satisfies the matching material (免提交)."""
    wanted = {spec["certificate_kind"]: spec["code"] for spec in case.item.materials if spec.get("certificate_kind") and spec["code"] not in materials}
    for kind, certificate in _valid_certificates(case.account_id, set(wanted), on).items():
        material = CaseMaterial(
            case_id=case.id, material_code=wanted[kind], source="certificate", check_ok=True, certificate_id=certificate.id,
            check={"kind": "certificate", "certificate_no": certificate.number, "problems": []},
        )
        db.session.add(material)
        materials[material.material_code] = material


def submit_case(account: Account, case_no: str) -> Case:
    """Send for pre-review; 422 listing every problem at once (一次性告知) when something is missing."""
    case = case_for_citizen(account.id, case_no)
    if case.status not in (DRAFT, PREREVIEW_RETURNED):
        raise Problem(409, "not_submittable", "当前状态不能提交", case_status=case.status)
    on = today()
    materials = {m.material_code: m for m in db.session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))}
    _fill_from_certificate_library(case, materials, on)
    problems = _submission_problems(account, case, materials)
    if problems:
        db.session.rollback()
        raise Problem(422, "application_incomplete", "申请还不完整，请按提示一次性补齐后再提交", errors=problems, problem_count=len(problems))
    to_status = PREREVIEW_PENDING if case.status == DRAFT else RESUBMITTED
    due = deadline_from(on, current_app.config["CASES_PREREVIEW_DAYS"])
    _claim(case, case.status)
    from_status = case.status
    case.status, case.submitted_at, case.prereview_due_on, case.colour = to_status, utcnow(), due.due_on, "green"
    event = _add_event(case, CITIZEN, "submit" if to_status == PREREVIEW_PENDING else "resubmit", from_status, to_status, on=on)
    template = "cases.submitted" if to_status == PREREVIEW_PENDING else "cases.resubmitted"
    _notify(account, case, template, event, _cn_date(due.due_on))
    db.session.commit()
    return case


def _submission_problems(account: Account, case: Case, materials: dict[str, CaseMaterial]) -> list[dict]:
    item = case.item
    problems: list[dict] = []
    if account.level < item.required_level:
        problems.append({"field": "realname_level", "reason": f"此事项需要实名等级 {item.required_level}，请先完成实名认证", "required_level": item.required_level})
    try:
        validate_form(item, case.form)
    except Problem as exc:
        problems.append({"field": "form", "reason": "申请表填写有误", "errors": exc.errors})
    for spec in item.materials:
        material = materials.get(spec["code"])
        if material is None:
            if spec.get("required"):
                problems.append({"material_code": spec["code"], "reason": f"缺少材料：{spec['name']}"})
            continue
        if not material.check_ok:
            problems.append({"material_code": spec["code"], "reason": "；".join(material.check.get("problems") or ["材料检查未通过"])})
        if case.status == PREREVIEW_RETURNED and spec["code"] in case.returned_materials and material.uploaded_at <= case.returned_at:
            problems.append({"material_code": spec["code"], "reason": f"请按预审意见重新上传：{spec['name']}"})
    return problems


def list_citizen_cases(account_id: str, page: int, per_page: int) -> dict:
    statement = select(Case).options(selectinload(Case.item)).where(Case.account_id == account_id).order_by(Case.created_at.desc(), Case.id.desc())
    result = paginate(statement, page, per_page)
    return _summaries(result, staff=False)


def _summaries(result: Page, *, staff: bool) -> dict:
    on = today()
    days = DaysLeft(on, [case.due_on for case in result.items if case.due_on])
    names = catalog.department_names({case.department_code for case in result.items})
    items = [
        {
            "case_no": case.case_no, "status": case.status, "status_name": STATUS_NAMES[case.status],
            "item_code": case.item.code, "item_name": case.item.name, "item_version": case.item.version,
            "department_code": case.department_code, "department_name": names.get(case.department_code),
            "current_step": case.current_step, "created_at": case.created_at, "accepted_on": case.accepted_on,
            "due_on": case.due_on, "due_provisional": case.due_provisional,
            "working_days_left": _days_left(case, days),
            **({"colour": case.colour} if staff else {}),
        }
        for case in result.items
    ]
    return result.as_dict() | {"items": items}


def _days_left(case: Case, days: DaysLeft) -> int | None:
    if case.status == SUSPENDED:
        return case.days_left_at_suspension
    if case.status in RUNNING_STATUSES and case.due_on:
        return days.days_left(case.due_on)
    return None


def case_detail(case: Case, *, staff: StaffUser | None = None) -> dict:
    """Everything the citizen (or staff) sees of one case. Internal notes only for staff."""
    on = today()
    days = DaysLeft(on, [case.due_on] if case.due_on else [])
    events = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id)).all()
    materials = {m.material_code: m for m in db.session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))}
    tasks = db.session.scalars(select(ApprovalTask).where(ApprovalTask.case_id == case.id).order_by(ApprovalTask.department_code)).all()
    names = catalog.department_names({case.department_code, *(task.department_code for task in tasks)})
    item = case.item
    detail = {
        "case_no": case.case_no, "status": case.status, "status_name": STATUS_NAMES[case.status],
        "item": {"code": item.code, "name": item.name, "version": item.version, "item_type": item.item_type, "promised_days": item.promised_days},
        "department_code": case.department_code, "department_name": names.get(case.department_code),
        "current_step": case.current_step, "steps": item.steps, "form": case.form,
        "created_at": case.created_at, "submitted_at": case.submitted_at, "prereview_due_on": case.prereview_due_on,
        "accepted_on": case.accepted_on, "due_on": case.due_on, "due_provisional": case.due_provisional,
        "working_days_left": _days_left(case, days), "suspended_days": case.suspended_days, "extended_days": case.extended_days,
        "predicted_completion_on": _predicted_completion(case, on),
        "finished_on": case.finished_on, "result_reason": case.result_reason,
        "returned_issues": _returned_issues(events) if case.status == PREREVIEW_RETURNED else [],
        "materials": [_material_view(spec, materials.get(spec["code"])) for spec in item.materials],
        "approval_tasks": [
            {"department_code": t.department_code, "department_name": names.get(t.department_code), "done": t.done_at is not None,
             "done_at": t.done_at.isoformat() if t.done_at else None}
            for t in tasks
        ],
        "timeline": [_event_view(event, staff=staff is not None) for event in events if staff is not None or event.visible],
    }
    if staff is not None:
        detail["colour"] = case.colour
        detail["allowed_actions"] = allowed_actions(case, staff)
    return detail


def _returned_issues(events: list[CaseEvent]) -> list[dict]:
    for event in reversed(events):
        if event.action == "prereview_return":
            return (event.data or {}).get("issues", [])
    return []


def _material_view(spec: dict, material: CaseMaterial | None) -> dict:
    view = {"material_code": spec["code"], "name": spec["name"], "required": spec.get("required", True), "certificate_kind": spec.get("certificate_kind")}
    if material is None:
        return view | {"status": "missing"}
    status = "ok" if material.check_ok else "check_failed"
    return view | {"status": status, "source": material.source, "check": material.check,
                   "uploaded_at": material.uploaded_at.isoformat()}


def _event_view(event: CaseEvent, *, staff: bool) -> dict:
    view = {
        "at": event.at, "effective_on": event.effective_on, "action": event.action, "status": event.to_status,
        "status_name": STATUS_NAMES[event.to_status], "note": event.note,
        "actor": event.actor if staff else ("您" if event.actor == CITIZEN else "工作人员" if event.actor.startswith("staff:") else "系统"),
    }
    if event.data:
        view["data"] = event.data
    if staff:
        view |= {"visible_to_citizen": event.visible, "internal_note": event.internal_note}
    return view


def _predicted_completion(case: Case, on: date) -> date | None:
    """When the case will probably be done: the deadline, or sooner if this item is usually quicker."""
    if case.finished_on:
        return case.finished_on
    if case.status == SUSPENDED:
        return None
    if case.status in RUNNING_STATUSES and case.due_on:
        typical = db.session.scalar(
            select(func.avg(Case.working_days_used)).join(ServiceItem, ServiceItem.id == Case.item_id)
            .where(ServiceItem.code == case.item.code, Case.working_days_used.is_not(None))
        )
        if typical is None:
            return case.due_on
        guess = deadline_from(case.accepted_on, math.ceil(float(typical)) + case.suspended_days).due_on
        return max(min(guess, case.due_on), on)
    if case.status in (DRAFT, *PREREVIEW_STATUSES, PREREVIEW_RETURNED, PREREVIEW_PASSED):
        return deadline_from(on, current_app.config["CASES_PREREVIEW_DAYS"] + case.item.promised_days).due_on
    return None


def citizen_certificates(account_id: str) -> list[dict]:
    on = today()
    rows = db.session.scalars(select(Certificate).where(Certificate.account_id == account_id).order_by(Certificate.created_at.desc()))
    return [_certificate_view(certificate, on) for certificate in rows]


def _certificate_view(certificate: Certificate, on: date) -> dict:
    valid = not certificate.revoked and (certificate.valid_until is None or certificate.valid_until >= on)
    return {
        "number": certificate.number, "kind": certificate.kind, "department_code": certificate.department_code,
        "holder_name": mask_name(certificate.holder_name), "valid_from": certificate.valid_from, "valid_until": certificate.valid_until, "valid": valid,
    }


def rate_case(account: Account, case_no: str, level: int, comment: str) -> Rating:
    """好差评: once per case, after 办结. The bottom two levels open a rectification with a deadline."""
    case = case_for_citizen(account.id, case_no)
    if case.status not in FINISHED_STATUSES:
        raise Problem(409, "not_finished", "办件办结后才能评价", case_status=case.status)
    rating = Rating(case_id=case.id, account_id=account.id, department_code=case.department_code, level=level, comment=comment)
    try:
        with db.session.begin_nested():
            db.session.add(rating)
    except IntegrityError:
        raise Problem(409, "already_rated", "此办件已经评价过了") from None
    on = today()
    data = {"level": level, "level_name": RATING_LEVELS[level]}
    if level <= 2:
        due = deadline_from(on, current_app.config["CASES_RECTIFY_DAYS"])
        db.session.add(Rectification(rating_id=rating.id, case_id=case.id, department_code=case.department_code, due_on=due.due_on))
        data["rectification_due_on"] = due.due_on.isoformat()
    _add_event(case, CITIZEN, "rate", case.status, case.status, on=on, note=f"评价：{RATING_LEVELS[level]}", data=data)
    db.session.commit()
    return rating


# ---------------------------------------------------------------- staff side


def _in_scope(staff: StaffUser, department_code: str) -> bool:
    return ADMIN in staff.roles or department_code in (staff.department_codes or [])


def _scope_clause(staff: StaffUser):
    # The 12345 hotline answers for the whole city: operators read every case (audited), act on none.
    if ADMIN in staff.roles or HOTLINE_OPERATOR in staff.roles:
        return None
    codes = list(staff.department_codes or [])
    return or_(Case.department_code.in_(codes), Case.id.in_(select(ApprovalTask.case_id).where(ApprovalTask.department_code.in_(codes))))


def staff_case(staff: StaffUser, case_no: str) -> Case:
    statement = select(Case).options(selectinload(Case.item)).where(Case.case_no == case_no.strip().upper())
    scope = _scope_clause(staff)
    if scope is not None:
        statement = statement.where(scope)
    case = db.session.scalar(statement)
    if case is None:
        raise Problem(404, "case_not_found", "未找到该办件，或不属于您所在部门", case_no=case_no)
    return case


def staff_read_case(staff: StaffUser, case_no: str, reason: str | None = None) -> dict:
    case = staff_case(staff, case_no)
    detail = case_detail(case, staff=staff)
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


def staff_list_cases(staff: StaffUser, *, status: str | None, department: str | None, overdue: bool | None, page: int, per_page: int) -> dict:
    statement = select(Case).options(selectinload(Case.item)).where(Case.status != DRAFT)
    scope = _scope_clause(staff)
    if scope is not None:
        statement = statement.where(scope)
    if status:
        statement = statement.where(Case.status == status)
    if department:
        statement = statement.where(or_(Case.department_code == department, Case.id.in_(select(ApprovalTask.case_id).where(ApprovalTask.department_code == department))))
    if overdue is not None:
        on = today()
        late = or_(
            and_(Case.status.in_(RUNNING_STATUSES), Case.due_on < on),
            and_(Case.status.in_(PREREVIEW_STATUSES), Case.prereview_due_on < on),
        )
        statement = statement.where(late if overdue else ~late)
    statement = statement.order_by(Case.due_on.is_(None), Case.due_on, Case.id)
    result = paginate(statement, page, per_page)
    record_audit(staff_actor(staff), "case.list", "case", "*", details={"status": status, "department": department, "overdue": overdue, "page": page, "count": len(result.items)})
    summaries = _summaries(result, staff=True)
    db.session.commit()
    return summaries


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
    "note": Action((PREREVIEW_PENDING, PREREVIEW_RETURNED, RESUBMITTED, PREREVIEW_PASSED, ACCEPTED, IN_PROGRESS, SUSPENDED, *FINISHED_STATUSES), None,
                   (PREREVIEWER, WINDOW_CLERK, OFFICER, SUPERVISOR), visible=False),
}


def _has_role(staff: StaffUser, roles: tuple[str, ...]) -> bool:
    return ADMIN in staff.roles or bool(set(roles) & set(staff.roles))


def allowed_actions(case: Case, staff: StaffUser | None = None) -> list[str]:
    return [name for name, action in ACTIONS.items() if case.status in action.from_statuses and (staff is None or _has_role(staff, action.roles))]


def transition(staff: StaffUser, case_no: str, action_name: str, args: dict) -> dict:
    """Apply one staff action to a case: role, department and state are checked; timeline, audit, notice."""
    case = staff_case(staff, case_no)
    action = ACTIONS[action_name]
    if not _has_role(staff, action.roles):
        raise Problem(403, "role_required", "您的岗位没有此操作权限", required_roles=list(action.roles))
    if action_name not in ("complete_task", "note") and not _in_scope(staff, case.department_code):
        raise Problem(403, "department_scope", "此办件不属于您所在部门，不能进行该操作")
    if case.status not in action.from_statuses:
        raise Problem(409, "transition_not_allowed", "办件当前状态不允许此操作", case_status=case.status, allowed_actions=allowed_actions(case, staff))
    from_status = case.status
    _claim(case, from_status)
    on = today()
    handler = _HANDLERS.get(action_name)
    detail_text, data = handler(staff, case, args, on) if handler else (args.get("note") or "", None)
    if action.to_status:
        case.status = action.to_status
    actor = staff_actor(staff)
    event = _add_event(case, actor, action_name, from_status, case.status, on=on, visible=action.visible, note=args.get("note"),
                       internal_note=args.get("internal_note"), data=data)
    if action.template:
        _notify(db.session.get(Account, case.account_id), case, action.template, event, detail_text)
    record_audit(actor, f"case.{action_name}", "case", case.case_no, reason=args.get("note") or args.get("internal_note"))
    db.session.commit()
    return case_detail(case, staff=staff)


def _claim(case: Case, from_status: str) -> None:
    """Serialise concurrent transitions of one case: a conditional UPDATE takes the row (409 for the loser)."""
    claimed = db.session.execute(
        update(Case).where(Case.id == case.id, Case.status == from_status).values(updated_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        db.session.rollback()
        raise Problem(409, "case_changed", "办件状态刚刚发生了变化，请刷新后重试")


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
    text = _cn_date(due.due_on) + ("（暂按周一至周五推算，节假日公布后可能调整）" if due.provisional else "")
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
    data = {"previous_due_on": old.isoformat(), "due_on": due.due_on.isoformat(), "due_provisional": due.provisional, "paused_working_days": paused}
    return _cn_date(due.due_on) + ("（暂按周一至周五推算）" if due.provisional else ""), data


def _extend(staff, case, args, on):
    days = args.get("days")
    if not days or not args.get("note"):
        raise Problem(422, "extension_incomplete", "延期须写明天数和理由", errors={"days": ["必填"], "note": ["必填"]})
    old = case.due_on
    due = extend_deadline(case.due_on, days)
    case.due_on, case.due_provisional = due.due_on, due.provisional
    case.extended_days += days
    return _cn_date(due.due_on), {"days": days, "previous_due_on": old.isoformat(), "due_on": due.due_on.isoformat(), "approved_by": staff_actor(staff)}


def _finish(case: Case, on: date, reason: str | None) -> dict:
    case.finished_on = on
    case.working_days_used = max(days_left_on(case.accepted_on, on) - case.suspended_days, 0)
    case.on_time = on <= case.due_on
    case.result_reason = reason
    case.current_step = (case.item.steps or [None])[-1]
    return {"working_days_used": case.working_days_used, "on_time": case.on_time}


def _approve(staff, case, args, on):
    pending = db.session.scalars(select(ApprovalTask.department_code).where(ApprovalTask.case_id == case.id, ApprovalTask.done_at.is_(None))).all()
    if pending:
        raise Problem(409, "parallel_tasks_pending", "并联审批尚未全部完成", pending_departments=list(pending), allowed_actions=["complete_task"])
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
        number=f"DZZZ-{case.department_code}-{case.case_no}", kind=kind, account_id=case.account_id, holder_name=account.name,
        department_code=case.department_code, case_id=case.id, valid_from=on,
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
        update(Rectification).where(Rectification.id == rectification.id, Rectification.done_at.is_(None))
        .values(done_at=utcnow(), done_by=staff_actor(staff), outcome=outcome)
    ).rowcount
    if not done:
        raise Problem(409, "rectification_done", "该整改任务已经完成")
    case = db.session.get(Case, rectification.case_id)
    event = _add_event(case, staff_actor(staff), "rectified", case.status, case.status, on=today(), note=outcome)
    _notify(db.session.get(Account, case.account_id), case, "cases.rectified", event, outcome)
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


# ---------------------------------------------------------------- shared helpers


def _add_event(case: Case, actor: str, action: str, from_status: str | None, to_status: str, *, on: date, visible: bool = True,
               note: str | None = None, internal_note: str | None = None, data: dict | None = None) -> CaseEvent:
    if case.id is None:
        db.session.flush()
    case.view_version = Case.view_version + 1  # the citizen's stored view is out of date (read_model)
    event = CaseEvent(case_id=case.id, actor=actor, action=action, from_status=from_status, to_status=to_status, effective_on=on,
                      visible=visible, note=note, internal_note=internal_note, data=data, at=utcnow())
    db.session.add(event)
    db.session.flush()
    return event


def _notify(account: Account, case: Case, template: str, event: CaseEvent, detail: str) -> None:
    params: dict = {"case_no": case.case_no, "item_name": case.item.name}
    if template == "cases.prereview_returned":
        params |= {"count": event.data["count"], "issues": detail}
    else:
        params["detail"] = detail or ""
    notify(account, template, params, dedupe_key=f"case-event:{event.id}")


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
