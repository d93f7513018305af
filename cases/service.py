"""The citizen's side of cases: create, upload, submit, follow, certificates, ratings — and the case
views and timeline helpers that the staff side (``cases/staff.py``) shares.

Every function owns its transaction. Citizens only ever reach their own cases (404 otherwise).
"""

from __future__ import annotations

import math
import secrets
from datetime import date

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from auth.models import Account
from cases import catalog
from cases.clock import today
from cases.deadlines import DaysLeft, deadline_from
from cases.events import case_status_changed
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
from cases.storage import delete_file, store_bytes
from cases.uploads import check_upload
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
            case_no=new_case_no(on),
            account_id=account.id,
            item_id=item.id,
            department_code=item.department_code,
            status=DRAFT,
            form=clean,
            current_step=None,
        )
        try:
            with db.session.begin_nested():
                db.session.add(case)
        except IntegrityError:
            continue
        add_event(case, CITIZEN, "create", None, DRAFT, on=on, visible=True, note="创建申请")
        db.session.commit()
        return case
    raise Problem(503, "case_no_exhausted", "系统繁忙，请稍后再试")


def case_for_citizen(account_id: str, case_no: str) -> Case:
    """The citizen's own case, or 404 — the same answer for someone else's case and for no case.

    Stable: other packages (appointments, hotline) link to cases through this function.
    """
    case = db.session.scalar(
        select(Case).options(joinedload(Case.item)).where(Case.case_no == case_no.strip().upper(), Case.account_id == account_id)
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
        select(Certificate)
        .where(
            Certificate.account_id == account_id,
            Certificate.kind.in_(kinds),
            Certificate.revoked.is_(False),
            or_(Certificate.valid_until.is_(None), Certificate.valid_until >= on),
        )
        .order_by(Certificate.valid_from)
    )
    return {certificate.kind: certificate for certificate in rows}


def _fill_from_certificate_library(case: Case, materials: dict[str, CaseMaterial], on: date) -> None:
    """A certificate the citizen holds and that is valid satisfies the matching material (免提交)."""
    wanted = {
        spec["certificate_kind"]: spec["code"]
        for spec in case.item.materials
        if spec.get("certificate_kind") and spec["code"] not in materials
    }
    for kind, certificate in _valid_certificates(case.account_id, set(wanted), on).items():
        material = CaseMaterial(
            case_id=case.id,
            material_code=wanted[kind],
            source="certificate",
            check_ok=True,
            certificate_id=certificate.id,
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
        raise Problem(
            422, "application_incomplete", "申请还不完整，请按提示一次性补齐后再提交", errors=problems, problem_count=len(problems)
        )
    to_status = PREREVIEW_PENDING if case.status == DRAFT else RESUBMITTED
    due = deadline_from(on, current_app.config["CASES_PREREVIEW_DAYS"])
    claim_case(case, case.status)
    from_status = case.status
    case.status, case.submitted_at, case.prereview_due_on, case.colour = to_status, utcnow(), due.due_on, "green"
    event = add_event(case, CITIZEN, "submit" if to_status == PREREVIEW_PENDING else "resubmit", from_status, to_status, on=on)
    template = "cases.submitted" if to_status == PREREVIEW_PENDING else "cases.resubmitted"
    notify_citizen(account, case, template, event, cn_date(due.due_on))
    db.session.commit()
    return case


def _submission_problems(account: Account, case: Case, materials: dict[str, CaseMaterial]) -> list[dict]:
    item = case.item
    problems: list[dict] = []
    if account.level < item.required_level:
        problems.append(
            {
                "field": "realname_level",
                "reason": f"此事项需要实名等级 {item.required_level}，请先完成实名认证",
                "required_level": item.required_level,
            }
        )
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
    statement = (
        select(Case).options(selectinload(Case.item)).where(Case.account_id == account_id).order_by(Case.created_at.desc(), Case.id.desc())
    )
    result = paginate(statement, page, per_page)
    return summaries(result, staff=False)


def summaries(result: Page, *, staff: bool) -> dict:
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
    if case.status == SUSPENDED:
        return case.days_left_at_suspension
    if case.status in RUNNING_STATUSES and case.due_on:
        return days.days_left(case.due_on)
    return None


def case_detail(case: Case, *, internal: bool = False) -> dict:
    """Everything the citizen sees of one case; ``internal``: staff also see internal events and notes."""
    on = today()
    days = DaysLeft(on, [case.due_on] if case.due_on else [])
    events = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id)).all()
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
        "returned_issues": _returned_issues(events) if case.status == PREREVIEW_RETURNED else [],
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
        "timeline": [_event_view(event, staff=internal) for event in events if internal or event.visible],
    }
    return detail


def _returned_issues(events: list[CaseEvent]) -> list[dict]:
    for event in reversed(events):
        if event.action == "prereview_return":
            return (event.data or {}).get("issues", [])
    return []


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
            select(func.avg(Case.working_days_used))
            .join(ServiceItem, ServiceItem.id == Case.item_id)
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
        "number": certificate.number,
        "kind": certificate.kind,
        "department_code": certificate.department_code,
        "holder_name": mask_name(certificate.holder_name),
        "valid_from": certificate.valid_from,
        "valid_until": certificate.valid_until,
        "valid": valid,
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
    add_event(case, CITIZEN, "rate", case.status, case.status, on=on, note=f"评价：{RATING_LEVELS[level]}", data=data)
    db.session.commit()
    return rating


# ---------------------------------------------------------------- shared helpers


def claim_case(case: Case, from_status: str) -> None:
    """Serialise concurrent transitions of one case: a conditional UPDATE takes the row (409 for the loser)."""
    claimed = db.session.execute(
        update(Case)
        .where(Case.id == case.id, Case.status == from_status)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        db.session.rollback()
        raise Problem(409, "case_changed", "办件状态刚刚发生了变化，请刷新后重试")


def add_event(
    case: Case,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str,
    *,
    on: date,
    visible: bool = True,
    note: str | None = None,
    internal_note: str | None = None,
    data: dict | None = None,
) -> CaseEvent:
    if case.id is None:
        db.session.flush()
    case.view_version = Case.view_version + 1  # the citizen's stored view is out of date (read_model)
    event = CaseEvent(
        case_id=case.id,
        actor=actor,
        action=action,
        from_status=from_status,
        to_status=to_status,
        effective_on=on,
        visible=visible,
        note=note,
        internal_note=internal_note,
        data=data,
        at=utcnow(),
    )
    db.session.add(event)
    db.session.flush()
    if from_status != to_status:
        case_status_changed.send(case, event=event, from_status=from_status, to_status=to_status)
    return event


def notify_citizen(account: Account, case: Case, template: str, event: CaseEvent, detail: str) -> None:
    params: dict = {"case_no": case.case_no, "item_name": case.item.name}
    if template == "cases.prereview_returned":
        params |= {"count": event.data["count"], "issues": detail}
    else:
        params["detail"] = detail or ""
    notify(account, template, params, dedupe_key=f"case-event:{event.id}")


def cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
