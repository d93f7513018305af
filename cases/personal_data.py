"""Cases in a citizen's data export and account closure (registered as the ``cases`` provider).

Exported: every case of the account — item, status, the form as submitted, dates, the result, the progress
timeline the citizen sees, and the uploaded materials' metadata (name, type, size, check result; not the
files) — plus certificates issued to them and their ratings.

On closure, a draft never submitted is not a government record: it is deleted with its uploads. Every
submitted case is an administrative case file the law requires the government to keep (行政许可法 art. 61
and the 档案法 retention schedules), and so are issued certificates and the 好差评 ratings with their
rectifications (GB/T 39734-2020): they stay, held by the closed account, which no longer has a phone, a
WeChat binding or an ID-number look-up. Their cached citizen view is dropped (it is rebuilt if ever read).
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from cases.models import ApprovalTask, Case, CaseEvent, CaseMaterial, CaseStatus, Certificate, Rating, StoredFile
from mobile_api.extensions import db
from mobile_api.personal_data import Subject


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_cases(subject: Subject) -> dict:
    cases = db.session.scalars(select(Case).where(Case.account_id == subject.account_id).order_by(Case.created_at)).all()
    ids = [case.id for case in cases]
    events = db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id.in_(ids), CaseEvent.visible.is_(True)).order_by(CaseEvent.id)
    ).all()
    materials = db.session.execute(
        select(CaseMaterial, StoredFile.content_type, StoredFile.size)
        .outerjoin(StoredFile, StoredFile.id == CaseMaterial.file_id)
        .where(CaseMaterial.case_id.in_(ids))
        .order_by(CaseMaterial.id)
    ).all()
    certificates = db.session.scalars(
        select(Certificate).where(Certificate.account_id == subject.account_id).order_by(Certificate.id)
    ).all()
    ratings = db.session.scalars(select(Rating).where(Rating.account_id == subject.account_id).order_by(Rating.id)).all()
    by_case: dict[int, dict] = {case.id: _case(case) for case in cases}
    case_numbers = {case.id: case.case_no for case in cases}
    for event in events:
        by_case[event.case_id]["timeline"].append(
            {"at": _iso(event.at), "action": event.action, "status": event.to_status, "note": event.note}
        )
    for material, content_type, size in materials:
        by_case[material.case_id]["materials"].append(
            {
                "material_code": material.material_code,
                "filename": material.filename,
                "source": material.source,
                "content_type": content_type,
                "size": size,
                "check_ok": material.check_ok,
                "uploaded_at": _iso(material.uploaded_at),
            }
        )
    return {
        "cases": list(by_case.values()),
        "certificates": [
            {
                "number": c.number,
                "kind": c.kind,
                "holder_name": c.holder_name,
                "valid_from": _iso(c.valid_from),
                "valid_until": _iso(c.valid_until),
                "revoked": c.revoked,
            }
            for c in certificates
        ],
        "ratings": [
            {"case_no": case_numbers.get(r.case_id), "level": r.level, "comment": r.comment, "created_at": _iso(r.created_at)}
            for r in ratings
        ],
    }


def _case(case: Case) -> dict:
    return {
        "case_no": case.case_no,
        "item_code": case.item.code,
        "item_name": case.item.name,
        "status": case.status,
        "form": case.form,
        "created_at": _iso(case.created_at),
        "submitted_at": _iso(case.submitted_at),
        "accepted_on": _iso(case.accepted_on),
        "due_on": _iso(case.due_on),
        "finished_on": _iso(case.finished_on),
        "result_reason": case.result_reason,
        "timeline": [],
        "materials": [],
    }


def erase_cases(subject: Subject, context: dict) -> dict:
    """Drafts deleted with their uploads; submitted cases, certificates and ratings kept. Caller's transaction."""
    account_id = subject.account_id
    drafts = db.session.scalars(select(Case.id).where(Case.account_id == account_id, Case.status == CaseStatus.DRAFT)).all()
    files = db.session.scalars(
        select(CaseMaterial.file_id).where(CaseMaterial.case_id.in_(drafts), CaseMaterial.file_id.is_not(None))
    ).all()
    erased = {"draft_cases": len(drafts), "draft_uploads": 0}
    if drafts:
        erased["draft_uploads"] = _delete(delete(CaseMaterial).where(CaseMaterial.case_id.in_(drafts)))
        for child in (CaseEvent, ApprovalTask):
            _delete(delete(child).where(child.case_id.in_(drafts)))
        _delete(delete(Case).where(Case.id.in_(drafts)))
        still_used = set(db.session.scalars(select(CaseMaterial.file_id).where(CaseMaterial.file_id.in_(files))).all())
        _delete(delete(StoredFile).where(StoredFile.id.in_(set(files) - still_used)))
    kept_cases = db.session.scalar(select(func.count()).select_from(Case).where(Case.account_id == account_id)) or 0
    kept_certificates = db.session.scalar(select(func.count()).select_from(Certificate).where(Certificate.account_id == account_id)) or 0
    db.session.execute(
        update(Case)
        .where(Case.account_id == account_id)
        .values(view_cache=None, view_cache_key=None)
        .execution_options(synchronize_session=False)
    )
    context["retained_records"] = context.get("retained_records", 0) + kept_cases + kept_certificates
    kept = {}
    if kept_cases:
        kept["submitted_cases"] = f"{kept_cases}: administrative case files, kept as the law requires"
    if kept_certificates:
        kept["certificates"] = f"{kept_certificates}: issued certificates are public-law records"
    return {"erased": erased, "kept": kept}


def _rows(model, account_id: str) -> list:
    return db.session.scalars(select(model).where(model.account_id == account_id).order_by(model.id)).all()


def _delete(statement) -> int:
    return db.session.execute(statement).rowcount or 0
