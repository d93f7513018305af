"""The citizen's side of cases: create, upload, submit, follow, certificates, ratings.

Every function that writes owns its transaction (``with transaction():``). Citizens only ever reach
their own cases (404 otherwise). How a case is shown lives in ``presentation.py``, how its history is
written in ``timeline.py``, the form rules in ``forms.py``; the staff side is ``staff.py``.
"""

from __future__ import annotations

import secrets
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from auth.models import Account
from cases import catalog
from cases.clock import today
from cases.deadlines import deadline_from
from cases.forms import validate_form
from cases.models import (
    FINISHED_STATUSES,
    SUBMITTABLE_STATUSES,
    UPLOADABLE_STATUSES,
    Case,
    CaseMaterial,
    CaseStatus,
    Certificate,
    Colour,
    Rating,
    Rectification,
    ServiceItem,
)
from cases.presentation import certificate_view, summaries, timeline_page
from cases.storage import delete_file, store_bytes
from cases.timeline import CITIZEN_ACTOR, add_event, claim_case, cn_date, notify_citizen
from cases.uploads import check_upload
from mobile_api.errors import Problem
from mobile_api.extensions import db
from mobile_api.pagination import paginate
from mobile_api.settings import setting
from mobile_api.timeutil import utcnow
from mobile_api.transactions import transaction

RATING_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}

# An unambiguous alphabet for case numbers read aloud over the phone: no 0/O, 1/I/L.
CASE_NO_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_case_no(on: date) -> str:
    """``NB2611-K7M3Q``: city, year and month, and five characters a hotline operator can spell."""
    suffix = "".join(secrets.choice(CASE_NO_ALPHABET) for _ in range(5))
    return f"{setting('CASES_NO_PREFIX')}{on:%y%m}-{suffix}"


def create_case(account: Account, item_code: str, form: dict) -> Case:
    with transaction():
        item = catalog.current_item(item_code)
        clean = validate_form(item, form)
        on = today()
        for _ in range(5):
            case = Case(
                case_no=new_case_no(on),
                account_id=account.id,
                item_id=item.id,
                department_code=item.department_code,
                status=CaseStatus.DRAFT,
                form=clean,
                current_step=None,
            )
            try:
                with db.session.begin_nested():  # a taken case number: try another one
                    db.session.add(case)
            except IntegrityError:
                continue
            add_event(case, CITIZEN_ACTOR, "create", None, CaseStatus.DRAFT, on=on, visible=True, note="创建申请")
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


def citizen_timeline(account_id: str, case_no: str, page: int, per_page: int) -> dict:
    """The citizen's own case's timeline, newest first, one page at a time."""
    return timeline_page(case_for_citizen(account_id, case_no), internal=False, page=page, per_page=per_page)


def add_material(account: Account, case_no: str, material_code: str, filename: str | None, data: bytes) -> CaseMaterial:
    with transaction():
        case = case_for_citizen(account.id, case_no)
        if case.status not in UPLOADABLE_STATUSES:
            raise Problem(409, "materials_locked", "当前状态不能上传材料", case_status=case.status)
        spec = _material_spec(case.item, material_code)
        if case.status == CaseStatus.PREREVIEW_RETURNED and material_code not in case.returned_materials:
            raise Problem(409, "material_not_returned", "只需补正预审退回的材料", returned=case.returned_materials)
        checked = check_upload(data, list(spec.get("formats") or ["jpg", "png", "pdf"]))
        file_id = store_bytes(checked.data, checked.content_type)
        material = db.session.scalar(
            select(CaseMaterial).where(CaseMaterial.case_id == case.id, CaseMaterial.material_code == material_code)
        )
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
    """Send for pre-review; 422 listing every problem at once (一次性告知) when something is missing.

    The certificates filled in from the library are kept only when the submission goes through: a 422
    rolls them back with everything else.
    """
    with transaction():
        case = case_for_citizen(account.id, case_no)
        if case.status not in SUBMITTABLE_STATUSES:
            raise Problem(409, "not_submittable", "当前状态不能提交", case_status=case.status)
        on = today()
        materials = {m.material_code: m for m in db.session.scalars(select(CaseMaterial).where(CaseMaterial.case_id == case.id))}
        _fill_from_certificate_library(case, materials, on)
        problems = _submission_problems(account, case, materials)
        if problems:
            raise Problem(
                422, "application_incomplete", "申请还不完整，请按提示一次性补齐后再提交", errors=problems, problem_count=len(problems)
            )
        first = case.status == CaseStatus.DRAFT
        to_status = CaseStatus.PREREVIEW_PENDING if first else CaseStatus.RESUBMITTED
        due = deadline_from(on, setting("CASES_PREREVIEW_DAYS"))
        claim_case(case, case.status)
        from_status = case.status
        case.status, case.submitted_at, case.prereview_due_on, case.colour = to_status, utcnow(), due.due_on, Colour.GREEN
        event = add_event(case, CITIZEN_ACTOR, "submit" if first else "resubmit", from_status, to_status, on=on)
        notify_citizen(account, case, "cases.submitted" if first else "cases.resubmitted", event, cn_date(due.due_on))
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
        if (
            case.status == CaseStatus.PREREVIEW_RETURNED
            and spec["code"] in case.returned_materials
            and material.uploaded_at <= case.returned_at
        ):
            problems.append({"material_code": spec["code"], "reason": f"请按预审意见重新上传：{spec['name']}"})
    return problems


def list_citizen_cases(account_id: str, page: int, per_page: int) -> dict:
    statement = (
        select(Case).options(selectinload(Case.item)).where(Case.account_id == account_id).order_by(Case.created_at.desc(), Case.id.desc())
    )
    result = paginate(statement, page, per_page)
    return summaries(result, staff=False)


def citizen_certificates(account_id: str) -> list[dict]:
    on = today()
    rows = db.session.scalars(select(Certificate).where(Certificate.account_id == account_id).order_by(Certificate.created_at.desc()))
    return [certificate_view(certificate, on) for certificate in rows]


def rate_case(account: Account, case_no: str, level: int, comment: str) -> Rating:
    """好差评: once per case, after 办结. The bottom two levels open a rectification with a deadline."""
    with transaction():
        case = case_for_citizen(account.id, case_no)
        if case.status not in FINISHED_STATUSES:
            raise Problem(409, "not_finished", "办件办结后才能评价", case_status=case.status)
        rating = Rating(case_id=case.id, account_id=account.id, department_code=case.department_code, level=level, comment=comment)
        try:
            with db.session.begin_nested():  # one rating per case: the unique constraint decides a race
                db.session.add(rating)
        except IntegrityError:
            raise Problem(409, "already_rated", "此办件已经评价过了") from None
        on = today()
        data = {"level": level, "level_name": RATING_LEVELS[level]}
        if level <= 2:
            due = deadline_from(on, setting("CASES_RECTIFY_DAYS"))
            db.session.add(Rectification(rating_id=rating.id, case_id=case.id, department_code=case.department_code, due_on=due.due_on))
            data["rectification_due_on"] = due.due_on.isoformat()
        add_event(case, CITIZEN_ACTOR, "rate", case.status, case.status, on=on, note=f"评价：{RATING_LEVELS[level]}", data=data)
    return rating
