"""The account itself in a citizen's data export and account closure (registered as the ``account`` provider).

Closure keeps the ``accounts`` row as the anonymous holder of the records other packages must keep (case
files, issued certificates, past visits), with the phone, WeChat binding and identity look-up index removed,
so nothing leads from a phone number or an ID number to it any more. The real name and ID number stay,
encrypted, only when such records were kept (``context["retained_records"]``): an administrative case
file must say whose it is (行政许可法 / 档案法); otherwise they are erased too.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from auth.models import Account, CompanyBinding, DataExport, RefreshToken, SmsCode
from mobile_api.access import CITIZEN, subject_for
from mobile_api.extensions import db
from mobile_api.personal_data import Subject
from mobile_api.timeutil import utcnow


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_account(subject: Subject) -> dict:
    account = db.session.get(Account, subject.account_id)
    companies = db.session.scalars(select(CompanyBinding).where(CompanyBinding.account_id == account.id).order_by(CompanyBinding.id)).all()
    sessions = db.session.execute(
        select(RefreshToken.family_id, RefreshToken.issued_at, RefreshToken.expires_at, RefreshToken.revoked_at)
        .where(RefreshToken.subject == subject_for(CITIZEN, account.id))
        .order_by(RefreshToken.issued_at)
    ).all()
    exports = db.session.scalars(select(DataExport).where(DataExport.account_id == account.id).order_by(DataExport.requested_at)).all()
    return {
        "id": account.id,
        "phone": account.phone,
        "real_name_level": account.level,
        "identity": {"name": account.name, "id_number": account.id_number, "verified_at": _iso(account.verified_at)},
        "wechat_openid": account.wechat_openid,
        "created_at": _iso(account.created_at),
        "last_sign_in_at": _iso(account.last_sign_in_at),
        "companies": [{"credit_code": c.credit_code, "company_name": c.company_name, "bound_at": _iso(c.created_at)} for c in companies],
        "sign_in_tokens": [
            {"issued_at": _iso(row.issued_at), "expires_at": _iso(row.expires_at), "revoked_at": _iso(row.revoked_at)} for row in sessions
        ],
        "data_export_requests": [{"requested_at": _iso(e.requested_at), "status": e.status} for e in exports],
    }


def erase_account(subject: Subject, context: dict) -> dict:
    """Runs last: sign-in data erased, the row kept as an anonymous holder, identity kept only if needed."""
    account = db.session.get(Account, subject.account_id)
    keep_identity = context.get("retained_records", 0) > 0 and account.id_number is not None
    now = utcnow()
    erased = {
        "phone": account.phone is not None,
        "wechat_binding": account.wechat_openid is not None,
        "identity_index": account.id_number_index is not None,
        "identity": not keep_identity and account.id_number is not None,
        "sign_in_code": _delete(delete(SmsCode).where(SmsCode.phone == account.phone)) if account.phone else 0,
        "companies": _delete(delete(CompanyBinding).where(CompanyBinding.account_id == account.id)),
        "data_exports": _delete(delete(DataExport).where(DataExport.account_id == account.id)),
    }
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.subject == subject_for(CITIZEN, account.id), RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    account.phone, account.wechat_openid, account.id_number_index = None, None, None
    if not keep_identity:
        account.name, account.id_number = None, None
    account.closed_at, account.last_sign_in_at = now, None
    kept = {"account_row": "anonymous holder of the records kept by other services"}
    if keep_identity:
        kept["name_and_id_number"] = "encrypted; the kept case files and certificates must name their holder"
    return {"erased": erased, "kept": kept}


def _delete(statement) -> int:
    return db.session.execute(statement).rowcount or 0
